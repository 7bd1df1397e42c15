//! Socket → inode: the TCP tables of every network namespace.
//!
//! The host's tables are `<proc>/net/tcp{,6}` (the namespace imdswatch runs in). Every other
//! namespace is read through `<proc>/PID/net/tcp{,6}` of ONE representative pid, found by
//! grouping pids by the inode of `<proc>/PID/ns/net`. Each pid's namespace is read once
//! (`readlink`), so a rescan only costs a directory listing plus one readlink per new pid.
//!
//! Tables are parsed with procfs and kept as hash maps keyed by the canonical 4-tuple
//! (IPv4-mapped IPv6 addresses folded to IPv4). A miss re-reads all tables, at most once per
//! `min_refresh` (the caller's retry covers the gap).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::diag::Diag;
use procfs::net::{TcpNetEntries, TcpNetEntry, TcpState};
use procfs::{FromReadSI, ProcError};

/// Canonical connection key: (local ip, local port, remote ip, remote port).
pub(crate) type ConnKey = (IpAddr, u16, IpAddr, u16);

/// Folds IPv4-mapped IPv6 to IPv4 and drops flow info / scope, so that the same socket
/// compares equal however it was written.
pub(crate) fn conn_key(local: SocketAddr, remote: SocketAddr) -> ConnKey {
    (local.ip().to_canonical(), local.port(), remote.ip().to_canonical(), remote.port())
}

/// A network namespace, by the inode of its `ns/net` link. `HOST` is the monitor's own.
pub(crate) type NetNs = u64;
pub(crate) const HOST: NetNs = 0;

/// One socket found in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub ns: NetNs,
    /// 0 when the socket has no file any more (TIME_WAIT, or not yet accepted).
    pub inode: u64,
}

/// Builds a lookup map from table entries. When the same 4-tuple appears twice (an old
/// TIME_WAIT entry and a new socket), the entry that still has an inode wins.
pub(crate) fn index(entries: &[TcpNetEntry], into: &mut HashMap<ConnKey, u64>) {
    for e in entries {
        if e.state == TcpState::Listen {
            continue;
        }
        let key = conn_key(e.local_address, e.remote_address);
        let slot = into.entry(key).or_insert(0);
        if *slot == 0 {
            *slot = e.inode;
        }
    }
}

/// Reads one table file; a missing file (no IPv6) is an empty table.
fn read_table(path: &Path) -> Result<Vec<TcpNetEntry>, ProcError> {
    match TcpNetEntries::from_file(path, procfs::current_system_info()) {
        Ok(t) => Ok(t.0),
        Err(ProcError::NotFound(_)) if path.ends_with("tcp6") => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Reads `<dir>/tcp` and `<dir>/tcp6` into one map.
fn read_tables(dir: &Path) -> Result<HashMap<ConnKey, u64>, ProcError> {
    let mut map = HashMap::new();
    index(&read_table(&dir.join("tcp"))?, &mut map);
    index(&read_table(&dir.join("tcp6"))?, &mut map);
    Ok(map)
}

/// The inode of a `ns/net` link (`net:[4026531840]`).
pub(crate) fn ns_inode(link: &Path) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    let s = target.to_str()?;
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TableStats {
    pub refreshes: u64,
    pub namespaces: u64,
    pub read_errors: u64,
    pub netlink_hits: u64,
    pub netlink_misses: u64,
    pub netlink_errors: u64,
}

/// Cached per-namespace TCP tables.
#[derive(Debug)]
pub(crate) struct Tables {
    proc_root: PathBuf,
    min_refresh: Duration,
    /// The monitor's own namespace (read through `<proc>/net`).
    host_ns: Option<u64>,
    /// pid → namespace inode, learned once per pid; pruned of pids that are gone.
    pid_ns: HashMap<u32, NetNs>,
    /// Namespace → (representative pid, its table).
    tables: HashMap<NetNs, (u32, HashMap<ConnKey, u64>)>,
    host_table: HashMap<ConnKey, u64>,
    refreshed_at: Option<Instant>,
    /// Exact lookups in the host namespace; `None`: not wanted, or failed once (then the
    /// host's /proc tables are read instead).
    diag: Option<Diag>,
    /// Exact lookups in other namespaces, one netlink socket each (opened inside the
    /// namespace; bounded by the number of namespaces on the host). Namespaces where that
    /// failed (no CAP_SYS_ADMIN) are remembered and read through /proc instead.
    ns_diag: HashMap<NetNs, Option<Diag>>,
    ns_discovered_at: Option<Instant>,
    pub stats: TableStats,
}

impl Tables {
    pub fn new(proc_root: &Path, min_refresh: Duration, netlink: bool) -> Tables {
        Tables {
            proc_root: proc_root.to_path_buf(),
            min_refresh,
            host_ns: ns_inode(&proc_root.join("self/ns/net")),
            pid_ns: HashMap::new(),
            tables: HashMap::new(),
            host_table: HashMap::new(),
            refreshed_at: None,
            diag: if netlink { Diag::open() } else { None },
            ns_diag: HashMap::new(),
            ns_discovered_at: None,
            stats: TableStats::default(),
        }
    }

    /// Finds the socket `local` → `remote`; re-reads the tables on a miss (rate-limited).
    pub fn find(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<Found> {
        if let Some(d) = self.diag.as_mut() {
            match d.find(local, remote) {
                Ok(Some(inode)) => {
                    self.stats.netlink_hits += 1;
                    return Some(Found { ns: HOST, inode });
                }
                Ok(None) => self.stats.netlink_misses += 1,
                Err(()) => {
                    self.stats.netlink_errors += 1;
                    self.diag = None;
                    self.refreshed_at = None;
                }
            }
        }
        if self.diag.is_some()
            && let Some(f) = self.find_in_namespaces(local, remote)
        {
            return Some(f);
        }
        let key = conn_key(local, remote);
        if let Some(f) = self.find_cached(&key) {
            return Some(f);
        }
        if self.refresh_if_due() { self.find_cached(&key) } else { None }
    }

    /// Asks each other namespace's netlink socket; on a miss, learns new namespaces
    /// (rate-limited like the tables) and asks again.
    fn find_in_namespaces(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<Found> {
        for pass in 0..2 {
            for (ns, d) in self.ns_diag.iter_mut() {
                if let Some(d) = d
                    && let Ok(Some(inode)) = d.find(local, remote)
                {
                    self.stats.netlink_hits += 1;
                    return Some(Found { ns: *ns, inode });
                }
            }
            let due = self.ns_discovered_at.is_none_or(|t| t.elapsed() >= self.min_refresh);
            if pass == 1 || !due {
                break;
            }
            self.ns_discovered_at = Some(Instant::now());
            self.discover();
            self.open_namespace_sockets();
        }
        None
    }

    /// Opens a netlink socket in every namespace that has none yet; forgets vanished ones.
    fn open_namespace_sockets(&mut self) {
        let mut live: HashMap<NetNs, u32> = HashMap::new();
        for (&pid, &ns) in &self.pid_ns {
            if Some(ns) != self.host_ns {
                live.entry(ns).or_insert(pid);
            }
        }
        self.ns_diag.retain(|ns, _| live.contains_key(ns));
        for (ns, pid) in live {
            if !self.ns_diag.contains_key(&ns) {
                let d = Diag::open_in(&self.proc_root.join(pid.to_string()).join("ns/net"));
                self.ns_diag.insert(ns, d);
            }
        }
        self.count_namespaces();
    }

    fn count_namespaces(&mut self) {
        let others = self.ns_diag.keys().chain(self.tables.keys()).collect::<std::collections::HashSet<_>>();
        self.stats.namespaces = others.len() as u64 + 1;
    }

    /// Re-reads all tables now unless that was done less than `min_refresh` ago.
    pub fn refresh_if_due(&mut self) -> bool {
        if self.refreshed_at.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return false;
        }
        self.refresh();
        true
    }

    fn find_cached(&self, key: &ConnKey) -> Option<Found> {
        let mut best: Option<Found> = None;
        let host = self.host_table.get(key).map(|&inode| Found { ns: HOST, inode });
        let others = self.tables.iter().filter_map(|(&ns, (_, t))| t.get(key).map(|&inode| Found { ns, inode }));
        for f in host.into_iter().chain(others) {
            if f.inode != 0 {
                return Some(f);
            }
            best.get_or_insert(f);
        }
        best
    }

    fn refresh(&mut self) {
        self.refreshed_at = Some(Instant::now());
        self.stats.refreshes += 1;
        if self.diag.is_none() {
            match read_tables(&self.proc_root.join("net")) {
                Ok(t) => self.host_table = t,
                Err(_) => self.stats.read_errors += 1,
            }
        }
        self.discover();
        let mut tables = std::mem::take(&mut self.tables);
        let mut by_ns: HashMap<NetNs, Vec<u32>> = HashMap::new();
        for (&pid, &ns) in &self.pid_ns {
            if Some(ns) != self.host_ns {
                by_ns.entry(ns).or_default().push(pid);
            }
        }
        tables.retain(|ns, _| by_ns.contains_key(ns));
        for (ns, mut pids) in by_ns {
            if self.ns_diag.get(&ns).is_some_and(Option::is_some) {
                continue; // answered exactly through netlink
            }
            // Keep the previous representative first: it is known to work.
            let prev = tables.get(&ns).map(|(p, _)| *p);
            pids.sort_unstable_by_key(|p| (Some(*p) != prev, *p));
            for pid in pids {
                match read_tables(&self.proc_root.join(pid.to_string()).join("net")) {
                    Ok(t) => {
                        tables.insert(ns, (pid, t));
                        break;
                    }
                    // Vanished or unreadable: try the namespace's next pid.
                    Err(_) => self.stats.read_errors += 1,
                }
            }
        }
        self.tables = tables;
        self.count_namespaces();
    }

    /// Lists pids and learns the namespace of the new ones.
    fn discover(&mut self) {
        let Ok(dir) = std::fs::read_dir(&self.proc_root) else {
            self.stats.read_errors += 1;
            return;
        };
        let mut seen = HashMap::with_capacity(self.pid_ns.len() + 16);
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let ns = match self.pid_ns.get(&pid) {
                Some(&ns) => ns,
                None => match ns_inode(&entry.path().join("ns/net")) {
                    Some(ns) => ns,
                    None => continue, // gone, a kernel thread without access, or no permission
                },
            };
            seen.insert(pid, ns);
        }
        self.pid_ns = seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc/root")
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn attribute_table_v4_v6_and_mapped() {
        let mut t = Tables::new(&fixture_root(), Duration::ZERO, false);
        let f = t.find(sa("198.51.100.5:43210"), sa("192.0.2.254:80"));
        assert_eq!(f, Some(Found { ns: HOST, inode: 1001 }));
        // Written as v4-mapped by the caller: same socket.
        let f = t.find(sa("[::ffff:198.51.100.5]:43210"), sa("[::ffff:192.0.2.254]:80"));
        assert_eq!(f.map(|f| f.inode), Some(1001));
        // A v4-mapped socket in tcp6, looked up with plain v4 addresses.
        let f = t.find(sa("198.51.100.5:50000"), sa("192.0.2.254:80"));
        assert_eq!(f.map(|f| f.inode), Some(3003));
        // A real IPv6 socket.
        let f = t.find(sa("[2001:db8::10]:40000"), sa("[2001:db8::254]:80"));
        assert_eq!(f.map(|f| f.inode), Some(3001));
        // Direction matters: the reversed tuple is a different socket.
        assert_eq!(t.find(sa("192.0.2.254:80"), sa("198.51.100.5:43210")), None);
        // The listener is not a connection.
        assert_eq!(t.find(sa("127.0.0.1:8080"), sa("0.0.0.0:0")), None);
    }

    #[test]
    fn attribute_table_time_wait_has_no_inode() {
        let mut t = Tables::new(&fixture_root(), Duration::ZERO, false);
        let f = t.find(sa("198.51.100.5:43211"), sa("192.0.2.254:80"));
        assert_eq!(f, Some(Found { ns: HOST, inode: 0 }));
    }

    #[test]
    fn attribute_table_duplicate_prefers_live_socket() {
        let mut t = Tables::new(&fixture_root(), Duration::ZERO, false);
        // 198.51.100.5:43212 is both TIME_WAIT (inode 0) and a new SYN_SENT socket (1003).
        let f = t.find(sa("198.51.100.5:43212"), sa("192.0.2.254:80"));
        assert_eq!(f.map(|f| f.inode), Some(1003));
    }

    #[test]
    fn attribute_table_other_namespace() {
        let mut t = Tables::new(&fixture_root(), Duration::ZERO, false);
        // Host: 127.0.0.1:40002 -> :8080; namespace of pid 4242: 127.0.0.1:40001 -> :8080.
        let f = t.find(sa("127.0.0.1:40001"), sa("127.0.0.1:8080"));
        assert_eq!(f, Some(Found { ns: 4026532999, inode: 5005 }));
        let f = t.find(sa("127.0.0.1:40002"), sa("127.0.0.1:8080"));
        assert_eq!(f, Some(Found { ns: HOST, inode: 1010 }));
        assert_eq!(t.stats.namespaces, 2);
    }

    #[test]
    fn attribute_table_missing_root_is_a_miss() {
        let mut t = Tables::new(Path::new("/nonexistent/proc"), Duration::ZERO, false);
        assert_eq!(t.find(sa("198.51.100.5:43210"), sa("192.0.2.254:80")), None);
        assert!(t.stats.read_errors > 0);
    }
}
