//! Inode → pid: which process holds `socket:[INODE]` in `<proc>/PID/fd`.
//!
//! A lean `read_dir` + `read_link` scan, not procfs's `Process::fd()`: that opens a process
//! handle per pid and builds an `FDInfo` (path, mode) per fd, while we only need the link
//! bytes. Every socket seen on the way is remembered (inode → pid, fd), so one scan answers
//! the next lookups too. A cached owner is verified with a single `readlink` of its fd.
//!
//! Scan order, stopping at the first match: (1) recent owners (daemons that call IMDS
//! again), (2) pids never read before, newest first (short-lived clients have recent pids;
//! "newest" follows the kernel's last pid from `/proc/loadavg`, so pid wrap-around is
//! handled), (3) the pids read before, newest first, for processes that opened a new socket.

use std::collections::{HashSet, VecDeque};
use std::io::ErrorKind;
use std::num::NonZeroUsize;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use lru::LruCache;

/// Recent owners kept for the first scan phase.
const HOT_OWNERS: usize = 64;
/// Pids just below the kernel's last pid tried before any /proc listing.
const NEWEST_FIRST: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub pid: u32,
    pub fd: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    Found(Owner),
    /// No fd matched. `permission`: some `fd` directory could not be read (EACCES), so the
    /// owner may be among them.
    NotFound {
        permission: bool,
    },
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FdStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Cached owners that no longer held the socket.
    pub stale: u64,
    pub scans: u64,
    /// Owners found among the newest pids, without listing /proc.
    pub newest_hits: u64,
    pub dirs_read: u64,
    pub links_read: u64,
    pub permission_denied: u64,
}

/// `socket:[123]` → 123.
pub(crate) fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

enum DirError {
    Permission,
    Gone,
}

#[derive(Debug)]
pub(crate) struct FdIndex {
    proc_root: PathBuf,
    cache: LruCache<u64, Owner>,
    /// Pids whose fds were read at least once (pruned to the live ones on every scan).
    known: HashSet<u32>,
    hot: VecDeque<u32>,
    pub stats: FdStats,
}

impl FdIndex {
    pub fn new(proc_root: &Path, capacity: NonZeroUsize) -> FdIndex {
        FdIndex {
            proc_root: proc_root.to_path_buf(),
            cache: LruCache::new(capacity),
            known: HashSet::new(),
            hot: VecDeque::with_capacity(HOT_OWNERS),
            stats: FdStats::default(),
        }
    }

    /// The process holding socket `inode`, from the cache (verified) or a scan.
    pub fn owner(&mut self, inode: u64) -> Scan {
        if let Some(o) = self.cache.get(&inode).copied() {
            if self.holds(o, inode) {
                self.stats.hits += 1;
                return Scan::Found(o);
            }
            self.cache.pop(&inode);
            self.stats.stale += 1;
        }
        self.stats.misses += 1;
        self.scan(inode)
    }

    fn holds(&mut self, o: Owner, inode: u64) -> bool {
        self.stats.links_read += 1;
        let link = self.proc_root.join(o.pid.to_string()).join("fd").join(o.fd.to_string());
        std::fs::read_link(link).ok().and_then(|t| socket_inode(t.as_os_str().as_bytes())) == Some(inode)
    }

    fn last_pid(&self) -> u32 {
        std::fs::read_to_string(self.proc_root.join("loadavg"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(4)?.parse().ok())
            .unwrap_or(u32::MAX)
    }

    fn scan(&mut self, want: u64) -> Scan {
        self.stats.scans += 1;
        // Fast path for the short-lived client: it is almost always one of the last few
        // processes forked. Look at those before listing /proc at all.
        let last = self.last_pid();
        if last != u32::MAX {
            let mut tried: Vec<u32> = Vec::with_capacity(NEWEST_FIRST as usize);
            for id in (0..NEWEST_FIRST).filter_map(|d| last.checked_sub(d)).filter(|&p| p > 0) {
                // The newest ids may be threads': read their process (thread group) instead,
                // so that only process ids are ever reported or cached.
                let Some(pid) = self.thread_group(id) else { continue };
                if tried.contains(&pid) {
                    continue;
                }
                tried.push(pid);
                if let Ok(Some(fd)) = self.read_pid(pid, want) {
                    self.stats.newest_hits += 1;
                    self.remember_hot(pid);
                    return Scan::Found(Owner { pid, fd });
                }
            }
        }
        let Ok(dir) = std::fs::read_dir(&self.proc_root) else {
            return Scan::NotFound { permission: false };
        };
        let mut pids: Vec<u32> = dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
        pids.sort_unstable_by_key(|&p| last.wrapping_sub(p));
        let live: HashSet<u32> = pids.iter().copied().collect();
        self.known.retain(|p| live.contains(p));
        self.hot.retain(|p| live.contains(p));

        let hot: Vec<u32> = self.hot.iter().copied().collect();
        let (old, new): (Vec<u32>, Vec<u32>) =
            pids.into_iter().filter(|p| !hot.contains(p)).partition(|p| self.known.contains(p));
        let mut permission = false;
        for pid in hot.into_iter().chain(new).chain(old) {
            match self.read_pid(pid, want) {
                Ok(Some(fd)) => {
                    let owner = Owner { pid, fd };
                    self.remember_hot(pid);
                    return Scan::Found(owner);
                }
                Ok(None) | Err(DirError::Gone) => {}
                Err(DirError::Permission) => permission = true,
            }
        }
        Scan::NotFound { permission }
    }

    /// The process (thread-group id) of a task id.
    fn thread_group(&self, id: u32) -> Option<u32> {
        let status = std::fs::read_to_string(self.proc_root.join(id.to_string()).join("status")).ok()?;
        status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
    }

    fn remember_hot(&mut self, pid: u32) {
        self.hot.retain(|&p| p != pid);
        if self.hot.len() >= HOT_OWNERS {
            self.hot.pop_back();
        }
        self.hot.push_front(pid);
    }

    /// Reads one pid's fds, caching every socket; returns the fd holding `want`.
    fn read_pid(&mut self, pid: u32, want: u64) -> Result<Option<u32>, DirError> {
        let dir_path = self.proc_root.join(pid.to_string()).join("fd");
        self.stats.dirs_read += 1;
        let dir = match std::fs::read_dir(&dir_path) {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                self.stats.permission_denied += 1;
                return Err(DirError::Permission);
            }
            Err(_) => return Err(DirError::Gone), // ENOENT / ESRCH: exited
        };
        self.known.insert(pid);
        for entry in dir.flatten() {
            let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            self.stats.links_read += 1;
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue; // closed meanwhile
            };
            let Some(inode) = socket_inode(target.as_os_str().as_bytes()) else {
                continue;
            };
            if let Some((old, _)) = self.cache.push(inode, Owner { pid, fd })
                && old != inode
            {
                self.stats.evictions += 1;
            }
            if inode == want {
                return Ok(Some(fd));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_socket_link_parsing() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[99999999999999999999999]"), None);
    }

    #[test]
    fn attribute_fd_scan_fixture() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let root = tmp.path();
        for (pid, fds) in [(10u32, vec![(3u32, "socket:[500]"), (4, "/dev/null")]), (20, vec![(5, "socket:[600]")])] {
            let d = root.join(pid.to_string()).join("fd");
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
            for (fd, target) in fds {
                std::os::unix::fs::symlink(target, d.join(fd.to_string())).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        std::fs::write(root.join("loadavg"), "0.00 0.00 0.00 1/100 20\n").unwrap_or_else(|e| panic!("{e}"));
        let cap = NonZeroUsize::new(1).unwrap_or(NonZeroUsize::MIN);
        let mut idx = FdIndex::new(root, cap);
        assert_eq!(idx.owner(600), Scan::Found(Owner { pid: 20, fd: 5 }));
        // Newest first: pid 20 was read first and matched, pid 10 not yet read.
        assert_eq!(idx.stats.dirs_read, 1);
        assert_eq!(idx.owner(600), Scan::Found(Owner { pid: 20, fd: 5 }));
        assert_eq!(idx.stats.hits, 1);
        assert_eq!(idx.owner(500), Scan::Found(Owner { pid: 10, fd: 3 }));
        // Capacity 1: caching 500 evicted 600.
        assert_eq!(idx.stats.evictions, 1);
        assert_eq!(idx.owner(700), Scan::NotFound { permission: false });
        // The socket moved: the cached owner is stale and a scan finds nothing.
        // (the full scan for 700 left 600 as the one cached entry)
        std::fs::remove_file(root.join("20/fd/5")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(idx.owner(600), Scan::NotFound { permission: false });
        assert_eq!(idx.stats.stale, 1);
    }
}
