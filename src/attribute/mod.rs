//! Attribution: which local process owns a connection, through /proc.
//!
//! `lookup(client, server)` goes socket → inode → pid → details:
//! 1. [`sockets`]: the 4-tuple in the host namespace by an exact netlink SOCK_DIAG query
//!    ([`diag`]), else in the TCP tables of every other network namespace (read through one
//!    pid per namespace); tables are cached and re-read on a miss, at most once per
//!    `min_table_refresh`.
//! 2. [`fds`]: the inode in `/proc/PID/fd`; owners cached (verified by one readlink), a miss
//!    scans recent owners, then new pids newest first, then the rest, stopping at the match.
//! 3. [`process`]: exe, cmdline (redacted, capped), uid/user, ancestors, container; cached by
//!    (pid, start time).
//! 4. A connection cache (4-tuple → details) answers later lookups of a connection whose
//!    process has exited meanwhile.
//!
//! Nothing here panics on odd /proc content; a process vanishing mid-read is "exited".
//!
//! The live attribution stage ([`stage::Stage`]) asks three sources, each behind a trait of
//! [`lookup`]: the kernel path ([`kernel`], [`ConnectEvents`]), this /proc path
//! ([`Attributor`], [`ProcessLookup`]), and the container names of the node's files
//! ([`workload`], [`WorkloadLookup`]).

pub mod container;
mod diag;
mod fds;
pub mod kernel;
pub mod lookup;
mod node_files;
mod podlogs;
mod process;
pub mod redact;
pub mod rootfs;
mod runtimes;
mod sockets;
pub mod stage;
mod users;
pub mod workload;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::event::{Attribution, AttributionMiss, AttributionSource};
use fds::{FdIndex, Scan};
pub use lookup::{ConnectEvents, ProcessLookup, WorkloadLookup};
use process::{Details, ProcReader, ReadError};
use sockets::{ConnKey, Tables, conn_key};
use workload::Workloads;
pub use workload::{WorkloadCounters, host_id, init_host_id};

/// What a permission miss needs, for the caller's warning.
pub const PERMISSION_HINT: &str =
    "reading /proc/PID/fd of other users' processes needs root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH";

/// Tunables; `Default` is what `Attributor::new()` uses.
#[derive(Debug, Clone)]
pub struct AttributeConfig {
    /// The procfs mount (`/proc`); tests point it at fixtures.
    pub proc_root: PathBuf,
    /// Where user names come from (`/etc/passwd`).
    pub passwd: PathBuf,
    /// Tables are re-read on a miss at most this often (2 ms).
    pub min_table_refresh: Duration,
    /// Look sockets of the monitor's own namespace up through netlink SOCK_DIAG (true);
    /// false, or when netlink fails: read `<proc_root>/net/tcp{,6}`.
    pub netlink: bool,
    /// socket inode → (pid, fd) entries (65,536; LRU).
    pub inode_cache: usize,
    /// (pid, start time) → process details, kept after the process exits (4,096; LRU).
    pub process_cache: usize,
    /// (pid, start time) → ancestor name and path (4,096; LRU).
    pub ancestor_cache: usize,
    /// 4-tuple → details of the last owner (16,384; LRU).
    pub conn_cache: usize,
    /// How long a connection cache entry may answer for a socket that is gone (5 min).
    pub conn_ttl: Duration,
    /// Where the node's `/` is (`--host-root`): container runtimes' and the kubelet's files
    /// are read under it to name containers and pods (`/`).
    pub host_root: PathBuf,
    /// container id → name, image and pod (4,096; LRU).
    pub workload_cache: usize,
    /// Counters of those lookups, shared with whoever reports them.
    pub workload_counters: Arc<WorkloadCounters>,
}

impl Default for AttributeConfig {
    fn default() -> AttributeConfig {
        AttributeConfig {
            proc_root: PathBuf::from("/proc"),
            passwd: PathBuf::from("/etc/passwd"),
            min_table_refresh: Duration::from_millis(2),
            netlink: true,
            inode_cache: 65_536,
            process_cache: 4_096,
            ancestor_cache: 4_096,
            conn_cache: 16_384,
            conn_ttl: Duration::from_secs(300),
            host_root: PathBuf::from("/"),
            workload_cache: 4_096,
            workload_counters: Arc::default(),
        }
    }
}

/// Counters since start: lookups and their outcome, and each cache's hits, misses, evictions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttributeStats {
    pub lookups: u64,
    pub found: u64,
    pub miss_no_socket: u64,
    pub miss_exited: u64,
    pub miss_permission: u64,
    /// TCP table re-reads, namespaces in the last one (host included), unreadable tables.
    pub table_refreshes: u64,
    pub namespaces: u64,
    pub table_read_errors: u64,
    /// Exact netlink lookups in the host namespace: found, not found, failed (then /proc).
    pub netlink_hits: u64,
    pub netlink_misses: u64,
    pub netlink_errors: u64,
    /// inode → owner cache.
    pub inode_hits: u64,
    pub inode_misses: u64,
    pub inode_evictions: u64,
    pub inode_stale: u64,
    /// fd scans, `fd` directories and links read by them, EACCES met.
    pub fd_scans: u64,
    pub fd_newest_hits: u64,
    pub fd_dirs_read: u64,
    pub fd_links_read: u64,
    pub fd_permission_denied: u64,
    /// (pid, start time) → details cache.
    pub process_hits: u64,
    pub process_misses: u64,
    pub process_evictions: u64,
    pub ancestor_hits: u64,
    pub ancestor_misses: u64,
    pub ancestor_evictions: u64,
    /// Lookups answered from the connection cache (owner exited or socket gone).
    pub conn_hits: u64,
    pub conn_evictions: u64,
}

/// Finds the process behind a TCP connection. Runs on the attribution thread, never on the
/// packet path.
#[derive(Debug)]
pub struct Attributor {
    config: AttributeConfig,
    tables: Tables,
    fds: FdIndex,
    procs: ProcReader,
    conns: LruCache<ConnKey, (Instant, Arc<Details>)>,
    stats: AttributeStats,
}

impl Default for Attributor {
    fn default() -> Attributor {
        Attributor::new()
    }
}

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

fn found(d: &Details) -> Attribution {
    Attribution {
        process: Some(d.process.clone()),
        container: d.container.clone(),
        source: Some(AttributionSource::Procfs),
        ..Attribution::default()
    }
}

impl Attributor {
    pub fn new() -> Attributor {
        Attributor::with_config(AttributeConfig::default())
    }

    pub fn with_config(config: AttributeConfig) -> Attributor {
        let root = config.proc_root.as_path();
        Attributor {
            tables: Tables::new(root, config.min_table_refresh, config.netlink),
            fds: FdIndex::new(root, nz(config.inode_cache)),
            procs: ProcReader::new(root, &config.passwd, nz(config.process_cache), nz(config.ancestor_cache)),
            conns: LruCache::new(nz(config.conn_cache)),
            stats: AttributeStats::default(),
            config,
        }
    }

    /// Looks up the owner of the socket `client` → `server` in every network namespace.
    /// `client` is the socket's local end: pass the reversed pair for the accepting side.
    /// Does the one-time work of a first lookup now (learning the network namespaces,
    /// opening their netlink sockets, reading /proc once), so that the first real lookup is as
    /// fast as the rest: a short-lived client is only findable for a few milliseconds.
    pub fn warm_up(&mut self) {
        let nowhere = SocketAddr::from(([0, 0, 0, 0], 1));
        let _ = self.lookup(nowhere, SocketAddr::from(([0, 0, 0, 0], 2)));
    }

    pub fn lookup(&mut self, client: SocketAddr, server: SocketAddr) -> Attribution {
        self.stats.lookups += 1;
        let key = conn_key(client, server);
        let miss = match self.resolve(client, server) {
            Ok(d) => {
                self.stats.found += 1;
                let a = found(&d);
                if matches!(self.conns.push(key, (Instant::now(), d)), Some((old, _)) if old != key) {
                    self.stats.conn_evictions += 1;
                }
                return a;
            }
            Err(miss) => miss,
        };
        if let Some((at, d)) = self.conns.get(&key)
            && at.elapsed() < self.config.conn_ttl
        {
            self.stats.conn_hits += 1;
            self.stats.found += 1;
            return found(d);
        }
        match miss {
            AttributionMiss::NoSocket => self.stats.miss_no_socket += 1,
            AttributionMiss::Permission => self.stats.miss_permission += 1,
            _ => self.stats.miss_exited += 1,
        }
        Attribution { miss: Some(miss), ..Attribution::default() }
    }

    fn resolve(&mut self, client: SocketAddr, server: SocketAddr) -> Result<Arc<Details>, AttributionMiss> {
        let Some(mut sock) = self.tables.find(client, server) else {
            return Err(AttributionMiss::NoSocket);
        };
        let mut permission = false;
        for attempt in 0..2 {
            if sock.inode != 0 {
                match self.fds.owner(sock.inode) {
                    Scan::Found(o) => match self.procs.details(o.pid) {
                        Ok(d) => return Ok(d),
                        Err(ReadError::Permission) => permission = true,
                        Err(ReadError::Gone) => {}
                    },
                    Scan::NotFound { permission: p } => permission |= p,
                }
            }
            // The cached table may be stale (the 4-tuple reused by a new socket): once more.
            if attempt > 0 || !self.tables.refresh_if_due() {
                break;
            }
            match self.tables.find(client, server) {
                Some(s) if s != sock => sock = s,
                _ => break,
            }
        }
        Err(if permission { AttributionMiss::Permission } else { AttributionMiss::Exited })
    }

    /// Counters since start.
    pub fn stats(&self) -> AttributeStats {
        let (t, f, p) = (self.tables.stats, self.fds.stats, self.procs.stats);
        AttributeStats {
            table_refreshes: t.refreshes,
            namespaces: t.namespaces,
            table_read_errors: t.read_errors,
            netlink_hits: t.netlink_hits,
            netlink_misses: t.netlink_misses,
            netlink_errors: t.netlink_errors,
            inode_hits: f.hits,
            inode_misses: f.misses,
            inode_evictions: f.evictions,
            inode_stale: f.stale,
            fd_scans: f.scans,
            fd_newest_hits: f.newest_hits,
            fd_dirs_read: f.dirs_read,
            fd_links_read: f.links_read,
            fd_permission_denied: f.permission_denied,
            process_hits: p.hits,
            process_misses: p.misses,
            process_evictions: p.evictions,
            ancestor_hits: p.ancestor_hits,
            ancestor_misses: p.ancestor_misses,
            ancestor_evictions: p.ancestor_evictions,
            ..self.stats
        }
    }
}

/// The container-name lookup `config` asks for: the node's files under `host_root`, at most
/// `workload_cache` containers, counted in `workload_counters`.
pub fn workloads(config: &AttributeConfig) -> Workloads {
    Workloads::new(&config.host_root, nz(config.workload_cache), Arc::clone(&config.workload_counters))
}

/// This machine's host name (`/proc/sys/kernel/hostname`), read once.
pub fn host() -> Option<String> {
    static HOST: OnceLock<Option<String>> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .clone()
}

impl ProcessLookup for Attributor {
    fn lookup(&mut self, client: SocketAddr, server: SocketAddr) -> Attribution {
        Attributor::lookup(self, client, server)
    }
    fn describe(&self) -> String {
        format!("{:?}", self.stats())
    }
}
