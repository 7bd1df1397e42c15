//! What the node-file readers share (the cache in `workload` and the per-runtime readers
//! `runtimes` and `podlogs`): the bounds on what is read, what a reader found, and the
//! bounded reader itself. A leaf of `attribute`, so that the readers and the cache that
//! calls them do not import each other.

use std::io::Read;
use std::path::Path;

use super::container::CgroupClaim;
use crate::event::K8s;

/// Largest per-container file read (an OCI `config.json` is typically 10–40 KB).
pub const MAX_FILE: u64 = 4 << 20;
/// Largest shared container list read (`containers.json` of containers/storage).
pub const MAX_LIST_FILE: u64 = 32 << 20;
/// Most entries looked at in one directory listing.
pub const MAX_DIR_ENTRIES: usize = 100_000;
/// Longest name kept, in bytes (Kubernetes names are at most 253).
pub(super) const MAX_NAME: usize = 512;

/// What the node's files say about one container. Absent fields were not found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    pub name: Option<String>,
    pub image: Option<String>,
    pub k8s: K8s,
    /// Where the runtime's state says the container's cgroup is: a process is named only
    /// when its own cgroup agrees (see [`Workloads::enrich`]).
    pub cgroup: Option<CgroupClaim>,
}

impl Workload {
    /// Fills the fields still absent from `other`.
    pub fn fill(&mut self, other: Workload) {
        fn or(a: &mut Option<String>, b: Option<String>) {
            if a.is_none() {
                *a = b;
            }
        }
        or(&mut self.name, other.name);
        or(&mut self.image, other.image);
        or(&mut self.k8s.namespace, other.k8s.namespace);
        or(&mut self.k8s.pod, other.k8s.pod);
        or(&mut self.k8s.pod_uid, other.k8s.pod_uid);
        or(&mut self.k8s.container, other.k8s.container);
        if self.cgroup.is_none() {
            self.cgroup = other.cgroup;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.image.is_none() && self.k8s.is_empty()
    }

    /// Every pod field known: nothing left for the kubelet's log directories to add.
    pub(super) fn pod_complete(&self) -> bool {
        let k = &self.k8s;
        k.namespace.is_some() && k.pod.is_some() && k.pod_uid.is_some() && k.container.is_some()
    }
}

/// A found file could not be used (unreadable, too large, not the expected JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// What one source says: `Ok(None)` when its file is not there.
pub type Found = Result<Option<Workload>, Malformed>;

/// A text field from a file: trimmed, non-empty, capped.
pub fn clean(s: Option<&str>) -> Option<String> {
    let s = s?.trim();
    if s.is_empty() {
        return None;
    }
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(s[..end].to_string())
}

/// The bytes of `rel` under `root`, `Ok(None)` when it does not exist, `Err` when it cannot
/// be read, is not a regular file, is reached through a symbolic link, or is larger than
/// `limit` ([`super::rootfs`]: never blocks, never leaves the root).
pub fn read_bounded(root: &Path, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, Malformed> {
    let f = match super::rootfs::open_file(root, Path::new(rel)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err(Malformed),
    };
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf).map_err(|_| Malformed)?;
    if buf.len() as u64 > limit {
        return Err(Malformed);
    }
    Ok(Some(buf))
}
