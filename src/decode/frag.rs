//! IPv4 and IPv6 fragment reassembly for watched addresses (issue 12: a request sent in
//! fragments reaches the server whole; it must reach imdswatch whole too).
//!
//! Bounds: at most [`MAX_DATAGRAMS`] datagrams in reassembly at once, each at most
//! [`MAX_FRAGMENTS`] fragments and 65,535 bytes (so at most 4 MiB in all); a datagram
//! unfinished after [`TIMEOUT_US`] (Linux's `ipfrag_time`, 30 s) is forgotten. Fragments
//! that would pass a bound, and datagrams whose fragments overlap (Linux drops those whole,
//! RFC 5722), are dropped; all of it is counted in [`FragStats`].

use std::collections::HashMap;
use std::net::IpAddr;

use etherparse::{IpNumber, IpSlice, Ipv6ExtensionSlice};

use crate::capture::LinkType;
use crate::time::Timestamp;

pub const MAX_DATAGRAMS: usize = 64;
pub const MAX_FRAGMENTS: usize = 64;
pub const MAX_DATAGRAM_BYTES: usize = 65_535;
pub const TIMEOUT_US: u64 = 30_000_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FragStats {
    /// Datagrams put back together from their fragments.
    pub reassembled: u64,
    /// Fragments dropped: table full, too many fragments or bytes, overlaps, bad headers.
    pub dropped: u64,
    /// Datagrams forgotten unfinished after the timeout.
    pub expired: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

#[derive(Debug)]
struct Datagram {
    first_seen: Timestamp,
    ttl: u8,
    /// (offset, bytes), in arrival order.
    parts: Vec<(usize, Vec<u8>)>,
    bytes: usize,
    /// Length of the whole payload, known once the last fragment came.
    total: Option<usize>,
}

/// A datagram put back together: its addresses, TTL (of the first fragment seen), protocol
/// and payload (the transport header and data).
#[derive(Debug)]
pub struct Reassembled {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub proto: IpNumber,
    pub payload: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Defrag {
    open: HashMap<Key, Datagram>,
    pub stats: FragStats,
}

impl Defrag {
    /// Datagrams in reassembly.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Takes one fragment (a frame that [`super::decode`] called a fragment); returns the
    /// datagram when this fragment completes it.
    pub fn push(&mut self, link: LinkType, frame: &[u8], ts: Timestamp) -> Option<Reassembled> {
        let Some((key, ttl, offset, more, data)) = fragment(link, frame) else {
            self.stats.dropped += 1;
            return None;
        };
        if !self.open.contains_key(&key) {
            if self.open.len() >= MAX_DATAGRAMS {
                self.expire(ts);
            }
            if self.open.len() >= MAX_DATAGRAMS {
                self.stats.dropped += 1;
                return None;
            }
            let d = Datagram { first_seen: ts, ttl, parts: Vec::new(), bytes: 0, total: None };
            self.open.insert(key, d);
        }
        let d = self.open.get_mut(&key)?;
        let end = offset + data.len();
        let overlaps = d.parts.iter().any(|(o, b)| offset < o + b.len() && *o < end);
        let past_end = d.total.is_some_and(|t| end > t) || (!more && d.parts.iter().any(|(o, b)| o + b.len() > end));
        if overlaps
            || past_end
            || d.parts.len() >= MAX_FRAGMENTS
            || end > MAX_DATAGRAM_BYTES
            || (!more && d.total.is_some())
        {
            self.stats.dropped += 1 + d.parts.len() as u64;
            self.open.remove(&key);
            return None;
        }
        if !more {
            d.total = Some(end);
        }
        d.bytes += data.len();
        d.parts.push((offset, data.to_vec()));
        if d.total != Some(d.bytes) {
            return None;
        }
        let mut d = self.open.remove(&key)?;
        d.parts.sort_by_key(|(o, _)| *o);
        let mut payload = Vec::with_capacity(d.bytes);
        for (_, b) in d.parts {
            payload.extend_from_slice(&b);
        }
        self.stats.reassembled += 1;
        Some(Reassembled { src: key.src, dst: key.dst, ttl: d.ttl, proto: IpNumber(key.proto), payload })
    }

    /// Forgets datagrams unfinished for longer than [`TIMEOUT_US`].
    pub fn expire(&mut self, now: Timestamp) {
        let before = self.open.len();
        self.open.retain(|_, d| now.micros_since(d.first_seen) < TIMEOUT_US);
        self.stats.expired += (before - self.open.len()) as u64;
    }
}

/// The fragment in a frame: (datagram key, TTL, byte offset, more fragments, data).
fn fragment(link: LinkType, frame: &[u8]) -> Option<(Key, u8, usize, bool, &[u8])> {
    let ip = super::link::ip_payload(link, frame).ok()?;
    let ip = IpSlice::from_slice(ip).ok()?;
    if !super::checksum::ip_header_ok(&ip) {
        return None;
    }
    let payload = ip.payload();
    let proto = payload.ip_number.0;
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    match &ip {
        IpSlice::Ipv4(v4) => {
            let h = v4.header();
            let key = Key { src, dst, id: u32::from(h.identification()), proto };
            let off = usize::from(h.fragments_offset().byte_offset());
            Some((key, h.ttl(), off, h.more_fragments(), payload.payload))
        }
        IpSlice::Ipv6(v6) => {
            let f = v6.extensions().clone().into_iter().find_map(|e| match e {
                Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            let key = Key { src, dst, id: f.identification(), proto };
            let off = usize::from(f.fragment_offset().byte_offset());
            Some((key, v6.header().hop_limit(), off, f.more_fragments(), payload.payload))
        }
    }
}
