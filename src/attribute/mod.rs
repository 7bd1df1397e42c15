//! Attribution: which local process owns a connection, through /proc.
//! (Being built: see issue 3.)

use std::net::SocketAddr;

use crate::event::{Attribution, AttributionMiss};

/// Finds the process behind a TCP connection. Runs on the attribution thread, never on the
/// packet path.
#[derive(Debug, Default)]
pub struct Attributor {}

impl Attributor {
    pub fn new() -> Attributor {
        Attributor {}
    }

    /// Looks up the owner of the socket `client` → `server` in every network namespace.
    pub fn lookup(&mut self, _client: SocketAddr, _server: SocketAddr) -> Attribution {
        Attribution {
            process: None,
            container: None,
            miss: Some(AttributionMiss::NoSocket),
        }
    }
}
