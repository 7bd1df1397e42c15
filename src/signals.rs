//! The process's signal handlers, installed once by the command that needs them (`live`, the
//! dashboard of `analyze --tui`) and read by whoever must react: the pipeline, the output
//! file, the dashboard.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// SIGINT/SIGTERM set `stop`; SIGHUP sets `hup` (reopen the output file; on a terminal, the
/// terminal hung up: the dashboard ends).
pub struct Signals {
    pub stop: Arc<AtomicBool>,
    pub hup: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers. Call once per process.
    pub fn register() -> io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(SIGINT, stop.clone())?;
        signal_hook::flag::register(SIGTERM, stop.clone())?;
        signal_hook::flag::register(SIGHUP, hup.clone())?;
        Ok(Signals { stop, hup })
    }

    /// A termination signal or a hang-up arrived: what ends the dashboard.
    pub fn quit_requested(&self) -> bool {
        self.stop.load(Relaxed) || self.hup.load(Relaxed)
    }
}
