//! Kernel connect events: the `sock:inet_sock_set_state` tracepoint through perf_event_open,
//! one ring per CPU, filtered in the kernel to TCP sockets towards the watched ports that
//! enter or leave SYN_SENT. No eBPF program is compiled or loaded.
//!
//! The SYN_SENT transition runs in the connecting task's `connect()`, so that sample's pid is
//! the client (as seen from the monitor's pid namespace, whatever namespace the client is in),
//! but the kernel picks the source port only after it: the socket's next transition
//! (SYN_SENT → ESTABLISHED, often in softirq context with an unrelated pid) carries the full
//! 4-tuple. The two are joined by the socket's kernel address (used as a key only; never
//! printed or stored beyond the join).
//!
//! On the SYN_SENT sample the process is described at once from `/proc/PID` ([`ProcReader`],
//! an LRU by (pid, start time)), while the client still sits in `connect()`. When the client
//! has already exited by then (the sample is read a little later, on another thread), the
//! shadow process table answers: it learnt the pid's exe, command line, parent and cgroup
//! from the `sched:sched_process_exec`/`sched_process_fork` samples of the same rings
//! ([`shadow`]), so a client that exits a millisecond after its request is still named.

mod format;
mod shadow;
mod tracefs;

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use rustix::event::{EventfdFlags, PollFd, PollFlags, eventfd, poll};

use super::process::{ProcReader, ReadError};
use super::{AttributeConfig, found, nz};
use crate::event::{Attribution, AttributionMiss, AttributionSource};
use crate::sys::perf::{self, Ring};
pub use format::{ExecLayout, ForkLayout, SetStateLayout, TracepointFormat, filter};
use format::{TCP_ESTABLISHED, TCP_SYN_SENT};
use shadow::{ProcEvent, SHADOW, Shadow};

/// Data pages per CPU ring (256 KiB with 4 KiB pages: ~2,800 samples of ~96 bytes).
const RING_PAGES: usize = 64;
/// A pid described this recently is not read again (a connect() flood from one process
/// costs one /proc read, not one per connection).
const RECENT: std::time::Duration = std::time::Duration::from_millis(50);
/// Pids remembered as recently described.
const RECENT_PIDS: usize = 1_024;
/// Data pages per CPU of each of the exec and fork rings (64 KiB: ~900 samples), small enough
/// that the three rings of a CPU stay within the default `perf_event_mlock_kb` (516 KiB).
const SCHED_RING_PAGES: usize = 16;
/// Samples after which an exec/fork ring wakes the thread anyway (before it can fill: at
/// most a quarter of its ~900). Exec and fork samples need no wake-up of their own: a
/// connect sample wakes the thread at once, and each pass drains every ring in time order,
/// so a client's exec is applied (its /proc read) before its connect.
const SCHED_WAKEUP: u32 = 256;
/// Sockets between SYN_SENT and their next state, remembered at most (LRU).
const PENDING: usize = 8_192;
/// 4-tuple → process answers kept for the attribution stage (LRU).
const ANSWERS: usize = 16_384;
/// Longest sleep in poll() with nothing to read: the thread otherwise sleeps on the rings'
/// wake-up watermarks (a connect sample, 256 exec/fork samples) and on the attribution
/// stage's catch-up requests. It was a 10 ms poll: 100 wake-ups a second, 0.5-0.8% of a core
/// on an idle host (benches/live_cpu.sh); at 250 ms, 4 a second. The stop flag is checked
/// this often.
const POLL_MS: u16 = 250;
/// What a pid-only answer lacks (the process exited before /proc could be read).
const ALL_DETAILS: [&str; 5] = ["exe", "cmdline", "user", "ancestors", "container"];

/// Counters of the kernel path since start.
#[derive(Debug, Default)]
pub struct KernelCounters {
    /// Samples read from the rings.
    pub samples: AtomicU64,
    /// Connections whose 4-tuple and pid were joined.
    pub connects: AtomicU64,
    /// Samples the kernel lost because a ring was full (PERF_RECORD_LOST).
    pub lost: AtomicU64,
    /// Samples too short or of an unknown family.
    pub malformed: AtomicU64,
    /// Connections whose process was gone before /proc could be read (pid only).
    pub proc_gone: AtomicU64,
    /// SYN_SENT sockets forgotten before their next state (pending table full).
    pub pending_evicted: AtomicU64,
    /// Connections whose process was gone from /proc and was named by the shadow table.
    pub shadow_hits: AtomicU64,
    /// Shadow table entries evicted (least recently used) because the table was full.
    pub shadow_evicted: AtomicU64,
    /// Exec and fork samples applied to the shadow table.
    pub proc_events: AtomicU64,
}

/// What the kernel thread shares with the attribution stage.
#[derive(Debug)]
pub struct KernelShared {
    answers: Mutex<LruCache<(SocketAddr, SocketAddr), Attribution>>,
    /// Catch-up requests made ([`KernelShared::wait_for_pass`]), and the last one a finished
    /// pass had seen when it started.
    asked: AtomicU64,
    served: AtomicU64,
    /// Wakes the kernel thread's poll() for a catch-up request (an eventfd; without one,
    /// a request waits for the next [`POLL_MS`] pass, at most its `max`).
    kick: Option<OwnedFd>,
    pub counters: KernelCounters,
}

impl KernelShared {
    /// The kernel's answer for the connection `client` → `server`, if any.
    pub fn get(&self, client: SocketAddr, server: SocketAddr) -> Option<Attribution> {
        let key = (canonical(client), canonical(server));
        self.answers.lock().ok()?.get(&key).cloned()
    }

    /// Wakes the kernel thread and waits until it has finished a pass started after this
    /// call (so that whatever the rings held when this was called has been read), at most
    /// `max`.
    pub fn wait_for_pass(&self, max: Duration) {
        let want = self.asked.fetch_add(1, SeqCst) + 1;
        if let Some(k) = &self.kick {
            let _ = rustix::io::write(k, &1u64.to_ne_bytes());
        }
        let until = Instant::now() + max;
        while self.served.load(SeqCst) < want && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    fn answer(&self, key: (SocketAddr, SocketAddr), a: Attribution) {
        if let Ok(mut g) = self.answers.lock() {
            g.put(key, a);
        }
    }
}

/// One sample of `inet_sock_set_state`, as the filter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transition {
    /// `connect()` started: pid is the client.
    SynSent { skaddr: u64 },
    /// The socket left SYN_SENT (to ESTABLISHED, or CLOSE when refused).
    Left { skaddr: u64, newstate: i32, client: SocketAddr, server: SocketAddr },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    pid: u32,
    time: u64,
    what: Transition,
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

fn bytes<const N: usize>(raw: &[u8], f: format::Field) -> Option<[u8; N]> {
    raw.get(f.offset..f.offset + N)?.try_into().ok()
}

/// Splits a PERF_RECORD_SAMPLE body of layout TID, TIME, RAW into (pid, time, raw record).
fn split_sample(body: &[u8]) -> Option<(u32, u64, &[u8])> {
    let pid = u32::from_ne_bytes(body.get(0..4)?.try_into().ok()?);
    let time = u64::from_ne_bytes(body.get(8..16)?.try_into().ok()?);
    let raw_len = u32::from_ne_bytes(body.get(16..20)?.try_into().ok()?) as usize;
    Some((pid, time, body.get(20..20 + raw_len)?))
}

/// Parses a PERF_RECORD_SAMPLE body of `inet_sock_set_state`.
fn parse_sample(body: &[u8], l: &SetStateLayout) -> Option<Sample> {
    let (pid, time, raw) = split_sample(body)?;
    if raw.len() < l.min_len() {
        return None;
    }
    let skaddr = u64::from_ne_bytes(bytes(raw, l.skaddr)?);
    let oldstate = i32::from_ne_bytes(bytes(raw, l.oldstate)?);
    let newstate = i32::from_ne_bytes(bytes(raw, l.newstate)?);
    if newstate == TCP_SYN_SENT {
        return Some(Sample { pid, time, what: Transition::SynSent { skaddr } });
    }
    if oldstate != TCP_SYN_SENT {
        return None;
    }
    let sport = u16::from_ne_bytes(bytes(raw, l.sport)?);
    let dport = u16::from_ne_bytes(bytes(raw, l.dport)?);
    let (src, dst): (IpAddr, IpAddr) = match u16::from_ne_bytes(bytes(raw, l.family)?) {
        2 => (Ipv4Addr::from(bytes::<4>(raw, l.saddr)?).into(), Ipv4Addr::from(bytes::<4>(raw, l.daddr)?).into()),
        10 => {
            (Ipv6Addr::from(bytes::<16>(raw, l.saddr_v6)?).into(), Ipv6Addr::from(bytes::<16>(raw, l.daddr_v6)?).into())
        }
        _ => return None,
    };
    let client = canonical(SocketAddr::new(src, sport));
    let server = canonical(SocketAddr::new(dst, dport));
    Some(Sample { pid, time, what: Transition::Left { skaddr, newstate, client, server } })
}

/// Which tracepoint a ring reads.
#[derive(Debug, Clone, Copy)]
enum Source {
    Connect(SetStateLayout),
    Exec(ExecLayout),
    Fork(ForkLayout),
}

/// A parsed sample of any of the rings.
enum Event {
    Connect(Sample),
    Proc(u64, ProcEvent),
}

impl Event {
    fn time(&self) -> u64 {
        match self {
            Event::Connect(s) => s.time,
            Event::Proc(t, _) => *t,
        }
    }
}

fn parse_event(source: Source, body: &[u8]) -> Option<Event> {
    match source {
        Source::Connect(l) => parse_sample(body, &l).map(Event::Connect),
        Source::Exec(l) => {
            split_sample(body).and_then(|(_, t, raw)| Some(Event::Proc(t, shadow::parse_exec(raw, &l)?)))
        }
        Source::Fork(l) => {
            split_sample(body).and_then(|(_, t, raw)| Some(Event::Proc(t, shadow::parse_fork(raw, &l)?)))
        }
    }
}

/// The kernel side: the rings, the sockets waiting for their source port, and the shadow
/// process table. Runs on its own thread ([`KernelSource::run`]).
pub struct KernelSource {
    rings: Vec<(Source, Ring)>,
    /// Why the shadow table is not fed, when it is not (tracepoints unavailable).
    shadow_off: Option<String>,
    shadow: Shadow,
    /// skaddr → (pid, what /proc said at SYN_SENT).
    pending: LruCache<u64, Attribution>,
    /// skaddr → 4-tuple of a socket whose SYN_SENT sample was not read yet (other CPU).
    early: LruCache<u64, (SocketAddr, SocketAddr)>,
    procs: ProcReader,
    /// pid → (when, description) of the last /proc read.
    recent: LruCache<u32, (Instant, Attribution)>,
    shared: Arc<KernelShared>,
    scratch: Vec<u8>,
}

/// Online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-3,8`).
fn cpus() -> Vec<i32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<i32>(), b.trim().parse::<i32>()) {
            out.extend((a..=b).take(4096));
        }
    }
    if out.is_empty() {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        out.extend(0..i32::try_from(n).unwrap_or(1));
    }
    out
}

impl KernelSource {
    /// Opens the tracepoint on every online CPU, filtered to `ports`. Needs CAP_PERFMON or
    /// CAP_SYS_ADMIN (and CAP_SYS_ADMIN to mount tracefs when it is not mounted); call
    /// before privileges are dropped: the open rings keep working without them.
    pub fn open(ports: &[u16], config: &AttributeConfig) -> Result<KernelSource, String> {
        let root = tracefs::find_or_mount()?;
        let (id, fmt) = tracefs::tracepoint(&root, "sock", "inet_sock_set_state")?;
        let layout = SetStateLayout::from_format(&fmt)?;
        let filter = CString::new(filter(ports)).map_err(|e| e.to_string())?;
        let mut rings = Vec::new();
        for cpu in cpus() {
            let ring = Ring::open(id, cpu, RING_PAGES, 1, Some(&filter))
                .map_err(|e| format!("perf_event_open on cpu {cpu}: {e}"))?;
            rings.push((Source::Connect(layout), ring));
        }
        let mut k = KernelSource::with_rings(rings, config);
        match open_proc_rings(&root) {
            Ok(more) => k.rings.extend(more),
            Err(e) => k.shadow_off = Some(e),
        }
        Ok(k)
    }

    /// For the start-up line: whether the shadow process table is fed.
    pub fn shadow_note(&self) -> String {
        match &self.shadow_off {
            None => "shadow process table from sched_process_exec/fork".into(),
            Some(e) => format!("no shadow process table: {e}"),
        }
    }

    fn with_rings(rings: Vec<(Source, Ring)>, config: &AttributeConfig) -> KernelSource {
        KernelSource {
            rings,
            shadow_off: None,
            shadow: Shadow::new(SHADOW),
            pending: LruCache::new(nz(PENDING)),
            early: LruCache::new(nz(PENDING)),
            procs: ProcReader::new(
                &config.proc_root,
                &config.passwd,
                nz(config.process_cache),
                nz(config.ancestor_cache),
            ),
            shared: Arc::new(KernelShared {
                answers: Mutex::new(LruCache::new(nz(ANSWERS))),
                asked: AtomicU64::new(0),
                served: AtomicU64::new(0),
                kick: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).ok(),
                counters: KernelCounters::default(),
            }),
            recent: LruCache::new(nz(RECENT_PIDS)),
            scratch: Vec::new(),
        }
    }

    pub fn shared(&self) -> Arc<KernelShared> {
        Arc::clone(&self.shared)
    }

    /// Reads the rings until `stop`, waking on a connect sample, a full exec/fork watermark,
    /// a catch-up request, or [`POLL_MS`].
    pub fn run(mut self, stop: &AtomicBool) {
        let shared = Arc::clone(&self.shared);
        while !stop.load(Relaxed) {
            let mut fds: Vec<PollFd<'_>> =
                self.rings.iter().map(|(_, r)| PollFd::from_borrowed_fd(r.fd(), PollFlags::IN)).collect();
            if let Some(k) = &shared.kick {
                fds.push(PollFd::from_borrowed_fd(k.as_fd(), PollFlags::IN));
            }
            let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: i64::from(POLL_MS) * 1_000_000 };
            let _ = poll(&mut fds, Some(&timeout));
            drop(fds);
            if let Some(k) = &shared.kick {
                let _ = rustix::io::read(k, &mut [0u8; 8]);
            }
            let asked = shared.asked.load(SeqCst);
            self.pass();
            shared.served.fetch_max(asked, SeqCst);
        }
    }

    /// One pass: every ring drained, samples handled in time order (a socket's two samples
    /// may sit in two CPUs' rings; a fork/exec comes before the connect of its process).
    pub fn pass(&mut self) {
        let mut samples = Vec::new();
        let c = &self.shared.counters;
        for (source, ring) in &mut self.rings {
            let source = *source;
            ring.drain(&mut self.scratch, &mut |kind, body| match kind {
                perf::RECORD_SAMPLE => {
                    c.samples.fetch_add(1, Relaxed);
                    match parse_event(source, body) {
                        Some(s) => samples.push(s),
                        None => _ = c.malformed.fetch_add(1, Relaxed),
                    }
                }
                perf::RECORD_LOST => {
                    let lost = body.get(8..16).and_then(|b| b.try_into().ok()).map(u64::from_ne_bytes).unwrap_or(1);
                    c.lost.fetch_add(lost, Relaxed);
                }
                _ => {}
            });
        }
        samples.sort_by_key(Event::time);
        for s in samples {
            match s {
                Event::Connect(s) => self.handle(s),
                Event::Proc(t, ev) => self.proc_event(t, ev),
            }
        }
        let c = &self.shared.counters;
        c.shadow_hits.store(self.shadow.stats.hits, Relaxed);
        c.shadow_evicted.store(self.shadow.stats.evicted, Relaxed);
    }

    fn proc_event(&mut self, time: u64, ev: ProcEvent) {
        self.shared.counters.proc_events.fetch_add(1, Relaxed);
        if let ProcEvent::Exec { pid, .. } = ev {
            self.recent.pop(&pid); // a new image: what was read before is stale
        }
        self.shadow.apply(ev, time, &self.procs);
    }

    fn handle(&mut self, s: Sample) {
        match s.what {
            Transition::SynSent { skaddr } => {
                let a = self.describe(s.pid, s.time);
                if let Some((client, server)) = self.early.pop(&skaddr) {
                    self.joined(client, server, a);
                } else if self.pending.push(skaddr, a).is_some_and(|(k, _)| k != skaddr) {
                    self.shared.counters.pending_evicted.fetch_add(1, Relaxed);
                }
            }
            Transition::Left { skaddr, newstate, client, server } => match self.pending.pop(&skaddr) {
                Some(a) if newstate == TCP_ESTABLISHED => self.joined(client, server, a),
                Some(_) => {}
                None if newstate == TCP_ESTABLISHED => _ = self.early.put(skaddr, (client, server)),
                None => {}
            },
        }
    }

    fn joined(&mut self, client: SocketAddr, server: SocketAddr, a: Attribution) {
        self.shared.counters.connects.fetch_add(1, Relaxed);
        self.shared.answer((client, server), a);
    }

    /// The description of `pid`, read now, while it is in `connect()` (at perf time `time`).
    fn describe(&mut self, pid: u32, time: u64) -> Attribution {
        if let Some((at, a)) = self.recent.get(&pid)
            && at.elapsed() < RECENT
            && a.process.is_some()
        {
            return a.clone();
        }
        let a = match self.shadow.known(pid, time, &mut self.procs) {
            Some(a) => a,
            None => self.read_proc(pid, time),
        };
        self.recent.put(pid, (Instant::now(), a.clone()));
        a
    }

    fn read_proc(&mut self, pid: u32, time: u64) -> Attribution {
        match self.procs.details(pid) {
            Ok(d) => {
                let mut a = Attribution { source: Some(AttributionSource::Kernel), ..found(&d) };
                if let Some(p) = a.process.as_mut().filter(|p| p.file.path.is_none() || p.cmdline.is_empty()) {
                    a.missing = self.shadow.complete(p, time);
                }
                a
            }
            Err(e) => {
                if e == ReadError::Gone
                    && let Some(a) = self.shadow.describe(pid, time, &mut self.procs)
                {
                    return a;
                }
                self.shared.counters.proc_gone.fetch_add(1, Relaxed);
                Attribution {
                    miss: Some(if e == ReadError::Permission {
                        AttributionMiss::Permission
                    } else {
                        AttributionMiss::Exited
                    }),
                    source: Some(AttributionSource::Kernel),
                    pid: Some(pid),
                    missing: ALL_DETAILS.to_vec(),
                    ..Attribution::default()
                }
            }
        }
    }
}

/// The exec and fork tracepoints on every online CPU, unfiltered (every process may be a
/// client later). They need not wake the thread: a connect sample (or the poll timeout)
/// does, and each pass drains every ring, so an exec is always read with the connects after it.
fn open_proc_rings(root: &std::path::Path) -> Result<Vec<(Source, Ring)>, String> {
    let (exec_id, f) = tracefs::tracepoint(root, "sched", "sched_process_exec")?;
    let exec = Source::Exec(ExecLayout::from_format(&f)?);
    let (fork_id, f) = tracefs::tracepoint(root, "sched", "sched_process_fork")?;
    let fork = Source::Fork(ForkLayout::from_format(&f)?);
    let mut rings = Vec::new();
    for cpu in cpus() {
        for (id, source) in [(exec_id, exec), (fork_id, fork)] {
            let ring = Ring::open(id, cpu, SCHED_RING_PAGES, SCHED_WAKEUP, None)
                .map_err(|e| format!("perf_event_open of sched events on cpu {cpu}: {e}"))?;
            rings.push((source, ring));
        }
    }
    Ok(rings)
}

#[cfg(test)]
mod tests;
