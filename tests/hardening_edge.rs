//! Issue 23, hardening round 3: the classes at the edges of the packet path.
//! - class 1: another cloud's header on an AWS request: the path and the server's answer
//!   decide (synthetic captures through the real binary);
//! - class 8 (files): pcapng binary timestamp resolution, a capture cut short.
//!
//! Each test fails on the code before the fix (see the comment of each).

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::cli::{Run, analyze};
use support::pcapfile::*;
use support::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

fn frames(convs: &[&Conv]) -> Vec<(u64, Vec<u8>)> {
    let mut all: Vec<(u64, Vec<u8>)> =
        convs.iter().flat_map(|c| c.frames.iter().map(|f| (f.ts.0, f.data.clone()))).collect();
    all.sort_by_key(|(ts, _)| *ts);
    all
}

/// One conversation per (request, answer), each from its own client port.
fn capture(dir: &Path, name: &str, exchanges: &[(&[u8], &[u8])]) -> PathBuf {
    let convs: Vec<Conv> = exchanges
        .iter()
        .enumerate()
        .map(|(i, (req, answer))| {
            let mut c = Conv::new(&format!("10.0.0.5:{}", 41000 + i), IMDS, 1000, 5000);
            c.wait(i as u64 * 10_000);
            c.handshake();
            c.client(req);
            c.server(answer);
            c
        })
        .collect();
    let refs: Vec<&Conv> = convs.iter().collect();
    write(dir, name, &pcap(DLT_EN10MB, &frames(&refs), false))
}

fn verdict(run: &Run) -> Value {
    run.all_json().into_iter().find(|v| v["type"] == "verdict").expect("a verdict record")
}

const CREDS: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n{\"Code\":\"Success\"}\r\n";
const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

/// Issue 23, class 1 (before: `version: null`, service azure/gcp/ibm/oci or `v2
/// alibaba_imds`, `credentials: false`, verdict `probe_only`, `safe_to_enforce: true`).
#[test]
fn class1_another_clouds_header_on_a_served_aws_credentials_fetch_is_aws_v1() {
    let dir = tempfile::tempdir().expect("tempdir");
    for header in [
        "Metadata: true",
        "Metadata-Flavor: Google",
        "Metadata-Flavor: ibm",
        "Authorization: Bearer Oracle",
        "X-aliyun-ecs-metadata-token: x",
        "Metadata: true\r\nMetadata-Flavor: Google",
    ] {
        let req = format!(
            "GET /latest/meta-data/iam/security-credentials/ROLE HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: sneaky/1\r\n{header}\r\n\r\n"
        );
        let p = capture(dir.path(), "c1.pcap", &[(req.as_bytes(), CREDS)]);
        let run = analyze(&["--format", "json", "--fail-on-v1"], &p);
        let recs = run.json();
        assert_eq!(recs.len(), 1, "{header}: {}", run.stdout);
        let imds = &recs[0]["imds"];
        assert_eq!(imds["version"], "v1", "{header}: {imds}");
        assert_eq!(imds["service"], "ec2_imds", "{header}: {imds}");
        assert_eq!(imds["provider"], "aws", "{header}: {imds}");
        assert_eq!(imds["credentials"], true, "{header}: {imds}");
        assert_eq!(imds["breaks_when_enforced"], true, "{header}: {imds}");
        let v = verdict(&run);
        assert_eq!(v["safe_to_enforce"], false, "{header}: {v}");
        assert_eq!(v["clients"][0]["verdict"], "breaks", "{header}: {v}");
        assert_eq!(run.code, Some(3), "{header}: --fail-on-v1 exits 3: {}", run.stderr);
        // The table says so too.
        let table = analyze(&["--format", "table"], &p);
        assert!(table.stdout.contains("1 client would break"), "{header}: {}", table.stdout);
        assert!(!table.stdout.contains("Safe to enforce"), "{header}: {}", table.stdout);
    }
}

/// The same header on a token request served 200 is AWS's token request; with the AWS token
/// header it is v2.
#[test]
fn class1_served_aws_token_request_and_v2_keep_their_aws_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = b"PUT /latest/api/token HTTP/1.1\r\nMetadata: true\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
    let v2 = b"GET /latest/meta-data/iam/security-credentials/r HTTP/1.1\r\nMetadata-Flavor: Google\r\nX-aws-ec2-metadata-token: t\r\n\r\n";
    let p = capture(dir.path(), "c1t.pcap", &[(token, OK_10), (v2, CREDS)]);
    let run = analyze(&["--format", "json"], &p);
    let got: Vec<(String, String, u64)> = run
        .json()
        .iter()
        .map(|r| {
            let i = &r["imds"];
            (
                i["version"].as_str().unwrap_or("null").to_owned(),
                i["service"].as_str().unwrap_or("?").to_owned(),
                i["token_ttl_seconds"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("token_request".into(), "ec2_imds".into(), 60), ("v2".into(), "ec2_imds".into(), 0)],
        "{}",
        run.stdout
    );
    assert_eq!(verdict(&run)["safe_to_enforce"], true);
}

/// Real other-cloud probes stay probes: their own paths (whatever the answer), and an AWS path
/// with their header that the server refused (404).
#[test]
fn class1_real_other_cloud_probes_stay_probes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    let p = capture(
        dir.path(),
        "probes.pcap",
        &[
            (b"GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n", ok),
            (b"GET /computeMetadata/v1/instance/id HTTP/1.1\r\nMetadata-Flavor: Google\r\n\r\n", ok),
            (b"GET /opc/v2/instance/ HTTP/1.1\r\nAuthorization: Bearer Oracle\r\n\r\n", NOT_FOUND),
            (b"GET /latest/meta-data/iam/security-credentials/r HTTP/1.1\r\nMetadata: true\r\n\r\n", NOT_FOUND),
            (b"GET /latest/meta-data/ HTTP/1.1\r\nMetadata-Flavor: Google\r\n\r\n", NOT_FOUND),
        ],
    );
    let run = analyze(&["--format", "json", "--fail-on-v1"], &p);
    let recs = run.json();
    let services: Vec<&str> = recs.iter().map(|r| r["imds"]["service"].as_str().unwrap_or("?")).collect();
    assert_eq!(services, ["azure_imds", "gcp_metadata", "oci_imds", "azure_imds", "gcp_metadata"], "{}", run.stdout);
    assert!(recs.iter().all(|r| r["imds"]["version"] != "v1"), "{}", run.stdout);
    assert_eq!(verdict(&run)["safe_to_enforce"], true);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

/// A pcapng section with one Ethernet interface whose `if_tsresol` is `tsresol`, and packets
/// given in that interface's units.
fn pcapng_tsresol(tsresol: u8, packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        let mut v = Vec::new();
        v.extend(kind.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend(body);
        v.extend(std::iter::repeat_n(0u8, pad));
        v.extend(len.to_le_bytes());
        v
    }
    let mut v = Vec::new();
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    v.extend(block(0x0a0d_0d0a, &shb));
    let mut idb = Vec::new();
    idb.extend((DLT_EN10MB as u16).to_le_bytes());
    idb.extend(0u16.to_le_bytes());
    idb.extend(262_144u32.to_le_bytes());
    // if_tsresol (code 9, length 1, padded to 4), then opt_endofopt.
    idb.extend(9u16.to_le_bytes());
    idb.extend(1u16.to_le_bytes());
    idb.extend([tsresol, 0, 0, 0]);
    idb.extend([0, 0, 0, 0]);
    v.extend(block(1, &idb));
    for (ts, data) in packets {
        let mut epb = Vec::new();
        epb.extend(0u32.to_le_bytes());
        epb.extend(((ts >> 32) as u32).to_le_bytes());
        epb.extend((*ts as u32).to_le_bytes());
        epb.extend((data.len() as u32).to_le_bytes());
        epb.extend((data.len() as u32).to_le_bytes());
        epb.extend(data);
        v.extend(block(6, &epb));
    }
    v
}

/// Issue 23, class 8: `if_tsresol` with the top bit set is 2^-n s (before: read as
/// microseconds, the request of 2023-11-14 landed in 2024-05 and its timing was stretched).
#[test]
fn class8_pcapng_binary_time_resolution() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.wait(250_000);
    c.server(OK_10);
    // Conv's clock is in microseconds since the epoch (2023-11-14T22:13:20Z).
    let to_units = |us: u64, bits: u32| ((us as u128) * (1u128 << bits) / 1_000_000) as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    for bits in [20u32, 30, 10] {
        let packets: Vec<(u64, Vec<u8>)> = c.frames.iter().map(|f| (to_units(f.ts.0, bits), f.data.clone())).collect();
        let p = write(dir.path(), &format!("bin{bits}.pcapng"), &pcapng_tsresol(0x80 | bits as u8, &packets));
        let run = analyze(&["--format", "json"], &p);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let recs = run.json();
        assert_eq!(recs.len(), 1, "{}", run.stdout);
        let ts = recs[0]["timestamp"].as_str().unwrap_or("");
        assert!(ts.starts_with("2023-11-14T22:13:20."), "2^-{bits}: {ts}");
        assert_eq!(recs[0]["imds"]["outcome"], "ok");
        let ms = recs[0]["imds"]["response_ms"].as_f64().unwrap_or(0.0);
        assert!((250.0..250.3).contains(&ms), "2^-{bits}: response_ms {ms}");
    }
    // Decimal resolutions still read as before (10^-9: nanoseconds).
    let packets: Vec<(u64, Vec<u8>)> = c.frames.iter().map(|f| (f.ts.0 * 1000, f.data.clone())).collect();
    let p = write(dir.path(), "nanos.pcapng", &pcapng_tsresol(9, &packets));
    let run = analyze(&["--format", "json"], &p);
    let ts = run.json()[0]["timestamp"].as_str().unwrap_or("").to_owned();
    assert!(ts.starts_with("2023-11-14T22:13:20."), "{ts}");
}

/// Issue 23, class 8: a capture cut mid-record is never called safe (before: "Safe to enforce
/// IMDSv2 ... as far as this capture shows", exit 0). The warning stays; the closing line
/// says the capture is incomplete, the verdict record says `incomplete` and not safe, and the
/// exit status is 1.
#[test]
fn class8_a_truncated_capture_is_incomplete_never_safe() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V2);
    c.server(OK_10);
    c.client(GET_V1);
    c.server(OK_10);
    let bytes = pcap(DLT_EN10MB, &frames(&[&c]), false);
    let dir = tempfile::tempdir().expect("tempdir");
    // Cut inside the v1 request: what was read is v2 only.
    let v1_at = bytes.windows(GET_V1.len()).position(|w| w == GET_V1).expect("v1 in file");
    let p = write(dir.path(), "cut.pcap", &bytes[..v1_at + 10]);
    let table = analyze(&["--format", "table"], &p);
    assert!(table.stderr.contains("middle of a record"), "{}", table.stderr);
    assert!(!table.stdout.contains("Safe to enforce"), "{}", table.stdout);
    assert!(table.stdout.contains("Incomplete capture"), "{}", table.stdout);
    assert_eq!(table.code, Some(1), "{}", table.stderr);
    let json = analyze(&["--format", "json"], &p);
    assert_eq!(json.code, Some(1), "{}", json.stderr);
    let v = verdict(&json);
    assert_eq!((v["safe_to_enforce"].clone(), v["incomplete"].clone()), (false.into(), true.into()), "{v}");
    // The whole file: safe, exit 0, no "incomplete" field.
    let whole = write(dir.path(), "whole-v2.pcap", &bytes[..v1_at - 54 - 16]);
    let run = analyze(&["--format", "json"], &whole);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v = verdict(&run);
    assert_eq!(v["safe_to_enforce"], true, "{v}");
    assert!(v.get("incomplete").is_none(), "{v}");
}

/// Issue 23, class 7: ten connections that each trickle a byte every 1.9 s made every scrape
/// fail (a deadline per read, two workers). Scrapes are now answered while they trickle, each
/// trickler is closed at the head deadline, and the counters keep counting.
#[test]
fn class7_metrics_scrapes_are_served_while_slow_clients_trickle() {
    use imdswatch::sink::metrics::Metrics;
    use imdswatch::sink::metrics_http::{HEAD_DEADLINE, bind, serve};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    let m = Arc::new(Metrics::new());
    let addr = serve(bind("127.0.0.1:0".parse().expect("addr")).expect("bind"), m.clone()).expect("serve");
    let stop = Arc::new(AtomicBool::new(false));
    let cut_off = Arc::new(AtomicU32::new(0));
    let trickle: Vec<_> = (0..10)
        .map(|_| {
            let (stop, cut_off) = (stop.clone(), cut_off.clone());
            std::thread::spawn(move || {
                // Each reconnects when closed, as the attack did.
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = TcpStream::connect(addr) else { return };
                    let opened = Instant::now();
                    for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" {
                        if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(1900));
                        // Closed by the server: a read gives EOF at once.
                        let _ = s.set_nonblocking(true);
                        if matches!(s.read(&mut [0u8; 64]), Ok(0)) {
                            assert!(opened.elapsed() < HEAD_DEADLINE + Duration::from_secs(2));
                            cut_off.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        let _ = s.set_nonblocking(false);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut answered = 0;
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(6) {
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: prometheus\r\n\r\n").expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 200"), "scrape {answered} failed after {:?}: {out:?}", t.elapsed());
        assert!(out.contains("imdswatch_enforcement_ready"), "{out}");
        assert!(t.elapsed() < Duration::from_secs(1), "scrape took {:?}", t.elapsed());
        slowest = slowest.max(t.elapsed());
        answered += 1;
        std::thread::sleep(Duration::from_millis(400));
    }
    stop.store(true, Ordering::Relaxed);
    for t in trickle {
        let _ = t.join();
    }
    eprintln!(
        "MEASURED metrics under 10 trickling clients: {answered} scrapes answered 200, slowest {slowest:?}; {} trickling connections closed at the head deadline",
        cut_off.load(Ordering::Relaxed)
    );
    assert!(answered >= 10, "{answered}");
    assert!(cut_off.load(Ordering::Relaxed) >= 10, "every trickler is closed at the head deadline");
}
