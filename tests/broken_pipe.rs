//! Every command treats a closed standard output as the end of the job (issue 30): piped into
//! a reader that has already gone (`| head -1` after its line, `| true`), it stops and exits
//! quietly, with no panic text, as `analyze` always did.
//!
//! The reader is `true`, which exits at once; imdswatch starts 200 ms later, so its first
//! write meets a pipe with no reader (EPIPE) every time, not only when the race goes one way.

use std::process::Command;

/// Runs `imdswatch ARGS | true` with the reader gone before the first write; returns
/// imdswatch's own exit status and its standard error.
fn into_closed_pipe(args: &[&str]) -> (i32, String) {
    let script = r#"{ sleep 0.2; "$0" "$@"; echo "imdswatch-status=$?" >&2; } | true"#;
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_imdswatch"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("run sh: {e}"));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let status = err
        .lines()
        .find_map(|l| l.strip_prefix("imdswatch-status="))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no status line in stderr: {err}"));
    (status, err)
}

fn assert_quiet(args: &[&str], want: &[i32]) {
    let (status, err) = into_closed_pipe(args);
    assert!(!err.contains("panicked"), "{args:?} panicked on a closed pipe:\n{err}");
    assert!(!err.contains("Broken pipe") && !err.contains("os error 32"), "{args:?} complained:\n{err}");
    assert!(want.contains(&status), "{args:?} exited {status}, want one of {want:?}:\n{err}");
}

#[test]
fn iac_every_format_stops_quietly_when_the_reader_leaves() {
    // A tree with findings: the report is long enough to need more than one write.
    for format in ["human", "json", "sarif"] {
        assert_quiet(&["iac", "--format", format, "tests/fixtures/iac"], &[0]);
    }
    assert_quiet(&["iac", "--show-pass", "tests/fixtures/iac/tf_rules"], &[0]);
}

#[test]
fn analyze_stops_quietly_when_the_reader_leaves() {
    for format in ["json", "table"] {
        assert_quiet(&["analyze", "--format", format, "captures/verdicts.pcap"], &[0]);
    }
}

#[test]
fn completions_stop_quietly_when_the_reader_leaves() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert_quiet(&["completions", shell], &[0]);
    }
}

#[test]
fn man_pages_stop_quietly_when_the_reader_leaves() {
    assert_quiet(&["man"], &[0]);
    for sub in ["analyze", "live", "iac"] {
        assert_quiet(&["man", sub], &[0]);
    }
}

#[test]
fn help_and_version_stop_quietly_when_the_reader_leaves() {
    assert_quiet(&["--help"], &[0]);
    assert_quiet(&["iac", "--help"], &[0]);
    assert_quiet(&["--version"], &[0]);
}

#[test]
fn live_json_stops_quietly_when_the_reader_leaves() {
    let name = "live_json_stops_quietly_when_the_reader_leaves";
    // Capturing needs root; only loopback is opened and nothing is sent.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|u| u.split_whitespace().next() == Some("0"))))
        .unwrap_or(false);
    if !uid {
        eprintln!("SKIPPED {name}: capturing on lo needs root");
        return;
    }
    assert_quiet(&["live", "--json", "-i", "lo", "--duration", "1", "--stats-interval", "1", "--no-attribution"], &[0]);
}
