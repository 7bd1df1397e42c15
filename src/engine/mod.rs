//! The engine: decode → flow (reassembly) → http → classify, fed one packet at a time by any
//! packet source. `analyze` feeds it from files, `live` from libpcap; both get the same
//! events. Single-threaded and lock-free by construction: one engine per thread.
//!
//! Memory bounds (all configurable through [`EngineConfig`]):
//! - connections: `max_flows` (default 16,384) of a few hundred bytes each;
//! - out-of-order segments: 32 segments / 64 KiB per direction, `ooo_budget` in all;
//! - unfinished HTTP heads: 16 KiB each, `head_budget` in all, plus the first 2 KiB of each
//!   connection's request head outside it (`conn::HEAD_RESERVE`, so `max_flows` × 2 KiB at
//!   most); when the budget is short, the longest-idle half-read heads are dropped first
//!   (counted, and reported from what was seen);
//! - waiting requests: 32 per connection; dedup memory: 8,192 fingerprints.

mod conn;
mod dedup;
mod doubt;
pub mod rate;
mod stats;

use conn::{Conn, Ctx};
pub use stats::EngineStats;

use crate::capture::Packet;
use crate::decode::frag::Defrag;
use crate::decode::{Segment, Skip, decode, transport};
use crate::endpoint::Endpoints;
use crate::event::{Outcome, RequestRecord};
use crate::flow::reassembly::Budget;
use crate::flow::table::FlowTable;
use crate::flow::tombstones::Tombstones;
use crate::flow::{Direction, FlowKey};
use crate::time::Timestamp;

/// How often idle connections are swept, in packet time (microseconds).
const SWEEP_US: u64 = 1_000_000;
/// Connections remembered as holding undelivered (TTL <= 1) token answers; the oldest is
/// forgotten past this (it is then settled at its close or idle timeout, as before).
const MAX_FRAGILE: usize = 1024;
/// [`Engine::make_head_room`] frees room for this many segments like the one that asked.
const HEAD_ROOM_BATCH: usize = 16;
/// After a scan that found no head to drop, the next waits this long (packet time, µs).
const HEAD_ROOM_RESCAN_US: u64 = 100_000;
/// How long a closed connection's tombstone absorbs late copies of its packets.
const TOMBSTONE_US: u64 = 2_000_000;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub endpoints: Endpoints,
    pub max_flows: usize,
    /// A connection idle this long is closed (microseconds).
    pub flow_timeout_us: u64,
    /// Out-of-order bytes buffered across all connections.
    pub ooo_budget: usize,
    /// Unfinished-head bytes buffered across all connections.
    pub head_budget: usize,
    /// `--service LIST`: only these services' records reach the outputs (applied by the
    /// sink `Driver`, which counts the rest); `None` keeps every record.
    pub services: Option<crate::event::ServiceSet>,
    /// Report [`EngineEvent::TokenPending`] (live mode, for the dashboard); off by default,
    /// so that an analysis does not copy every token request for nothing.
    pub announce_pending: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            endpoints: Endpoints::default(),
            max_flows: 16_384,
            flow_timeout_us: 10_000_000,
            ooo_budget: 8 << 20,
            head_budget: 8 << 20,
            services: None,
            announce_pending: false,
        }
    }
}

/// What the engine reports.
#[derive(Debug)]
pub enum EngineEvent {
    /// A connection's first packet (usually its SYN): the moment to find its process.
    FlowOpened { key: FlowKey, ts: Timestamp },
    /// A request with its answer, or with `no_response` / `unmatched`.
    Request { key: FlowKey, record: Box<RequestRecord> },
    /// A token request was seen and waits for its answer (`record` as it stands: no status).
    /// Its settlement is the [`EngineEvent::Request`] with the same key and timestamp, which
    /// always follows (answer, client close, idle timeout, eviction or end of input). Only
    /// with [`EngineConfig::announce_pending`]: live mode shows it on the dashboard.
    TokenPending { key: FlowKey, record: Box<RequestRecord> },
}

/// State shared by all connections of one engine.
#[derive(Debug)]
pub struct Shared {
    pub stats: EngineStats,
    pub ooo_budget: Budget,
    pub head_budget: Budget,
    pub dedup: dedup::Dedup,
    /// [`EngineConfig::announce_pending`].
    pub announce_pending: bool,
}

pub struct Engine {
    cfg: EngineConfig,
    /// Boxed: a half-empty table then wastes pointers, not whole connections.
    flows: FlowTable<Box<Conn>>,
    /// Connections that ended, moved out of `flows` (bounded like it).
    tombstones: Tombstones,
    shared: Shared,
    last_sweep: Timestamp,
    /// IP fragments of watched addresses in reassembly (bounded: decode/frag.rs).
    defrag: Defrag,
    /// Connections holding answers captured at TTL <= 1 not yet acknowledged (at most
    /// [`MAX_FRAGILE`]): a new IMDSv1 request from the same client settles them at once.
    fragile: std::collections::VecDeque<FlowKey>,
    /// When [`Engine::make_head_room`] last found nothing to drop.
    head_room_scan: Timestamp,
    /// The interface of the frame being fed: the one its link header names (`-i any`), else
    /// [`Engine::set_interface`]'s (`rate::frame_ifindex`).
    iface: u32,
    /// The interface the capture being fed was opened on (0: unknown or a file).
    capture_iface: u32,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine {
            flows: FlowTable::new(cfg.max_flows),
            tombstones: Tombstones::new(cfg.max_flows),
            shared: Shared {
                stats: EngineStats::default(),
                ooo_budget: Budget::new(cfg.ooo_budget),
                head_budget: Budget::new(cfg.head_budget),
                dedup: dedup::Dedup::default(),
                announce_pending: cfg.announce_pending,
            },
            cfg,
            last_sweep: Timestamp(0),
            defrag: Defrag::default(),
            fragile: std::collections::VecDeque::new(),
            head_room_scan: Timestamp(0),
            iface: 0,
            capture_iface: 0,
        }
    }

    pub fn stats(&self) -> &EngineStats {
        &self.shared.stats
    }

    /// Connections currently tracked (tombstones included).
    pub fn flows(&self) -> usize {
        self.flows.len() + self.tombstones.len()
    }

    /// The interface (index) the next frames were captured on, for the link-local rate
    /// (engine/rate.rs); frames whose link header names theirs (Linux cooked v2) keep it.
    pub fn set_interface(&mut self, ifindex: u32) {
        self.capture_iface = ifindex;
    }

    /// Feeds one captured frame.
    pub fn packet(&mut self, pkt: &Packet<'_>, out: &mut dyn FnMut(EngineEvent)) {
        let sh = &mut self.shared;
        sh.stats.packets += 1;
        self.iface = match rate::frame_ifindex(pkt.link, pkt.data) {
            0 => self.capture_iface,
            i => i,
        };
        let seg = match decode(pkt.link, pkt.data, &self.cfg.endpoints) {
            Ok(s) => s,
            Err(Skip::Fragment) => {
                sh.stats.fragments += 1;
                let Some(r) = self.defrag.push(pkt.link, pkt.data, pkt.ts) else {
                    sh.stats.frag = self.defrag.stats;
                    return;
                };
                sh.stats.frag = self.defrag.stats;
                match transport((r.src, r.dst, r.ttl), r.proto, &r.payload, &self.cfg.endpoints) {
                    Ok(seg) => self.segment(&seg, pkt.ts, out),
                    Err(why) => self.shared.stats.skipped(why),
                }
                return;
            }
            Err(why) => {
                sh.stats.skipped(why);
                return;
            }
        };
        self.segment(&seg, pkt.ts, out);
    }

    /// Feeds one decoded segment of a watched address.
    fn segment(&mut self, seg: &Segment<'_>, ts: Timestamp, out: &mut dyn FnMut(EngineEvent)) {
        let sh = &mut self.shared;
        sh.stats.checksum_unverified += u64::from(seg.checksum_unverified);
        let endpoints = &self.cfg.endpoints;
        let Some((key, dir)) = FlowKey::orient(seg.src, seg.dst, |a| endpoints.contains(a)) else {
            sh.stats.not_watched += 1;
            return;
        };
        sh.stats.imds_packets += 1;
        if dir == Direction::ToServer && rate::is_ec2_link_local(key.server.ip()) {
            sh.stats.link_local.count(self.iface, ts);
        }
        if ts.micros_since(self.last_sweep) >= SWEEP_US {
            self.tick(ts, out);
        }

        let need_room = dir == Direction::ToServer
            && self.shared.head_budget.available() < seg.payload.len()
            && ts.micros_since(self.head_room_scan) >= HEAD_ROOM_RESCAN_US;
        // A segment of a live connection (nearly all): one table lookup. A key is never both
        // in `flows` and in `tombstones` (a tombstone is removed before its key reopens).
        if !need_room
            && let Some(c) = self.flows.get_mut(&key)
            && c.closed_at.is_none()
        {
            let new_v1 = c.on_segment(seg, dir, &mut Ctx { key, ts, sh: &mut self.shared, out: &mut *out });
            let (unconfirmed, closed) = (c.has_unconfirmed(), c.closed_at);
            return self.after_segment(key, new_v1, unconfirmed, closed, ts, out);
        }
        let reopen = seg.syn && dir == Direction::ToServer;
        if self.tombstones.contains(&key) {
            if !reopen {
                if !seg.payload.is_empty() {
                    self.shared.stats.after_close += 1;
                }
                return;
            }
            self.tombstones.remove(&key); // a new connection on the same ports
        }
        let live = match self.flows.get_mut(&key) {
            Some(c) if c.closed_at.is_none() => true,
            Some(_) if reopen => {
                self.flows.remove(&key); // a new connection on the same ports
                false
            }
            Some(c) => {
                if !seg.payload.is_empty() {
                    self.shared.stats.after_close += 1;
                }
                let _ = c;
                return;
            }
            None => false,
        };
        if !live {
            if !seg.syn && seg.payload.is_empty() {
                return; // a bare ACK/FIN/RST of a connection we never saw carry anything
            }
            if self.flows.is_full() {
                for (k, mut c) in self.flows.evict_oldest() {
                    self.shared.stats.flows_evicted += 1;
                    c.close(Outcome::Unmatched, &mut Ctx { key: k, ts, sh: &mut self.shared, out: &mut *out });
                }
            }
            let hint = self.cfg.endpoints.hint(&key.server);
            self.flows.insert(key, Box::new(Conn::new(ts, hint)));
            self.shared.stats.flows_opened += 1;
            out(EngineEvent::FlowOpened { key, ts });
        }
        if dir == Direction::ToServer
            && self.shared.head_budget.available() < seg.payload.len()
            && ts.micros_since(self.head_room_scan) >= HEAD_ROOM_RESCAN_US
        {
            self.make_head_room(key, seg.payload.len(), ts, out);
        }
        let Some(c) = self.flows.get_mut(&key) else { return };
        let new_v1 = c.on_segment(seg, dir, &mut Ctx { key, ts, sh: &mut self.shared, out: &mut *out });
        let (unconfirmed, closed) = (c.has_unconfirmed(), c.closed_at);
        self.after_segment(key, new_v1, unconfirmed, closed, ts, out);
    }

    /// What follows a connection's segment: answers at TTL <= 1 remembered, settled by a new
    /// IMDSv1 request of the same client; an ended connection left as a tombstone.
    fn after_segment(
        &mut self,
        key: FlowKey,
        new_v1: bool,
        unconfirmed: bool,
        closed: Option<Timestamp>,
        ts: Timestamp,
        out: &mut dyn FnMut(EngineEvent),
    ) {
        if unconfirmed && !self.fragile.contains(&key) {
            if self.fragile.len() >= MAX_FRAGILE {
                self.fragile.pop_front();
            }
            self.fragile.push_back(key);
        }
        if new_v1 {
            self.settle_fragile(key, ts, out);
        }
        if let Some(at) = closed {
            // Its state is no longer needed: 48 bytes remember that it ended.
            self.flows.remove(&key);
            self.tombstones.insert(key, at);
            self.shared.stats.tombstones_evicted = self.tombstones.evicted;
        }
    }

    /// The head budget is short of `need` bytes for `key`'s request bytes (issue 23, class
    /// 6): half-read request heads of other connections are dropped, the longest idle first,
    /// until there is room for [`HEAD_ROOM_BATCH`] times as much (so that a flood does not
    /// scan the table per segment). Each is counted and reported from what was seen.
    fn make_head_room(&mut self, key: FlowKey, need: usize, ts: Timestamp, out: &mut dyn FnMut(EngineEvent)) {
        let mut idle: Vec<(Timestamp, FlowKey)> = self
            .flows
            .iter()
            .filter(|(k, c)| **k != key && c.head_charged() > 0)
            .map(|(k, c)| (crate::flow::table::Activity::last_seen(c), *k))
            .collect();
        if idle.is_empty() {
            // Nothing to drop: do not scan the table again for a while.
            self.head_room_scan = ts;
            return;
        }
        idle.sort_unstable();
        let want = need.saturating_mul(HEAD_ROOM_BATCH);
        for (_, k) in idle {
            if self.shared.head_budget.available() >= want {
                break;
            }
            if let Some(c) = self.flows.get_mut(&k) {
                c.evict_head(&mut Ctx { key: k, ts, sh: &mut self.shared, out: &mut *out });
            }
        }
    }

    /// A new IMDSv1 request from `key`'s client: its token answers held on other
    /// connections (TTL <= 1, unacknowledged) never arrived; settle them now.
    fn settle_fragile(&mut self, key: FlowKey, ts: Timestamp, out: &mut dyn FnMut(EngineEvent)) {
        let ip = key.client.ip();
        let mut i = 0;
        while i < self.fragile.len() {
            let k = self.fragile[i];
            if k == key || k.client.ip() != ip {
                i += 1;
                continue;
            }
            self.fragile.remove(i);
            if let Some(c) = self.flows.get_mut(&k) {
                c.settle_unconfirmed(&mut Ctx { key: k, ts, sh: &mut self.shared, out: &mut *out });
            }
        }
    }

    /// Advances the clock: closes idle connections, forgets old tombstones. Called by
    /// `packet` on packet time; live mode also calls it on wall time when traffic stops.
    pub fn tick(&mut self, now: Timestamp, out: &mut dyn FnMut(EngineEvent)) {
        self.last_sweep = now;
        let timeout = self.cfg.flow_timeout_us;
        let expired = self.flows.take_expired(|c| match c.closed_at {
            Some(t) => now.micros_since(t) >= TOMBSTONE_US,
            None => now.micros_since(crate::flow::table::Activity::last_seen(c)) >= timeout,
        });
        for (k, mut c) in expired {
            if c.closed_at.is_none() {
                self.shared.stats.flows_idle += 1;
                c.close(Outcome::NoResponse, &mut Ctx { key: k, ts: now, sh: &mut self.shared, out: &mut *out });
            }
        }
        self.tombstones.expire(now, TOMBSTONE_US);
        let held = self.shared.dedup.expire(now);
        report_held(held, &mut self.shared, out);
        self.defrag.expire(now);
        self.shared.stats.frag = self.defrag.stats;
    }

    /// End of input: every connection is closed; unanswered requests become `no_response`.
    pub fn finish(&mut self, out: &mut dyn FnMut(EngineEvent)) {
        let now = self.last_sweep;
        for (k, mut c) in self.flows.drain() {
            c.close(Outcome::NoResponse, &mut Ctx { key: k, ts: now, sh: &mut self.shared, out: &mut *out });
        }
        let held = self.shared.dedup.release_all();
        report_held(held, &mut self.shared, out);
    }
}

/// Reports records the dedup table held back (engine/dedup.rs) and now lets go.
fn report_held(held: Vec<dedup::Held>, sh: &mut Shared, out: &mut dyn FnMut(EngineEvent)) {
    for (key, record) in held {
        sh.stats.requests += 1;
        out(EngineEvent::Request { key, record });
    }
}
