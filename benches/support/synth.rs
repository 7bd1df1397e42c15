//! Deterministic synthesis of realistic TCP/HTTP traffic, shared by the capture generator
//! (`examples/gencap.rs`) and the criterion benchmarks.
//!
//! Every connection is a valid TCP session: handshake, correct sequence and acknowledgment
//! numbers, MSS-sized segments (1514-byte Ethernet frames), delayed ACKs, FIN both ways,
//! IPv4 and TCP checksums. Connections are interleaved (a fixed number are open at once) and
//! timestamps only move forward. The same seed gives the same bytes.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::rc::Rc;

/// splitmix64: tiny, fast, good enough, and stable across platforms and releases.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// Uniform in `lo..hi` (hi exclusive, hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
    /// True with probability `p_per_mille` / 1000.
    pub fn chance(&mut self, p_per_mille: u64) -> bool {
        self.next_u64() % 1000 < p_per_mille
    }
    /// Roughly log-uniform in `lo..hi`: many small values, a long tail of big ones.
    pub fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (a + (b - a) * u).exp() as u64
    }
}

pub const IMDS_V4: [u8; 4] = [169, 254, 169, 254];
pub const IMDS_V6: [u8; 16] = [0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54];
/// TCP payload of a full-size segment with the timestamp option (1514-byte frame).
pub const MSS: usize = 1448;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

/// A message's bytes: an explicit prefix (an HTTP head, a small body) then `filler` bytes of
/// body content taken from a fixed table.
#[derive(Debug)]
pub struct Msg {
    pub bytes: Vec<u8>,
    pub filler: usize,
}

impl Msg {
    fn len(&self) -> usize {
        self.bytes.len() + self.filler
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Flags only (SYN, SYN-ACK, pure ACK, FIN).
    Ctl { to_server: bool, flags: u8 },
    /// `len` bytes of `msg` from `off`.
    Data { to_server: bool, msg: Rc<Msg>, off: usize, len: usize },
}

/// One TCP connection being played out.
#[derive(Debug)]
pub struct Flow {
    client: Addr,
    server: Addr,
    cport: u16,
    sport: u16,
    cseq: u32,
    sseq: u32,
    cttl: u8,
    sttl: u8,
    steps: VecDeque<Step>,
    /// Requests on this connection (IMDS flows), by kind: v1, v2, token.
    pub requests: [u64; 3],
}

impl Flow {
    fn new(rng: &mut Rng, client: Addr, server: Addr, sport: u16, sttl: u8) -> Flow {
        let mut f = Flow {
            client,
            server,
            cport: rng.range(32768, 61000) as u16,
            sport,
            cseq: rng.next_u32(),
            sseq: rng.next_u32(),
            cttl: 64,
            sttl,
            steps: VecDeque::new(),
            requests: [0; 3],
        };
        f.steps.push_back(Step::Ctl { to_server: true, flags: SYN });
        f.steps.push_back(Step::Ctl { to_server: false, flags: SYN | ACK });
        f.steps.push_back(Step::Ctl { to_server: true, flags: ACK });
        f
    }

    /// Queues one message split into MSS segments; the receiver ACKs every second segment
    /// and the last one (delayed ACKs).
    fn send(&mut self, to_server: bool, msg: Msg) {
        let msg = Rc::new(msg);
        let total = msg.len();
        let mut off = 0;
        let mut n = 0;
        while off < total {
            let len = MSS.min(total - off);
            self.steps.push_back(Step::Data { to_server, msg: Rc::clone(&msg), off, len });
            off += len;
            n += 1;
            if n % 2 == 0 || off == total {
                self.steps.push_back(Step::Ctl { to_server: !to_server, flags: ACK });
            }
        }
    }

    /// Client FIN, server FIN, last ACK.
    fn close(&mut self) {
        self.steps.push_back(Step::Ctl { to_server: true, flags: FIN | ACK });
        self.steps.push_back(Step::Ctl { to_server: false, flags: FIN | ACK });
        self.steps.push_back(Step::Ctl { to_server: true, flags: ACK });
    }

    pub fn done(&self) -> bool {
        self.steps.is_empty()
    }

    /// Writes the next packet's frame into `frame`. False when the flow has ended.
    pub fn next_frame(&mut self, frame: &mut Vec<u8>) -> bool {
        let Some(step) = self.steps.pop_front() else {
            return false;
        };
        frame.clear();
        let (to_server, flags, payload_len) = match &step {
            Step::Ctl { to_server, flags } => (*to_server, *flags, 0),
            Step::Data { to_server, len, .. } => (*to_server, ACK | PSH, *len),
        };
        let (src, dst, sport, dport, seq, ack, ttl) = if to_server {
            (self.client, self.server, self.cport, self.sport, self.cseq, self.sseq, self.cttl)
        } else {
            (self.server, self.client, self.sport, self.cport, self.sseq, self.cseq, self.sttl)
        };
        let ack = if flags & ACK != 0 { ack } else { 0 };
        let tcp_len = 32 + payload_len;
        write_headers(frame, src, dst, ttl, tcp_len);
        let tcp_start = frame.len();
        frame.extend_from_slice(&sport.to_be_bytes());
        frame.extend_from_slice(&dport.to_be_bytes());
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&ack.to_be_bytes());
        frame.push(8 << 4); // data offset: 32 bytes
        frame.push(flags);
        frame.extend_from_slice(&64240u16.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent
        // NOP NOP TIMESTAMP
        frame.extend_from_slice(&[1, 1, 8, 10]);
        frame.extend_from_slice(&seq.rotate_left(7).to_be_bytes());
        frame.extend_from_slice(&ack.rotate_left(7).to_be_bytes());
        if let Step::Data { msg, off, len, .. } = &step {
            let (a, b) = (*off, off + len);
            let head = msg.bytes.len();
            if a < head {
                frame.extend_from_slice(&msg.bytes[a..b.min(head)]);
            }
            let (fa, fb) = (a.max(head) - head, b.max(head) - head);
            let mut i = fa;
            while i < fb {
                let at = i % FILLER.len();
                let n = (fb - i).min(FILLER.len() - at);
                frame.extend_from_slice(&FILLER[at..at + n]);
                i += n;
            }
        }
        let sum = tcp_checksum(src, dst, &frame[tcp_start..]);
        frame[tcp_start + 16..tcp_start + 18].copy_from_slice(&sum.to_be_bytes());
        let used = payload_len as u32 + u32::from(flags & (SYN | FIN) != 0);
        if to_server {
            self.cseq = self.cseq.wrapping_add(used);
        } else {
            self.sseq = self.sseq.wrapping_add(used);
        }
        true
    }
}

/// Body bytes for bulk transfers: printable, fixed, 64 KiB.
static FILLER: [u8; 65536] = {
    let mut t = [0u8; 65536];
    let mut x: u32 = 0x1234_5678;
    let mut i = 0;
    while i < t.len() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        t[i] = b' ' + (x % 95) as u8;
        i += 1;
    }
    t
};

fn write_headers(frame: &mut Vec<u8>, src: Addr, dst: Addr, ttl: u8, tcp_len: usize) {
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02]);
    match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => {
            frame.extend_from_slice(&0x0800u16.to_be_bytes());
            let start = frame.len();
            let total = (20 + tcp_len) as u16;
            frame.extend_from_slice(&[0x45, 0]);
            frame.extend_from_slice(&total.to_be_bytes());
            frame.extend_from_slice(&[0, 0, 0x40, 0, ttl, 6, 0, 0]); // id 0, DF
            frame.extend_from_slice(&s);
            frame.extend_from_slice(&d);
            let sum = fold(sum16(0, &frame[start..start + 20]));
            frame[start + 10..start + 12].copy_from_slice(&(!sum).to_be_bytes());
        }
        (Addr::V6(s), Addr::V6(d)) => {
            frame.extend_from_slice(&0x86ddu16.to_be_bytes());
            frame.extend_from_slice(&[0x60, 0, 0, 0]);
            frame.extend_from_slice(&(tcp_len as u16).to_be_bytes());
            frame.extend_from_slice(&[6, ttl]);
            frame.extend_from_slice(&s);
            frame.extend_from_slice(&d);
        }
        _ => unreachable!("mixed address families"),
    }
}

fn sum16(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc = acc.wrapping_add(w >> 32).wrapping_add(w & 0xffff_ffff);
    }
    let mut rest = chunks.remainder().chunks(2);
    for c in &mut rest {
        let hi = u64::from(c[0]) << 8;
        let lo = c.get(1).map_or(0, |&b| u64::from(b));
        acc += hi | lo;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn tcp_checksum(src: Addr, dst: Addr, tcp: &[u8]) -> u16 {
    let mut acc = match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => sum16(sum16(0, &s), &d),
        (Addr::V6(s), Addr::V6(d)) => sum16(sum16(0, &s), &d),
        _ => 0,
    };
    acc += 6 + tcp.len() as u64;
    let s = !fold(sum16(acc, tcp));
    if s == 0 { 0xffff } else { s }
}

const UAS: [&str; 6] = [
    "Botocore/1.35.54 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2",
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64",
    "aws-sdk-java/2.25.60 Linux/6.1.94 OpenJDK_64-Bit_Server_VM/17.0.11",
    "curl/7.88.1",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
];

fn request(method: &str, path: &str, host: &str, extra: &str, ua: &str) -> Msg {
    let h = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n{extra}\r\n"
    );
    Msg { bytes: h.into_bytes(), filler: 0 }
}

fn response(body: &[u8], filler: usize, extra: &str) -> Msg {
    let len = body.len() + filler;
    let mut b = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nAccept-Ranges: none\r\nLast-Modified: Tue, 02 Jul 2024 10:00:00 GMT\r\nContent-Length: {len}\r\nDate: Tue, 02 Jul 2024 10:20:00 GMT\r\nServer: EC2ws\r\n{extra}\r\n"
    )
    .into_bytes();
    b.extend_from_slice(body);
    Msg { bytes: b, filler }
}

const META: [&str; 8] = [
    "/latest/meta-data/instance-id",
    "/latest/meta-data/placement/region",
    "/latest/meta-data/placement/availability-zone",
    "/latest/meta-data/local-ipv4",
    "/latest/dynamic/instance-identity/document",
    "/latest/meta-data/mac",
    "/latest/meta-data/hostname",
    "/latest/user-data",
];

/// An IMDS connection: a token request and v2 reads, an SDK credential refresh, or v1 reads.
pub fn imds_flow(rng: &mut Rng, client: Addr) -> Flow {
    let server = match client {
        Addr::V4(_) => Addr::V4(IMDS_V4),
        Addr::V6(_) => Addr::V6(IMDS_V6),
    };
    let host = match client {
        Addr::V4(_) => "169.254.169.254",
        Addr::V6(_) => "[fd00:ec2::254]",
    };
    let mut f = Flow::new(rng, client, server, 80, 255);
    let ua = UAS[rng.range(0, UAS.len() as u64) as usize];
    let token = "AQAEAFh1bTQ0cXZ6d3l0c2l4a2V5LWRlbW8tdG9rZW4tZm9yLWJlbmNobWFya3M=";
    let auth = format!("X-aws-ec2-metadata-token: {token}\r\n");
    let role = "app-server-role";
    let creds = format!(
        "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2024-07-02T10:20:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAEXAMPLEEXAMPLE00\",\n  \"SecretAccessKey\" : \"{}\",\n  \"Token\" : \"{}\",\n  \"Expiration\" : \"2024-07-02T16:40:00Z\"\n}}",
        "x".repeat(40),
        "y".repeat(1000)
    );
    let cred_path = format!("/latest/meta-data/iam/security-credentials/{role}");
    let kind = rng.range(0, 100);
    let mut reqs: Vec<(Msg, Msg, usize)> = Vec::new(); // request, response, kind index
    if kind < 45 {
        // SDK: token, role list, role credentials, over one connection.
        let put = request("PUT", "/latest/api/token", host, "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n", ua);
        reqs.push((put, response(token.as_bytes(), 0, "X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\n"), 2));
        let list = "/latest/meta-data/iam/security-credentials/";
        reqs.push((request("GET", list, host, &auth, ua), response(role.as_bytes(), 0, ""), 1));
        reqs.push((request("GET", &cred_path, host, &auth, ua), response(creds.as_bytes(), 0, ""), 1));
    } else if kind < 70 {
        let put = request("PUT", "/latest/api/token", host, "X-aws-ec2-metadata-token-ttl-seconds: 300\r\n", ua);
        reqs.push((put, response(token.as_bytes(), 0, "X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 300\r\n"), 2));
        for _ in 0..rng.range(1, 3) {
            let p = META[rng.range(0, META.len() as u64) as usize];
            let body_len = rng.log_range(10, 2000) as usize;
            reqs.push((request("GET", p, host, &auth, ua), response(b"", body_len, ""), 1));
        }
    } else if kind < 90 {
        for _ in 0..rng.range(1, 3) {
            let p = META[rng.range(0, META.len() as u64) as usize];
            let body_len = rng.log_range(10, 2000) as usize;
            reqs.push((request("GET", p, host, "", ua), response(b"", body_len, ""), 0));
        }
    } else {
        let list = "/latest/meta-data/iam/security-credentials/";
        reqs.push((request("GET", list, host, "", ua), response(role.as_bytes(), 0, ""), 0));
        reqs.push((request("GET", &cred_path, host, "", ua), response(creds.as_bytes(), 0, ""), 0));
    }
    for (q, a, k) in reqs {
        f.send(true, q);
        f.send(false, a);
        f.requests[k] += 1;
    }
    f.close();
    f
}

fn client_addr(rng: &mut Rng, v6: bool) -> Addr {
    if v6 {
        let mut a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        a[14] = rng.range(1, 255) as u8;
        a[15] = rng.range(1, 255) as u8;
        Addr::V6(a)
    } else {
        Addr::V4([10, 0, rng.range(0, 16) as u8, rng.range(1, 255) as u8])
    }
}

fn server_addr(rng: &mut Rng, v6: bool) -> Addr {
    if v6 {
        let mut a = [0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        a[15] = rng.range(1, 255) as u8;
        Addr::V6(a)
    } else {
        Addr::V4([198, 51, 100, rng.range(1, 255) as u8])
    }
}

/// A non-IMDS HTTP connection: one large download, or a few small requests.
pub fn web_flow(rng: &mut Rng, bulk: bool) -> Flow {
    let v6 = rng.chance(100);
    let client = client_addr(rng, v6);
    let server = server_addr(rng, v6);
    let mut f = Flow::new(rng, client, server, 80, 58);
    let ua = UAS[rng.range(0, UAS.len() as u64) as usize];
    let n = if bulk { 1 } else { rng.range(1, 4) };
    for i in 0..n {
        let path = format!("/api/v1/items/{}", rng.range(0, 1_000_000));
        let size = if bulk { rng.log_range(100_000, 8_000_000) } else { rng.log_range(100, 16_000) } as usize;
        let close = if i + 1 == n { "Connection: close\r\n" } else { "" };
        f.send(true, request("GET", &path, "www.example.com", close, ua));
        f.send(false, response(b"", size, close));
    }
    f.close();
    f
}

/// What to synthesize.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub seed: u64,
    /// Stop opening connections once this many frame bytes (plus record headers) are out.
    pub bytes: u64,
    /// IMDS traffic only, until this many requests (then `bytes` is ignored).
    pub imds_requests: Option<u64>,
    /// Connections open at once.
    pub concurrency: usize,
}

/// Totals of what was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub packets: u64,
    pub frame_bytes: u64,
    pub flows: u64,
    pub imds_flows: u64,
    /// IMDS requests: v1, v2, token.
    pub requests: [u64; 3],
}

/// Plays the plan, calling `emit(timestamp_us, frame)` for every packet in time order.
pub fn generate(plan: Plan, mut emit: impl FnMut(u64, &[u8])) -> Totals {
    let mut rng = Rng::new(plan.seed);
    let mut t = Totals::default();
    let mut ts: u64 = 1_719_915_600_000_000; // 2024-07-02T10:20:00Z
    let mut active: Vec<Flow> = Vec::with_capacity(plan.concurrency);
    let mut frame = Vec::with_capacity(2048);
    let imds_only = plan.imds_requests.is_some();
    let enough = |t: &Totals| match plan.imds_requests {
        Some(n) => t.requests.iter().sum::<u64>() >= n,
        None => t.frame_bytes + 16 * t.packets >= plan.bytes,
    };
    let mut pending_requests = 0u64; // requests of IMDS flows opened (imds-only stop rule)
    let open = |rng: &mut Rng, t: &mut Totals, pending: &mut u64| -> Flow {
        t.flows += 1;
        let r = rng.range(0, 1000);
        if imds_only || r < 5 {
            t.imds_flows += 1;
            let v6 = rng.chance(100);
            let client = client_addr(rng, v6);
            let f = imds_flow(rng, client);
            *pending += f.requests.iter().sum::<u64>();
            f
        } else {
            web_flow(rng, r < 60)
        }
    };
    let full = |t: &Totals, pending: u64| match plan.imds_requests {
        Some(n) => pending >= n,
        None => enough(t),
    };
    for _ in 0..plan.concurrency {
        if !full(&t, pending_requests) {
            let f = open(&mut rng, &mut t, &mut pending_requests);
            active.push(f);
        }
    }
    let mut trimmed = false;
    while !active.is_empty() {
        if !trimmed && !imds_only && enough(&t) {
            // The file is big enough: the capture ends here for the other connections (cut
            // mid-transfer, as a real capture is); IMDS connections play out to the end.
            trimmed = true;
            active.retain(|f| f.requests.iter().sum::<u64>() > 0);
            if active.is_empty() {
                break;
            }
        }
        let i = rng.range(0, active.len() as u64) as usize;
        // Bursts: a few packets of the same connection back to back.
        let burst = rng.range(1, 5);
        for _ in 0..burst {
            if !active[i].next_frame(&mut frame) {
                break;
            }
            ts += rng.range(1, if imds_only { 4 } else { 12 });
            emit(ts, &frame);
            t.packets += 1;
            t.frame_bytes += frame.len() as u64;
        }
        if active[i].done() {
            let f = active.swap_remove(i);
            for k in 0..3 {
                t.requests[k] += f.requests[k];
            }
            if !full(&t, pending_requests) {
                let f = open(&mut rng, &mut t, &mut pending_requests);
                active.push(f);
            }
        }
    }
    t
}
