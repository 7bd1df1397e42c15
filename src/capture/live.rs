//! Live capture: one thread per interface on libpcap, batching frames into a bounded
//! channel. The thread never blocks on the consumer: a full queue loses the batch, and the
//! loss is counted. Kernel drop counters are read once a second.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::{LinkType, Packet};
use crate::bell::Bell;
use crate::endpoint::Endpoints;
use crate::time::Timestamp;

/// Bytes kept of each frame: the whole frame, as tcpdump keeps it. A sender's GSO (and GRO on
/// the way in) makes segments of up to 64 KiB (more with BIG TCP): a client that pipelines
/// requests has hundreds in one frame, and a frame cut at 8 KiB lost all but the first
/// (tests/hardening_wire_live.rs). With the kernel path's TPACKET_V3 blocks a frame takes
/// only its length in the ring.
pub const SNAPLEN: i32 = 262_144;
/// Kernel ring buffer per interface.
pub const KERNEL_BUFFER: i32 = 8 << 20;
/// In immediate mode ([`Wake::EachFrame`]) libpcap uses TPACKET_V2, whose ring has one
/// fixed slot per frame, as large as the snapshot length (on `any`; an Ethernet interface
/// caps it at 65,553). With [`SNAPLEN`] a slot took a 512 KiB block: the 8 MiB ring held 32
/// frames, and a burst of small answers overran it while the engine worked (hundreds of
/// kernel drops per 1,500 pipelined requests). 65,432 bytes plus libpcap's 104-byte slot
/// header fit a 64 KiB block: [`IMMEDIATE_BUFFER`] then holds 256 frames in the same kernel
/// memory as before. Every frame a sender's GSO or a receiver's GRO makes at MTU 1500 fits
/// (at most 45 x 1,448 bytes of payload plus headers: 65,232); a longer one (IP packets reach
/// 65,535) is kept to this length, counted as cut short, and its lost tail is a counted gap.
pub const IMMEDIATE_SNAPLEN: i32 = 65_432;
pub const IMMEDIATE_BUFFER: i32 = 16 << 20;
/// libpcap's Linux cooked capture v2 (frames name their interface).
const DLT_LINUX_SLL2: i32 = 276;
/// Frames per batch handed to the engine, and bytes: a batch is handed on when either is
/// reached (at most `BATCH_BYTES` + one frame is held per batch).
pub const BATCH_FRAMES: usize = 256;
pub const BATCH_BYTES: usize = 1 << 20;
/// Under load a batch waits at most this long for more frames. Otherwise a batch is handed
/// on as soon as the ring has nothing more to read: with [`Wake::EachFrame`] that is each
/// frame, so a SYN reaches the attribution thread within microseconds (short-lived clients
/// such as `curl` live only milliseconds).
const BATCH_WAIT: Duration = Duration::from_millis(1);
/// How long the kernel holds frames before it hands them over together ([`Wake::Coalesce`]):
/// every exchange of that time (requests, answers, their ACKs) then costs one wake-up of this
/// thread, of the attribution stage and of the output, shared. A keep-alive client at 22
/// requests/s: 174 us of CPU per request with 5 ms, 30 us with 200 ms (benches/README.md).
/// Records reach the output up to this much later; the kernel path names clients from their
/// connect(), so nothing waits on the capture to find a process.
pub const COALESCE: Duration = Duration::from_millis(200);
/// How often an idle capture thread wakes to check for shutdown. libpcap's own read timeout
/// is not honoured in immediate mode on an idle interface, so the handle is non-blocking and
/// the thread polls its descriptor with this timeout.
const IDLE_WAKE: Duration = Duration::from_millis(250); // 4 wake-ups a second when idle (benches/live_cpu.sh)

/// What the capture threads count. They own it; whoever runs them reads it.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    /// Frames read from libpcap (not libpcap's `received`, which counts `lo` twice).
    pub packets: AtomicU64,
    /// Frames lost because the capture → engine queue was full.
    pub queue_losses: AtomicU64,
    pub kernel_drops: AtomicU64,
    pub interface_drops: AtomicU64,
    /// Why capture threads ended early (e.g. an interface went away).
    errors: Mutex<Vec<String>>,
}

impl CaptureCounters {
    /// A capture thread ended on an error.
    pub fn capture_error(&self, iface: &str, msg: &str) {
        if let Ok(mut g) = self.errors.lock() {
            g.push(format!("capture on '{iface}' stopped: {msg}"));
        }
    }

    /// The errors so far, once.
    pub fn take_errors(&self) -> Vec<String> {
        self.errors.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default()
    }
}

/// Frames captured together, stored back to back in one buffer.
#[derive(Debug)]
pub struct Batch {
    pub link: LinkType,
    /// The index of the interface captured (0 for `any`, whose frames name theirs).
    pub ifindex: u32,
    data: Vec<u8>,
    index: Vec<(Timestamp, u32, u32)>,
}

impl Batch {
    /// An empty batch of frames of one link type from interface `ifindex` (the capture
    /// thread's, or a test's).
    pub fn new(link: LinkType, ifindex: u32) -> Batch {
        Batch { link, ifindex, data: Vec::with_capacity(64 * 1024), index: Vec::with_capacity(BATCH_FRAMES) }
    }

    pub fn push(&mut self, ts: Timestamp, frame: &[u8]) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.index.push((ts, start, frame.len() as u32));
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Bytes of frames held.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn packets(&self) -> impl Iterator<Item = Packet<'_>> {
        self.index.iter().map(move |&(ts, start, len)| Packet {
            ts,
            link: self.link,
            data: &self.data[start as usize..(start + len) as usize],
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "cannot capture on '{iface}': permission denied. Live capture needs CAP_NET_RAW: run as root, or grant it with `setcap cap_net_raw,cap_sys_ptrace,cap_dac_read_search+ep $(command -v imdswatch)` (see docs/fleets.md, \"Privileges\")"
    )]
    Permission { iface: String },
    #[error("cannot capture on '{iface}': {msg}")]
    Open { iface: String, msg: String },
    #[error("cannot capture on '{iface}': link type {dlt} is not supported")]
    LinkType { iface: String, dlt: i32 },
    #[error("cannot set the capture filter on '{iface}': {msg}")]
    Filter { iface: String, msg: String },
}

/// When the kernel hands frames to the capture thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Each frame at once (libpcap's immediate mode): the /proc attribution path looks a
    /// connection up on its SYN, while a short-lived client still lives.
    EachFrame,
    /// Frames wait up to [`COALESCE`] in the kernel's ring and arrive together (TPACKET_V3
    /// blocks retired on a timeout): for when the kernel path names clients.
    Coalesce,
}

/// An opened, filtered capture handle.
pub struct LiveCapture {
    pub iface: String,
    link: LinkType,
    /// The interface's index (0 for `any`, or when /sys does not say).
    ifindex: u32,
    cap: pcap::Capture<pcap::Active>,
}

impl LiveCapture {
    /// Opens `iface` with the IMDS filter, waking as `wake` says. Fails early and clearly
    /// without privileges.
    /// `buffer_mib` overrides the kernel ring's size ([`KERNEL_BUFFER`], [`IMMEDIATE_BUFFER`]).
    pub fn open(
        iface: &str,
        endpoints: &Endpoints,
        wake: Wake,
        buffer_mib: Option<u16>,
    ) -> Result<LiveCapture, CaptureError> {
        let open_err = |e: pcap::Error| {
            let msg = e.to_string();
            let lower = msg.to_lowercase();
            if lower.contains("permission") || lower.contains("not permitted") {
                CaptureError::Permission { iface: iface.to_owned() }
            } else {
                CaptureError::Open { iface: iface.to_owned(), msg }
            }
        };
        let timeout_ms = i32::try_from(COALESCE.as_millis()).unwrap_or(200);
        let immediate = wake == Wake::EachFrame;
        let default_buffer = if immediate { IMMEDIATE_BUFFER } else { KERNEL_BUFFER };
        let buffer = buffer_mib.map_or(default_buffer, |m| i32::from(m) << 20);
        let cap = pcap::Capture::from_device(iface)
            .map_err(open_err)?
            .immediate_mode(immediate)
            .timeout(timeout_ms)
            .snaplen(if immediate { IMMEDIATE_SNAPLEN } else { SNAPLEN })
            .buffer_size(buffer)
            .open()
            .map_err(open_err)?
            .setnonblock()
            .map_err(open_err)?;
        let mut cap = cap;
        if iface == "any" {
            // Linux cooked v2 names each frame's interface (the link-local limit is per
            // interface: engine/rate.rs); libpcap before 1.10 has only v1, kept then. Before
            // the filter, which is compiled for the link type in force.
            let _ = cap.set_datalink(pcap::Linktype(DLT_LINUX_SLL2));
        }
        cap.filter(&endpoints.bpf_filter(), true)
            .map_err(|e| CaptureError::Filter { iface: iface.to_owned(), msg: e.to_string() })?;
        let dlt = cap.get_datalink().0;
        let link = LinkType::from_dlt(dlt).ok_or(CaptureError::LinkType { iface: iface.to_owned(), dlt })?;
        let ifindex = super::iface::index_of(iface).unwrap_or(0);
        Ok(LiveCapture { iface: iface.to_owned(), link, ifindex, cap })
    }

    /// Captures until `stop` is set or `frames` is gone, handing each batch to `frames`.
    pub fn run(mut self, frames: &mut dyn Frames, counters: Arc<CaptureCounters>, stop: Arc<AtomicBool>) {
        let mut batch = Batch::new(self.link, self.ifindex);
        let mut batch_started = Instant::now();
        let mut last_stats = Instant::now();
        let mut seen = (0u32, 0u32);
        while !stop.load(Relaxed) {
            match self.cap.next_packet() {
                Ok(p) => {
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    let ts = Timestamp::from_parts(
                        u64::try_from(p.header.ts.tv_sec).unwrap_or(0),
                        u32::try_from(p.header.ts.tv_usec).unwrap_or(0),
                    );
                    batch.push(ts, p.data);
                    counters.packets.fetch_add(1, Relaxed);
                }
                Err(pcap::Error::TimeoutExpired) => {
                    // Nothing to read: hand on what we have, then sleep until a frame comes.
                    if !batch.is_empty() {
                        let full = std::mem::replace(&mut batch, Batch::new(self.link, self.ifindex));
                        if !frames.batch(full) {
                            break;
                        }
                    }
                    wait_readable(&self.cap, IDLE_WAKE);
                    frames.woke();
                }
                Err(e) => {
                    counters.capture_error(&self.iface, &e.to_string());
                    break;
                }
            }
            // What the ring holds is read to its end first (then `TimeoutExpired` hands the
            // batch on): frames that arrived together reach the engine in one batch.
            let due =
                batch.len() >= BATCH_FRAMES || batch.bytes() >= BATCH_BYTES || batch_started.elapsed() >= BATCH_WAIT;
            if !batch.is_empty() && due {
                let full = std::mem::replace(&mut batch, Batch::new(self.link, self.ifindex));
                if !frames.batch(full) {
                    break;
                }
            }
            if last_stats.elapsed() >= Duration::from_secs(1) {
                last_stats = Instant::now();
                seen = self.count_drops(&counters, seen);
            }
        }
        if !batch.is_empty() {
            frames.batch(batch);
        }
        // The last second's drops too: the closing stats record must count every frame the
        // kernel could not keep, even in a capture shorter than a second.
        self.count_drops(&counters, seen);
        frames.end();
    }
}

impl LiveCapture {
    /// Adds the kernel's and the interface's drops since `seen` (libpcap's running totals)
    /// to the counters; returns the new totals.
    fn count_drops(&mut self, counters: &CaptureCounters, seen: (u32, u32)) -> (u32, u32) {
        let Ok(s) = self.cap.stats() else { return seen };
        counters.kernel_drops.fetch_add(u64::from(s.dropped.wrapping_sub(seen.0)), Relaxed);
        counters.interface_drops.fetch_add(u64::from(s.if_dropped.wrapping_sub(seen.1)), Relaxed);
        (s.dropped, s.if_dropped)
    }
}

/// Where a capture thread hands its batches: a queue to the engine's thread ([`Queue`]), or
/// the engine itself, run on the capture thread.
pub trait Frames {
    /// Takes a batch; false when the consumer is gone (the capture then ends).
    fn batch(&mut self, batch: Batch) -> bool;
    /// The thread woke from its wait (at least every `IDLE_WAKE`): time for housekeeping.
    fn woke(&mut self) {}
    /// The capture ended: no batch follows.
    fn end(&mut self) {}
}

/// A bounded queue to another thread that never blocks the capture: a full queue loses the
/// batch, counted in `queue_losses`. `bell` (the receiver's) is rung after each batch handed
/// on, and at the end.
pub struct Queue {
    tx: Option<Sender<Batch>>,
    counters: Arc<CaptureCounters>,
    bell: Bell,
}

impl Queue {
    pub fn new(tx: Sender<Batch>, counters: Arc<CaptureCounters>, bell: Bell) -> Queue {
        Queue { tx: Some(tx), counters, bell }
    }
}

impl Frames for Queue {
    fn batch(&mut self, batch: Batch) -> bool {
        let Some(tx) = &self.tx else { return false };
        send(tx, batch, &self.counters, &self.bell)
    }

    fn end(&mut self) {
        self.tx = None;
        self.bell.ring();
    }
}

/// Sleeps until the capture descriptor is readable or `timeout` passes.
fn wait_readable(cap: &pcap::Capture<pcap::Active>, timeout: Duration) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(cap, PollFlags::IN)];
    let t = Timespec { tv_sec: 0, tv_nsec: i64::from(timeout.subsec_nanos()) };
    let _ = poll(&mut fds, Some(&t));
}

/// Hands a batch on without waiting; false when the consumer is gone.
fn send(tx: &Sender<Batch>, batch: Batch, counters: &CaptureCounters, bell: &Bell) -> bool {
    match tx.try_send(batch) {
        Ok(()) => {
            bell.ring();
            true
        }
        Err(TrySendError::Full(b)) => {
            counters.queue_losses.fetch_add(b.len() as u64, Relaxed);
            true
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}
