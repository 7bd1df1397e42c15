//! The same request captured on two flows.
//!
//! `-i any` sees a container's packet on its veth and again on the uplink. Where the two
//! copies share addresses, reassembly already drops the second as a retransmission; where
//! NAT rewrote the client address, the copies land on two flows. NAT keeps TCP sequence
//! numbers, so (server, sequence number, request) identifies the request across both.
//!
//! Only a plausible copy is suppressed (issue 12): the NATed copy has another client
//! address and crossed one router more (its TTL is one lower, or one higher if the capture
//! saw it first). A look-alike from another port of the same address (a spoofed decoy) or
//! from another client at the same distance (colliding ISNs) is a request of its own.
//! Every suppression is counted (`duplicates_suppressed` in the anomalies).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddr;

use foldhash::quality::RandomState;

use crate::classify::Classified;
use crate::flow::FlowKey;
use crate::time::Timestamp;

/// Requests remembered; when full, the table is cleared (and that is counted).
pub const MAX_ENTRIES: usize = 8192;
/// Two copies of one packet arrive within this window (microseconds).
pub const WINDOW_US: u64 = 2_000_000;

/// Hashes are seeded per process (foldhash's quality variant): traffic cannot be shaped to
/// collide without knowing the seed.
#[derive(Debug, Default)]
pub struct Dedup {
    seen: HashMap<u64, (FlowKey, Timestamp, u8), RandomState>,
    fingerprints: RandomState,
    pub resets: u64,
}

impl Dedup {
    /// Identifies a request independently of the client address and port.
    pub fn fingerprint(&self, server: SocketAddr, seq: u32, c: &Classified) -> u64 {
        fingerprint(&self.fingerprints, server, seq, c)
    }
}

fn fingerprint(state: &RandomState, server: SocketAddr, seq: u32, c: &Classified) -> u64 {
    let mut h = state.build_hasher();
    server.hash(&mut h);
    seq.hash(&mut h);
    c.method.hash(&mut h);
    c.path.hash(&mut h);
    c.user_agent.hash(&mut h);
    c.version.hash(&mut h);
    h.finish()
}

impl Dedup {
    /// Records the request; true when the same request was seen just before on another flow
    /// that is a plausible NAT path to this one (another client address, one hop apart).
    pub fn seen_elsewhere(&mut self, fp: u64, key: &FlowKey, ttl: u8, ts: Timestamp) -> bool {
        if let Some((k, t, other_ttl)) = self.seen.get(&fp)
            && k != key
            && k.client.ip() != key.client.ip()
            && ttl.abs_diff(*other_ttl) == 1
            && ts.micros_since(*t) <= WINDOW_US
        {
            return true;
        }
        if self.seen.len() >= MAX_ENTRIES {
            self.expire(ts);
            if self.seen.len() >= MAX_ENTRIES {
                self.seen.clear();
                self.resets += 1;
            }
        }
        self.seen.insert(fp, (*key, ts, ttl));
        false
    }

    /// Forgets requests older than the window.
    pub fn expire(&mut self, now: Timestamp) {
        self.seen.retain(|_, (_, t, _)| now.micros_since(*t) <= WINDOW_US);
    }
}
