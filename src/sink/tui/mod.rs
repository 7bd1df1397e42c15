//! The interactive dashboard (`imdswatch` on a terminal, `imdswatch analyze --tui FILE`).
//!
//! [`run`] owns the terminal: it drains a channel of [`UiEvent`]s into the [`App`] state,
//! redraws at most [`FRAME`] apart and only when something changed, and reads keys. It returns
//! when the user quits (q, Ctrl-C) or on SIGTERM/SIGINT/SIGHUP; when the channel disconnects it
//! keeps showing the final state. The terminal is restored on return, on error, on panic and
//! on those signals.
//!
//! Layout: `state` (view state + [`Action`]s), `model` (rows, events, rate; bounded), `keys`
//! (the key table), `render` (pure drawing), `text` (sanitizing).

pub mod grouping;
pub mod keys;
pub mod model;
pub mod render;
pub mod state;
pub mod text;

use std::io::{self, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{Receiver, TryRecvError};
use crossterm::event::{self, Event};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::event::{RequestRecord, StatsRecord};

pub use render::render;
pub use state::{Action, App, Mode, SortKey};

/// What the dashboard is fed.
#[derive(Debug, Clone)]
pub enum UiEvent {
    Request(Box<RequestRecord>),
    Stats(StatsRecord),
}

/// Live capture (rows are processes) or a capture file (rows are client IP + user agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiMode {
    Live,
    Offline,
}

/// Shortest time between two redraws (at most 10 per second).
pub const FRAME: Duration = Duration::from_millis(100);
/// Most channel messages applied between two looks at the keyboard.
pub const MAX_BATCH: usize = 20_000;

/// Runs the dashboard until the user quits or a termination signal arrives.
pub fn run(rx: Receiver<UiEvent>, mode: UiMode, title: String) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let mut ids = Vec::new();
    for sig in [SIGTERM, SIGINT, SIGHUP] {
        match signal_hook::flag::register(sig, Arc::clone(&stop)) {
            Ok(id) => ids.push(id),
            Err(e) => {
                unregister(ids);
                return Err(e).context("installing signal handlers");
            }
        }
    }
    let result = TerminalGuard::enter().context("setting up the terminal").and_then(|mut guard| {
        let mut app = App::new(mode, title);
        event_loop(&mut guard.terminal, &mut app, &rx, &stop)
    });
    // The guard has restored the terminal; give the signals back their previous handling.
    unregister(ids);
    result
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    rx: &Receiver<UiEvent>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut last_draw: Option<Instant> = None;
    while !app.should_quit() && !stop.load(Ordering::Relaxed) {
        if !app.ended {
            drain(app, rx);
        }
        let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if due && app.take_dirty() {
            terminal.draw(|f| render(app, f))?;
            last_draw = Some(Instant::now());
        }
        let wait = last_draw.map_or(Duration::ZERO, |t| FRAME.saturating_sub(t.elapsed()));
        // Wait for input at most until the next frame is due (never 0 to avoid spinning).
        if event::poll(wait.max(Duration::from_millis(10)))? {
            // Apply every input that is already queued before drawing again.
            loop {
                match event::read()? {
                    Event::Key(k) => {
                        if let Some(a) = keys::action_for(app.mode(), k) {
                            app.update(a);
                        }
                    }
                    Event::Resize(..) => {
                        terminal.autoresize()?;
                        app.request_redraw();
                    }
                    _ => {}
                }
                if !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Applies up to [`MAX_BATCH`] queued messages without blocking.
fn drain(app: &mut App, rx: &Receiver<UiEvent>) {
    for _ in 0..MAX_BATCH {
        match rx.try_recv() {
            Ok(ev) => app.on_event(ev),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => {
                app.set_ended();
                return;
            }
        }
    }
}

/// Set while the dashboard owns the terminal, so the panic hook restores it only then.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: std::sync::Once = std::sync::Once::new();

/// Raw mode + alternate screen, undone in `Drop` and by a panic hook.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        // Clear with crossterm: `Terminal::clear` would query the cursor position, which some
        // terminals never answer.
        if let Err(e) = execute!(out, EnterAlternateScreen, Clear(ClearType::All)) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(mut terminal) => {
                terminal.hide_cursor()?;
                Ok(TerminalGuard { terminal })
            }
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore();
    }
}

/// Leaves raw mode and the alternate screen, once.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

fn unregister(ids: Vec<signal_hook::SigId>) {
    for id in ids {
        signal_hook::low_level::unregister(id);
    }
}
