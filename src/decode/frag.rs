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
    /// Of the dropped fragments, copies of bytes already queued (the datagram was kept).
    pub duplicates: u64,
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
    /// The furthest end seen (`q.len`).
    len: usize,
    /// The protocol (IPv6: next header) of the fragment at offset 0.
    proto: Option<u8>,
}

/// Where a new fragment lands among those queued (`inet_frag_queue_insert`).
enum Place {
    New,
    /// Wholly inside one contiguous run of queued bytes (`IPFRAG_DUP`).
    Duplicate,
    /// Partly over queued bytes (`IPFRAG_OVERLAP`).
    Overlap,
}

impl Datagram {
    fn place(&self, offset: usize, end: usize) -> Place {
        if !self.parts.iter().any(|(o, b)| offset < o + b.len() && *o < end) {
            return Place::New;
        }
        // Queued parts never overlap: merge them into contiguous runs (`fragrun`).
        let mut spans: Vec<(usize, usize)> = self.parts.iter().map(|(o, b)| (*o, o + b.len())).collect();
        spans.sort_unstable();
        let mut runs: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (o, e) in spans {
            match runs.last_mut() {
                Some((_, r)) if *r == o => *r = e,
                _ => runs.push((o, e)),
            }
        }
        if runs.iter().any(|&(s, r)| s <= offset && end <= r) {
            return Place::Duplicate;
        }
        Place::Overlap
    }
}

/// One fragment read from a frame.
struct Frag<'a> {
    key: Key,
    ttl: u8,
    offset: usize,
    more: bool,
    /// Protocol (IPv6: next header) this fragment names.
    proto: u8,
    data: &'a [u8],
    v6: bool,
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
    ///
    /// As Linux queues fragments (net/ipv4/ip_fragment.c `ip_frag_queue`,
    /// net/ipv6/reassembly.c `ip6_frag_queue`, net/ipv4/inet_fragment.c
    /// `inet_frag_queue_insert`; issue 23, class 5):
    /// - a non-final IPv4 fragment whose length is not a multiple of 8 is trimmed to one
    ///   (`end &= ~7`); an IPv6 one is dropped alone (RFC 8200: parameter problem);
    /// - a fragment that lies wholly inside bytes already queued is a duplicate: it is
    ///   dropped and the datagram kept (the first copy's bytes win); a partial overlap drops
    ///   the whole datagram (RFC 5722);
    /// - a final fragment that ends before bytes already queued, or a second final fragment
    ///   with another end, or bytes past the final end, or an empty fragment, drop it all;
    /// - IPv6: the datagram is keyed without its next header, which comes from the fragment
    ///   at offset 0 (`fq->nhoffset`); IPv4 keys include the protocol (`ip4_frag` key).
    pub fn push(&mut self, link: LinkType, frame: &[u8], ts: Timestamp) -> Option<Reassembled> {
        let Some(f) = fragment(link, frame) else {
            self.stats.dropped += 1;
            return None;
        };
        let Frag { key, ttl, offset, more, proto, mut data, v6 } = f;
        let mut end = offset + data.len();
        if more && end % 8 != 0 {
            if v6 {
                self.stats.dropped += 1;
                return None;
            }
            end &= !7;
            data = &data[..end.saturating_sub(offset).min(data.len())];
        }
        if !self.open.contains_key(&key) {
            if self.open.len() >= MAX_DATAGRAMS {
                self.expire(ts);
            }
            if self.open.len() >= MAX_DATAGRAMS {
                self.stats.dropped += 1;
                return None;
            }
            let d = Datagram { first_seen: ts, ttl, parts: Vec::new(), bytes: 0, total: None, len: 0, proto: None };
            self.open.insert(key, d);
        }
        let d = self.open.get_mut(&key)?;
        let corrupt =
            if more { end > d.len && d.total.is_some() } else { end < d.len || d.total.is_some_and(|t| t != end) };
        let place =
            if end <= offset || corrupt || end > MAX_DATAGRAM_BYTES { Place::Overlap } else { d.place(offset, end) };
        match place {
            Place::Duplicate => {
                self.stats.dropped += 1;
                self.stats.duplicates += 1;
                return None;
            }
            Place::Overlap => {
                self.stats.dropped += 1 + d.parts.len() as u64;
                self.open.remove(&key);
                return None;
            }
            Place::New if d.parts.len() >= MAX_FRAGMENTS => {
                self.stats.dropped += 1 + d.parts.len() as u64;
                self.open.remove(&key);
                return None;
            }
            Place::New => {}
        }
        if more {
            d.len = d.len.max(end);
        } else {
            d.total = Some(end);
            d.len = end;
        }
        if offset == 0 {
            d.proto = Some(proto);
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
        let proto = IpNumber(d.proto.unwrap_or(key.proto));
        Some(Reassembled { src: key.src, dst: key.dst, ttl: d.ttl, proto, payload })
    }

    /// Forgets datagrams unfinished for longer than [`TIMEOUT_US`].
    pub fn expire(&mut self, now: Timestamp) {
        let before = self.open.len();
        self.open.retain(|_, d| now.micros_since(d.first_seen) < TIMEOUT_US);
        self.stats.expired += (before - self.open.len()) as u64;
    }
}

/// The fragment in a frame.
fn fragment(link: LinkType, frame: &[u8]) -> Option<Frag<'_>> {
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
            let offset = usize::from(h.fragments_offset().byte_offset());
            let more = h.more_fragments();
            Some(Frag { key, ttl: h.ttl(), offset, more, proto, data: payload.payload, v6: false })
        }
        IpSlice::Ipv6(v6) => {
            let f = v6.extensions().clone().into_iter().find_map(|e| match e {
                Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            // Linux keys an IPv6 datagram by addresses and identification alone.
            let key = Key { src, dst, id: f.identification(), proto: 0 };
            let offset = usize::from(f.fragment_offset().byte_offset());
            let more = f.more_fragments();
            let ttl = v6.header().hop_limit();
            Some(Frag { key, ttl, offset, more, proto, data: payload.payload, v6: true })
        }
    }
}
