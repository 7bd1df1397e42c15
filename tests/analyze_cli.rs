//! What a newcomer trips over with `analyze`: a directory, a compressed capture, `--tui`
//! without a terminal, a bad `--endpoint`, plurals, statistics after failed files, and a
//! capture whose HTTP traffic goes to another address.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn analyze(args: &[&str]) -> (Output, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .current_dir(root())
        .arg("analyze")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run imdswatch");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, err)
}

fn gzip(src: &Path, dst: &Path) {
    let mut e = flate2::write::GzEncoder::new(std::fs::File::create(dst).expect("create"), flate2::Compression::fast());
    e.write_all(&std::fs::read(src).expect("read")).expect("compress");
    e.finish().expect("finish");
}

#[test]
fn a_directory_is_named_as_one() {
    let (o, err) = analyze(&["-f", "json", "captures"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("captures: is a directory") && err.contains("captures/*.pcap"), "{err}");
    assert!(!err.contains("read error"), "{err}");
    assert!(!err.contains(" packets, "), "no statistics line after a file that failed: {err}");
}

#[test]
fn gzip_is_read_transparently_and_other_compressions_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = dir.path().join("curl-v1.pcap.gz");
    gzip(&root().join("captures/curl-v1.pcap"), &gz);
    let (plain, _) = analyze(&["-f", "json", "captures/curl-v1.pcap"]);
    let (o, err) = analyze(&["-f", "json", gz.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(o.stdout, plain.stdout, "the gzip'd capture gives the same records");
    assert!(!o.stdout.is_empty());
    // zstd: named, with the command that works.
    let zst = dir.path().join("x.pcap.zst");
    let mut bytes = vec![0x28, 0xb5, 0x2f, 0xfd];
    bytes.extend_from_slice(&[0; 32]);
    std::fs::write(&zst, bytes).expect("write");
    let (o, err) = analyze(&["-f", "json", zst.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("zstd-compressed") && err.contains("zstd -dc"), "{err}");
    assert!(!err.contains("not a pcap"), "{err}");
}

#[test]
fn tui_without_a_terminal_is_a_usage_error_that_says_so() {
    let (o, err) = analyze(&["--tui", "captures/curl-v1.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("--tui needs a terminal"), "{err}");
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn a_bad_endpoint_points_at_the_analyze_help() {
    let (o, err) = analyze(&["--endpoint", "nonsense", "captures/curl-v1.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("invalid --endpoint 'nonsense'"), "{err}");
    assert!(err.contains("Try 'imdswatch analyze --help'"), "{err}");
}

#[test]
fn the_statistics_line_counts_in_good_english() {
    // One request: curl-seed-v2 has a token request and a v2 read; curl-v1 has two v1 reads.
    let (_, err) = analyze(&["-f", "json", "captures/curl-v1.pcap"]);
    assert!(err.contains("imdswatch: 1 file, ") && err.contains(" 2 requests (v1 2"), "{err}");
    let (_, err) = analyze(&["-f", "json", "captures/curl-v1.pcap", "captures/curl-seed-v2.pcap"]);
    assert!(err.contains("imdswatch: 2 files, "), "{err}");
    let (_, err) = analyze(&["-f", "json", "captures/curl-v1.pcap", "captures/nosuch.pcap"]);
    assert!(err.contains("imdswatch: 1 of 2 files, "), "{err}");
    let (_, err) = analyze(&["-f", "json", "captures/nosuch.pcap"]);
    assert!(!err.contains(" packets, "), "{err}");
    assert!(!err.contains(" 1 requests"), "{err}");
}

#[test]
fn http_to_another_address_suggests_endpoint() {
    let (o, err) = analyze(&["-f", "table", "captures/loopback-mock.pcap"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("No IMDS requests found"));
    assert!(err.contains("HTTP requests went to 127.0.0.1:1338") && err.contains("--endpoint 127.0.0.1:1338"), "{err}");
    // With that endpoint the requests are found, and no hint is given.
    let (o, err) = analyze(&["-f", "json", "--endpoint", "127.0.0.1:1338", "captures/loopback-mock.pcap"]);
    assert!(!o.stdout.is_empty());
    assert!(!err.contains("HTTP requests went to"), "{err}");
    // A capture with IMDS requests gets no hint either.
    let (_, err) = analyze(&["-f", "json", "captures/curl-v1.pcap"]);
    assert!(!err.contains("--endpoint"), "{err}");
}

#[test]
fn several_files_name_their_file_and_come_out_in_time_order_per_file() {
    // Records are written when a request is settled, which can be after a later request of
    // another connection (before issue 13, container-hop-limit's lost token request came out
    // last, at its idle timeout; it is now settled at the client's FIN and no bundled capture
    // is out of order alone). With several files, each file's records are sorted by time.
    let files = ["captures/container-hop-limit.pcap", "captures/curl-v1.pcap", "captures/rejections.pcap"];
    let (alone, _) = analyze(&["-f", "json", files[0]]);
    let requests = |out: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .filter(|r| r["type"] == "request") // the closing `verdict` record names no file
            .collect()
    };
    let alone = requests(&alone.stdout);
    assert!(alone.iter().all(|r| r.get("capture").is_none()), "one file: records unchanged");
    let ts = |v: &[serde_json::Value]| {
        v.iter().map(|r| r["timestamp"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>()
    };
    assert!(!ts(&alone).is_empty());

    let (o, err) = analyze(&["-f", "json", files[0], files[1], files[2]]);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let recs = requests(&o.stdout);
    let names: Vec<&str> = recs.iter().map(|r| r["capture"]["file"].as_str().expect("capture.file")).collect();
    let mut order = names.clone();
    order.dedup();
    assert_eq!(order, files, "files in command-line order, each in one run");
    for f in files {
        let mine: Vec<serde_json::Value> = recs.iter().filter(|r| r["capture"]["file"] == f).cloned().collect();
        let t = ts(&mine);
        let mut sorted = t.clone();
        sorted.sort();
        assert_eq!(t, sorted, "{f}: not in time order");
    }
    assert_eq!(recs.iter().filter(|r| r["capture"]["file"] == files[0]).count(), alone.len());
}

/// Issue 27, item 4: a bad, missing or unreadable file, or a directory, gives one error line
/// on standard error, nothing on standard output (not "No IMDS requests found."), exit 1;
/// with a good file beside it, the good file's results are printed and the exit is still 1.
#[test]
fn bad_inputs_give_one_error_line_and_nothing_on_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.pcap");
    std::fs::write(&text, b"not a capture file at all\n").expect("write");
    let missing = dir.path().join("missing.pcap");
    let unreadable = dir.path().join("secret.pcap");
    std::fs::copy(root().join("captures/curl-v1.pcap"), &unreadable).expect("copy");
    std::fs::set_permissions(&unreadable, std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    // root reads a mode-000 file: not an unreadable one there.
    let unreadable_too = std::fs::File::open(&unreadable).is_err();
    let mut bad = vec![text.clone(), missing, dir.path().to_path_buf()];
    if unreadable_too {
        bad.push(unreadable);
    }
    for format in ["table", "json"] {
        for p in &bad {
            let (o, err) = analyze(&["-f", format, p.to_str().expect("utf-8")]);
            assert_eq!(o.status.code(), Some(1), "{format} {}: {err}", p.display());
            assert!(o.stdout.is_empty(), "{format} {}: stdout {:?}", p.display(), String::from_utf8_lossy(&o.stdout));
            assert_eq!(err.lines().count(), 1, "{format} {}: {err}", p.display());
            assert!(err.starts_with("imdswatch: "), "{err}");
        }
        // Every input failed: still one line each, nothing on stdout.
        let args: Vec<&str> =
            ["-f", format].into_iter().chain(bad.iter().map(|p| p.to_str().expect("utf-8"))).collect();
        let (o, err) = analyze(&args);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(o.stdout.is_empty(), "{format}: {:?}", String::from_utf8_lossy(&o.stdout));
        assert_eq!(err.lines().count(), bad.len(), "{err}");
    }
    // A good file beside a bad one: its results, and exit 1.
    let (o, err) = analyze(&["-f", "table", "captures/curl-v1.pcap", text.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("curl"), "{}", String::from_utf8_lossy(&o.stdout));
}
