//! Hostile inputs (issue 7): each is generated here, written as a capture in a temp dir, and
//! run through the real binary under `/usr/bin/time` to measure its peak RSS. Each asserts:
//! no panic, the anomaly counted on the stderr summary line (or the one-line error), and a
//! stated memory bound.
//!
//! The bounds are for the binary as built by `cargo test` (debug). A tiny capture peaks at
//! about 4-6 MiB; the 1 MiB read buffer, the flow table (16,384 connections), the
//! out-of-order and head budgets (8 MiB each at most, far less here) come on top. Every bound
//! is far below what the unbounded alternative would take (the number given with each).

mod support;

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use support::cli::{Run, analyze_measured};
use support::pcapfile::*;
use support::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

/// Frames of conversations as `(ts, frame)` for the pcap writer.
fn frames(convs: &[&Conv]) -> Vec<(u64, Vec<u8>)> {
    let mut all: Vec<(u64, Vec<u8>)> =
        convs.iter().flat_map(|c| c.frames.iter().map(|f| (f.ts.0, f.data.clone()))).collect();
    all.sort_by_key(|(ts, _)| *ts);
    all
}

fn json_paths(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("NDJSON"))
        .filter(|v| v["type"] == "request")
        .map(|v| {
            format!(
                "{} {} {}",
                v["imds"]["version"].as_str().unwrap_or("?"),
                v["imds"]["path"].as_str().unwrap_or("?"),
                v["imds"]["outcome"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// 1,000,000 SYNs from distinct client ports and addresses, 1 µs apart, never answered.
/// Bound: 64 MiB. The table holds at most 16,384 connections, evicting the oldest eighth when
/// full; unbounded, a million connections would take several hundred MiB.
#[test]
fn a_million_half_open_syn_flows() {
    const N: u32 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("synflood.pcap");
    {
        // Written directly: a raw-IPv4 SYN template patched per packet, 56 bytes a record.
        // The decoder checks checksums (issue 12): the IPv4 one is recomputed, the TCP one
        // is the pseudo-header sum, what checksum offload leaves on the sending host (kept,
        // unverified; a 0 is dropped, issue 23).
        let client: SocketAddr = "10.0.0.1:1024".parse().expect("addr");
        let server: SocketAddr = IMDS.parse().expect("addr");
        let template = ip_tcp(client, server, 1000, SYN, b"", 64);
        let header = pcap(DLT_RAW, &[], false);
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("create"));
        w.write_all(&header).expect("write");
        let mut pkt = template.clone();
        for i in 0..N {
            let ts = 1_700_000_000_000_000u64 + u64::from(i);
            let port = 1024 + (i % 60_000) as u16;
            let host = i / 60_000;
            pkt[12..16].copy_from_slice(&[10, 1, (host >> 8) as u8, host as u8]);
            pkt[20..22].copy_from_slice(&port.to_be_bytes());
            let mut pseudo: u32 = 6 + 20;
            pseudo += pkt[12..20].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
            while pseudo > 0xffff {
                pseudo = (pseudo & 0xffff) + (pseudo >> 16);
            }
            pkt[36..38].copy_from_slice(&(pseudo as u16).to_be_bytes());
            pkt[10..12].copy_from_slice(&[0, 0]);
            let mut sum: u32 = pkt[..20].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            pkt[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
            w.write_all(&((ts / 1_000_000) as u32).to_le_bytes()).expect("write");
            w.write_all(&((ts % 1_000_000) as u32).to_le_bytes()).expect("write");
            w.write_all(&(pkt.len() as u32).to_le_bytes()).expect("write");
            w.write_all(&(pkt.len() as u32).to_le_bytes()).expect("write");
            w.write_all(&pkt).expect("write");
        }
        w.flush().expect("flush");
    }
    let run = analyze_measured(&["--format", "json"], &path);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "a SYN is not a request");
    assert!(run.summary_line().contains("1000000 packets, 1000000 IMDS packets, 0 requests"), "{}", run.stderr);
    // Everything beyond the table's capacity was evicted, and counted.
    let evicted = run.anomaly("flows_evicted");
    assert!(evicted >= u64::from(N) - 16_384 && evicted <= u64::from(N), "{}", run.stderr);
    run.assert_peak_below_mib(64, "1M half-open SYN flows");
}

/// A request head that never ends: 8 MiB of header lines with no blank line.
/// Bound: 32 MiB (a head is kept up to 16 KiB, then the stream resynchronises on the next
/// segment that starts like a request); unbounded, the head buffer would hold all 8 MiB.
#[test]
fn a_request_head_that_never_ends() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n");
    let line = format!("X-Pad: {}\r\n", "a".repeat(1390));
    for _ in 0..(8 << 20) / line.len() {
        c.client(line.as_bytes());
    }
    c.client_fin();
    c.server_fin();
    // A well-formed request afterwards, on another connection, is still seen.
    let mut d = Conv::new("10.0.0.5:40001", IMDS, 1, 1);
    d.now = c.now + 1000;
    d.handshake();
    d.client(GET_V1);
    d.server(OK_10);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "endless-head.pcap", &pcap(DLT_EN10MB, &frames(&[&c, &d]), false));
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    // Issue 12: the endless head is still reported (from a raw scan of its first 16 KiB,
    // `parse_error`), unanswered.
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/ no_response", "v1 /latest/meta-data/instance-id ok"]);
    assert!(run.stdout.lines().next().is_some_and(|l| l.contains("\"parse_error\":true")), "{}", run.stdout);
    assert_eq!(run.anomaly("http_oversize_heads"), 1, "{}", run.stderr);
    assert!(run.anomaly("http_desync_segments") > 5_000, "{}", run.stderr);
    run.assert_peak_below_mib(32, "request head that never ends");
}

/// 10,000 overlapping segments with conflicting bytes, two ways: in order, each rewriting the
/// tail of the previous one (the first copy must win), and ahead of a hole that never fills,
/// each overlapping the others (the out-of-order buffer must stay at 32 segments / 64 KiB).
/// Bound: 32 MiB.
#[test]
fn ten_thousand_overlapping_segments_with_conflicting_bytes() {
    // In order: the request, then 10,000 segments each starting 10 bytes before the end of
    // what was sent and bringing one new byte: ten conflicting bytes and a new one each.
    let mut a = Conv::new(CLIENT, IMDS, 1000, 5000);
    a.handshake();
    a.client(GET_V1);
    for i in 0..10_000u32 {
        let seq = a.cseq.wrapping_sub(10);
        let mut payload = vec![b'A' + (i % 26) as u8; 11];
        payload[10] = b'\n';
        a.frames.push(Frame {
            ts: imdswatch::time::Timestamp(a.now + u64::from(i)),
            link: imdswatch::capture::LinkType::Ethernet,
            data: eth_tcp_ack(a.client, a.server, seq, a.sseq, NONE, &payload),
        });
        a.cseq = a.cseq.wrapping_add(1);
    }
    a.now += 20_000;
    a.server(OK_10);
    // Ahead of a hole: 10,000 segments at offsets 100, 110, 120, ... each 50 bytes long.
    let mut b = Conv::new("10.0.0.6:40000", IMDS, 70_000, 9000);
    b.now = a.now + 1000;
    b.handshake();
    let base = b.cseq;
    for i in 0..10_000u32 {
        let payload = vec![b'a' + (i % 26) as u8; 50];
        b.now += 1;
        b.frames.push(Frame {
            ts: imdswatch::time::Timestamp(b.now),
            link: imdswatch::capture::LinkType::Ethernet,
            data: eth_tcp_ack(b.client, b.server, base.wrapping_add(100 + 10 * (i % 5_000)), b.sseq, NONE, &payload),
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "overlaps.pcap", &pcap(DLT_EN10MB, &frames(&[&a, &b]), false));
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    // The first copy won: the request is the one first sent, and it was answered.
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id ok"]);
    assert!(run.anomaly("tcp_overlaps") >= 9_999, "{}", run.stderr);
    assert!(run.anomaly("tcp_forced_skips") > 0, "{}", run.stderr);
    assert!(run.anomaly("tcp_gaps") > 0, "{}", run.stderr);
    run.assert_peak_below_mib(32, "10,000 overlapping conflicting segments");
}

/// A 4 GiB Content-Length (and one past u64): the body is skipped by counting, never stored.
/// Bound: 32 MiB; storing the body would take 4 GiB.
#[test]
fn a_four_gib_content_length() {
    // An answer announcing 4 GiB; the next request's answer is swallowed as its body.
    let mut a = Conv::new(CLIENT, IMDS, 1000, 5000);
    a.handshake();
    a.client(GET_V1);
    a.server(b"HTTP/1.1 200 OK\r\nContent-Length: 4294967296\r\n\r\n");
    for _ in 0..64 {
        a.server(&[b'x'; 1400]);
    }
    a.client(GET_CREDS_V1);
    a.server(OK_10);
    a.client_fin();
    a.server_fin();
    // A request announcing 4 GiB of body: the requests pipelined after it are body bytes.
    let mut b = Conv::new("10.0.0.5:40001", IMDS, 1, 1);
    b.now = a.now + 1000;
    b.handshake();
    b.client(b"PUT /latest/api/token HTTP/1.1\r\nContent-Length: 4294967296\r\n\r\n");
    b.client(GET_V1);
    b.client_fin();
    b.server_fin();
    // A Content-Length that does not fit 64 bits: a parse error, not a wrap-around.
    let mut c = Conv::new("10.0.0.5:40002", IMDS, 1, 1);
    c.now = b.now + 1000;
    c.handshake();
    c.client(GET_V1);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "4gib.pcap", &pcap(DLT_EN10MB, &frames(&[&a, &b, &c]), false));
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    assert_eq!(
        json_paths(&run),
        [
            "v1 /latest/meta-data/instance-id ok",
            "v1 /latest/meta-data/iam/security-credentials/role no_response",
            "token_request /latest/api/token no_response",
            // Its answer's head parsed (status 200); its framing did not.
            "v1 /latest/meta-data/instance-id ok",
        ]
    );
    // Both 4 GiB messages were cut short by the end of their connection; the 20-digit one
    // did not parse.
    assert_eq!(run.anomaly("http_unfinished_messages"), 2, "{}", run.stderr);
    assert_eq!(run.anomaly("http_parse_errors"), 1, "{}", run.stderr);
    run.assert_peak_below_mib(32, "4 GiB Content-Length");
}

/// A 1 MiB header line, then a normal request on its own segment.
/// Bound: 32 MiB (the head stops at 16 KiB); unbounded, 1 MiB per connection.
#[test]
fn a_one_mib_header_line() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    let mut big = b"GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: ".to_vec();
    big.extend(std::iter::repeat_n(b'u', 1 << 20));
    big.extend_from_slice(b"\r\n\r\n");
    c.client_split(&big, 1400);
    c.client(GET_V1);
    c.server(OK_10);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "1mib-line.pcap", &pcap(DLT_EN10MB, &frames(&[&c]), false));
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    // Issue 12: the oversize head is reported from a raw scan (`parse_error`) and, first in
    // the pipeline, takes the one answer.
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/ ok", "v1 /latest/meta-data/instance-id no_response"]);
    assert_eq!(run.anomaly("http_oversize_heads"), 1, "{}", run.stderr);
    assert!(run.anomaly("http_desync_segments") > 700, "{}", run.stderr);
    run.assert_peak_below_mib(32, "1 MiB header line");
}

/// 100,000 requests pipelined on one connection, ten per segment, never answered.
/// Bound: 32 MiB: 32 requests wait per connection, older ones are reported `unmatched`
/// at once; unbounded, 100,000 waiting records (~50 MiB).
#[test]
fn a_flood_of_pipelined_requests() {
    const N: usize = 100_000;
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    let ten: Vec<u8> = GET_V1.repeat(10);
    for _ in 0..N / 10 {
        c.client(&ten);
    }
    c.client_fin();
    c.server_fin();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "pipelined.pcap", &pcap(DLT_EN10MB, &frames(&[&c]), false));
    let run = analyze_measured(&["--format", "table"], &p);
    run.assert_no_panic();
    assert!(run.summary_line().contains(&format!("{N} requests (v1 {N}, v2 0, token 0)")), "{}", run.stderr);
    assert_eq!(run.anomaly("pipeline_overflow"), (N - 32) as u64, "{}", run.stderr);
    assert!(run.stdout.contains("10.0.0.5"), "{}", run.stdout);
    run.assert_peak_below_mib(32, "100,000 pipelined requests");
}

/// An IPv6 packet whose TCP segment sits behind a chain of extension headers: 1,000
/// destination-options headers (8 KB), and the same chain cut short.
/// Bound: 32 MiB.
#[test]
fn ipv6_with_a_long_extension_header_chain() {
    let client: SocketAddr = "[fd00::5]:40000".parse().expect("addr");
    let server: SocketAddr = "[fd00:ec2::254]:80".parse().expect("addr");
    let chain = |n: usize, seq: u32, f: Flags, payload: &[u8]| -> Vec<u8> {
        let plain = ip_tcp(client, server, seq, f, payload, 64);
        let tcp = &plain[40..];
        let mut ext = Vec::new();
        for i in 0..n {
            let next = if i + 1 == n { 6 } else { 60 }; // TCP after the last, else another DestOpts
            ext.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]); // PadN option, 8 bytes
        }
        let mut v = plain[..40].to_vec();
        v[6] = if n == 0 { 6 } else { 60 };
        let len = (ext.len() + tcp.len()) as u16;
        v[4..6].copy_from_slice(&len.to_be_bytes());
        v.extend(ext);
        v.extend_from_slice(tcp);
        v
    };
    let t0 = 1_700_000_000_000_000u64;
    let mut frames = vec![
        (t0, chain(1000, 100, SYN, b"")),
        (t0 + 1, chain(1000, 101, NONE, GET_V1)),
        (t0 + 2, chain(1000, 101 + GET_V1.len() as u32, FIN, b"")),
    ];
    // The same chain cut in its middle.
    let mut cut = chain(1000, 500, NONE, GET_V1);
    cut.truncate(40 + 4000);
    frames.push((t0 + 3, cut));
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "v6chain.pcap", &pcap(DLT_RAW, &frames, false));
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    // etherparse walks the whole chain: the request is found behind 1,000 headers, and the
    // cut copy is counted as truncated.
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id no_response"]);
    assert_eq!(run.anomaly("truncated_frames"), 1, "{}", run.stderr);
    run.assert_peak_below_mib(32, "IPv6 extension-header chain");
}

/// A capture whose records are bigger than its snapshot length says (read, counted).
#[test]
fn pcap_records_with_caplen_over_snaplen() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    let mut bytes = pcap(DLT_EN10MB, &frames(&[&c]), false);
    bytes[16..20].copy_from_slice(&64u32.to_le_bytes()); // snaplen 64; two records exceed it
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "oversnap.pcap", &bytes);
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0));
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id ok"]);
    assert!(run.summary_line().contains("records longer than the snapshot length: 2"), "{}", run.stderr);
    run.assert_peak_below_mib(32, "caplen > snaplen");
}

/// Record lengths near 2^32 after good records: one line naming the file, exit 1, the results
/// before it kept, and no 4 GiB allocation (bound: 32 MiB).
#[test]
fn pcap_record_lengths_near_two_to_the_32() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    let good = pcap(DLT_EN10MB, &frames(&[&c]), false);
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, caplen, origlen, tail) in [
        ("huge-caplen.pcap", u32::MAX - 15, 60u32, 100usize),
        ("huge-caplen-long.pcap", u32::MAX, u32::MAX, 2 << 20),
        ("over-buffer.pcap", (1 << 20) + 1, (1 << 20) + 1, (1 << 20) + 1),
    ] {
        let mut bytes = good.clone();
        bytes.extend(1_700_000_001u32.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(caplen.to_le_bytes());
        bytes.extend(origlen.to_le_bytes());
        bytes.extend(std::iter::repeat_n(0u8, tail));
        let p = write(dir.path(), name, &bytes);
        let run = analyze_measured(&["--format", "json"], &p);
        run.assert_no_panic();
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        let first = run.stderr.lines().next().unwrap_or("");
        assert!(first.contains(&*p.display().to_string()) && first.contains("corrupt record at byte"), "{first}");
        assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id ok"], "{name}");
        run.assert_peak_below_mib(32, name);
    }
    // A huge origlen with a sane caplen is only a claim: the record is read.
    let mut bytes = good.clone();
    let last_origlen = good.len() - OK_10.len() - 54 - 4;
    bytes[last_origlen..last_origlen + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = write(dir.path(), "huge-origlen.pcap", &bytes);
    let run = analyze_measured(&["--format", "json"], &p);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id ok"]);
}

/// A file cut in the middle of a record: the results up to there and a one-line warning; the
/// verdict says incomplete and the exit status is 1 (issue 23, class 8).
#[test]
fn pcap_file_cut_mid_record() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    let bytes = pcap(DLT_EN10MB, &frames(&[&c]), false);
    let dir = tempfile::tempdir().expect("tempdir");
    for cut in [5, 16 + 20, 16 + 54 + OK_10.len() - 1] {
        let p = write(dir.path(), &format!("cut-{cut}.pcap"), &bytes[..bytes.len() - cut]);
        let run = analyze_measured(&["--format", "json"], &p);
        run.assert_no_panic();
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id no_response"], "cut {cut}");
        let warning = run.stderr.lines().next().unwrap_or("");
        assert!(warning.contains(&*p.display().to_string()) && warning.contains("middle of a record"), "{warning}");
        run.assert_peak_below_mib(32, "file cut mid-record");
    }
}

/// pcapng with blocks of unknown types (small, and one claiming a length near 2^32).
#[test]
fn pcapng_with_unknown_block_types() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    let packets: Vec<(u32, u64, Vec<u8>)> = frames(&[&c]).into_iter().map(|(ts, f)| (0, ts, f)).collect();
    let unknown = [(0x0bad_0001u32, vec![1, 2, 3, 4]), (0x4000_1234, vec![0; 64]), (0x0bad_0002, Vec::new())];
    let bytes = pcapng(&[DLT_EN10MB], &packets, &unknown);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "unknown-blocks.pcapng", &bytes);
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id ok"]);
    assert!(run.summary_line().contains("unknown pcapng blocks skipped: 3"), "{}", run.stderr);
    run.assert_peak_below_mib(32, "pcapng unknown blocks");

    // An unknown block claiming 4 GiB - 4 bytes, followed by 2 MiB: an error line, no allocation.
    let mut huge = pcapng(&[DLT_EN10MB], &packets, &[]);
    huge.extend(0x0bad_0003u32.to_le_bytes());
    huge.extend((u32::MAX - 3).to_le_bytes());
    huge.extend(std::iter::repeat_n(0u8, 2 << 20));
    let p = write(dir.path(), "huge-block.pcapng", &huge);
    let run = analyze_measured(&["--format", "json"], &p);
    run.assert_no_panic();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or("");
    assert!(first.contains(&*p.display().to_string()), "{first}");
    assert_eq!(json_paths(&run), ["v1 /latest/meta-data/instance-id ok"]);
    run.assert_peak_below_mib(32, "pcapng block length near 2^32");
}
