//! The seams of attribution: who owns a socket ([`ProcessLookup`]: the /proc path), what the
//! kernel said in `connect()` ([`ConnectEvents`]: the kernel path), and what a container is
//! called ([`WorkloadLookup`]: the node's runtime files). The attribution stage
//! ([`super::stage::Stage`]) takes each as a trait object, so that the live pipeline runs in
//! a test with fakes for all three, without root (bandwhich's `OsInputOutput`, rustnet's
//! `ProcessLookup`).

use std::net::SocketAddr;
use std::time::Duration;

use super::kernel::KernelShared;
use super::workload::Workloads;
use crate::event::{Attribution, Container, K8s};

/// Who owns a client's socket, as the attribution stage asks it: the /proc path
/// ([`super::Attributor`]), or a test's fake process table.
pub trait ProcessLookup: Send {
    /// The owner of the socket `client` → `server` (see [`super::Attributor::lookup`]),
    /// container unnamed (the stage names it through its [`WorkloadLookup`]).
    fn lookup(&mut self, client: SocketAddr, server: SocketAddr) -> Attribution;
    /// Counters for `IMDSWATCH_DEBUG_ATTRIBUTION`.
    fn describe(&self) -> String {
        String::new()
    }
}

/// The kernel path's answers: the process named in the client's `connect()`, read from the
/// perf rings by the kernel thread ([`KernelShared`]), or a test's fake.
pub trait ConnectEvents: Send + Sync {
    /// The answer for the connection `client` → `server`, if the kernel gave one.
    fn get(&self, client: SocketAddr, server: SocketAddr) -> Option<Attribution>;
    /// Waits, at most `max`, until what the kernel had sent when this was called has been
    /// read (a request whose connect event may still sit in a ring).
    fn wait_for_pass(&self, _max: Duration) {}
    /// Counters for `IMDSWATCH_DEBUG_ATTRIBUTION`.
    fn describe(&self) -> String {
        String::new()
    }
}

/// Container id → name, image and pod ([`Workloads`]: the node's runtime files under the
/// host root), or a test's fake.
pub trait WorkloadLookup: Send {
    /// Adds name and image to `c` and returns its pod, when the node's files name it (and
    /// agree with the process's cgroup).
    fn enrich(&mut self, c: &mut Container) -> Option<K8s>;
}

impl ConnectEvents for KernelShared {
    fn get(&self, client: SocketAddr, server: SocketAddr) -> Option<Attribution> {
        KernelShared::get(self, client, server)
    }
    fn wait_for_pass(&self, max: Duration) {
        KernelShared::wait_for_pass(self, max);
    }
    fn describe(&self) -> String {
        format!("{:?}", self.counters)
    }
}

impl WorkloadLookup for Workloads {
    fn enrich(&mut self, c: &mut Container) -> Option<K8s> {
        Workloads::enrich(self, c)
    }
}
