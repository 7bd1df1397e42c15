//! What stops `live` before or while it starts.

use std::io;

/// Why the monitor could not start or run (a capture that dies while running is reported
/// and gives `Exit::Error`, not this).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// `--output`: the file cannot be opened (the path is terminal-safe).
    #[error("cannot open {path}: {error}")]
    Output { path: String, error: io::Error },
    #[error("cannot drop privileges: {0}")]
    Privileges(io::Error),
    #[error("cannot listen for --metrics on {addr}: {error}")]
    Metrics { addr: std::net::SocketAddr, error: io::Error },
    /// `--attribution kernel` and the kernel path cannot be opened.
    #[error(
        "--attribution kernel: the kernel path is unavailable: {0} (needs CAP_PERFMON or CAP_SYS_ADMIN, perf_event_paranoid, tracefs)"
    )]
    Kernel(String),
    #[error(transparent)]
    Capture(#[from] crate::capture::live::CaptureError),
    #[error(transparent)]
    Dashboard(#[from] crate::ui::UiError),
    #[error(transparent)]
    Io(#[from] io::Error),
}
