//! Peer corpora (issue 12): tcpdump's own test captures as a robustness corpus, and Zeek's
//! HTTP test traces with the `http.log` Zeek expects, as a peer to agree with.
//!
//! The corpora live beside the repository (`<repo>/../shared/corpus/`, read-only in CI);
//! `IMDSWATCH_CORPUS` names another place. Absent: the tests print `SKIPPED` and pass.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::pcapfile::pcap;
use support::*;

fn corpus_base() -> PathBuf {
    match std::env::var_os("IMDSWATCH_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

fn corpus(name: &str) -> Option<PathBuf> {
    let dir = corpus_base().join(name);
    dir.is_dir().then_some(dir)
}

/// Where the corpus comes from, for the skip line: what to fetch, and where to put it.
fn how_to_get(name: &str) -> String {
    let origin = match name {
        "tcpdump-tests" => "the *.pcap/*.pcapng of the-tcpdump-group/tcpdump tests/ (commit 39b50f76)",
        _ => "zeek/zeek testing/btest/Traces/http/ and the http.log baselines, with index.tsv (commit a13de64f)",
    };
    format!(
        "corpus not found: {} does not exist. Get {origin} there (docs/testing.md, \"Peer corpora\", has the \
         commands), or point IMDSWATCH_CORPUS at a directory holding {name}/",
        corpus_base().join(name).display()
    )
}

/// Runs `analyze` on one file with an address-space limit and a deadline. Returns
/// (exit code, stdout, stderr); a timeout or a signal fails the test.
fn analyze(file: &Path, extra: &[String], limit_kib: u64, deadline: Duration) -> (i32, String, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {limit_kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_imdswatch"))
        .args(["analyze", "--format", "json"])
        .args(extra)
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run imdswatch");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: still running after {deadline:?} (a hang)", file.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = String::from_utf8_lossy(&reader.join().expect("stdout reader")).into_owned();
    let err = String::from_utf8_lossy(&ereader.join().expect("stderr reader")).into_owned();
    let Some(code) = status.code() else {
        panic!("{}: killed by a signal ({status}); stderr: {err}", file.display());
    };
    (code, out, err)
}

/// Link types imdswatch decodes (capture::LinkType::from_dlt).
const DECODED: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// Every capture of tcpdump's test suite: no panic, no hang, at most 512 MiB of address
/// space, and an error only for a link type imdswatch does not decode (after masking the
/// FCS bits of the pcap link-type field, as libpcap does).
#[test]
fn tcpdump_corpus_reads_without_panic_hang_or_unexpected_error() {
    let Some(dir) = corpus("tcpdump-tests") else {
        eprintln!(
            "SKIPPED tcpdump_corpus_reads_without_panic_hang_or_unexpected_error: {}",
            how_to_get("tcpdump-tests")
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() > 800, "corpus holds {} captures", files.len());
    let start = Instant::now();
    let (mut ok, mut refused) = (0, 0);
    for f in &files {
        let (code, _out, err) = analyze(f, &[], 512 * 1024, Duration::from_secs(20));
        assert!(!err.contains("panicked"), "{}: {err}", f.display());
        match code {
            0 => ok += 1,
            1 => {
                let lines: Vec<&str> = err.lines().filter(|l| !l.contains("file(s),")).collect();
                assert_eq!(lines.len(), 1, "{}: {err}", f.display());
                let dlt = lines[0]
                    .split("unsupported link type ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or_else(|| panic!("{}: unexpected error: {err}", f.display()));
                assert!(dlt <= 0x03FF_FFFF && !DECODED.contains(&dlt), "{}: {err}", f.display());
                refused += 1;
            }
            c => panic!("{}: exit status {c}: {err}", f.display()),
        }
    }
    eprintln!(
        "tcpdump corpus: {} files, {ok} read, {refused} refused (undecoded link type), {:.1} s",
        files.len(),
        start.elapsed().as_secs_f64()
    );
}

/// A pcap whose link-type field carries FCS bits: 0x30000001 (FCS length without the P bit:
/// ignored) and 0x24000001 (P bit, 2 words = 4 bytes of FCS after every frame) both read as
/// Ethernet; the 4 FCS bytes are cut off the frame before decoding.
#[test]
fn pcap_link_type_field_fcs_bits_are_masked() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    let dir = tempfile::tempdir().expect("tempdir");
    for (field, fcs) in [(0x3000_0001u32, 0usize), (0x2400_0001, 4)] {
        let frames: Vec<(u64, Vec<u8>)> = c
            .frames
            .iter()
            .map(|f| {
                let mut d = f.data.clone();
                d.extend(std::iter::repeat_n(0xEEu8, fcs));
                (f.ts.0, d)
            })
            .collect();
        let path = dir.path().join(format!("fcs-{field:x}.pcap"));
        std::fs::write(&path, pcap(field, &frames, false)).expect("write");
        let (code, out, err) = analyze(&path, &[], 1 << 20, Duration::from_secs(20));
        assert_eq!(code, 0, "{field:#x}: {err}");
        let recs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .filter(|r| r["type"] == "request")
            .collect();
        assert_eq!(recs.len(), 1, "{field:#x}: {out}");
        assert_eq!(recs[0]["imds"]["status"], 200);
    }
}

/// One logged request: (method, URI, status) with Zeek's conventions (`-` for none).
type Row = (String, String, String);

/// Zeek's `http.log` rows of one baseline (with Zeek's HTTP version of each), and the
/// servers they went to.
fn zeek_rows(log: &str) -> (Vec<(Row, String)>, BTreeSet<String>) {
    let mut fields: Vec<&str> = Vec::new();
    let mut rows = Vec::new();
    let mut servers = BTreeSet::new();
    for line in log.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| fields.iter().position(|f| *f == name).and_then(|i| cols.get(i)).copied();
        let (Some(h), Some(p)) = (get("id.resp_h"), get("id.resp_p")) else { continue };
        servers.insert(if h.contains(':') { format!("[{h}]:{p}") } else { format!("{h}:{p}") });
        let status = match get("status_code").unwrap_or("-") {
            "0" => "-",
            s => s,
        };
        let uri = match get("uri").unwrap_or("-") {
            "(empty)" => "",
            u => u,
        };
        let uri = if uri == "-" { uri.to_owned() } else { query_blind(&imdswatch::secret::text(uri)) };
        let row = (get("method").unwrap_or("-").to_owned(), uri, status.to_owned());
        rows.push((row, get("version").unwrap_or("-").to_owned()));
    }
    (rows, servers)
}

/// imdswatch redacts every query-string value in the paths it reports (issue 12, class 5),
/// on the raw target, while Zeek logs the URI decoded: the two are compared up to the `?`,
/// and on whether a query is there.
fn query_blind(uri: &str) -> String {
    match uri.split_once('?') {
        Some((path, _)) => format!("{path}?(query)"),
        None => uri.to_owned(),
    }
}

/// Percent-decodes as Zeek logs URIs (invalid escapes stay as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Our records as rows comparable with Zeek's, with their `parse_error` flag.
fn our_rows(ndjson: &str) -> Vec<(Row, bool)> {
    ndjson
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| v.get("imds").is_some())
        .map(|v| {
            let m = v["imds"]["method"].as_str().unwrap_or("-");
            let p = v["imds"]["path"].as_str().unwrap_or("-");
            let s = v["imds"]["status"].as_u64().map_or("-".to_owned(), |s| s.to_string());
            let raw = v["imds"]["parse_error"].as_bool() == Some(true);
            let row = if m.is_empty() {
                // The raw scan found no method token: Zeek logs such a request `- -`.
                ("-".to_owned(), "-".to_owned(), s)
            } else {
                (m.to_owned(), query_blind(&percent_decode(p)), s)
            };
            (row, raw)
        })
        .collect()
}

/// How a Zeek row was met.
#[derive(Debug, Default)]
struct Tally {
    zeek: usize,
    identical: usize,
    /// Zeek rows with a method (the 70 of issue 12), and how many of them are identical.
    named: usize,
    named_identical: usize,
    /// Disagreements on purpose (each explained where it is counted).
    on_purpose: Vec<String>,
    misses: Vec<String>,
    ours_only: Vec<String>,
}

/// Compares one trace's rows; see [`zeek_http_corpus_agreement`] for the rules.
fn compare(test: &str, zeek: Vec<(Row, String)>, mut ours: Vec<(Row, bool)>, t: &mut Tally) {
    let mut left = Vec::new();
    for (row, version) in zeek {
        if row == ("-".into(), "-".into(), "-".into()) {
            continue; // an empty transaction Zeek opens after an HTTP/0.9 exchange: no request, no answer
        }
        t.zeek += 1;
        let named = row.0 != "-";
        t.named += usize::from(named);
        match ours.iter().position(|(o, _)| *o == row) {
            Some(i) => {
                ours.remove(i);
                t.identical += 1;
                t.named_identical += usize::from(named);
            }
            None => left.push((row, version)),
        }
    }
    for (row, version) in left {
        let (m, u, s) = &row;
        // Zeek took a two-word request line for HTTP/0.9 and then the server's status line
        // for body; imdswatch reads the status line the server did send.
        let as_09 = ours.iter().position(|((om, ou, os), _)| om == m && ou == u && os != "-");
        // Zeek logs a line without a method token followed by a space as `-`; imdswatch
        // reports what its raw scan found (the first word) and marks it parse_error.
        let no_token = ours.iter().position(|((_, _, os), raw)| *raw && os == s);
        if version == "0.9" && s == "-" && as_09.is_some() {
            let (o, _) = ours.remove(as_09.unwrap_or_default());
            t.on_purpose.push(format!("{test}: zeek {row:?} (as HTTP/0.9), ours {o:?}"));
        } else if m == "-" && s != "-" && no_token.is_some() {
            let (o, _) = ours.remove(no_token.unwrap_or_default());
            t.on_purpose.push(format!("{test}: zeek {row:?}, ours {o:?}"));
        } else if m == "-" && test == "http-desynched" {
            // An answer with no request before it: a response is not a request. imdswatch
            // counts it (unsolicited_responses) instead of inventing a request.
            t.on_purpose.push(format!("{test}: zeek {row:?}, ours: counted as unsolicited_responses"));
        } else {
            t.misses.push(format!("{test}: zeek {row:?}"));
        }
    }
    // Requests Zeek does not log (HTTP/0.9 lines the server answered without a status line,
    // cruft the server answered with 400): reported, because a server answered them.
    t.ours_only.extend(ours.into_iter().map(|(o, _)| format!("{test}: {o:?}")));
}

/// Zeek's HTTP test traces: every request Zeek logs, imdswatch must report with the same
/// method, percent-decoded URI and status, except where [`compare`] says why it disagrees.
/// Before issue 12: 47 of Zeek's 70 requests with a method identical.
#[test]
fn zeek_http_corpus_agreement() {
    let Some(dir) = corpus("zeek-http") else {
        eprintln!("SKIPPED zeek_http_corpus_agreement: {}", how_to_get("zeek-http"));
        return;
    };
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("index.tsv");
    let mut t = Tally::default();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [test, trace, baseline] = cols[..] else { continue };
        let log = std::fs::read_to_string(dir.join(baseline)).expect("baseline");
        let (rows, servers) = zeek_rows(&log);
        if rows.is_empty() {
            continue;
        }
        // Zeek keeps a connection for minutes; imdswatch closes one idle for 10 s (IMDS answers
        // in milliseconds). bad-content-range pauses 20 s inside its answer: compare with a
        // timeout as patient as Zeek's.
        let mut args: Vec<String> = servers.iter().flat_map(|s| ["--endpoint".to_owned(), s.clone()]).collect();
        args.extend(["--flow-timeout".to_owned(), "300".to_owned()]);
        let (code, out, err) = analyze(&dir.join(trace), &args, 1 << 20, Duration::from_secs(20));
        assert_eq!(code, 0, "{test}: {err}");
        compare(test, rows, our_rows(&out), &mut t);
    }
    eprintln!(
        "zeek http corpus: {} of {} requests identical ({} of the {} with a method), {} differ on purpose, {} missed; {} reported by imdswatch only",
        t.identical,
        t.zeek,
        t.named_identical,
        t.named,
        t.on_purpose.len(),
        t.misses.len(),
        t.ours_only.len()
    );
    for (kind, list) in [("on purpose", &t.on_purpose), ("MISSED", &t.misses), ("ours only", &t.ours_only)] {
        for m in list {
            eprintln!("  {kind}: {m}");
        }
    }
    assert!(t.misses.is_empty(), "requests Zeek logs that imdswatch does not report: {:#?}", t.misses);
    assert_eq!(t.identical + t.on_purpose.len(), t.zeek);
}
