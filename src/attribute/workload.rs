//! Container and pod names from the node's own files: container id → name, image and
//! Kubernetes pod, read once per container and cached.
//!
//! Node-local files only, under a root prefix (`--host-root`, `/` by default; a DaemonSet
//! mounts the node's `/` read-only at `/host`). Never the Kubernetes API server, never a
//! runtime socket, never the metadata service. Where each runtime keeps what, see
//! [`super::runtimes`] and [`super::podlogs`].
//!
//! A container is named only when the runtime's state agrees with the process's cgroup (the
//! bundle's `linux.cgroupsPath`, Docker's scope or cgroupfs folder, the kubelet's `kubepods`
//! tree): see [`CgroupClaim`](super::container::CgroupClaim).
//!
//! Bounds: the cache holds at most `capacity` containers (LRU; evictions counted); a file is
//! read up to [`MAX_FILE`] bytes (the shared container list up to [`MAX_LIST_FILE`]); a
//! directory is listed up to [`MAX_DIR_ENTRIES`] entries. A file that exists but cannot be
//! read or parsed leaves its fields absent and counts one `read_errors`.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use lru::LruCache;

pub use super::node_files::{
    Found, MAX_DIR_ENTRIES, MAX_FILE, MAX_LIST_FILE, Malformed, Workload, clean, read_bounded,
};
use super::{podlogs, runtimes};
use crate::event::{Container, K8s, WorkloadCounts};

/// Counters shared with the thread that writes `stats` records.
#[derive(Debug, Default)]
pub struct WorkloadCounters {
    lookups: AtomicU64,
    named: AtomicU64,
    read_errors: AtomicU64,
    evicted: AtomicU64,
    unverified: AtomicU64,
}

impl WorkloadCounters {
    pub fn snapshot(&self) -> WorkloadCounts {
        WorkloadCounts {
            lookups: self.lookups.load(Relaxed),
            named: self.named.load(Relaxed),
            read_errors: self.read_errors.load(Relaxed),
            evicted: self.evicted.load(Relaxed),
            unverified: self.unverified.load(Relaxed),
        }
    }
}

/// A 64-hex container id or a pod uid: safe to use as a path component.
fn plausible_id(id: &str) -> bool {
    (32..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Container id → what the node's files say; a bounded LRU.
#[derive(Debug)]
pub struct Workloads {
    root: PathBuf,
    cache: LruCache<String, Arc<Workload>>,
    counters: Arc<WorkloadCounters>,
}

impl Workloads {
    pub fn new(root: &Path, capacity: NonZeroUsize, counters: Arc<WorkloadCounters>) -> Workloads {
        Workloads { root: root.to_path_buf(), cache: LruCache::new(capacity), counters }
    }

    /// Adds name, image and pod to `c` (from the cache, or read once), and returns the pod,
    /// when the runtime's state agrees with the process's cgroup (`c.cgroup`): a cgroup merely
    /// named like a container's gets nothing (counted in `unverified`).
    pub fn enrich(&mut self, c: &mut Container) -> Option<K8s> {
        let w = self.resolve(c);
        if w.is_empty() {
            return None;
        }
        let agrees = match (&w.cgroup, c.cgroup.as_deref()) {
            (Some(claim), Some(path)) => claim.agrees(path),
            _ => false,
        };
        if !agrees {
            self.counters.unverified.fetch_add(1, Relaxed);
            return None;
        }
        c.name.clone_from(&w.name);
        c.image.clone_from(&w.image);
        (!w.k8s.is_empty()).then(|| w.k8s.clone())
    }

    pub fn resolve(&mut self, c: &Container) -> Arc<Workload> {
        if let Some(w) = self.cache.get(&c.id) {
            return Arc::clone(w);
        }
        let w = Arc::new(if plausible_id(&c.id) { self.read(c) } else { Workload::default() });
        self.counters.lookups.fetch_add(1, Relaxed);
        if !w.is_empty() {
            self.counters.named.fetch_add(1, Relaxed);
        }
        if matches!(self.cache.push(c.id.clone(), Arc::clone(&w)), Some((old, _)) if old != c.id) {
            self.counters.evicted.fetch_add(1, Relaxed);
        }
        w
    }

    fn read(&self, c: &Container) -> Workload {
        let root = self.root.as_path();
        let id = c.id.as_str();
        let mut w = Workload::default();
        if c.id.len() == 64 {
            for source in runtimes::sources_for(&c.runtime) {
                match source(root, id) {
                    Ok(Some(found)) => w.fill(found),
                    Ok(None) => {}
                    Err(Malformed) => {
                        self.counters.read_errors.fetch_add(1, Relaxed);
                    }
                }
            }
        }
        // The kubelet's log directories, for what is still missing of a pod (not for plain
        // Docker or Podman containers, which have none).
        let kube = !w.k8s.is_empty() || matches!(c.runtime.as_str(), "kubernetes" | "containerd" | "cri-o");
        if kube && !w.pod_complete() {
            let found = if c.id.len() == 64 { podlogs::by_container(root, id) } else { podlogs::by_pod_uid(root, id) };
            match found {
                Ok(Some(found)) => w.fill(found),
                Ok(None) => {}
                Err(Malformed) => {
                    self.counters.read_errors.fetch_add(1, Relaxed);
                }
            }
        }
        w
    }
}

/// Where DMI says the EC2 instance id, on Nitro instances.
pub const BOARD_ASSET_TAG: &str = "sys/devices/virtual/dmi/id/board_asset_tag";

/// The EC2 instance id from `<root>/sys/devices/virtual/dmi/id/board_asset_tag`, when that
/// file holds one (`i-` and 8 or 17 hex digits); `None` when missing or anything else.
pub fn read_host_id(root: &Path) -> Option<String> {
    let raw = read_bounded(root, BOARD_ASSET_TAG, 64).ok()??;
    let text = std::str::from_utf8(&raw).ok()?.trim();
    let hex = text.strip_prefix("i-")?;
    let ok = matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| text.to_string())
}

static HOST_ID: OnceLock<Option<String>> = OnceLock::new();

/// Reads this machine's instance id under `root` once, for [`host_id`]; later calls keep the
/// first answer.
pub fn init_host_id(root: &Path) -> Option<String> {
    HOST_ID.get_or_init(|| read_host_id(root)).clone()
}

/// This machine's EC2 instance id, when [`init_host_id`] found one.
pub fn host_id() -> Option<String> {
    HOST_ID.get().cloned().flatten()
}

#[cfg(test)]
mod tests {
    use super::super::node_files::MAX_NAME;
    use super::*;

    #[test]
    fn workload_host_id_shapes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(BOARD_ASSET_TAG);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        assert_eq!(read_host_id(dir.path()), None, "missing");
        for (text, want) in [
            ("i-0123456789abcdef0\n", Some("i-0123456789abcdef0")),
            ("i-1a2b3c4d", Some("i-1a2b3c4d")),
            ("", None),
            ("   \n", None),
            ("i-", None),
            ("i-0123456789ABCDEF0", None),
            ("i-0123456789abcdefg", None),
            ("Amazon EC2", None),
            ("i-0123456789abcdef0 extra", None),
            ("i-0123456789abcdef01234", None),
        ] {
            std::fs::write(&file, text).expect("write");
            assert_eq!(read_host_id(dir.path()).as_deref(), want, "{text:?}");
        }
        std::fs::write(&file, vec![b'i'; 4096]).expect("write");
        assert_eq!(read_host_id(dir.path()), None, "oversized");
    }

    #[test]
    fn workload_clean_caps_and_trims() {
        assert_eq!(clean(Some("  web \n")), Some("web".into()));
        assert_eq!(clean(Some("   ")), None);
        assert_eq!(clean(None), None);
        let long = "é".repeat(400);
        let c = clean(Some(&long)).expect("kept");
        assert!(c.len() <= MAX_NAME && c.chars().all(|ch| ch == 'é'));
    }
}
