//! `imdswatch analyze` on capture files: every link type, pcap and pcapng, bad files,
//! output formats and exit statuses. Runs the real binary.

mod support;

use std::path::{Path, PathBuf};

use support::cli::{Run, analyze, analyze_files, imdswatch};
use support::pcapfile::*;
use support::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

fn lines_summary(o: &Run) -> Vec<String> {
    o.json()
        .iter()
        .map(|v| {
            format!(
                "{} {} {} {}",
                v["imds"]["version"].as_str().unwrap_or("?"),
                v["imds"]["method"].as_str().unwrap_or("?"),
                v["imds"]["path"].as_str().unwrap_or("?"),
                v["imds"]["status"].as_u64().map_or("none".to_owned(), |s| s.to_string())
            )
        })
        .collect()
}

/// A token request, a v2 GET and a v1 GET on one connection, as raw IP packets.
fn conversation_ip() -> Vec<(u64, Vec<u8>, bool)> {
    let mut c = Conv::new(CLIENT, IMDS, 100, 900);
    c.handshake();
    c.client(PUT_TOKEN);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    c.client(GET_V2);
    c.server(OK_10);
    c.client(GET_CREDS_V1);
    c.server(OK_10);
    // Strip the 14-byte Ethernet header back off: callers add their own link layer.
    c.frames.iter().map(|f| (f.ts.0, f.data[14..].to_vec(), f.data[0..6] == [2, 0, 0, 0, 0, 2])).collect()
}

const EXPECTED: [&str; 3] = [
    "token_request PUT /latest/api/token 200",
    "v2 GET /latest/meta-data/ 200",
    "v1 GET /latest/meta-data/iam/security-credentials/role 200",
];

fn with_link(link: u32) -> Vec<(u64, Vec<u8>)> {
    conversation_ip()
        .into_iter()
        .map(|(ts, ip, _)| {
            let v4 = ip[0] >> 4 == 4;
            let mut f = Vec::new();
            match link {
                DLT_EN10MB => {
                    f.extend([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
                    f.extend(if v4 { [0x08, 0x00] } else { [0x86, 0xdd] });
                }
                DLT_LINUX_SLL => {
                    f.extend([0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
                    f.extend(if v4 { [0x08, 0x00] } else { [0x86, 0xdd] });
                }
                DLT_LINUX_SLL2 => {
                    f.extend(if v4 { [0x08, 0x00] } else { [0x86, 0xdd] });
                    f.extend([0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
                }
                DLT_NULL => f.extend(2u32.to_le_bytes()),
                // OpenBSD loopback: the address family in network byte order (AF_INET6 is 24).
                DLT_LOOP => f.extend(if v4 { 2u32 } else { 24 }.to_be_bytes()),
                _ => {}
            }
            f.extend(ip);
            (ts, f)
        })
        .collect()
}

#[test]
fn every_link_type_gives_the_same_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, link) in [
        ("ethernet", DLT_EN10MB),
        ("sll", DLT_LINUX_SLL),
        ("sll2", DLT_LINUX_SLL2),
        ("raw", DLT_RAW),
        ("null", DLT_NULL),
        ("loop", DLT_LOOP),
    ] {
        let p = write(dir.path(), &format!("{name}.pcap"), &pcap(link, &with_link(link), false));
        let o = analyze(&["--format", "json"], &p);
        assert!(o.success(), "{name}: {}", &o.stderr);
        assert_eq!(lines_summary(&o), EXPECTED, "{name}");
    }
}

#[test]
fn vlan_and_qinq_tags_are_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, tags) in [("vlan", vec![0x8100u16]), ("qinq", vec![0x88a8, 0x8100])] {
        let frames: Vec<(u64, Vec<u8>)> = conversation_ip()
            .into_iter()
            .map(|(ts, ip, _)| {
                let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
                for t in &tags {
                    f.extend(t.to_be_bytes());
                    f.extend(100u16.to_be_bytes());
                }
                f.extend([0x08, 0x00]);
                f.extend(ip);
                (ts, f)
            })
            .collect();
        let p = write(dir.path(), &format!("{name}.pcap"), &pcap(DLT_EN10MB, &frames, false));
        let o = analyze(&["--format", "json"], &p);
        assert_eq!(lines_summary(&o), EXPECTED, "{name}");
    }
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let mut c = Conv::new("[fd00:ec2::1]:41000", "[fd00:ec2::254]:80", 7, 9);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    let frames: Vec<(u64, Vec<u8>)> = c
        .frames
        .iter()
        .map(|f| {
            let mut ip = f.data[14..].to_vec();
            // Insert a hop-by-hop options header (PadN) between IPv6 and TCP.
            let next = ip[6];
            ip[6] = 0;
            let plen = u16::from_be_bytes([ip[4], ip[5]]) + 8;
            ip[4..6].copy_from_slice(&plen.to_be_bytes());
            let ext = [next, 0, 1, 4, 0, 0, 0, 0];
            ip.splice(40..40, ext);
            (f.ts.0, ip)
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "v6ext.pcap", &pcap(DLT_RAW, &frames, false));
    let o = analyze(&["--format", "json"], &p);
    assert_eq!(lines_summary(&o), ["v1 GET /latest/meta-data/instance-id 200"]);
}

#[test]
fn pcapng_with_two_link_types_and_an_unknown_block() {
    let eth = with_link(DLT_EN10MB);
    let sll2 = with_link(DLT_LINUX_SLL2);
    // Token exchange on the Ethernet interface, the rest on the cooked one.
    let mut packets: Vec<(u32, u64, Vec<u8>)> = Vec::new();
    for (i, (ts, f)) in eth.into_iter().enumerate() {
        if i < 4 {
            packets.push((0, ts, f));
        }
    }
    for (i, (ts, f)) in sll2.into_iter().enumerate() {
        if i >= 4 {
            packets.push((1, ts, f));
        }
    }
    let bytes = pcapng(&[DLT_EN10MB, DLT_LINUX_SLL2], &packets, &[(0x0bad_0001, vec![1, 2, 3, 4])]);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "mixed.pcapng", &bytes);
    let o = analyze(&["--format", "json"], &p);
    assert!(o.success(), "{}", &o.stderr);
    assert_eq!(lines_summary(&o), EXPECTED);
}

#[test]
fn timestamps_are_rfc3339_with_microseconds_from_the_packet() {
    let dir = tempfile::tempdir().expect("tempdir");
    for nanos in [false, true] {
        let p = write(dir.path(), "ts.pcap", &pcap(DLT_RAW, &with_link(DLT_RAW), nanos));
        let o = analyze(&["--format", "json"], &p);
        let v = o.json();
        // Conv starts at 1_700_000_000 s; the PUT completes in the third frame (+300 µs).
        assert_eq!(v[0]["timestamp"], "2023-11-14T22:13:20.000300Z", "nanos={nanos}");
    }
}

#[test]
fn json_schema_has_every_required_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "c.pcap", &pcap(DLT_RAW, &with_link(DLT_RAW), false));
    let o = analyze(&["--format", "json"], &p);
    let v = o.json();
    let token = &v[0];
    assert_eq!(token["imds"]["version"], "token_request");
    assert_eq!(token["imds"]["method"], "PUT");
    assert_eq!(token["imds"]["status"], 200);
    assert_eq!(token["imds"]["outcome"], "ok");
    assert_eq!(token["imds"]["credentials"], false);
    assert_eq!(token["imds"]["token_ttl_seconds"], 21600);
    assert!(token["imds"]["user_agent"].is_null());
    assert_eq!(token["network"]["client"], "10.0.0.5:40000");
    assert_eq!(token["network"]["server"], "169.254.169.254:80");
    let creds = &v[2];
    assert_eq!(creds["imds"]["version"], "v1");
    assert_eq!(creds["imds"]["credentials"], true);
    assert!(creds["imds"]["token_ttl_seconds"].is_null());
    // Offline records carry no live-mode fields.
    assert!(creds.get("process").is_none() && creds.get("host").is_none());
    // Token values never appear.
    assert!(!&o.stdout.contains("SECRET-TOKEN"));
}

#[test]
fn table_counts_per_client_and_gives_a_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "c.pcap", &pcap(DLT_RAW, &with_link(DLT_RAW), false));
    let o = analyze(&["--format", "table"], &p);
    let text = &o.stdout;
    let row = text.lines().find(|l| l.starts_with("10.0.0.5")).expect("a row for the client");
    let cols: Vec<&str> = row.split_whitespace().collect();
    // CLIENT UA(-) V1 V2 TOKEN CREDS-V1 REJECTED UNANSWERED VERDICT
    assert_eq!(cols, ["10.0.0.5", "-", "1", "1", "1", "1", "0", "0", "falls_back"]);
    assert!(text.contains("1 client would break: 10.0.0.5 - (falls_back)."), "{text}");
    assert!(text.contains("Not safe to enforce IMDSv2 on this host yet"), "{text}");
}

#[test]
fn fail_on_v1_exits_3_and_only_then() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "c.pcap", &pcap(DLT_RAW, &with_link(DLT_RAW), false));
    assert_eq!(analyze(&["--format", "json", "--fail-on-v1"], &p).code, Some(3));
    assert_eq!(analyze(&["--format", "json"], &p).code, Some(0));
    // Only the token exchange and the v2 GET: no v1, exit 0 even with the flag.
    let frames: Vec<(u64, Vec<u8>)> = with_link(DLT_RAW).into_iter().take(6).collect();
    let p2 = write(dir.path(), "v2only.pcap", &pcap(DLT_RAW, &frames, false));
    let o = analyze(&["--format", "json", "--fail-on-v1"], &p2);
    assert_eq!(o.code, Some(0), "{:?}", lines_summary(&o));
}

#[test]
fn endpoint_option_replaces_the_defaults() {
    let mut c = Conv::new("127.0.0.1:50000", "127.0.0.1:1338", 1, 2);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    let frames: Vec<(u64, Vec<u8>)> = c.frames.iter().map(|f| (f.ts.0, f.data.clone())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "lo.pcap", &pcap(DLT_EN10MB, &frames, false));
    assert!(lines_summary(&analyze(&["--format", "json"], &p)).is_empty());
    let o = analyze(&["--format", "json", "--endpoint", "127.0.0.1:1338"], &p);
    assert_eq!(lines_summary(&o), ["v1 GET /latest/meta-data/instance-id 200"]);
    let bad = analyze(&["--endpoint", "localhost"], &p);
    assert_eq!(bad.code, Some(2));
    assert!(bad.stderr.contains("invalid --endpoint 'localhost'"));
}

#[test]
fn fragments_and_truncated_frames_are_counted_and_skipped() {
    let mut frames = with_link(DLT_RAW);
    // A fragment (MF set) and a frame cut inside its TCP header.
    let mut frag = frames[2].1.clone();
    frag[6] |= 0x20;
    ipv4_fix_checksum(&mut frag); // issue 12: a wrong header checksum is dropped as such
    let cut = frames[4].1[..30].to_vec();
    frames.push((frames[7].0 + 1, frag));
    frames.push((frames[7].0 + 2, cut));
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "odd.pcap", &pcap(DLT_RAW, &frames, false));
    let o = analyze(&["--format", "json"], &p);
    assert!(o.success());
    assert_eq!(lines_summary(&o), EXPECTED);
    let err = &o.stderr;
    assert!(err.contains("ip_fragments=1"), "{err}");
    assert!(err.contains("truncated_frames=1"), "{err}");
}

#[test]
fn file_cut_mid_record_keeps_results_and_warns() {
    let bytes = pcap(DLT_RAW, &with_link(DLT_RAW), false);
    let dir = tempfile::tempdir().expect("tempdir");
    // Cut inside the last record (the credentials answer).
    let p = write(dir.path(), "cut.pcap", &bytes[..bytes.len() - 5]);
    let o = analyze(&["--format", "json"], &p);
    // Incomplete: never a clean exit (issue 23, class 8).
    assert_eq!(o.code, Some(1));
    assert_eq!(
        lines_summary(&o),
        [EXPECTED[0], EXPECTED[1], "v1 GET /latest/meta-data/iam/security-credentials/role none"]
    );
    let err = &o.stderr;
    assert!(err.contains("cut.pcap") && err.contains("middle of a record"), "{err}");
}

#[test]
fn bad_files_get_one_line_naming_them_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = write(dir.path(), "notes.txt", b"this is not a capture file\n");
    let mut unknown = pcap(DLT_RAW, &with_link(DLT_RAW), false);
    unknown[20..24].copy_from_slice(&147u32.to_le_bytes());
    let unknown = write(dir.path(), "user0.pcap", &unknown);
    let empty = write(dir.path(), "empty.pcap", b"");
    let missing = dir.path().join("missing.pcap");
    for (p, what) in [
        (&text, "not a pcap or pcapng"),
        (&unknown, "unsupported link type 147"),
        (&empty, "not a pcap or pcapng"),
        (&missing, "cannot open"),
    ] {
        let o = analyze(&["--format", "json"], p);
        let err = &o.stderr;
        assert_eq!(o.code, Some(1), "{}: {err}", p.display());
        let first = err.lines().next().unwrap_or("");
        assert!(first.contains(&*p.display().to_string()) && first.contains(what), "{first}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn a_bad_file_does_not_stop_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(dir.path(), "good.pcap", &pcap(DLT_RAW, &with_link(DLT_RAW), false));
    let bad = write(dir.path(), "bad.pcap", b"garbage garbage garbage garbage");
    let o = analyze_files(&["--format", "json"], &[&bad, &good]);
    assert_eq!(o.code, Some(1));
    assert_eq!(lines_summary(&o), EXPECTED);
}

#[test]
fn stdout_closed_early_exits_quietly() {
    // Enough records to overflow a pipe: every bundled capture, forty times over.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    let mut cmd = imdswatch();
    cmd.args(["analyze", "--format", "json"]);
    for _ in 0..40 {
        cmd.args(&files);
    }
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("run");
    let mut out = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut out, &mut first).expect("some output");
    drop(out); // `| head -c 64`
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked") && !err.to_lowercase().contains("broken pipe"), "{err}");
}

/// Recomputes an IPv4 header checksum after a test edited the header.
fn ipv4_fix_checksum(ip: &mut [u8]) {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    ip[10..12].copy_from_slice(&[0, 0]);
    let mut sum: u32 = ip[..hl].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}
