//! Terminal input for the dashboard, read on its own thread so that a dead terminal can never
//! hold the event loop.
//!
//! crossterm's reader loops on `read()` as long as the terminal reports readable: when the
//! terminal hangs up (an SSH disconnect, `tmux kill-session`) `read()` returns 0 or EIO for
//! ever, crossterm retries without returning, and a loop that calls it never sees SIGTERM
//! again (issue 12: 10,000 reads a second, only SIGKILL ended it). Here the event loop waits
//! on a channel instead, with a timeout, and asks [`hung_up`] itself: it then exits within one
//! frame of a hang-up or a termination signal, whatever the reader thread is doing (which
//! ends with the process).

use std::io::{self, IsTerminal};
use std::os::fd::AsFd;
use std::sync::OnceLock;

use crossbeam_channel::{Receiver, bounded};
use crossterm::event::{self, Event};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// Input events queued between two looks of the event loop; the reader waits when full.
pub const QUEUE: usize = 1024;

/// What the reader thread passes on.
#[derive(Debug)]
pub enum Input {
    Event(Event),
    /// crossterm could not read the terminal: the dashboard ends.
    Failed(String),
}

static INPUT: OnceLock<Receiver<Input>> = OnceLock::new();

/// The input channel; its reader thread is started on first use and serves every later
/// dashboard of the process (only one crossterm reader may exist).
pub fn events() -> &'static Receiver<Input> {
    INPUT.get_or_init(|| {
        let (tx, rx) = bounded(QUEUE);
        // Without a thread the channel is disconnected at once and the dashboard ends.
        let _ = std::thread::Builder::new().name("tui-input".into()).spawn(move || {
            loop {
                let item = match event::read() {
                    Ok(ev) => Input::Event(ev),
                    Err(e) => Input::Failed(e.to_string()),
                };
                let failed = matches!(item, Input::Failed(_));
                if tx.send(item).is_err() || failed {
                    return;
                }
            }
        });
        rx
    })
}

/// Whether the terminal is gone: stdin or stdout (those that are terminals) report a hang-up
/// or an error. A hung-up tty reads as EOF and writes fail with EIO; poll(2) says so at once.
pub fn hung_up() -> bool {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut fds = Vec::with_capacity(2);
    if stdin.is_terminal() {
        fds.push(PollFd::new(&stdin, PollFlags::IN));
    }
    if stdout.is_terminal() || fds.is_empty() {
        fds.push(PollFd::from_borrowed_fd(stdout.as_fd(), PollFlags::OUT));
    }
    if poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })).is_err() {
        return false;
    }
    fds.iter().any(|f| f.revents().intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL))
}

/// After a hang-up nobody reads stdout or stderr, and a write to the dead terminal fails with
/// EIO, on which `eprintln!` panics: both are pointed at /dev/null, so that the closing
/// messages of `live` and `analyze` cannot fail.
pub fn detach_from_terminal() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}
