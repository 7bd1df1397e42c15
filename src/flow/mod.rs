//! Connections: the key that names one, the reassembler of each direction, and the bounded
//! table that holds them.

pub mod accept;
pub mod reassembly;
pub mod table;
pub mod tombstones;

use std::net::SocketAddr;

/// A TCP connection to an IMDS endpoint, named by its two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// The side that is not the endpoint.
    pub client: SocketAddr,
    /// The IMDS endpoint.
    pub server: SocketAddr,
}

/// Two words for an IPv4 connection (the derived hash fed the hasher eight pieces, two
/// tables look a key up per packet: 2% of `analyze` on a dense capture, issue 29).
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match (self.client, self.server) {
            (SocketAddr::V4(c), SocketAddr::V4(s)) => {
                h.write_u64(u64::from(c.ip().to_bits()) << 32 | u64::from(s.ip().to_bits()));
                h.write_u32(u32::from(c.port()) << 16 | u32::from(s.port()));
            }
            (c, s) => {
                c.hash(h);
                s.hash(h);
            }
        }
    }
}

/// Which way a segment travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToServer = 0,
    ToClient = 1,
}

impl FlowKey {
    /// Orients a segment: the endpoint is the server. `None` when neither end is watched.
    pub fn orient(
        src: SocketAddr,
        dst: SocketAddr,
        is_endpoint: impl Fn(&SocketAddr) -> bool,
    ) -> Option<(FlowKey, Direction)> {
        if is_endpoint(&dst) {
            Some((FlowKey { client: src, server: dst }, Direction::ToServer))
        } else if is_endpoint(&src) {
            Some((FlowKey { client: dst, server: src }, Direction::ToClient))
        } else {
            None
        }
    }
}
