//! Least privilege after start-up. Once the capture handles, the kernel connect events' perf
//! rings (opened with CAP_PERFMON or CAP_SYS_ADMIN; they keep working without) and the output
//! file are open, CAP_NET_RAW, CAP_PERFMON and every other capability are dropped except those
//! /proc reading needs
//! (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, and CAP_SYS_ADMIN when held, for netlink sockets
//! inside containers' network namespaces), and no_new_privs is set. Called on the main
//! thread before any pipeline thread exists: capabilities are per thread, and threads
//! inherit them from the thread that spawns them.

use std::io;

use rustix::process::{getpriority_process, setpriority_process};
use rustix::thread::{CapabilitySet, CapabilitySets, capabilities, set_capabilities, set_no_new_privs};

/// The nice value the pipeline runs at when it may: auditd's default boost. A `curl` lives
/// about a millisecond after its SYN; under CPU contention the capture and attribution
/// threads must be scheduled within that to name it.
pub const NICE: i32 = -4;

/// What /proc attribution needs after the capture is open.
const KEEP: CapabilitySet =
    CapabilitySet::SYS_PTRACE.union(CapabilitySet::DAC_READ_SEARCH).union(CapabilitySet::SYS_ADMIN);

/// Drops to [`KEEP`] (intersected with what the process holds) and sets no_new_privs.
pub fn drop_after_capture() -> io::Result<()> {
    let held = capabilities(None)?;
    let keep = held.permitted & KEEP;
    set_capabilities(None, CapabilitySets { effective: keep, permitted: keep, inheritable: CapabilitySet::empty() })?;
    set_no_new_privs(true)?;
    Ok(())
}

/// Lowers the calling thread's nice value from the default 0 to [`NICE`]; any other value was
/// set by the operator (`nice`, systemd's `Nice=`) and is kept. Needs CAP_SYS_NICE, so it is
/// called before [`drop_after_capture`], on the main thread: the pipeline threads inherit it.
/// Best effort: returns the nice value now in force.
pub fn boost_priority() -> i32 {
    let now = getpriority_process(None).unwrap_or(NICE);
    if now == 0 && setpriority_process(None, NICE).is_ok() {
        return NICE;
    }
    now
}
