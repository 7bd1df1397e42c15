//! Connections: the key that names one, the reassembler of each direction, and the bounded
//! table that holds them.

pub mod accept;
pub mod reassembly;
pub mod table;
pub mod tombstones;

use std::net::SocketAddr;

/// A TCP connection to an IMDS endpoint, named by its two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// The side that is not the endpoint.
    pub client: SocketAddr,
    /// The IMDS endpoint.
    pub server: SocketAddr,
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
