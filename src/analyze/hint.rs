//! "No IMDS requests found": when the capture has HTTP requests to other addresses, name the
//! busiest ones so the user can pass them with `--endpoint` (a mock on loopback, a proxy).

use std::collections::HashMap;
use std::net::SocketAddr;

use etherparse::{IpNumber, IpSlice, TcpSlice};

use crate::capture::Packet;
use crate::decode::link;

/// Most distinct destinations remembered (further ones are not counted).
const MAX_DESTINATIONS: usize = 64;
/// Destinations named in the hint.
const SHOWN: usize = 3;

/// HTTP request heads sent to addresses that are not watched, by destination.
#[derive(Debug, Default)]
pub struct OtherHttp {
    seen: HashMap<SocketAddr, u64>,
}

impl OtherHttp {
    /// Looks at one frame: a TCP segment whose payload starts like an HTTP request.
    pub fn packet(&mut self, p: &Packet<'_>) {
        let Ok(ip) = link::ip_payload(p.link, p.data) else { return };
        let Ok(ip) = IpSlice::from_slice(ip) else { return };
        let payload = ip.payload();
        if payload.fragmented || payload.ip_number != IpNumber::TCP {
            return;
        }
        let Ok(tcp) = TcpSlice::from_slice(payload.payload) else { return };
        let data = tcp.payload();
        let methods: [&[u8]; 5] = [b"GET /", b"PUT /", b"POST /", b"HEAD /", b"DELETE /"];
        if !methods.iter().any(|m| data.starts_with(m)) {
            return;
        }
        let dst = SocketAddr::new(ip.destination_addr(), tcp.destination_port());
        if let Some(n) = self.seen.get_mut(&dst) {
            *n += 1;
        } else if self.seen.len() < MAX_DESTINATIONS {
            self.seen.insert(dst, 1);
        }
    }

    /// The hint line, when some HTTP request went elsewhere.
    pub fn hint(&self) -> Option<String> {
        if self.seen.is_empty() {
            return None;
        }
        let mut v: Vec<(&SocketAddr, &u64)> = self.seen.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = v
            .iter()
            .take(SHOWN)
            .map(|(a, n)| format!("{a} ({n} request{})", if **n == 1 { "" } else { "s" }))
            .collect();
        Some(format!(
            "imdswatch: no IMDS requests found, but HTTP requests went to {}; if one is a metadata service (or a mock), name it: --endpoint {}",
            list.join(", "),
            v[0].0
        ))
    }
}
