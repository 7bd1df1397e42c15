//! Frame → TCP segment of an IMDS connection, zero-copy.
//!
//! Packets that do not involve an endpoint address are rejected from the raw IP header
//! before anything else is parsed: on a busy host nearly every packet leaves here.

pub mod checksum;
pub mod frag;
pub mod link;
pub mod options;

use std::net::{IpAddr, SocketAddr};

use etherparse::{IpNumber, IpSlice, TcpSlice};

use crate::capture::LinkType;
use crate::endpoint::Endpoints;
pub use link::LinkError;

/// The TCP segment of a watched connection.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    /// Acknowledgment number, when the ACK flag is set.
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Sequence number of the urgent byte (URG set): Linux takes it out of the stream.
    pub urgent: Option<u32>,
    /// The TCP checksum field held what checksum offload leaves (not verifiable).
    pub checksum_unverified: bool,
    /// The TCP options Linux's acceptance checks read ([`options::TcpOpts`]).
    pub opts: options::TcpOpts,
    pub payload: &'a [u8],
}

/// Why a frame yields no segment. `NotWatched`, `NotIp` and `NotTcp` are ordinary traffic;
/// the rest are anomalies, counted by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    NotIp,
    /// No endpoint address or port involved.
    NotWatched,
    NotTcp,
    /// An IP fragment: handed to [`frag::Defrag`] by the engine.
    Fragment,
    /// Cut short (snaplen or a damaged frame) before its addresses could be read.
    Truncated,
    /// A frame to or from a watched address, cut short (snaplen, or a length field longer
    /// than the frame): bytes of a metadata exchange the capture never kept.
    Cut,
    /// Headers that do not parse.
    Malformed,
    /// A wrong IPv4 header or TCP checksum: the receiving host drops it too.
    BadChecksum,
}

/// Decodes one frame.
pub fn decode<'a>(link: LinkType, frame: &'a [u8], endpoints: &Endpoints) -> Result<Segment<'a>, Skip> {
    let ip = link::ip_payload(link, frame).map_err(|e| match e {
        LinkError::Truncated => Skip::Truncated,
        LinkError::NotIp => Skip::NotIp,
        LinkError::TooManyTags => Skip::Malformed,
    })?;
    if !involves_endpoint(ip, endpoints)? {
        return Err(Skip::NotWatched);
    }
    let ip = IpSlice::from_slice(ip).map_err(|e| match e {
        etherparse::err::ip::SliceError::Len(_) => Skip::Cut,
        _ => Skip::Malformed,
    })?;
    if !checksum::ip_header_ok(&ip) {
        return Err(Skip::BadChecksum);
    }
    let payload = ip.payload();
    if payload.fragmented {
        return Err(Skip::Fragment);
    }
    let ttl = match &ip {
        IpSlice::Ipv4(v4) => v4.header().ttl(),
        IpSlice::Ipv6(v6) => v6.header().hop_limit(),
    };
    let net = (ip.source_addr(), ip.destination_addr(), ttl);
    transport(net, payload.ip_number, payload.payload, endpoints)
}

/// The TCP segment in an IP payload (of one packet, or reassembled from fragments) between
/// `net` = (source, destination, TTL).
pub fn transport<'a>(
    net: (IpAddr, IpAddr, u8),
    proto: IpNumber,
    bytes: &'a [u8],
    endpoints: &Endpoints,
) -> Result<Segment<'a>, Skip> {
    let (src_ip, dst_ip, ttl) = net;
    if proto != IpNumber::TCP {
        return Err(Skip::NotTcp);
    }
    let tcp = TcpSlice::from_slice(bytes).map_err(|e| match e {
        etherparse::err::tcp::HeaderSliceError::Len(_) => Skip::Cut,
        _ => Skip::Malformed,
    })?;
    let src = SocketAddr::new(src_ip, tcp.source_port());
    let dst = SocketAddr::new(dst_ip, tcp.destination_port());
    if !endpoints.contains(&src) && !endpoints.contains(&dst) {
        return Err(Skip::NotWatched);
    }
    let verdict = checksum::verify_tcp(src_ip, dst_ip, &tcp);
    if verdict == checksum::Checksum::Bad {
        return Err(Skip::BadChecksum);
    }
    // RFC 6093: the urgent pointer points past the urgent byte; Linux (tcp_stdurg off)
    // removes the byte before it from the stream.
    let urgent = (tcp.urg() && tcp.urgent_pointer() > 0)
        .then(|| tcp.sequence_number().wrapping_add(u32::from(tcp.urgent_pointer())).wrapping_sub(1));
    Ok(Segment {
        src,
        dst,
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        ttl,
        urgent,
        checksum_unverified: verdict == checksum::Checksum::Offloaded,
        opts: options::parse(tcp.options()),
        payload: tcp.payload(),
    })
}

/// Reads the addresses straight from the IP header: the cheap first filter.
fn involves_endpoint(ip: &[u8], endpoints: &Endpoints) -> Result<bool, Skip> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => {
            let h: &[u8; 8] = ip.get(12..20).and_then(|h| h.try_into().ok()).ok_or(Skip::Truncated)?;
            let src = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            let dst = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            Ok(endpoints.has_v4(src) || endpoints.has_v4(dst))
        }
        Some(6) => {
            let h: &[u8; 32] = ip.get(8..40).and_then(|h| h.try_into().ok()).ok_or(Skip::Truncated)?;
            let (s, d) = h.split_at(16);
            let src = u128::from_be_bytes(s.try_into().unwrap_or_default());
            let dst = u128::from_be_bytes(d.try_into().unwrap_or_default());
            Ok(endpoints.has_v6(src) || endpoints.has_v6(dst))
        }
        Some(_) => Err(Skip::Malformed),
        None => Err(Skip::Truncated),
    }
}
