//! Issue 23, classes 2 to 6: ways a served IMDSv1 request hid on the wire. One test per case,
//! on frames built with etherparse; each failed on the code before the fix.

mod support;

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use imdswatch::capture::LinkType;
use imdswatch::engine::EngineConfig;
use imdswatch::event::Outcome;
use imdswatch::time::Timestamp;
use support::*;

const CREDS: &str = "v1 GET /latest/meta-data/iam/security-credentials/role 200";
/// A v2 head of the same length as GET_CREDS_V1: the decoy.
const DECOY_V2: &[u8] =
    b"GET /latest/meta-data/ami-id HTTP/1.1\r\nX-aws-ec2-metadata-token: AAAAAAAAAAAAAAAAAAAA\r\n\r\n";

/// A hand-made segment: every field the acceptance checks read.
#[derive(Clone, Copy)]
struct Raw<'a> {
    to_server: bool,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    ttl: u8,
    /// Raw TCP option bytes (a multiple of 4).
    opts: &'a [u8],
    /// Write 0 in the TCP checksum field.
    zero_sum: bool,
    payload: &'a [u8],
}

fn raw(c: &Conv, to_server: bool) -> Raw<'static> {
    let (seq, ack) = if to_server { (c.cseq, c.sseq) } else { (c.sseq, c.cseq) };
    Raw { to_server, seq, ack: Some(ack), syn: false, fin: false, ttl: 64, opts: &[], zero_sum: false, payload: b"" }
}

fn push(c: &mut Conv, src: SocketAddr, r: Raw<'_>) {
    let (s, d) = if r.to_server { (src, c.server) } else { (c.server, c.client) };
    let (IpAddr::V4(a), IpAddr::V4(b)) = (s.ip(), d.ip()) else { panic!("v4 only") };
    let mut t = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(a.octets(), b.octets(), r.ttl)
        .tcp(s.port(), d.port(), r.seq, 64240);
    if let Some(ack) = r.ack {
        t = t.ack(ack);
    }
    if r.syn {
        t = t.syn();
    }
    if r.fin {
        t = t.fin();
    }
    let t = t.options_raw(r.opts).expect("options");
    let mut v = Vec::new();
    t.write(&mut v, r.payload).expect("build");
    if r.zero_sum {
        v[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&[0, 0]);
    }
    c.now += 100;
    c.frames.push(Frame { ts: Timestamp(c.now), link: LinkType::Ethernet, data: v });
}

fn conv() -> Conv {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c
}

// --- class 2: half-close ---------------------------------------------------------------

#[test]
fn an_answer_after_the_clients_fin_is_an_answer() {
    let mut c = conv();
    c.client(GET_CREDS_V1);
    c.client_fin(); // shutdown(SHUT_WR): the client still reads
    c.server(OK_10);
    c.client(b""); // it acknowledges the answer
    c.server_fin();
    let (recs, _) = run(&c.frames);
    assert_eq!(summary(&recs), [CREDS]);
    assert_eq!(recs[0].imds.outcome, Outcome::Ok);
}

// --- class 3: segments Linux drops ------------------------------------------------------

/// The decoy at the real request's sequence number, then the real request, answered.
fn decoy_then_real(decoy: impl Fn(&Conv) -> Raw<'static>) -> Vec<String> {
    let mut c = conv();
    let src = c.client;
    let d = decoy(&c);
    push(&mut c, src, d);
    c.client(GET_CREDS_V1);
    c.server(OK_10);
    let (recs, _) = run(&c.frames);
    assert!(recs.iter().all(|r| !r.imds.conflict), "{:?}", summary(&recs));
    summary(&recs)
}

#[test]
fn a_decoy_without_the_ack_flag_is_dropped() {
    assert_eq!(decoy_then_real(|c| Raw { ack: None, payload: DECOY_V2, ..raw(c, true) }), [CREDS]);
}

#[test]
fn a_decoy_acknowledging_unsent_data_is_dropped() {
    let got = decoy_then_real(|c| Raw { ack: Some(c.sseq.wrapping_add(100_000)), payload: DECOY_V2, ..raw(c, true) });
    assert_eq!(got, [CREDS]);
}

#[test]
fn a_decoy_with_a_far_too_old_ack_is_dropped() {
    let got = decoy_then_real(|c| Raw { ack: Some(c.sseq.wrapping_sub(70_000)), payload: DECOY_V2, ..raw(c, true) });
    assert_eq!(got, [CREDS]);
}

#[test]
fn a_decoy_with_an_md5_option_is_dropped() {
    const MD5: [u8; 20] = [19, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 1];
    assert_eq!(decoy_then_real(|c| Raw { opts: &MD5, payload: DECOY_V2, ..raw(c, true) }), [CREDS]);
}

#[test]
fn a_decoy_with_a_zero_tcp_checksum_is_dropped() {
    assert_eq!(decoy_then_real(|c| Raw { zero_sum: true, payload: DECOY_V2, ..raw(c, true) }), [CREDS]);
}

/// Timestamp option bytes (NOP NOP TS).
fn ts(val: u32, ecr: u32) -> &'static [u8] {
    let mut v = vec![1, 1, 8, 10];
    v.extend(val.to_be_bytes());
    v.extend(ecr.to_be_bytes());
    Box::leak(v.into_boxed_slice())
}

#[test]
fn a_decoy_with_a_stale_timestamp_is_dropped_by_paws() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    let src = c.client;
    // A handshake where both sides send timestamps.
    let r = Raw { syn: true, ack: None, opts: ts(1_000_000, 0), ..raw(&c, true) };
    push(&mut c, src, r);
    c.cseq += 1;
    let r = Raw { syn: true, opts: ts(7, 1_000_000), ..raw(&c, false) };
    push(&mut c, src, r);
    c.sseq += 1;
    let r = Raw { opts: ts(1_000_010, 7), ..raw(&c, true) };
    push(&mut c, src, r);
    // The decoy's TSval is far older than the last one the server took.
    let r = Raw { opts: ts(10, 7), payload: DECOY_V2, ..raw(&c, true) };
    push(&mut c, src, r);
    let r = Raw { opts: ts(1_000_020, 7), payload: GET_CREDS_V1, ..raw(&c, true) };
    push(&mut c, src, r);
    c.cseq += GET_CREDS_V1.len() as u32;
    let r = Raw { opts: ts(8, 1_000_020), payload: OK_10, ..raw(&c, false) };
    push(&mut c, src, r);
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), [CREDS]);
    assert_eq!(st.anomalies().get("tcp_rejected_paws"), Some(&1));
}

#[test]
fn data_in_a_syn_without_a_fast_open_cookie_is_not_read() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    let src = c.client;
    let r = Raw { syn: true, ack: None, payload: DECOY_V2, ..raw(&c, true) };
    push(&mut c, src, r);
    c.cseq += 1;
    let r = Raw { syn: true, ..raw(&c, false) };
    push(&mut c, src, r);
    c.sseq += 1;
    c.client(GET_CREDS_V1); // the client sends its request again after the handshake
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), [CREDS]);
    assert_eq!(st.anomalies().get("tcp_syn_data_ignored"), Some(&1));
}

#[test]
fn a_server_segment_acknowledging_bytes_the_capture_lost_is_replayed() {
    let mut c = conv();
    c.client(GET_CREDS_V1);
    c.frames.pop(); // the capture lost the request...
    c.server(OK_10); // ...whose answer acknowledges it
    c.client(GET_V2); // the client's next request shows it sent that far
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(st.anomalies().get("tcp_ack_unsent_replayed"), Some(&1), "{:?}", st.anomalies());
    // The answer to the lost request is unsolicited and the next request waits behind the
    // hole until the end, as before; what matters is that nothing was dropped unseen.
    assert!(summary(&recs).iter().any(|s| s.starts_with("v2 GET /latest/meta-data/")), "{:?}", summary(&recs));
}

#[test]
fn a_conflict_is_found_over_the_whole_overlap() {
    // A 3 KiB decoy that differs from the real request only in its first bytes, kept by the
    // server's kernel as far as the capture can tell (TTL 1 from a spoofer one hop away).
    let mut c = conv();
    let src = c.client;
    let pad = "a".repeat(3000);
    let real = format!("GET /latest/meta-data/iam/security-credentials/role HTTP/1.1\r\nX-Pad: {pad}\r\n\r\n");
    let mut decoy = real.clone().into_bytes();
    decoy[..12].copy_from_slice(b"PUT /latest/");
    let decoy: &'static [u8] = Box::leak(decoy.into_boxed_slice());
    let r = Raw { ttl: 1, payload: decoy, ..raw(&c, true) };
    push(&mut c, src, r);
    c.client(real.as_bytes());
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].imds.conflict, "{:?}", recs[0].imds);
    assert_eq!(st.anomalies().get("tcp_conflicting_copies"), Some(&1));
}

// --- class 4: a spoofed NAT copy, a phantom FIN -----------------------------------------

#[test]
fn a_spoofed_nat_copy_before_the_real_request_does_not_hide_it() {
    let mut c = conv();
    // One segment from another address, one hop further, same sequence number and bytes.
    let spoofer: SocketAddr = "192.0.2.10:40000".parse().expect("addr");
    let r = Raw { ttl: 63, payload: GET_CREDS_V1, ..raw(&c, true) };
    push(&mut c, spoofer, r);
    c.client(GET_CREDS_V1);
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), [CREDS]);
    assert_eq!(recs[0].network.client.to_string(), CLIENT);
    assert_eq!(st.duplicates_suppressed, 1);
}

#[test]
fn a_held_copy_is_reported_after_the_window_even_if_the_spoof_stays_open() {
    let mut c = conv();
    let spoofer: SocketAddr = "192.0.2.10:40000".parse().expect("addr");
    let r = Raw { ttl: 63, payload: GET_CREDS_V1, ..raw(&c, true) };
    push(&mut c, spoofer, r);
    c.client(GET_CREDS_V1);
    c.server(OK_10);
    let answered = c.frames.len();
    // Keep-alives on the spoofed flow; time goes on.
    for _ in 0..5 {
        c.wait(1_000_000);
        let r = Raw { ttl: 63, seq: c.cseq + 1, payload: b"x", ..raw(&c, true) };
        push(&mut c, spoofer, r);
    }
    let mut engine = imdswatch::engine::Engine::new(EngineConfig::default());
    let mut at = None;
    for (i, f) in c.frames.iter().enumerate() {
        let pkt = imdswatch::capture::Packet { ts: f.ts, link: f.link, data: &f.data };
        engine.packet(&pkt, &mut |ev| {
            if let imdswatch::engine::EngineEvent::Request { record, .. } = ev
                && record.imds.status == Some(200)
            {
                at = Some(i);
            }
        });
    }
    let at = at.expect("the answered request is reported before the end of input");
    assert!(at > answered && at < c.frames.len(), "{at}");
}

#[test]
fn a_phantom_fin_toward_the_client_does_not_close_the_server_side() {
    for phantom in [0, 1] {
        let mut c = conv();
        let src = c.client;
        let fin = if phantom == 0 {
            Raw { fin: true, ack: None, ..raw(&c, false) }
        } else {
            Raw { fin: true, ack: Some(c.cseq.wrapping_add(50_000)), ..raw(&c, false) }
        };
        push(&mut c, src, fin);
        c.client(GET_CREDS_V1);
        c.server(OK_10);
        c.client(GET_CREDS_V1);
        c.server(OK_10);
        let (recs, _) = run(&c.frames);
        assert_eq!(summary(&recs), [CREDS, CREDS], "phantom {phantom}");
    }
}

// --- class 5: fragments as Linux reassembles them -----------------------------------------

/// IPv4 fragments of the request frame: (offset in 8-byte units, more, data).
fn v4_frag(frame: &[u8], off8: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let (eth, ip) = frame.split_at(14);
    let mut h = ip[..20].to_vec();
    h[2..4].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
    h[6..8].copy_from_slice(&(off8 | if more { 0x2000 } else { 0 }).to_be_bytes());
    h[10..12].copy_from_slice(&[0, 0]);
    let mut sum: u32 = h.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    [eth, &h, data].concat()
}

/// IPv6 fragment with an explicit next header.
fn v6_frag(frame: &[u8], next: u8, off8: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let (eth, ip) = frame.split_at(14);
    let mut h = ip[..40].to_vec();
    h[6] = 44;
    h[4..6].copy_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    let mut fh = vec![next, 0];
    fh.extend((off8 << 3 | u16::from(more)).to_be_bytes());
    fh.extend(0x0102_0304u32.to_be_bytes());
    [eth, &h, &fh, data].concat()
}

/// A conversation whose request frame (index 2) is replaced by `frags(frame, transport)`.
fn fragmented(v6: bool, frags: impl Fn(&[u8], &[u8]) -> Vec<Vec<u8>>) -> (Vec<String>, u64) {
    let (client, server) = if v6 { ("[fd00::5]:40000", "[fd00:ec2::254]:80") } else { (CLIENT, IMDS) };
    let mut c = Conv::new(client, server, 1000, 5000);
    c.handshake();
    c.client(GET_CREDS_V1);
    c.server(OK_10);
    let frame = c.frames[2].data.clone();
    let transport = frame[14 + if v6 { 40 } else { 20 }..].to_vec();
    let at = c.frames[2].ts;
    let parts = frags(&frame, &transport);
    c.frames.splice(2..3, parts.into_iter().map(|d| Frame { ts: at, link: LinkType::Ethernet, data: d }));
    let (recs, st) = run(&c.frames);
    (summary(&recs), st.frag.reassembled)
}

#[test]
fn a_duplicated_first_fragment_is_dropped_alone_v4_and_v6() {
    let (got, _) = fragmented(false, |f, t| {
        let first = v4_frag(f, 0, true, &t[..48]);
        vec![first.clone(), first, v4_frag(f, 6, false, &t[48..])]
    });
    assert_eq!(got, [CREDS]);
    let (got, _) = fragmented(true, |f, t| {
        let first = v6_frag(f, 6, 0, true, &t[..48]);
        vec![first.clone(), first, v6_frag(f, 6, 6, false, &t[48..])]
    });
    assert_eq!(got, [CREDS]);
}

#[test]
fn a_non_final_ipv4_fragment_is_trimmed_to_a_multiple_of_8() {
    let (got, n) = fragmented(false, |f, t| {
        let mut first = t[..48].to_vec();
        first.extend_from_slice(b"JUNK"); // 52 bytes: Linux keeps 48
        vec![v4_frag(f, 0, true, &first), v4_frag(f, 6, false, &t[48..])]
    });
    assert_eq!((got, n), (vec![CREDS.to_owned()], 1));
}

#[test]
fn the_ipv6_next_header_comes_from_the_first_fragment() {
    let (got, _) = fragmented(true, |f, t| vec![v6_frag(f, 6, 0, true, &t[..48]), v6_frag(f, 17, 6, false, &t[48..])]);
    assert_eq!(got, [CREDS]);
}

#[test]
fn a_fragmented_request_captured_twice_counts_once() {
    // `-i any`: each fragment on the veth, then on the bridge.
    let (got, _) = fragmented(false, |f, t| {
        let (a, b) = (v4_frag(f, 0, true, &t[..48]), v4_frag(f, 6, false, &t[48..]));
        vec![a.clone(), a, b.clone(), b]
    });
    assert_eq!(got, [CREDS]);
}

// --- class 6: memory budgets an attacker can fill -----------------------------------------

/// 700 connections each holding 14 KB of an unfinished head: more than the 8 MiB head budget
/// beyond their own reserved bytes. Then `real` is sent split in two, and answered.
fn after_a_head_flood(real: &[u8]) -> (Vec<imdswatch::event::RequestRecord>, imdswatch::engine::EngineStats) {
    let mut frames = Vec::new();
    let mut now = 1_700_000_000_000_000u64;
    let filler = format!("GET /latest/x HTTP/1.1\r\nX-Pad: {}", "a".repeat(14_000));
    for i in 0..700u32 {
        let mut c = Conv::new(&format!("10.1.{}.{}:40000", i / 250, i % 250), IMDS, 1000, 5000);
        c.now = now;
        c.handshake();
        c.client(filler.as_bytes());
        now = c.now;
        frames.extend(c.frames);
    }
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.now = now + 1000;
    c.handshake();
    let (a, b) = real.split_at(20); // the first part has no line end yet
    c.client(a);
    c.client(b);
    c.server(OK_10);
    frames.extend(c.frames);
    run(&frames)
}

#[test]
fn a_split_head_is_read_although_other_heads_fill_the_budget() {
    let (recs, st) = after_a_head_flood(GET_CREDS_V1);
    let real: Vec<_> = recs.iter().filter(|r| r.network.client.to_string() == CLIENT).collect();
    assert_eq!(summary(&real.into_iter().cloned().collect::<Vec<_>>()), [CREDS]);
    assert_eq!(st.http.oversize_heads, 0, "{:?}", st.anomalies());
}

#[test]
fn the_oldest_idle_heads_are_evicted_for_a_long_head_and_still_reported() {
    let long =
        format!("GET /latest/meta-data/iam/security-credentials/role HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "b".repeat(5000));
    let (recs, st) = after_a_head_flood(long.as_bytes());
    let real: Vec<_> = recs.iter().filter(|r| r.network.client.to_string() == CLIENT).cloned().collect();
    assert_eq!(summary(&real), [CREDS]);
    let evicted = st.http.heads_evicted;
    assert!(evicted > 0, "{:?}", st.anomalies());
    // Each evicted head had a request line: it is still reported (best effort).
    let flood = recs.iter().filter(|r| r.imds.path == "/latest/x").count() as u64;
    assert_eq!(flood, 700, "{:?}", st.anomalies());
}

#[test]
fn a_v1_answer_after_the_fin_counts_while_a_token_request_is_settled_at_the_fin() {
    // The token request of a client that gave up is settled at its FIN (the dashboard's
    // pending state ends there); an IMDSv1 request waits for its answer.
    let mut c = conv();
    c.client(PUT_TOKEN);
    c.client_fin();
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), ["token_request PUT /latest/api/token none"]);
    assert_eq!(st.abandoned, 1);
    let mut c = conv();
    c.client(GET_CREDS_V1);
    c.client_fin();
    c.server(OK_10);
    let (recs, st) = run(&c.frames);
    assert_eq!(summary(&recs), [CREDS]);
    assert_eq!(st.abandoned, 0);
}
