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

    /// `stat`'s comm, ppid and start time: one open and read into a stack buffer. Every
    /// lookup reads it for the process and for each ancestor (the caches are keyed by start
    /// time), so it is parsed here rather than through procfs's whole `Stat` (issue 29).
    fn brief(&self, pid: u32) -> Result<Brief, ReadError> {
        let mut buf = [0u8; 2048];
        let n = read_small(&self.dir(pid).join("stat"), &mut buf)?;
        parse_stat(&buf[..n]).ok_or(ReadError::Gone)
    }

    /// The effective uid from `status` (`Uid:` real, effective, saved, fs). Not the owner of
    /// `/proc/PID`, which is root for a process that is not dumpable.
    fn euid(&self, pid: u32) -> Result<u32, ReadError> {
        let mut buf = [0u8; 4096];
        let n = read_small(&self.dir(pid).join("status"), &mut buf)?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let line = text.lines().find_map(|l| l.strip_prefix("Uid:")).ok_or(ReadError::Gone)?;
        line.split_ascii_whitespace().nth(1).and_then(|u| u.parse().ok()).ok_or(ReadError::Gone)
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
        let uid = self.euid(pid)?;
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

/// Reads the start of a small /proc file into `buf` (as much as fits).
fn read_small(path: &Path, buf: &mut [u8]) -> Result<usize, ReadError> {
    let io = |e: std::io::Error| {
        if e.kind() == ErrorKind::PermissionDenied { ReadError::Permission } else { ReadError::Gone }
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(n)
}

/// `pid (comm) state ppid ... starttime(22) ...`: comm may hold spaces and parentheses, so it
/// runs from the first `(` to the last `)`.
fn parse_stat(b: &[u8]) -> Option<Brief> {
    let open = b.iter().position(|&c| c == b'(')?;
    let close = b.iter().rposition(|&c| c == b')')?;
    let comm = String::from_utf8_lossy(b.get(open + 1..close)?).into_owned();
    let rest = std::str::from_utf8(b.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace(); // from field 3, the state
    let ppid = fields.nth(1)?.parse::<i64>().ok()?;
    let starttime = fields.nth(17)?.parse::<u64>().ok()?; // field 22
    Some(Brief { comm, ppid: u32::try_from(ppid).unwrap_or(0), starttime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_stat_parse_matches_procfs() {
        let me = std::process::id();
        let s = procfs::process::Process::myself().and_then(|p| p.stat()).expect("procfs");
        let r = ProcReader::new(Path::new("/proc"), Path::new("/etc/passwd"), NonZeroUsize::MIN, NonZeroUsize::MIN);
        let b = r.brief(me).expect("brief");
        assert_eq!((b.comm, i64::from(b.ppid), b.starttime), (s.comm, i64::from(s.ppid), s.starttime));
        let status = procfs::process::Process::myself().and_then(|p| p.status()).expect("status");
        assert_eq!(r.euid(me), Ok(status.euid));
        // A comm with spaces and parentheses, and a line cut short.
        let b = parse_stat(b"42 (a) b (c)) S 7 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99 1 2").expect("parse");
        assert_eq!((b.comm.as_str(), b.ppid, b.starttime), ("a) b (c)", 7, 99));
        assert!(parse_stat(b"42 (a) S 7 42").is_none());
        assert!(parse_stat(b"").is_none());
        assert_eq!(r.brief(u32::MAX - 3).err(), Some(ReadError::Gone));
    }

    #[test]
    fn attribute_file_name_prefers_exe() {
        assert_eq!(file_name("curl", Some("/usr/bin/curl")), "curl");
        assert_eq!(file_name("python3", Some("/usr/bin/python3.12")), "python3.12");
        assert_eq!(file_name("app", Some("/tmp/app (deleted)")), "app");
        assert_eq!(file_name("kworker/0:1", None), "kworker/0:1");
    }
}
