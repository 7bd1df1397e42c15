//! Counters shared by the live pipeline's threads: atomics on the packet path, and a
//! snapshot of the engine's own counters that the engine thread publishes once a second
//! (a mutex there is off the per-packet path).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use crate::attribute::kernel::KernelShared;
use crate::engine::EngineStats;

#[derive(Debug, Default)]
pub struct Counters {
    /// Frames read from libpcap (not libpcap's `received`, which counts `lo` twice).
    pub packets: AtomicU64,
    /// Frames lost because the capture → engine queue was full.
    pub queue_losses: AtomicU64,
    pub kernel_drops: AtomicU64,
    pub interface_drops: AtomicU64,
    /// Requests whose process could not be named.
    pub attribution_misses: AtomicU64,
    /// Lookups skipped because the attribution queue was full.
    pub attribution_overload: AtomicU64,
    /// Lines that could not be written (disk full, file gone): counted, reported.
    pub output_errors: AtomicU64,
    /// The attribution path in use (`kernel`, `procfs`, `off`), set once at start.
    pub attribution_path: OnceLock<&'static str>,
    /// The kernel path's counters, when it runs.
    pub kernel: OnceLock<Arc<KernelShared>>,
    engine: Mutex<(EngineStats, usize)>,
    errors: Mutex<Vec<String>>,
}

impl Counters {
    pub fn publish_engine(&self, stats: &EngineStats, flows: usize) {
        if let Ok(mut g) = self.engine.lock() {
            *g = (stats.clone(), flows);
        }
    }

    pub fn engine(&self) -> (EngineStats, usize) {
        self.engine.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// A capture thread ended on an error (e.g. its interface went away).
    pub fn capture_error(&self, iface: &str, msg: &str) {
        if let Ok(mut g) = self.errors.lock() {
            g.push(format!("capture on '{iface}' stopped: {msg}"));
        }
    }

    pub fn take_errors(&self) -> Vec<String> {
        self.errors.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default()
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }
}
