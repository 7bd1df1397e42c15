//! The same request captured on two flows.
//!
//! `-i any` sees a container's packet on its veth and again on the uplink. Where the two
//! copies share addresses, reassembly already drops the second as a retransmission; where
//! NAT rewrote the client address, the copies land on two flows. NAT keeps TCP sequence
//! numbers, so (server, sequence number, request) identifies the request across both.
//!
//! Only a plausible copy joins the first one's group (issue 12): the NATed copy has another
//! client address and crossed one router more (its TTL is one lower, or one higher if the
//! capture saw it first). A look-alike from another port of the same address (a spoofed decoy)
//! or from another client at the same distance (colliding ISNs) is a request of its own.
//!
//! Which copy of a group is reported is decided when the copies are settled, never when they
//! are seen (issue 23, class 4: a spoofed "NAT copy" sent before the real request made the
//! real one the suppressed duplicate, and only the unanswered spoof was reported):
//! - the first copy seen is reported when it was answered, or when no later copy was;
//! - a later copy answered while the first still waits is held (its record kept here); if
//!   the first then ends unanswered, the held copy is reported instead. A held copy is
//!   released (reported) after [`WINDOW_US`] at the latest: a real NAT copy's twin is
//!   answered within microseconds of it;
//! - a later copy is otherwise suppressed. Every suppression is counted
//!   (`duplicates_suppressed` in the anomalies).
//!
//! Bounds: [`MAX_ENTRIES`] groups (each holding at most one record); when full, the table is
//! cleared (counted in `resets`) and the records it held are reported.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddr;

use foldhash::quality::RandomState;

use crate::classify::Classified;
use crate::event::RequestRecord;
use crate::flow::FlowKey;
use crate::time::Timestamp;

/// Requests remembered; when full, the table is cleared (and that is counted).
pub const MAX_ENTRIES: usize = 8192;
/// Two copies of one packet arrive within this window (microseconds).
pub const WINDOW_US: u64 = 2_000_000;

/// A record held back, with the connection it belongs to.
pub type Held = (FlowKey, Box<RequestRecord>);

/// One request and its plausible copies.
#[derive(Debug)]
struct Entry {
    key: FlowKey,
    ts: Timestamp,
    ttl: u8,
    /// Tells a group from a later one with the same fingerprint.
    id: u64,
    /// Copies not settled yet.
    members: u32,
    /// The first copy was settled (answered or not).
    first_done: Option<bool>,
    /// A copy was reported with an answer.
    answered_reported: bool,
    /// A later copy answered while the first still waited, and when it was held.
    held: Option<(Timestamp, Held)>,
}

/// A request's place in its group, kept with the request until it is settled.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    fp: u64,
    id: u64,
    first: bool,
}

impl Member {
    /// The first copy seen of its request.
    pub fn is_first(&self) -> bool {
        self.first
    }
}

/// What to do with a settled copy.
#[derive(Debug)]
pub enum Settle {
    Report,
    /// Not reported: a copy of a request reported (or to be reported) from another flow.
    Suppress,
    /// Kept here until the first copy is settled ([`Dedup::hold`]).
    Hold,
    /// The first copy ended unanswered while a later copy was answered: that one is
    /// reported (here it is) and the first is suppressed.
    Swap(Held),
}

/// Hashes are seeded per process (foldhash's quality variant): traffic cannot be shaped to
/// collide without knowing the seed.
#[derive(Debug, Default)]
pub struct Dedup {
    seen: HashMap<u64, Entry, RandomState>,
    fingerprints: RandomState,
    next_id: u64,
    pub resets: u64,
}

impl Dedup {
    /// Identifies a request independently of the client address and port.
    pub fn fingerprint(&self, server: SocketAddr, seq: u32, c: &Classified) -> u64 {
        let mut h = self.fingerprints.build_hasher();
        server.hash(&mut h);
        seq.hash(&mut h);
        c.method.hash(&mut h);
        c.path.hash(&mut h);
        c.user_agent.hash(&mut h);
        c.version.hash(&mut h);
        h.finish()
    }

    /// Records the request: it joins the group of the same request seen just before on a
    /// flow that is a plausible NAT path to this one (another client address, one hop
    /// apart), or starts its own. Records released by a full table come back in `released`.
    pub fn join(&mut self, fp: u64, key: &FlowKey, ttl: u8, ts: Timestamp, released: &mut Vec<Held>) -> Member {
        if let Some(e) = self.seen.get_mut(&fp)
            && e.key != *key
            && e.key.client.ip() != key.client.ip()
            && ttl.abs_diff(e.ttl) == 1
            && ts.micros_since(e.ts) <= WINDOW_US
        {
            e.members += 1;
            return Member { fp, id: e.id, first: false };
        }
        if self.seen.len() >= MAX_ENTRIES && !self.seen.contains_key(&fp) {
            released.extend(self.expire(ts));
            if self.seen.len() >= MAX_ENTRIES {
                released.extend(self.seen.drain().filter_map(|(_, e)| e.held.map(|(_, h)| h)));
                self.resets += 1;
            }
        }
        self.next_id += 1;
        let e = Entry {
            key: *key,
            ts,
            ttl,
            id: self.next_id,
            members: 1,
            first_done: None,
            answered_reported: false,
            held: None,
        };
        if let Some(old) = self.seen.insert(fp, e)
            && let Some((_, h)) = old.held
        {
            released.push(h);
        }
        Member { fp, id: self.next_id, first: true }
    }

    /// A copy is settled, `answered` or not: whether it is reported.
    pub fn settle(&mut self, m: Member, answered: bool) -> Settle {
        let Some(e) = self.seen.get_mut(&m.fp).filter(|e| e.id == m.id) else {
            return Settle::Report; // forgotten (table cleared): never hide a request
        };
        e.members = e.members.saturating_sub(1);
        if m.first {
            e.first_done = Some(answered);
            if answered {
                e.answered_reported = true;
                return Settle::Report; // a held copy is dropped by `take_dropped`
            }
            return match e.held.take() {
                Some((_, h)) => {
                    e.answered_reported = true;
                    Settle::Swap(h)
                }
                None => Settle::Report,
            };
        }
        if !answered || e.answered_reported {
            return Settle::Suppress;
        }
        match e.first_done {
            None if e.held.is_none() => Settle::Hold,
            None => Settle::Suppress,
            Some(_) => {
                e.answered_reported = true;
                Settle::Report
            }
        }
    }

    /// Keeps the record of a copy [`Settle::Hold`] asked for.
    pub fn hold(&mut self, m: Member, key: FlowKey, record: Box<RequestRecord>, now: Timestamp) {
        if let Some(e) = self.seen.get_mut(&m.fp).filter(|e| e.id == m.id) {
            e.held = Some((now, (key, record)));
        }
    }

    /// After the first copy was reported answered: a copy still held is dropped (true:
    /// count it suppressed).
    pub fn take_dropped(&mut self, m: Member) -> bool {
        self.seen.get_mut(&m.fp).filter(|e| e.id == m.id).is_some_and(|e| e.held.take().is_some())
    }

    /// End of input: every record still held.
    pub fn release_all(&mut self) -> Vec<Held> {
        self.seen.values_mut().filter_map(|e| e.held.take().map(|(_, h)| h)).collect()
    }

    /// Forgets requests older than the window whose copies are all settled; returns the
    /// records held longer than the window, to be reported now.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Held> {
        let mut released = Vec::new();
        for e in self.seen.values_mut() {
            if e.held.as_ref().is_some_and(|(t, _)| now.micros_since(*t) > WINDOW_US)
                && let Some((_, h)) = e.held.take()
            {
                e.answered_reported = true;
                released.push(h);
            }
        }
        self.seen.retain(|_, e| e.members > 0 || now.micros_since(e.ts) <= WINDOW_US);
        released
    }
}
