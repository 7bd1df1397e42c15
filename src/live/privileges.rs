//! Least privilege after start-up. Once the capture handles and the output file are open,
//! CAP_NET_RAW and every other capability are dropped except those /proc reading needs
//! (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, and CAP_SYS_ADMIN when held, for netlink sockets
//! inside containers' network namespaces), and no_new_privs is set. Called on the main
//! thread before any pipeline thread exists: capabilities are per thread, and threads
//! inherit them from the thread that spawns them.

use std::io;

use rustix::thread::{CapabilitySet, CapabilitySets, capabilities, set_capabilities, set_no_new_privs};

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
