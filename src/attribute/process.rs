//! Pid → process details, ancestry and container, cached by (pid, start time) so that a
//! reused pid is never confused with the process that had it before, and so that the details
//! of a process outlive it (the cache is an LRU, not pruned on exit).

use std::io::{ErrorKind, Read};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lru::LruCache;
use procfs::ProcError;

use super::{container, redact, users::Users};
use crate::event::{Ancestor, Container, Process, ProcessFile};

/// Longest command line kept, in bytes (after redaction).
pub(crate) const CMDLINE_CAP: usize = 4096;
/// Bytes of `/proc/PID/cmdline` read at most (it can be megabytes).
const CMDLINE_READ: u64 = 64 * 1024;
/// Ancestors listed at most.
pub(crate) const MAX_DEPTH: usize = 64;

/// One identified process: its record and its container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Details {
    pub process: Process,
    pub container: Option<Container>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The process exited (ENOENT / ESRCH).
    Gone,
    /// EACCES.
    Permission,
}

impl From<ProcError> for ReadError {
    fn from(e: ProcError) -> ReadError {
        match e {
            ProcError::PermissionDenied(_) => ReadError::Permission,
            ProcError::Io(ref io, _) if io.kind() == ErrorKind::PermissionDenied => ReadError::Permission,
            _ => ReadError::Gone,
        }
    }
}

/// The fields of `stat` we need.
#[derive(Debug, Clone)]
struct Brief {
    comm: String,
    ppid: u32,
    starttime: u64,
}

#[derive(Debug, Clone)]
struct AncestorEntry {
    name: String,
    path: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProcStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub ancestor_hits: u64,
    pub ancestor_misses: u64,
    pub ancestor_evictions: u64,
}

#[derive(Debug)]
pub(crate) struct ProcReader {
    proc_root: PathBuf,
    details: LruCache<(u32, u64), Arc<Details>>,
    ancestors: LruCache<(u32, u64), AncestorEntry>,
    users: Users,
    pub stats: ProcStats,
}

fn push_counted<K: std::hash::Hash + Eq + Copy, V>(c: &mut LruCache<K, V>, k: K, v: V) -> bool {
    matches!(c.push(k, v), Some((old, _)) if old != k)
}

/// Name shown for an executable: the file name of `exe`, else `comm`.
pub(crate) fn file_name(comm: &str, exe: Option<&str>) -> String {
    exe.map(|p| p.strip_suffix(" (deleted)").unwrap_or(p))
        .and_then(|p| Path::new(p).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .unwrap_or(comm)
        .to_string()
}

impl ProcReader {
    pub fn new(proc_root: &Path, passwd: &Path, details: NonZeroUsize, ancestors: NonZeroUsize) -> ProcReader {
        ProcReader {
            proc_root: proc_root.to_path_buf(),
            details: LruCache::new(details),
            ancestors: LruCache::new(ancestors),
            users: Users::new(passwd),
            stats: ProcStats::default(),
        }
    }

    /// The user name of `uid` (cached `/etc/passwd` lookup).
    pub(crate) fn user_name(&mut self, uid: u32) -> Option<String> {
        self.users.name(uid)
    }

    pub(crate) fn dir(&self, pid: u32) -> PathBuf {
        self.proc_root.join(pid.to_string())
    }

    fn brief(&self, pid: u32) -> Result<Brief, ReadError> {
        let stat = procfs::process::Process::new_with_root(self.dir(pid))?.stat()?;
        Ok(Brief { comm: stat.comm, ppid: u32::try_from(stat.ppid).unwrap_or(0), starttime: stat.starttime })
    }

    fn exe(&self, pid: u32) -> Option<String> {
        let p = std::fs::read_link(self.dir(pid).join("exe")).ok()?;
        Some(p.to_string_lossy().into_owned())
    }

    pub(crate) fn cmdline(&self, pid: u32) -> String {
        let mut raw = Vec::new();
        if let Ok(f) = std::fs::File::open(self.dir(pid).join("cmdline")) {
            // A short read is fine: the tail is cut anyway.
            let _ = f.take(CMDLINE_READ).read_to_end(&mut raw);
        }
        let args: Vec<String> =
            raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        redact::cap(redact::cmdline(&args), CMDLINE_CAP)
    }

    /// Details of `pid` as it is now; cached by (pid, start time).
    pub fn details(&mut self, pid: u32) -> Result<Arc<Details>, ReadError> {
        let brief = self.brief(pid)?;
        let key = (pid, brief.starttime);
        if let Some(d) = self.details.get(&key) {
            self.stats.hits += 1;
            return Ok(Arc::clone(d));
        }
        self.stats.misses += 1;
        let proc = procfs::process::Process::new_with_root(self.dir(pid))?;
        let uid = proc.status()?.euid;
        let path = self.exe(pid);
        let cmdline = self.cmdline(pid);
        let container =
            std::fs::read_to_string(self.dir(pid).join("cgroup")).ok().and_then(|s| container::from_cgroup(&s));
        let process = Process {
            pid,
            file: ProcessFile { name: file_name(&brief.comm, path.as_deref()), path },
            cmdline,
            uid,
            user: self.users.name(uid),
            ancestors: self.ancestry(pid, brief.ppid),
        };
        // Read once more: if the pid died and was reused meanwhile, do not cache a mix.
        if self.brief(pid).map(|b| b.starttime) != Ok(brief.starttime) {
            return Err(ReadError::Gone);
        }
        let d = Arc::new(Details { process, container });
        if push_counted(&mut self.details, key, Arc::clone(&d)) {
            self.stats.evictions += 1;
        }
        Ok(d)
    }

    /// Parent first, up to PID 1; stops early at a process that is gone or unreadable.
    pub(crate) fn ancestry(&mut self, pid: u32, mut ppid: u32) -> Vec<Ancestor> {
        let mut out: Vec<Ancestor> = Vec::new();
        let mut seen = vec![pid];
        while ppid != 0 && out.len() < MAX_DEPTH && !seen.contains(&ppid) {
            let Ok(b) = self.brief(ppid) else { break };
            let key = (ppid, b.starttime);
            let entry = match self.ancestors.get(&key) {
                Some(e) => {
                    self.stats.ancestor_hits += 1;
                    e.clone()
                }
                None => {
                    self.stats.ancestor_misses += 1;
                    let path = self.exe(ppid);
                    let e = AncestorEntry { name: file_name(&b.comm, path.as_deref()), path };
                    if push_counted(&mut self.ancestors, key, e.clone()) {
                        self.stats.ancestor_evictions += 1;
                    }
                    e
                }
            };
            out.push(Ancestor { pid: ppid, name: entry.name, path: entry.path });
            seen.push(ppid);
            ppid = b.ppid;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_file_name_prefers_exe() {
        assert_eq!(file_name("curl", Some("/usr/bin/curl")), "curl");
        assert_eq!(file_name("python3", Some("/usr/bin/python3.12")), "python3.12");
        assert_eq!(file_name("app", Some("/tmp/app (deleted)")), "app");
        assert_eq!(file_name("kworker/0:1", None), "kworker/0:1");
    }
}
