//! Counters shared by the live pipeline's threads: atomics on the packet path, and a
//! snapshot of the engine's own counters that the engine thread publishes once a second
//! (a mutex there is off the per-packet path).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use crate::attribute::kernel::KernelShared;
use crate::capture::live::CaptureCounters;
use crate::engine::EngineStats;

#[derive(Debug, Default)]
pub struct Counters {
    /// The capture threads' own counters (frames, kernel drops, capture queue losses).
    pub capture: Arc<CaptureCounters>,
    /// Records lost because the dashboard's queue was full (reported with the capture
    /// queue's losses as `queue_losses`).
    pub queue_losses: Arc<AtomicU64>,
    /// Requests whose process could not be named.
    pub attribution_misses: Arc<AtomicU64>,
    /// Lookups skipped because the attribution queue was full.
    pub attribution_overload: AtomicU64,
    /// Lines that could not be written (disk full, file gone): counted, reported.
    pub output_errors: Arc<AtomicU64>,
    /// Container and pod name lookups (filled by the attribution thread).
    pub workload: Arc<crate::attribute::WorkloadCounters>,
    /// The attribution path in use (`kernel`, `procfs`, `off`), set once at start.
    pub attribution_path: OnceLock<&'static str>,
    /// The kernel path's counters, when it runs.
    pub kernel: OnceLock<Arc<KernelShared>>,
    engine: Mutex<(EngineStats, usize)>,
    /// ENA interfaces and their `linklocal_allowance_exceeded` at start (at most 16).
    pub ena_baseline: OnceLock<Vec<(String, u64)>>,
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

    pub fn take_errors(&self) -> Vec<String> {
        self.capture.take_errors()
    }

    /// Frames lost on the way: capture queue and dashboard queue.
    pub fn queue_losses(&self) -> u64 {
        Self::get(&self.capture.queue_losses) + Self::get(&self.queue_losses)
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }
}
