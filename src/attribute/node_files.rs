//! What the node-file readers share (`workload` and the per-runtime readers `runtimes`,
//! `podlogs`): the bounds on what is read, what a reader found, and the bounded readers
//! themselves. A leaf of `attribute`, so the readers and the cache that calls them do not
//! import each other.

use std::io::Read;
use std::path::Path;

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

/// The bytes of `path`, `Ok(None)` when it does not exist, `Err` when it cannot be read or
/// is larger than `limit`.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, Malformed> {
    let f = match std::fs::File::open(path) {
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
