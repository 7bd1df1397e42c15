//! Issue 12, class 3: where imdswatch's reassembly and Linux's could disagree, imdswatch
//! keeps what Linux keeps or reports the request with `imds.conflict`. One test per case,
//! on frames built with etherparse.

mod support;

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use imdswatch::capture::LinkType;
use imdswatch::event::Version;
use imdswatch::time::Timestamp;
use support::*;

const CREDS_V1: &[u8] =
    b"GET /latest/meta-data/iam/security-credentials/role HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";
/// A v2 head of the same length as CREDS_V1 (the decoy).
const DECOY_V2: &[u8] =
    b"GET /latest/meta-data/ami-id HTTP/1.1\r\nX-aws-ec2-metadata-token: AAAAAAAAAAAAAAAAAAAA\r\n\r\n";

/// One client segment with full control: TTL, urgent pointer, checksum damage.
struct Seg {
    ttl: u8,
    urg: Option<u16>,
    /// XOR applied to the TCP checksum field (0: correct).
    bad_sum: u16,
    /// Replace the TCP checksum by what checksum offload leaves.
    offloaded: bool,
    rst: bool,
}

const PLAIN: Seg = Seg { ttl: 64, urg: None, bad_sum: 0, offloaded: false, rst: false };

fn frame(c: &mut Conv, src: SocketAddr, seq: u32, s: &Seg, payload: &[u8]) {
    let (IpAddr::V4(a), IpAddr::V4(b)) = (src.ip(), c.server.ip()) else { panic!("v4 only") };
    let mut t = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(a.octets(), b.octets(), s.ttl)
        .tcp(src.port(), c.server.port(), seq, 64240)
        .ack(c.sseq);
    if let Some(u) = s.urg {
        t = t.urg(u);
    }
    if s.rst {
        t = t.rst();
    }
    let mut v = Vec::new();
    t.write(&mut v, payload).expect("build");
    let sum = 14 + 20 + 16;
    let field = u16::from_be_bytes([v[sum], v[sum + 1]]);
    let field = if s.offloaded {
        // The folded pseudo-header sum, as Linux leaves it for the NIC.
        let mut x: u32 = 6 + (20 + payload.len()) as u32;
        for w in a.octets().chunks(2).chain(b.octets().chunks(2)) {
            x += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while x > 0xffff {
            x = (x & 0xffff) + (x >> 16);
        }
        x as u16
    } else {
        field ^ s.bad_sum
    };
    v[sum..sum + 2].copy_from_slice(&field.to_be_bytes());
    c.now += 100;
    c.frames.push(Frame { ts: Timestamp(c.now), link: LinkType::Ethernet, data: v });
}

fn conv() -> Conv {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c
}

#[test]
fn a_decoy_with_a_bad_checksum_is_dropped_as_the_server_drops_it() {
    let mut c = conv();
    let (src, seq) = (c.client, c.cseq);
    frame(&mut c, src, seq, &Seg { bad_sum: 0x1234, ..PLAIN }, DECOY_V2);
    c.client(CREDS_V1);
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/iam/security-credentials/role 200"]);
    assert!(!recs[0].imds.conflict);
    assert_eq!(st.anomalies().get("tcp_bad_checksums"), Some(&1));
}

#[test]
fn an_offloaded_checksum_on_the_sending_host_is_kept() {
    let mut c = conv();
    let (src, seq) = (c.client, c.cseq);
    frame(&mut c, src, seq, &Seg { offloaded: true, ..PLAIN }, CREDS_V1);
    c.cseq += CREDS_V1.len() as u32;
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/iam/security-credentials/role 200"]);
    assert_eq!(st.checksum_unverified, 1);
    assert_eq!(st.bad_checksum, 0);
}

#[test]
fn a_ttl_1_decoy_then_the_real_request_is_a_conflict_not_a_silent_choice() {
    let mut c = conv();
    let (src, seq) = (c.client, c.cseq);
    frame(&mut c, src, seq, &Seg { ttl: 1, ..PLAIN }, DECOY_V2);
    c.client(CREDS_V1);
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].imds.conflict, "{:?}", recs[0].imds);
    assert_eq!(st.anomalies().get("tcp_conflicting_copies"), Some(&1));
}

#[test]
fn an_identical_retransmission_is_no_conflict() {
    let mut c = conv();
    let (src, seq) = (c.client, c.cseq);
    frame(&mut c, src, seq, &PLAIN, CREDS_V1);
    c.client(CREDS_V1);
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(recs.len(), 1);
    assert!(!recs[0].imds.conflict);
    assert_eq!(st.conflicts, 0);
}

#[test]
fn an_out_of_window_rst_does_not_close_the_connection() {
    let mut c = conv();
    let (src, seq) = (c.client, c.cseq);
    frame(&mut c, src, seq.wrapping_add(100_000), &Seg { rst: true, ..PLAIN }, b"");
    c.client(CREDS_V1);
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/iam/security-credentials/role 200"]);
    assert_eq!(st.anomalies().get("tcp_rst_out_of_window"), Some(&1));
    // A RST at the expected sequence number still closes it.
    let mut c = conv();
    c.client(CREDS_V1);
    c.client_rst();
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/iam/security-credentials/role none"]);
    assert_eq!(st.rst_ignored, 0);
}

#[test]
fn a_longer_copy_of_an_out_of_order_segment_is_kept() {
    let mut c = conv();
    let (src, seq) = (c.client, c.cseq);
    let (a, b) = CREDS_V1.split_at(10);
    // The tail arrives first, short, then again in full; then the start fills the hole.
    frame(&mut c, src, seq + 10, &PLAIN, &b[..20]);
    frame(&mut c, src, seq + 10, &PLAIN, b);
    frame(&mut c, src, seq, &PLAIN, a);
    c.cseq += CREDS_V1.len() as u32;
    c.server(OK_10);
    let (recs, _) = run(&c.frames);
    assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/iam/security-credentials/role 200"]);
}

#[test]
fn the_urgent_byte_is_taken_out_of_the_stream() {
    let mut c = conv();
    let (src, seq) = (c.client, c.cseq);
    let head = b"GET /latest/meta-data/iam/security-credentialsX/role HTTP/1.1\r\n\r\n";
    let x = head.iter().position(|&b| b == b'X').expect("X");
    frame(&mut c, src, seq, &Seg { urg: Some(x as u16 + 1), ..PLAIN }, head);
    c.cseq += head.len() as u32;
    c.server(OK_10);
    let (recs, _) = run(&c.frames);
    assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/iam/security-credentials/role 200"]);
    assert!(recs[0].imds.credentials);
}

/// A copy of the same request on another flow is a NAT copy only when the path fits: another
/// client address, and one hop less (the copy after the host routed it).
#[test]
fn dedup_needs_a_plausible_nat_path_and_is_counted() {
    let ttl63 = |c: &mut Conv| {
        // The NATed copy: another address, TTL one lower, same sequence numbers.
        let (src, seq) = (c.client, c.cseq);
        frame(c, src, seq, &Seg { ttl: 63, ..PLAIN }, CREDS_V1);
        c.cseq += CREDS_V1.len() as u32;
        c.server(OK_10);
    };
    let mut a = Conv::new(CLIENT, IMDS, 1000, 5000);
    a.handshake();
    a.client(CREDS_V1);
    a.server(OK_10);
    let mut nat = Conv::new("192.0.2.10:51000", IMDS, 1000, 5000);
    nat.handshake();
    ttl63(&mut nat);
    let (recs, st) = run(&[a.frames.clone(), nat.frames].concat());
    assert_eq!(recs.len(), 1);
    assert_eq!(st.anomalies().get("duplicates_suppressed"), Some(&1));

    // A spoofed copy from another port of the same address is no NAT copy.
    let mut spoof = Conv::new("10.0.0.5:40001", IMDS, 1000, 5000);
    spoof.handshake();
    ttl63(&mut spoof);
    let (recs, st) = run(&[a.frames.clone(), spoof.frames].concat());
    assert_eq!(recs.len(), 2);
    assert_eq!(st.duplicates_suppressed, 0);

    // Two clients whose ISNs collide, both first hop (same TTL): two requests.
    let mut other = Conv::new("10.0.0.6:40000", IMDS, 1000, 5000);
    other.handshake();
    other.client(CREDS_V1);
    other.server(OK_10);
    let (recs, _) = run(&[a.frames, other.frames].concat());
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| r.imds.version == Version::V1));
}

/// Rewrites an IPv4 header's checksum.
fn set_ipv4_sum(h: &mut [u8]) {
    h[10..12].copy_from_slice(&[0, 0]);
    let mut sum: u32 = h.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// Splits an IPv4 packet (in an Ethernet frame) into fragments of `size` payload bytes.
fn fragment_v4(frame: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (eth, ip) = frame.split_at(14);
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let (hdr, data) = ip.split_at(hl);
    data.chunks(size)
        .enumerate()
        .map(|(i, part)| {
            let mut h = hdr.to_vec();
            let off = (i * size / 8) as u16;
            let more = (i + 1) * size < data.len();
            let flags_off = off | if more { 0x2000 } else { 0 };
            h[2..4].copy_from_slice(&((hl + part.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
            h[6..8].copy_from_slice(&flags_off.to_be_bytes());
            h[10..12].copy_from_slice(&[0, 0]);
            let mut sum: u32 = h.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
            [eth, &h, part].concat()
        })
        .collect()
}

/// Splits an IPv6 packet (in an Ethernet frame) into fragments with a Fragment header.
fn fragment_v6(frame: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (eth, ip) = frame.split_at(14);
    let (hdr, data) = ip.split_at(40);
    let next = hdr[6];
    data.chunks(size)
        .enumerate()
        .map(|(i, part)| {
            let mut h = hdr.to_vec();
            h[6] = 44;
            h[4..6].copy_from_slice(&((8 + part.len()) as u16).to_be_bytes());
            let more = (i + 1) * size < data.len();
            let off = ((i * size / 8) as u16) << 3 | u16::from(more);
            let mut fh = vec![next, 0];
            fh.extend(off.to_be_bytes());
            fh.extend(0x0102_0304u32.to_be_bytes());
            [eth, &h, &fh, part].concat()
        })
        .collect()
}

#[test]
fn fragmented_requests_are_reassembled_v4_and_v6() {
    for (client, server) in [(CLIENT, IMDS), ("[fd00::5]:40000", "[fd00:ec2::254]:80")] {
        let mut c = Conv::new(client, server, 1000, 5000);
        c.handshake();
        c.client(CREDS_V1);
        c.server(OK_10);
        let data = c.frames[2].data.clone();
        let parts = if server == IMDS { fragment_v4(&data, 24) } else { fragment_v6(&data, 24) };
        assert!(parts.len() > 3);
        let mut frames = c.frames.clone();
        // Fragments arrive in reverse order, each once.
        let at = frames[2].ts;
        frames.splice(2..3, parts.into_iter().rev().map(|d| Frame { ts: at, link: LinkType::Ethernet, data: d }));
        let (recs, st) = run(&frames);
        assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/iam/security-credentials/role 200"], "{server}");
        assert_eq!(st.frag.reassembled, 1);
        assert_eq!(st.frag.dropped, 0);
    }
}

#[test]
fn overlapping_fragments_are_dropped_whole_as_linux_drops_them() {
    let mut c = conv();
    c.client(CREDS_V1);
    let data = c.frames[2].data.clone();
    let mut parts = fragment_v4(&data, 24);
    // A copy of the second fragment moved 8 bytes on: it overlaps queued bytes in part (a
    // whole duplicate is dropped alone, issue 23: tests/hardening_wire.rs).
    let mut moved = parts[1].clone();
    let off = u16::from_be_bytes([moved[14 + 6], moved[14 + 7]]) + 1;
    moved[14 + 6..14 + 8].copy_from_slice(&off.to_be_bytes());
    set_ipv4_sum(&mut moved[14..34]);
    parts.insert(2, moved);
    let at = c.frames[2].ts;
    let mut frames = c.frames.clone();
    frames.splice(2..3, parts.into_iter().map(|d| Frame { ts: at, link: LinkType::Ethernet, data: d }));
    let (recs, st) = run(&frames);
    assert!(recs.is_empty(), "{:?}", summary(&recs));
    assert!(st.anomalies().contains_key("ip_fragments_dropped"));
}
