//! Test helpers: TCP conversations with an IMDS endpoint, built with etherparse's
//! PacketBuilder, and a runner that feeds frames to the engine.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use imdswatch::capture::{LinkType, Packet};
use imdswatch::engine::{Engine, EngineConfig, EngineEvent, EngineStats};
use imdswatch::event::RequestRecord;
use imdswatch::time::Timestamp;

pub const IMDS: &str = "169.254.169.254:80";
pub const CLIENT: &str = "10.0.0.5:40000";

#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
}

pub const NONE: Flags = Flags { syn: false, fin: false, rst: false };
pub const SYN: Flags = Flags { syn: true, fin: false, rst: false };
pub const FIN: Flags = Flags { syn: false, fin: true, rst: false };
pub const RST: Flags = Flags { syn: false, fin: false, rst: true };

#[derive(Debug, Clone)]
pub struct Frame {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: Vec<u8>,
}

/// An IP packet carrying one TCP segment (no link header), acknowledging 1.
pub fn ip_tcp(src: SocketAddr, dst: SocketAddr, seq: u32, f: Flags, payload: &[u8], ttl: u8) -> Vec<u8> {
    ip_tcp_ack(src, dst, seq, 1, f, payload, ttl)
}

/// An IP packet carrying one TCP segment that acknowledges `ack` (ACK flag always set).
pub fn ip_tcp_ack(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, f: Flags, payload: &[u8], ttl: u8) -> Vec<u8> {
    let b = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), ttl),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), ttl),
        _ => panic!("mixed address families"),
    };
    let mut t = b.tcp(src.port(), dst.port(), seq, 64240).ack(ack);
    if f.syn {
        t = t.syn();
    }
    if f.fin {
        t = t.fin();
    }
    if f.rst {
        t = t.rst();
    }
    let mut v = Vec::new();
    t.write(&mut v, payload).expect("build packet");
    v
}

/// The same segment in an Ethernet frame.
pub fn eth_tcp(src: SocketAddr, dst: SocketAddr, seq: u32, f: Flags, payload: &[u8]) -> Vec<u8> {
    eth_tcp_ack(src, dst, seq, 1, f, payload)
}

/// An Ethernet frame whose segment acknowledges `ack`.
pub fn eth_tcp_ack(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, f: Flags, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    v.extend_from_slice(if src.is_ipv4() { &[0x08, 0x00] } else { &[0x86, 0xdd] });
    v.extend(ip_tcp_ack(src, dst, seq, ack, f, payload, 64));
    v
}

/// A conversation between a client and the endpoint, tracking sequence numbers.
pub struct Conv {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub cseq: u32,
    pub sseq: u32,
    pub now: u64,
    pub frames: Vec<Frame>,
}

impl Conv {
    pub fn new(client: &str, server: &str, cisn: u32, sisn: u32) -> Conv {
        Conv {
            client: client.parse().expect("client addr"),
            server: server.parse().expect("server addr"),
            cseq: cisn,
            sseq: sisn,
            now: 1_700_000_000_000_000,
            frames: Vec::new(),
        }
    }

    fn push(&mut self, to_server: bool, seq: u32, f: Flags, payload: &[u8]) {
        self.now += 100;
        let (s, d, ack) =
            if to_server { (self.client, self.server, self.sseq) } else { (self.server, self.client, self.cseq) };
        self.frames.push(Frame {
            ts: Timestamp(self.now),
            link: LinkType::Ethernet,
            data: eth_tcp_ack(s, d, seq, ack, f, payload),
        });
    }

    pub fn handshake(&mut self) {
        self.push(true, self.cseq, SYN, b"");
        self.cseq = self.cseq.wrapping_add(1);
        self.push(false, self.sseq, SYN, b"");
        self.sseq = self.sseq.wrapping_add(1);
    }

    pub fn client(&mut self, data: &[u8]) {
        self.push(true, self.cseq, NONE, data);
        self.cseq = self.cseq.wrapping_add(data.len() as u32);
    }

    /// Sends `data` in pieces of `n` bytes.
    pub fn client_split(&mut self, data: &[u8], n: usize) {
        for c in data.chunks(n) {
            self.client(c);
        }
    }

    pub fn server(&mut self, data: &[u8]) {
        self.push(false, self.sseq, NONE, data);
        self.sseq = self.sseq.wrapping_add(data.len() as u32);
    }

    pub fn client_fin(&mut self) {
        self.push(true, self.cseq, FIN, b"");
        self.cseq = self.cseq.wrapping_add(1);
    }

    pub fn server_fin(&mut self) {
        self.push(false, self.sseq, FIN, b"");
        self.sseq = self.sseq.wrapping_add(1);
    }

    pub fn client_rst(&mut self) {
        self.push(true, self.cseq, RST, b"");
    }

    /// Moves the clock forward (microseconds).
    pub fn wait(&mut self, us: u64) {
        self.now += us;
    }
}

pub const GET_V1: &[u8] = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
pub const GET_CREDS_V1: &[u8] =
    b"GET /latest/meta-data/iam/security-credentials/role HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";
pub const PUT_TOKEN: &[u8] =
    b"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n";
pub const GET_V2: &[u8] =
    b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: SECRET-TOKEN-abc\r\n\r\n";
pub const OK_10: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nServer: EC2ws\r\n\r\ni-01234567";
pub const UNAUTHORIZED: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";

/// Feeds frames to a fresh engine (default endpoints) and returns its records and counters.
pub fn run(frames: &[Frame]) -> (Vec<RequestRecord>, EngineStats) {
    run_with(frames, EngineConfig::default())
}

pub fn run_with(frames: &[Frame], cfg: EngineConfig) -> (Vec<RequestRecord>, EngineStats) {
    let mut engine = Engine::new(cfg);
    let mut out = Vec::new();
    let mut take = |ev: EngineEvent| {
        if let EngineEvent::Request { record, .. } = ev {
            out.push(*record);
        }
    };
    for f in frames {
        engine.packet(&Packet { ts: f.ts, link: f.link, data: &f.data }, &mut take);
    }
    engine.finish(&mut take);
    let stats = engine.stats().clone();
    (out, stats)
}

/// `version method path status` of each record, the format of captures/*.expected.
pub fn summary(records: &[RequestRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.imds.version.as_str(),
                r.imds.method,
                r.imds.path,
                r.imds.status.map_or_else(|| "none".to_owned(), |s| s.to_string())
            )
        })
        .collect()
}
pub mod cli;
pub mod pcapfile;
