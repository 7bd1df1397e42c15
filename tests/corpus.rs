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

fn corpus(name: &str) -> Option<PathBuf> {
    let base = match std::env::var_os("IMDSWATCH_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    };
    let dir = base.join(name);
    dir.is_dir().then_some(dir)
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
        eprintln!("SKIPPED tcpdump_corpus_reads_without_panic_hang_or_unexpected_error: corpus not found");
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
        let recs: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        assert_eq!(recs.len(), 1, "{field:#x}: {out}");
        assert_eq!(recs[0]["imds"]["status"], 200);
    }
}
