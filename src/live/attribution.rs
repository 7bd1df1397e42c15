//! The attribution path of `live` (`--attribution`: kernel connect events, /proc, or the
//! first that works) and the opening of the kernel path. The stage that attaches processes
//! to requests is [`Stage`] (`attribute::stage`), with its sources injected ([`Lookups`]).

use super::error::LiveError;
use crate::attribute::AttributeConfig;
use crate::attribute::kernel::KernelSource;

pub use crate::attribute::stage::{AttrMsg, Lookups, Stage};

/// Which attribution path `live` uses (`--attribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AttributionPath {
    /// Kernel connect events when available, else /proc.
    #[default]
    Auto,
    /// Kernel connect events (with /proc as fallback per request); fail when unavailable.
    Kernel,
    /// /proc and sock_diag only (the path without kernel events).
    Procfs,
}

/// Opens the kernel path as `path` asks (before privileges are dropped). `Ok(None)` means
/// the /proc path; the reason for it is returned for the start-up line.
pub fn open_kernel(path: AttributionPath, ports: &[u16]) -> Result<(Option<KernelSource>, String), LiveError> {
    if path == AttributionPath::Procfs {
        return Ok((None, "/proc and sock_diag (--attribution procfs)".into()));
    }
    match KernelSource::open(ports, &AttributeConfig::default()) {
        Ok(k) => {
            let line = format!(
                "kernel connect events (sock:inet_sock_set_state via perf), {}, /proc as fallback",
                k.shadow_note()
            );
            Ok((Some(k), line))
        }
        Err(e) if path == AttributionPath::Kernel => Err(LiveError::Kernel(e)),
        Err(e) => Ok((None, format!("/proc and sock_diag (kernel connect events unavailable: {e})"))),
    }
}
