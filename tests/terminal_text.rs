//! Issue 12, class 4: text that reaches a terminal. A hostile User-Agent (C1 controls, line
//! separators, bidi overrides, zero-width, tag and wide characters) and a hostile file name
//! (escape sequences) go through `analyze` as JSON, as the table and on stderr.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use imdswatch::text::{is_unsafe, width};
use support::pcapfile::*;
use support::*;

/// CSI and OSC as C1, a line separator, a right-to-left override, isolates, a zero-width
/// space, tag characters, and wide characters.
const HOSTILE_UA: &str =
    "evil\u{9b}2J\u{9d}0;owned\u{9c}\u{2028}\u{2029}\u{202e}1v\u{2066}x\u{2069}\u{200b}\u{e0041}\u{e0042}日本語日本語";

fn capture(dir: &Path, name: &str) -> PathBuf {
    let mut convs = Vec::new();
    for (i, ua) in [HOSTILE_UA, "curl/8.5.0"].into_iter().enumerate() {
        let client = format!("10.0.0.{}:4000{i}", 5 + i);
        let mut c = Conv::new(&client, IMDS, 100 + i as u32, 900);
        c.now += i as u64 * 10_000;
        c.handshake();
        let get =
            format!("GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: {ua}\r\n\r\n");
        c.client(get.as_bytes());
        c.server(OK_10);
        c.client_fin();
        c.server_fin();
        convs.push(c);
    }
    let mut frames: Vec<(u64, Vec<u8>)> =
        convs.iter().flat_map(|c| c.frames.iter().map(|f| (f.ts.0, f.data.clone()))).collect();
    frames.sort_by_key(|(t, _)| *t);
    let p = dir.join(name);
    std::fs::write(&p, pcap(DLT_EN10MB, &frames, false)).expect("write capture");
    p
}

fn analyze(args: &[&str], file: &Path) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_imdswatch")).arg("analyze").args(args).arg(file).output().expect("run");
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn assert_terminal_safe(what: &str, text: &str) {
    for c in text.chars() {
        assert!(c == '\n' || !is_unsafe(c), "{what}: raw {c:?} reaches the terminal:\n{text}");
    }
}

#[test]
fn ndjson_escapes_c1_line_separators_and_format_characters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, _) = analyze(&["--format", "json"], &capture(dir.path(), "ua.pcap"));
    assert_terminal_safe("NDJSON", &out);
    assert!(out.contains("\\u009b") && out.contains("\\u2028") && out.contains("\\u202e"), "{out}");
    // Escaped, not altered: the value read back is what the client sent.
    let uas: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter_map(|v| v["imds"]["user_agent"].as_str().map(str::to_owned))
        .collect();
    assert!(uas.iter().any(|u| u == HOSTILE_UA), "{uas:?}");
}

#[test]
fn the_table_is_sanitized_and_aligned_by_display_width() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, _) = analyze(&["--format", "table"], &capture(dir.path(), "ua.pcap"));
    assert_terminal_safe("table", &out);
    let lines: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{out}");
    // The V1 column ends at the same display column on every line.
    // Counts are right-aligned: the V1 column ends where the sixth field from the right does.
    let v1_end = |l: &str| {
        let mut s = l.trim_end();
        for _ in 0..5 {
            s = s[..s.rfind(' ').expect("six count columns")].trim_end();
        }
        width(s)
    };
    let cols: Vec<usize> = lines.iter().map(|l| v1_end(l)).collect();
    assert!(cols.iter().all(|&c| c == cols[0]), "columns shifted {cols:?}:\n{out}");
}

#[test]
fn file_names_on_stderr_are_sanitized() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "x\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}.pcap";
    let good = capture(dir.path(), "ok.pcap");
    let bytes = std::fs::read(&good).expect("read");
    // Cut in the middle of a record: a warning naming the file.
    let cut = dir.path().join(name);
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).expect("write");
    let (_, err) = analyze(&["--format", "json"], &cut);
    assert!(err.contains("middle of a record"), "{err}");
    assert_terminal_safe("warning", &err);
    // Not a capture: an error naming the file.
    std::fs::write(&cut, b"not a capture at all, just text").expect("write");
    let (_, err) = analyze(&["--format", "json"], &cut);
    assert!(err.contains("owned"), "{err}");
    assert_terminal_safe("error", &err);
    // Missing.
    let (_, err) = analyze(&["--format", "json"], &dir.path().join(format!("missing-{name}")));
    assert!(err.contains("missing"), "{err}");
    assert_terminal_safe("missing file", &err);
}
