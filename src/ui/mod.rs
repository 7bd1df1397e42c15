//! The interactive dashboard (`imdswatch` on a terminal, `imdswatch analyze --tui FILE`).
//!
//! [`run`] owns the terminal: it drains a channel of [`UiEvent`]s into the [`App`] state,
//! redraws at most [`FRAME`] apart and only when something changed, and reads keys. It returns
//! when the user quits (q, Ctrl-C), on SIGTERM/SIGINT/SIGHUP or when the terminal hangs up
//! (within one frame: input is read on its own thread, see [`input`]); when the channel disconnects it
//! keeps showing the final state. The terminal is restored on return, on error, on panic and
//! on those signals.
//!
//! Layout: `state` (view state + [`Action`]s), `model` (rows, events, rate; bounded), `keys`
//! (the key table), `render` (pure drawing), `text` (sanitizing).

pub mod grouping;
pub mod input;
pub mod keys;
pub mod model;
pub mod pending;
pub mod render;
pub mod sink;
pub mod state;
pub mod text;
pub mod workload;

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use crossterm::event::Event;
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::event::{RequestRecord, StatsRecord};
use crate::signals::Signals;
use input::Input;

pub use render::render;
pub use state::{Action, App, Mode, SortKey};

/// What the dashboard is fed. A stats record travels once a second; requests, the frequent
/// variant, are boxed.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum UiEvent {
    Request(Box<RequestRecord>),
    /// A token request still waiting for its answer (live): the row shows "pending" until
    /// the [`UiEvent::Request`] with the same client and timestamp settles it.
    TokenPending(Box<RequestRecord>),
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

/// Why the dashboard stopped before the user quit.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("setting up the terminal: {0}")]
    Setup(io::Error),
    #[error("the terminal input reader stopped")]
    InputStopped,
    #[error("cannot read the terminal: {0}")]
    Input(String),
    #[error(transparent)]
    Draw(#[from] io::Error),
}

/// Runs the dashboard until the user quits or `signals` asks to stop (the caller installed
/// the handlers, once for the whole process).
pub fn run(rx: Receiver<UiEvent>, mode: UiMode, title: String, signals: &Signals) -> Result<(), UiError> {
    let result = TerminalGuard::enter().map_err(UiError::Setup).and_then(|mut guard| {
        let mut app = App::new(mode, title);
        event_loop(&mut guard.terminal, &mut app, &rx, signals)
    });
    // Hung up (SIGHUP, or seen by the loop): what is printed from now on goes nowhere.
    if input::hung_up() {
        input::detach_from_terminal();
    }
    result
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    rx: &Receiver<UiEvent>,
    signals: &Signals,
) -> Result<(), UiError> {
    let mut last_draw: Option<Instant> = None;
    let input = input::events();
    while !app.should_quit() && !signals.quit_requested() {
        if !app.ended {
            drain(app, rx);
        }
        let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if due && app.take_dirty() {
            terminal.draw(|f| render(app, f))?;
            last_draw = Some(Instant::now());
        }
        let wait = last_draw.map_or(Duration::ZERO, |t| FRAME.saturating_sub(t.elapsed()));
        // Wait for input at most until the next frame is due (never 0 to avoid spinning),
        // then apply every input that is already queued before drawing again.
        let mut next = match input.recv_timeout(wait.max(Duration::from_millis(10))) {
            Ok(i) => Some(i),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Err(UiError::InputStopped),
        };
        while let Some(i) = next {
            match i {
                Input::Event(Event::Key(k)) => {
                    if let Some(a) = keys::action_for(app.mode(), k) {
                        app.update(a);
                    }
                }
                Input::Event(Event::Resize(..)) => {
                    terminal.autoresize()?;
                    app.request_redraw();
                }
                Input::Event(_) => {}
                Input::Failed(e) => return Err(UiError::Input(e)),
            }
            next = input.try_recv().ok();
        }
        // The terminal hung up (SSH disconnect, tmux kill-session): nobody is watching.
        if input::hung_up() {
            return Ok(());
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
        // A hung-up terminal fails every write, and ratatui's own drop then reports the
        // cursor it could not show with `eprintln!`, which panics on EIO.
        if input::hung_up() {
            input::detach_from_terminal();
        }
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
