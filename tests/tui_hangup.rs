//! Issue 12, class 6: a dashboard must not outlive its terminal. The real binary runs in tmux
//! (offline `analyze --tui FILE`, and live on `lo` when root), in each view (table, details,
//! help, filter); then the tmux session is killed, which is what an SSH disconnect does, or
//! the process gets SIGTERM. It must be gone within 3 s (the target is one frame, 100 ms).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/tmux.rs"]
mod tmux;
use tmux::{Session, wait_for};

/// Running, and not a zombie waiting for its parent.
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')))
        .unwrap_or(false)
}

/// Is uid 0, from /proc (no unsafe code).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)).map(|u| u == "0")
        })
        .unwrap_or(false)
}

#[derive(Clone, Copy, Debug)]
enum End {
    KillSession,
    Sigterm,
}

/// Starts `args` in tmux, opens a view with `keys` (waiting for `shows`), ends it, and
/// returns how long the process took to go.
fn run_case(tag: &str, args: &[&str], ready: &str, keys: &[&str], shows: &str, end: End) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let bin = env!("CARGO_BIN_EXE_imdswatch");
    let rc_file = dir.path().join("rc");
    // The shell stays (SIGHUP ignored; the dashboard installs its own handler) to write the
    // exit status: 101 would be a panic, as `eprintln!` on the dead terminal did.
    let script = format!(
        "trap '' HUP; echo $$ > '{}'; {bin} {}; echo $? > '{}'",
        pid_file.display(),
        args.join(" "),
        rc_file.display()
    );
    let s = Session(format!("imw-hup-{tag}-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "120", "-y", "35", "sh", "-c", &script])
        .status()
        .expect("tmux");
    assert!(st.success());
    wait_for(&s, ready);
    let pid = child_of(&read_pid(&pid_file));
    if !keys.is_empty() {
        let st = Command::new("tmux").args(["send-keys", "-t", &s.0]).args(keys).status().expect("send-keys");
        assert!(st.success());
        wait_for(&s, shows);
    }
    assert!(alive(&pid), "{tag}: not running before the end");
    let t = Instant::now();
    match end {
        End::KillSession => {
            let _ = Command::new("tmux").args(["kill-session", "-t", &s.0]).output();
        }
        End::Sigterm => {
            let _ = Command::new("kill").args(["-TERM", &pid]).output();
        }
    }
    while alive(&pid) {
        if t.elapsed() > Duration::from_secs(3) {
            let _ = Command::new("kill").args(["-KILL", &pid]).output();
            panic!("{tag}: still running 3 s after {end:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t.elapsed();
    let t = Instant::now();
    // Until the status is written, not only the file created: `echo $? > rc` opens (creates)
    // it before writing, and a read in between saw "" (a flaky failure).
    let mut rc = String::new();
    while rc.trim().is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        rc = std::fs::read_to_string(&rc_file).unwrap_or_default();
    }
    assert_eq!(rc.trim(), "0", "{tag}: exit status (101 is a panic)");
    took
}

/// The process whose parent is `parent` (the dashboard started by the shell).
fn child_of(parent: &str) -> String {
    let t = Instant::now();
    loop {
        for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid == Some(parent) {
                return e.file_name().to_string_lossy().into_owned();
            }
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no child of {parent}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(p: &Path) -> String {
    let t = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p)
            && !s.trim().is_empty()
        {
            return s.trim().to_owned();
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (name, keys, text that shows the view is open)
const VIEWS: [(&str, &[&str], &str); 4] = [
    ("table", &[], ""),
    ("detail", &["Enter"], "What to change"),
    ("help", &["?"], "this help"),
    ("filter", &["/", "x"], "filter"),
];

fn every_view_and_ending(face: &str, args: &[&str], ready: &str, views: &[(&str, &[&str], &str)]) {
    for (view, keys, shows) in views {
        for end in [End::KillSession, End::Sigterm] {
            let tag = format!("{face}-{view}-{end:?}");
            let took = run_case(&tag, args, ready, keys, shows, end);
            eprintln!("{tag}: gone after {} ms", took.as_millis());
        }
    }
}

#[test]
fn the_offline_dashboard_ends_with_its_terminal_and_on_sigterm() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED the_offline_dashboard_ends_with_its_terminal_and_on_sigterm: tmux is not installed");
        return;
    }
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/container-hop-limit.pcap");
    every_view_and_ending("offline", &["analyze", "--tui", capture], "all loaded", &VIEWS);
}

#[test]
fn the_live_dashboard_ends_with_its_terminal_and_on_sigterm() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED the_live_dashboard_ends_with_its_terminal_and_on_sigterm: tmux is not installed");
        return;
    }
    if !is_root() {
        eprintln!("SKIPPED the_live_dashboard_ends_with_its_terminal_and_on_sigterm: not root (live capture)");
        return;
    }
    // Live on loopback: it only listens. No row exists, so no detail view.
    let views: Vec<_> = VIEWS.iter().filter(|v| v.0 != "detail").copied().collect();
    every_view_and_ending("live", &["live", "-i", "lo"], "q quit", &views);
}
