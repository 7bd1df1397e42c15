//! Issue 17: no secret of the other services leaves imdswatch. The ECS credential id (a path
//! segment), the Pod Identity service-account token (an Authorization header), the Alibaba
//! metadata tokens (minted by the mock, sent back in X-aliyun-ecs-metadata-token) and every
//! fake credential the mocks hand out (all marked `SVCSECRET`, see captures/mock_services.py)
//! must never appear in the NDJSON, the table, the dashboard (offline and live, every row's
//! details, in tmux), the metrics endpoint or stderr.
//!
//! The capture tests need nothing; the live ones need root and `ip netns` (run them under
//! `flock /tmp/imdswatch-e2e.lock`), the dashboard ones tmux; each skips with a reason.

#[path = "support/host.rs"]
mod host;
#[path = "support/services.rs"]
mod services;
#[path = "support/tmux.rs"]
mod tmux;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use host::{root, sh};
use services::{KEY_IDS, SECRETS, Topology, assert_no_secret, cannot_run, requests};
use tmux::{Session, keys, pane, wait_for};

/// The default endpoints (issue 17), given explicitly: the same traffic is watched whatever
/// the build's defaults (services_e2e tests the defaults).
const ENDPOINTS: [&str; 12] = [
    "--endpoint",
    "169.254.169.254:80",
    "--endpoint",
    "[fd00:ec2::254]:80",
    "--endpoint",
    "100.100.100.200:80",
    "--endpoint",
    "169.254.170.2:80",
    "--endpoint",
    "169.254.170.23:80",
    "--endpoint",
    "[fd00:ec2::23]:80",
];

fn capture() -> std::path::PathBuf {
    root().join("captures/services.pcap")
}

/// The bundled capture really carries every secret, so their absence from an output means
/// something.
#[test]
fn the_services_capture_carries_every_secret() {
    let bytes = std::fs::read(capture()).expect("services.pcap");
    for s in SECRETS.iter().chain(KEY_IDS.iter()) {
        assert!(bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{s} is not in the capture");
    }
}

#[test]
fn json_table_and_stderr_of_the_services_capture_carry_no_secret() {
    let asff = ["--format", "asff", "--aws-region", "eu-west-1", "--aws-account", "111122223333"];
    for args in [
        &["--format", "json"][..],
        &["--format", "table"],
        &["--format", "json", "--fail-on-v1"],
        &asff,
        &["--format", "ocsf"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
            .arg("analyze")
            .args(args)
            .args(ENDPOINTS)
            .arg(capture())
            .output()
            .expect("analyze");
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(matches!(o.status.code(), Some(0 | 3)), "{args:?}: {err}");
        assert!(
            out.contains("169.254.170") || out.contains("pod-burst/1") || out.contains("\"SchemaVersion\""),
            "{args:?}: the output is not empty:\n{out}"
        );
        assert_no_secret(&format!("analyze {args:?}"), &out);
        assert_no_secret(&format!("analyze {args:?} stderr"), &err);
    }
}

/// Walks the dashboard: every row's details (up to `rows`), the help; returns every screen.
fn walk_dashboard(s: &Session, rows: usize) -> Vec<String> {
    let mut screens = vec![pane(s)];
    for _ in 0..rows {
        keys(s, &["Enter"]);
        std::thread::sleep(Duration::from_millis(250));
        screens.push(pane(s));
        keys(s, &["Escape"]);
        keys(s, &["Down"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    keys(s, &["?"]);
    std::thread::sleep(Duration::from_millis(250));
    screens.push(pane(s));
    keys(s, &["Escape"]);
    screens
}

fn tmux_missing() -> bool {
    Command::new("tmux").arg("-V").output().is_err()
}

#[test]
fn the_dashboard_on_the_services_capture_shows_no_secret() {
    let name = "the_dashboard_on_the_services_capture_shows_no_secret";
    if tmux_missing() {
        eprintln!("SKIPPED {name}: tmux is not installed");
        return;
    }
    let script = format!("{} analyze --tui {}; sleep 60", env!("CARGO_BIN_EXE_imdswatch"), capture().display());
    let s = Session(format!("imw-svc-tui-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "160", "-y", "50", "sh", "-c", &script])
        .status()
        .expect("tmux");
    assert!(st.success());
    let first = wait_for(&s, "all loaded");
    assert!(first.contains("10.213.1.1"), "{first}");
    for screen in walk_dashboard(&s, 25) {
        assert_no_secret("dashboard (analyze --tui)", &screen);
    }
    keys(&s, &["q"]);
}

/// Live: NDJSON, stderr and the metrics endpoint (scraped while the monitor runs).
#[test]
fn live_ndjson_metrics_and_stderr_carry_no_service_secret() {
    let name = "live_ndjson_metrics_and_stderr_carry_no_service_secret";
    if let Some(why) = cannot_run("svs") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    const METRICS: &str = "127.0.0.1:19798";
    let tmp = tempfile::tempdir().expect("tempdir");
    let topo = Topology::up("svs");
    let out_file = tmp.path().join("live.ndjson");
    let mut mon = topo
        .exec("host")
        .arg(env!("CARGO_BIN_EXE_imdswatch"))
        .args(["live", "--json", "--stats-interval", "1", "--attribution", "procfs", "--metrics", METRICS])
        .args(ENDPOINTS)
        .stdout(std::fs::File::create(&out_file).expect("output file"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start imdswatch");
    let mut lines = BufReader::new(mon.stderr.take().expect("stderr")).lines();
    // Its start-up lines (the metrics address, then the capture) are stderr too.
    let mut start = Vec::new();
    for line in lines.by_ref().take(5).map_while(Result::ok) {
        let capturing = line.contains("capturing on");
        start.push(line);
        if capturing {
            break;
        }
    }
    assert!(start.last().is_some_and(|l| l.contains("capturing on")), "imdswatch did not start: {start:?}");
    let err_thread = std::thread::spawn(move || {
        start.extend(lines.map_while(Result::ok));
        start
    });
    topo.scenario(tmp.path());
    std::thread::sleep(Duration::from_millis(1500));
    let scrape = sh(topo.exec("host").args(["curl", "-s", "-m", "5", &format!("http://{METRICS}/metrics")]));
    let metrics = String::from_utf8_lossy(&scrape.stdout).into_owned();
    let _ = sh(Command::new("kill").args(["-TERM", &mon.id().to_string()]));
    let status = mon.wait().expect("wait imdswatch");
    let err = err_thread.join().expect("stderr").join("\n");
    assert_eq!(status.code(), Some(0), "{err}");
    let text = std::fs::read_to_string(&out_file).expect("output");
    assert!(requests(&text).len() >= 44, "every request reported:\n{text}");
    assert!(metrics.contains("imdswatch_"), "the metrics endpoint answered:\n{metrics}");
    assert_no_secret("live NDJSON", &text);
    assert_no_secret("live metrics", &metrics);
    assert_no_secret("live stderr", &err);
}

/// Live: the dashboard in tmux while the scenario runs, then every row's details.
#[test]
fn the_live_dashboard_shows_no_service_secret() {
    let name = "the_live_dashboard_shows_no_service_secret";
    if let Some(why) = cannot_run("svd") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    if tmux_missing() {
        eprintln!("SKIPPED {name}: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let topo = Topology::up("svd");
    let script = format!(
        "ip netns exec {} {} live --attribution procfs {} 2>{}; sleep 60",
        topo.ns("host"),
        env!("CARGO_BIN_EXE_imdswatch"),
        ENDPOINTS.join(" "),
        tmp.path().join("stderr").display()
    );
    let s = Session(format!("imw-svc-live-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "160", "-y", "50", "sh", "-c", &script])
        .status()
        .expect("tmux");
    assert!(st.success());
    wait_for(&s, "q quit");
    topo.scenario(tmp.path());
    let screen = wait_for(&s, "services_sdk.py");
    assert_no_secret("live dashboard", &screen);
    for screen in walk_dashboard(&s, 25) {
        assert_no_secret("live dashboard", &screen);
    }
    keys(&s, &["q"]);
    std::thread::sleep(Duration::from_millis(500));
    let err = std::fs::read_to_string(tmp.path().join("stderr")).unwrap_or_default();
    assert_no_secret("live dashboard stderr", &err);
}
