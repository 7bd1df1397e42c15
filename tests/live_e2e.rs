//! End-to-end: `imdswatch live --json` in a network-namespace topology with a mock IMDS and
//! real clients (curl with the seed's commands, botocore from PyPI, and botocore in a
//! "container" one routed hop away, inside a container-like cgroup).
//!
//! Needs root and `ip netns`; skips with a printed reason otherwise. The metadata addresses
//! exist only inside the namespaces the test creates (captures/netns.sh).

#[path = "support/host.rs"]
mod host;
use host::{euid, netns_permitted, root, sh};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One end-to-end test at a time: each builds namespaces, a monitor and clients, and the
/// attribution of millisecond-lived clients must not compete with another test for the CPU.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

const HEX_ID: &str = "4f1c2a9be0d34c77a8b6e5f0c1d2e3f40a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// Why this machine cannot run the test, if it cannot.
fn cannot_run(test: &str) -> Option<String> {
    if euid() != 0 {
        return Some("not root".into());
    }
    if !netns_permitted(test) {
        return Some("`ip netns add` is not permitted here".into());
    }
    if !root().join("captures/.venv/bin/python").exists() {
        return Some("botocore venv missing: run scripts/setup.sh".into());
    }
    None
}

/// The namespaces, removed on drop.
struct Topology {
    prefix: String,
    mock: Option<Child>,
}

impl Topology {
    fn up(tag: &str) -> Topology {
        let prefix = format!("imw-{tag}{}-", std::process::id() % 100_000);
        let st = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["up", &prefix]));
        assert!(st.status.success(), "netns up: {}", String::from_utf8_lossy(&st.stderr));
        Topology { prefix, mock: None }
    }

    fn ns(&self, which: &str) -> String {
        format!("{}{which}", self.prefix)
    }

    fn exec(&self, which: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(which)]);
        c
    }

    fn start_mock(&mut self, count_file: &Path, extra: &[&str]) {
        let mock = self
            .exec("imds")
            .arg("python3")
            .arg(root().join("captures/mock_imds.py"))
            .args(["--listen", "0.0.0.0:80", "--listen", "[::]:80", "--count-file"])
            .arg(count_file)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the mock");
        self.mock = Some(mock);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            let o = sh(self.exec("imds").args(["ss", "-Hltn", "sport = :80"]));
            if !o.stdout.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the mock did not start listening");
    }

    /// Stops the mock (SIGTERM) so that it writes its count file.
    fn stop_mock(&mut self) {
        if let Some(mut m) = self.mock.take() {
            let _ = sh(Command::new("kill").args(["-TERM", &m.id().to_string()]));
            let _ = m.wait();
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.stop_mock();
        let _ = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["down", &self.prefix]));
    }
}

/// `imdswatch live --json` running in the host namespace.
struct Monitor {
    child: Child,
    out: PathBuf,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // A failed assertion must not leave a monitor running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type ErrLines = std::io::Lines<BufReader<std::process::ChildStderr>>;

impl Monitor {
    /// `imdswatch ARGS` in the host namespace, once it says it is capturing; its stderr
    /// lines after that one.
    fn spawn(t: &Topology, args: &[&str], out: &Path) -> (Monitor, ErrLines) {
        let child = t
            .exec("host")
            .arg(env!("CARGO_BIN_EXE_imdswatch"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imdswatch");
        let mut mon = Monitor { child, out: out.to_owned() };
        let stderr = mon.child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.contains("capturing on"), "imdswatch did not start: {first}");
        (mon, lines)
    }

    fn start(t: &Topology, out: &Path, extra: &[&str]) -> Monitor {
        let mut child = t
            .exec("host")
            .arg(env!("CARGO_BIN_EXE_imdswatch"))
            .args(["live", "--json", "--stats-interval", "1"])
            .args(extra)
            .stdout(std::fs::File::create(out).expect("output file"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imdswatch");
        // Wait for "capturing on ...": the filter is in place.
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.contains("capturing on any"), "imdswatch did not start: {first}");
        std::thread::spawn(move || for _ in lines {});
        Monitor { child, out: out.to_owned() }
    }

    /// SIGTERM, then the records written.
    fn stop(&mut self) -> (Vec<Value>, i32) {
        std::thread::sleep(Duration::from_millis(300));
        let _ = sh(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let status = self.child.wait().expect("wait imdswatch");
        let text = std::fs::read_to_string(&self.out).expect("read output");
        let recs = text.lines().map(|l| serde_json::from_str(l).expect("NDJSON line")).collect();
        (recs, status.code().unwrap_or(-1))
    }
}

fn run_client(mut c: Command) -> (u32, Output) {
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn client");
    let pid = child.id();
    let out = child.wait_with_output().expect("client");
    (pid, out)
}

fn requests(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "request").collect()
}

fn summary_of(r: &Value) -> String {
    format!(
        "{} {} {}",
        r["imds"]["version"].as_str().unwrap_or("?"),
        r["imds"]["path"].as_str().unwrap_or("?"),
        r["imds"]["status"].as_u64().map_or("none".into(), |s| s.to_string())
    )
}

fn by_pid(recs: &[Value], pid: u32) -> Vec<String> {
    let mut v: Vec<&Value> = requests(recs).into_iter().filter(|r| r["process"]["pid"] == pid).collect();
    v.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    v.into_iter().map(summary_of).collect()
}

/// A cgroup that looks like a docker container's, on whichever hierarchy this host has.
struct FakeContainerCgroup(PathBuf);

impl FakeContainerCgroup {
    fn create() -> Option<FakeContainerCgroup> {
        let bases = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup", "/sys/fs/cgroup/pids"];
        for b in bases {
            let base = Path::new(b);
            if !base.join("cgroup.procs").exists() {
                continue;
            }
            let dir = if base.join("cgroup.controllers").exists() {
                base.join(format!("imw-e2e.slice/docker-{HEX_ID}.scope"))
            } else {
                base.join(format!("docker/{HEX_ID}"))
            };
            if std::fs::create_dir_all(&dir).is_ok() {
                return Some(FakeContainerCgroup(dir));
            }
        }
        None
    }
}

impl Drop for FakeContainerCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
        if let Some(parent) = self.0.parent()
            && parent.file_name().is_some_and(|n| n == "imw-e2e.slice" || n == "docker")
        {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

#[test]
fn live_attributes_curl_botocore_and_a_container_client() {
    attributes_every_client("live_attributes_curl_botocore_and_a_container_client", "e2e", "procfs");
}

/// The same clients with kernel connect events (`--attribution kernel`): every curl named.
#[test]
fn live_attributes_every_client_through_kernel_connect_events() {
    let name = "live_attributes_every_client_through_kernel_connect_events";
    if let Some(why) = kernel_path_missing() {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    attributes_every_client(name, "e2k", "kernel");
}

/// Why the kernel attribution path cannot run here, if it cannot.
fn kernel_path_missing() -> Option<String> {
    let out = sh(Command::new(env!("CARGO_BIN_EXE_imdswatch")).args([
        "live",
        "--json",
        "--attribution",
        "kernel",
        "--duration",
        "0",
        "--interface",
        "lo",
        "--stats-interval",
        "0",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    (!out.status.success()).then(|| format!("kernel path unavailable: {}", err.trim()))
}

fn attributes_every_client(test: &str, tag: &str, path: &str) {
    let _serial = serial();
    if let Some(why) = cannot_run(tag) {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up(tag);
    let counts = tmp.path().join("mock-counts.json");
    topo.start_mock(&counts, &["--hop-limit", "1"]);
    let mut mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &["--attribution", path]);

    // The seed's two commands, as two processes.
    let mut put = topo.exec("host");
    put.args(["curl", "-s", "-X", "PUT", "http://169.254.169.254/latest/api/token"])
        .args(["-H", "X-aws-ec2-metadata-token-ttl-seconds: 21600"]);
    let (put_pid, put_out) = run_client(put);
    let token = String::from_utf8_lossy(&put_out.stdout).trim().to_owned();
    assert!(token.starts_with("SECRET-TOKEN-"), "mock token: {token}");
    let mut get = topo.exec("host");
    get.args(["curl", "-s", "-o", "/dev/null", "-H"])
        .arg(format!("X-aws-ec2-metadata-token: {token}"))
        .arg("http://169.254.169.254/latest/meta-data/iam/security-credentials/");
    let (get_pid, _) = run_client(get);
    // Plain IMDSv1.
    let mut v1 = topo.exec("host");
    v1.args(["curl", "-s", "-o", "/dev/null", "http://169.254.169.254/latest/meta-data/instance-id"]);
    let (v1_pid, _) = run_client(v1);
    // botocore on the host.
    let py = root().join("captures/.venv/bin/python");
    let boto = root().join("captures/clients/botocore_imds.py");
    let mut b = topo.exec("host");
    b.arg(&py).arg(&boto);
    let (boto_pid, boto_out) = run_client(b);
    assert!(boto_out.status.success(), "botocore: {}", String::from_utf8_lossy(&boto_out.stderr));
    // botocore in the container, one hop away: its token answer dies at the host router.
    // `ip netns exec` remounts /sys, so the client waits on stdin while this (outside) process
    // moves it into the cgroup, then lets it go.
    let cg = FakeContainerCgroup::create();
    let mut c = topo.exec("ctr");
    c.args(["sh", "-c", "read _ && exec \"$0\" \"$1\""]).arg(&py).arg(&boto);
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let ctr_pid = child.id();
    if let Some(cg) = &cg {
        std::fs::write(cg.0.join("cgroup.procs"), ctr_pid.to_string()).expect("join the container cgroup");
    }
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(b"go\n").expect("release the client");
    }
    let ctr_out = child.wait_with_output().expect("container client");
    assert!(ctr_out.status.success(), "container botocore: {}", String::from_utf8_lossy(&ctr_out.stderr));

    let (recs, code) = mon.stop();
    topo.stop_mock();
    assert_eq!(code, 0, "imdswatch exits 0 on SIGTERM");

    // Per request: version, path, status, and who. A curl lives about a millisecond after
    // its SYN; /proc attribution names it ~99% of the time (benches/attribution_rate.sh), so
    // there one curl per run may be unnamed, and then only as `exited`; the kernel path names
    // every one. Everything else is exact.
    let unattributed: Vec<String> =
        requests(&recs).iter().filter(|r| r["process"].is_null()).map(|r| r.to_string()).collect();
    let mut curl_misses = 0;
    for (pid, want) in [
        (put_pid, "token_request /latest/api/token 200"),
        (get_pid, "v2 /latest/meta-data/iam/security-credentials/ 200"),
        (v1_pid, "v1 /latest/meta-data/instance-id 200"),
    ] {
        let got = by_pid(&recs, pid);
        if got.is_empty() {
            curl_misses += 1;
            let path = want.split(' ').nth(1).unwrap_or("");
            let miss = requests(&recs)
                .into_iter()
                .find(|r| r["process"].is_null() && r["imds"]["path"] == path)
                .unwrap_or_else(|| panic!("no record for {want}: {unattributed:#?}"));
            assert_eq!(summary_of(miss), want);
            assert_eq!(miss["attribution"], "exited", "{miss}");
            eprintln!("note: curl {pid} exited before it could be named ({want})");
        } else {
            assert_eq!(got, [want], "{unattributed:#?}");
        }
    }
    let allowed = if path == "kernel" { 0 } else { 1 };
    assert!(curl_misses <= allowed, "{curl_misses} of 3 curls unnamed ({path}): {unattributed:#?}");
    assert_eq!(
        by_pid(&recs, boto_pid),
        [
            "token_request /latest/api/token 200",
            "v2 /latest/meta-data/iam/security-credentials/ 200",
            "v2 /latest/meta-data/iam/security-credentials/imdswatch-test-role 200"
        ]
    );
    assert_eq!(
        by_pid(&recs, ctr_pid),
        [
            "token_request /latest/api/token none",
            "v1 /latest/meta-data/iam/security-credentials/ 200",
            "v1 /latest/meta-data/iam/security-credentials/imdswatch-test-role 200"
        ],
        "unattributed: {unattributed:#?}"
    );
    for r in requests(&recs).into_iter().filter(|r| !r["process"].is_null()) {
        let pid = r["process"]["pid"].as_u64().map(|p| p as u32);
        let name = r["process"]["file"]["name"].as_str().unwrap_or("");
        if [Some(put_pid), Some(get_pid), Some(v1_pid)].contains(&pid) {
            assert_eq!(name, "curl");
            assert_eq!(r["process"]["file"]["path"], "/usr/bin/curl");
        } else {
            assert!(name.starts_with("python3"), "{r}");
        }
        assert!(r["host"].is_string());
        assert!(r["process"]["ancestors"].as_array().is_some_and(|a| !a.is_empty()));
        // With the kernel path, a connect event the kernel thread has not read yet (a busy
        // CPU) falls back to /proc, which names the same process: either is right, but the
        // kernel must have named some.
        if path == "kernel" {
            assert!(["kernel", "procfs"].contains(&r["attribution_source"].as_str().unwrap_or("")), "{r}");
        } else {
            assert_eq!(r["attribution_source"], path, "{r}");
        }
    }
    if path == "kernel" {
        assert!(requests(&recs).iter().any(|r| r["attribution_source"] == "kernel"), "no record named by the kernel");
    }
    // The container client: its container id, and its address one hop away.
    let ctr_rec = requests(&recs).into_iter().find(|r| r["process"]["pid"] == ctr_pid).expect("container record");
    assert!(ctr_rec["network"]["client"].as_str().is_some_and(|c| c.starts_with("10.213.0.2:")));
    if cg.is_some() {
        assert_eq!(ctr_rec["container"]["id"], HEX_ID);
        assert_eq!(ctr_rec["container"]["runtime"], "docker");
    } else {
        eprintln!("note: no writable cgroup hierarchy: container id not checked");
    }
    // The token value never leaves, not even through curl's command line.
    let all: String = recs.iter().map(|r| r.to_string()).collect();
    assert!(!all.contains(&token), "token value leaked");
    if !by_pid(&recs, get_pid).is_empty() {
        assert!(all.contains("[REDACTED]"), "the token in curl's command line is redacted");
    }
    // The monitor saw exactly what the mock answered, and says it lost nothing.
    let mock: Value = serde_json::from_str(&std::fs::read_to_string(&counts).expect("mock counts")).expect("json");
    let answered = requests(&recs).iter().filter(|r| r["imds"]["status"].is_u64()).count() as u64;
    assert_eq!(Some(answered), mock["total"].as_u64().map(|t| t - 1), "the container's token answer never arrived");
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["kernel_drops"], 0);
    assert_eq!(stats["queue_losses"], 0);
    assert_eq!(stats["attribution_path"], path);
    assert_eq!(stats["perf_lost"], 0);
    // The shadow process table's counters are in the record on both paths (0 without it).
    assert!(stats["shadow_hits"].is_u64() && stats["shadow_evicted"].is_u64(), "{stats}");
    assert_eq!(stats["attribution_overload"], 0);
    assert_eq!(stats["output_errors"], 0);
}

/// One `curl` of `path` from the host namespace, as the seed's first command does.
fn curl_from_host(topo: &Topology, path: &str) -> (u32, Output) {
    let mut c = topo.exec("host");
    c.args(["curl", "-s", "-o", "/dev/null", &format!("http://169.254.169.254{path}")]);
    run_client(c)
}

/// A topology with the mock running, and a monitor appending to `imds.log` in `tmp`.
fn monitor_with_log_file(name: &str, tmp: &Path) -> (Topology, Monitor, ErrLines, PathBuf) {
    let mut topo = Topology::up(name);
    topo.start_mock(&tmp.join("counts.json"), &[]);
    let log = tmp.join("imds.log");
    let log_arg = log.to_string_lossy().into_owned();
    let (mon, lines) = Monitor::spawn(&topo, &["live", "--stats-interval", "0", "--output", &log_arg], &log);
    (topo, mon, lines, log)
}

#[test]
fn sighup_reopens_the_output_file() {
    let _serial = serial();
    if let Some(why) = cannot_run("hup") {
        eprintln!("SKIPPED sighup_reopens_the_output_file: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (topo, mut mon, _lines, log) = monitor_with_log_file("hup", tmp.path());
    let child = &mut mon.child;
    // Once capturing, the monitor holds no CAP_NET_RAW and cannot gain privileges.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("status");
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).unwrap_or("").to_owned()
    };
    let eff = u64::from_str_radix(&field("CapEff:"), 16).expect("CapEff");
    assert_eq!(eff & (1 << 13), 0, "CAP_NET_RAW still effective: {eff:x}");
    assert_ne!(eff & (1 << 19), 0, "CAP_SYS_PTRACE kept for /proc");
    assert_eq!(eff & (1 << 1), 0, "CAP_DAC_OVERRIDE dropped");
    assert_eq!(field("NoNewPrivs:"), "1");
    // Started at the default nice 0 with CAP_SYS_NICE, it runs at nice -4; started at any
    // other nice (the test's own, inherited), it keeps it.
    let nice_of = |pid: &str| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        stat.rsplit_once(") ").and_then(|(_, rest)| rest.split_whitespace().nth(16)).unwrap_or("").to_owned()
    };
    let expected = match nice_of("self").as_str() {
        "0" => "-4".to_owned(),
        other => other.to_owned(),
    };
    assert_eq!(nice_of(&child.id().to_string()), expected);
    let curl = |path: &str| curl_from_host(&topo, path);
    curl("/latest/meta-data/instance-id");
    wait_for_lines(&log, 1);
    std::fs::rename(&log, tmp.path().join("imds.log.1")).expect("rotate");
    let _ = sh(Command::new("kill").args(["-HUP", &child.id().to_string()]));
    std::thread::sleep(Duration::from_millis(500));
    curl("/latest/meta-data/ami-id");
    wait_for_lines(&log, 1);
    let _ = sh(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    let old = std::fs::read_to_string(tmp.path().join("imds.log.1")).expect("old");
    let new = std::fs::read_to_string(&log).expect("new");
    assert!(old.contains("instance-id") && !old.contains("ami-id"), "{old}");
    assert!(new.contains("ami-id") && !new.contains("instance-id"), "{new}");
}

#[test]
fn a_deleted_output_file_is_recreated_warned_and_counted() {
    let _serial = serial();
    if let Some(why) = cannot_run("del") {
        eprintln!("SKIPPED a_deleted_output_file_is_recreated_warned_and_counted: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (topo, mut mon, lines, log) = monitor_with_log_file("del", tmp.path());
    let curl = |path: &str| curl_from_host(&topo, path);
    curl("/latest/meta-data/instance-id");
    wait_for_lines(&log, 1);
    // Deleted with no SIGHUP (an operator's `rm`): the monitor notices within a second.
    std::fs::remove_file(&log).expect("delete");
    let t = Instant::now();
    while !log.exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    curl("/latest/meta-data/ami-id");
    wait_for_lines(&log, 1);
    let _ = sh(Command::new("kill").args(["-TERM", &mon.child.id().to_string()]));
    assert_eq!(mon.child.wait().expect("wait").code(), Some(0));
    let err: Vec<String> = lines.map_while(Result::ok).collect();
    let new = std::fs::read_to_string(&log).expect("a new file at the path");
    assert!(new.contains("ami-id") && !new.contains("instance-id"), "{new}");
    assert_eq!(err.iter().filter(|l| l.contains("was deleted")).count(), 1, "{err:?}");
    let summary = err.iter().find(|l| l.contains("stopped after")).expect("summary");
    assert!(summary.contains("output errors 1"), "{summary}");
}

fn wait_for_lines(p: &Path, n: usize) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if std::fs::read_to_string(p).is_ok_and(|s| s.lines().count() >= n) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never got {n} line(s)", p.display());
}

#[test]
fn without_privileges_live_says_what_it_needs() {
    let _serial = serial();
    if euid() != 0 {
        eprintln!("SKIPPED without_privileges_live_says_what_it_needs: not root (cannot drop to nobody)");
        return;
    }
    if sh(Command::new("setpriv").arg("--help")).status.code().is_none() {
        eprintln!("SKIPPED without_privileges_live_says_what_it_needs: setpriv missing");
        return;
    }
    let o = sh(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
        .arg(env!("CARGO_BIN_EXE_imdswatch"))
        .args(["live", "--json", "--duration", "1"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("CAP_NET_RAW") && err.lines().count() == 1, "{err}");
}

#[test]
fn a_full_disk_is_reported_and_counted_not_fatal() {
    let _serial = serial();
    if let Some(why) = cannot_run("full") {
        eprintln!("SKIPPED a_full_disk_is_reported_and_counted_not_fatal: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("full");
    topo.start_mock(&tmp.path().join("counts.json"), &[]);
    let (mut mon, lines) =
        Monitor::spawn(&topo, &["live", "--stats-interval", "0", "--output", "/dev/full"], Path::new("/dev/null"));
    for _ in 0..2 {
        curl_from_host(&topo, "/latest/meta-data/instance-id");
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = sh(Command::new("kill").args(["-TERM", &mon.child.id().to_string()]));
    let code = mon.child.wait().expect("wait").code();
    let err: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(code, Some(0), "{err:?}");
    // One warning (rate-limited), and the loss counted in the summary.
    assert_eq!(err.iter().filter(|l| l.contains("cannot write output")).count(), 1, "{err:?}");
    let summary = err.iter().find(|l| l.contains("stopped after")).expect("summary");
    assert!(summary.contains("output errors 2"), "{summary}");
}

#[test]
fn the_interface_going_away_is_a_clear_error() {
    let _serial = serial();
    if let Some(why) = cannot_run("gone") {
        eprintln!("SKIPPED the_interface_going_away_is_a_clear_error: {why}");
        return;
    }
    let topo = Topology::up("gone");
    let (mut mon, lines) =
        Monitor::spawn(&topo, &["live", "--json", "--stats-interval", "0", "-i", "h-imds"], Path::new("/dev/null"));
    let del = sh(topo.exec("host").args(["ip", "link", "del", "h-imds"]));
    assert!(del.status.success());
    let t = Instant::now();
    let code = loop {
        if let Some(st) = mon.child.try_wait().expect("try_wait") {
            break st.code();
        }
        assert!(t.elapsed() < Duration::from_secs(10), "imdswatch did not notice the interface went away");
        std::thread::sleep(Duration::from_millis(50));
    };
    let err: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(code, Some(1), "{err:?}");
    assert!(err.iter().any(|l| l.contains("capture on 'h-imds' stopped")), "{err:?}");
    assert!(!err.iter().any(|l| l.contains("panicked")), "{err:?}");
}

/// A client that exits within a millisecond of its request: connect, send, `_exit`, in a
/// process already running (no exec between the SYN and the request). Prints its pid first.
const QUICK_CLIENT: &str = "import os, socket, sys
s = socket.create_connection(('169.254.169.254', 80))
print(os.getpid(), flush=True)
s.send(b'GET /latest/meta-data/instance-id HTTP/1.1\\r\\nHost: 169.254.169.254\\r\\n\\r\\n')
os._exit(0)";

/// Runs `n` quick clients under `--attribution path`; how many were named with their pid,
/// and the records of the others.
fn quick_clients_named(tag: &str, path: &str, n: usize) -> (usize, usize, Vec<String>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up(tag);
    topo.start_mock(&tmp.path().join("mock-counts.json"), &[]);
    let mut mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &["--attribution", path]);
    let mut pids = Vec::new();
    for _ in 0..n {
        let mut c = topo.exec("host");
        c.args(["python3", "-c", QUICK_CLIENT]);
        let (_, out) = run_client(c);
        let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("client pid");
        pids.push(pid);
    }
    let (recs, code) = mon.stop();
    topo.stop_mock();
    assert_eq!(code, 0);
    let reqs = requests(&recs);
    assert_eq!(reqs.len(), n, "every request is reported, named or not");
    let named = pids.iter().filter(|&&p| reqs.iter().any(|r| r["process"]["pid"] == p)).count();
    // The kernel path knows the pid even when the process was gone before /proc was read.
    let pid_known =
        pids.iter().filter(|&&p| reqs.iter().any(|r| r["process"]["pid"] == p || r["attribution_pid"] == p)).count();
    let others = reqs.iter().filter(|r| !pids.iter().any(|&p| r["process"]["pid"] == p)).map(|r| r.to_string());
    (named, pid_known, others.collect())
}

#[test]
fn a_client_that_exits_right_after_its_request_is_named_by_the_kernel_path() {
    let name = "a_client_that_exits_right_after_its_request_is_named_by_the_kernel_path";
    let _serial = serial();
    if let Some(why) = cannot_run("quick").or_else(kernel_path_missing) {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    const N: usize = 10;
    let (kernel, kernel_pids, missed) = quick_clients_named("qk", "kernel", N);
    // Every request gets its client's pid from the kernel; the full description (exe,
    // command line) needs /proc read before the exit, which a loaded CPU can lose.
    assert_eq!(kernel_pids, N, "kernel path: {missed:#?}");
    assert!(kernel + 1 >= N, "kernel path described only {kernel}/{N}: {missed:#?}");
    // Without it, /proc must find the socket and its fd before the client is gone: the
    // /proc path loses most of these races, but not reliably all, so it is measured, not
    // asserted (see the report of benches/attribution_rate.sh for rates).
    let (procfs, _, missed) = quick_clients_named("qp", "procfs", N);
    eprintln!("note: quick clients named: kernel path {kernel}/{N}, /proc path {procfs}/{N}");
    for r in &missed {
        assert!(r.contains("\"attribution\":\"exited\"") || r.contains("\"attribution\":\"no_socket\""), "{r}");
    }
}

/// Issue 12, class 1: `--output` in a world-writable directory where a local user planted a
/// symlink, before the start and between a move-away and the automatic reopen. The target is
/// never written, the refusal is one line and counted, and monitoring goes on.
#[test]
fn output_symlinks_are_refused_and_monitoring_goes_on() {
    let _serial = serial();
    if let Some(why) = cannot_run("sym") {
        eprintln!("SKIPPED output_symlinks_are_refused_and_monitoring_goes_on: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = tmp.path().join("root-owned-target");
    std::fs::write(&target, "precious\n").expect("target");
    let log = tmp.path().join("imds.log");
    std::os::unix::fs::symlink(&target, &log).expect("pre-created symlink");
    let mut topo = Topology::up("sym");
    topo.start_mock(&tmp.path().join("counts.json"), &[]);
    let log_arg = log.to_string_lossy().into_owned();
    let (mut mon, mut lines) = Monitor::spawn(&topo, &["live", "--stats-interval", "0", "--output", &log_arg], &log);
    // The first line after the start-up lines (which path attribution uses).
    let refusal =
        (&mut lines).map_while(Result::ok).find(|l| !l.starts_with("imdswatch: attribution:")).unwrap_or_default();
    assert!(refusal.contains("symbolic link") && refusal.contains("imds.log"), "{refusal}");
    curl_from_host(&topo, "/latest/meta-data/hostname");
    std::thread::sleep(Duration::from_millis(700));
    // The operator removes the symlink: a real file is opened within a second.
    std::fs::remove_file(&log).expect("remove symlink");
    let t = Instant::now();
    while !log.exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = std::fs::symlink_metadata(&log).expect("log created");
    assert!(mode.file_type().is_file());
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
    curl_from_host(&topo, "/latest/meta-data/instance-id");
    wait_for_lines(&log, 1);
    // Moved away and replaced by a symlink before the automatic reopen.
    let moved = tmp.path().join("imds.log.moved");
    std::fs::rename(&log, &moved).expect("move away");
    std::os::unix::fs::symlink(&target, &log).expect("planted symlink");
    std::thread::sleep(Duration::from_millis(2500));
    curl_from_host(&topo, "/latest/meta-data/ami-id");
    wait_for_lines(&moved, 2);
    let _ = sh(Command::new("kill").args(["-TERM", &mon.child.id().to_string()]));
    assert_eq!(mon.child.wait().expect("wait").code(), Some(0));
    let err: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "precious\n", "the symlink was followed");
    let moved_text = std::fs::read_to_string(&moved).expect("moved");
    assert!(moved_text.contains("instance-id") && moved_text.contains("ami-id"), "{moved_text}");
    assert_eq!(err.iter().filter(|l| l.contains("symbolic link")).count(), 1, "{err:?}");
    let summary = err.iter().find(|l| l.contains("stopped after")).expect("summary");
    // Two refusals (start, planted) and the request seen while no file was open.
    assert!(summary.contains("output errors 3"), "{summary}");
}

/// Seconds since midnight UTC of an RFC 3339 `...THH:MM:SS.ffffffZ` timestamp.
fn secs_of_day(ts: &str) -> Option<f64> {
    let t = ts.split('T').nth(1)?.trim_end_matches('Z');
    let mut p = t.split(':');
    let h: f64 = p.next()?.parse().ok()?;
    let m: f64 = p.next()?.parse().ok()?;
    let s: f64 = p.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Issue 13: a container's token PUT lost to the hop limit is reported when the client gives
/// up (closes the connection, ~1 s after the request), not at the idle timeout: the record
/// must be in the output file within 2 s of that, before the client's IMDSv1 fallback is
/// judged. The delay is printed (`MEASURED`); the bound here is generous.
#[test]
fn live_hop_limit_token_loss_is_reported_within_2s_of_the_client_giving_up() {
    let _serial = serial();
    if let Some(why) = cannot_run("e2e") {
        eprintln!("SKIPPED live_hop_limit_token_loss_is_reported_within_2s_of_the_client_giving_up: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("e2e");
    let counts = tmp.path().join("mock-counts.json");
    topo.start_mock(&counts, &["--hop-limit", "1"]);
    let out = tmp.path().join("live.ndjson");
    let mut mon = Monitor::start(&topo, &out, &[]);
    let py = root().join("captures/.venv/bin/python");
    let boto = root().join("captures/clients/botocore_imds.py");
    let mut c = topo.exec("ctr");
    c.arg(&py).arg(&boto);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    // Watch the output file: when does the unanswered token request appear?
    let started = std::time::Instant::now();
    let mut seen_at: Option<f64> = None;
    let mut token_ts: Option<String> = None;
    while started.elapsed() < Duration::from_secs(20) && seen_at.is_none() {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(r) = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|r| r["imds"]["version"] == "token_request" && r["imds"]["outcome"] == "no_response")
        {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
            seen_at = Some((now.as_secs_f64()) % 86_400.0);
            token_ts = r["timestamp"].as_str().map(str::to_owned);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().expect("client");
    assert!(status.success(), "container botocore failed");
    let (recs, _) = mon.stop();
    topo.stop_mock();
    let (Some(seen), Some(sent)) = (seen_at, token_ts.as_deref().and_then(secs_of_day)) else {
        panic!("no unanswered token request in time: {recs:#?}");
    };
    let mut delay = seen - sent;
    if delay < -43_200.0 {
        delay += 86_400.0; // midnight between the two
    }
    // botocore gives up after its 1 s timeout; the record must follow within 2 s of that.
    eprintln!("MEASURED live no_response delay: {delay:.3} s after the token request (client timeout 1 s)");
    assert!(delay < 1.0 + 2.0, "token loss reported {delay:.3} s after the request");
    // And the fallback is judged hop_limit: the token record comes before the v1 requests.
    let order: Vec<String> = requests(&recs).iter().map(|r| summary_of(r)).collect();
    let tok = order.iter().position(|s| s.starts_with("token_request")).expect("token");
    let v1 = order.iter().position(|s| s.starts_with("v1")).expect("v1");
    assert!(tok < v1, "{order:#?}");
    // The stats records carry the host-level verdict.
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["verdict"]["clients_by_verdict"]["hop_limit"], 1, "{stats}");
    assert_eq!(stats["verdict"]["safe_to_enforce"], false, "{stats}");
}

/// `python3 captures/clients/sdk.py MODE` in namespace `which`; its pid, once it succeeded.
fn sdk_client(topo: &Topology, which: &str, mode: &str) -> u32 {
    let mut c = topo.exec(which);
    c.arg("python3").arg(root().join("captures/clients/sdk.py")).arg(mode);
    let (pid, out) = run_client(c);
    assert!(out.status.success(), "sdk.py {mode}: {}", String::from_utf8_lossy(&out.stderr));
    pid
}

/// The closing `verdict` record's client whose process group contains `needle`.
fn verdict_of_process<'a>(recs: &'a [Value], needle: &str) -> Option<&'a Value> {
    let v = recs.iter().rev().find(|r| r["type"] == "verdict")?;
    v["clients"].as_array()?.iter().find(|c| c["process"].as_str().is_some_and(|p| p.contains(needle)))
}

/// Issue 13: live verdicts are per process group (executable + script and arguments +
/// container, the dashboard's row), not per address + user agent: `sdk.py boto3` (IMDSv2) and
/// `sdk.py boto2` (IMDSv1), same address, same user agent, get their own verdicts.
#[test]
fn live_verdicts_are_per_process_not_per_address_and_user_agent() {
    let name = "live_verdicts_are_per_process_not_per_address_and_user_agent";
    let _serial = serial();
    if let Some(why) = cannot_run("vpp") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("vpp");
    topo.start_mock(&tmp.path().join("mock-counts.json"), &[]);
    let mut mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &[]);
    let v2_pid = sdk_client(&topo, "host", "boto3");
    let v1_pid = sdk_client(&topo, "host", "boto2");
    let (recs, code) = mon.stop();
    topo.stop_mock();
    assert_eq!(code, 0);
    assert_eq!(by_pid(&recs, v2_pid), ["token_request /latest/api/token 200", "v2 /latest/meta-data/instance-id 200"]);
    assert_eq!(by_pid(&recs, v1_pid), ["v1 /latest/meta-data/instance-id 200"]);
    let uas: Vec<&Value> = requests(&recs).iter().map(|r| &r["imds"]["user_agent"]).collect();
    assert!(uas.iter().all(|u| *u == "sdk-test/1.0"), "one user agent: {uas:?}");
    // Per address + user agent this would be one `falls_back` client.
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["verdict"]["clients_by_verdict"], serde_json::json!({"ready": 1, "breaks": 1}), "{stats}");
    assert_eq!(stats["verdict"]["would_break"], 1);
    let ready = verdict_of_process(&recs, "sdk.py boto3").expect("boto3's verdict");
    let breaks = verdict_of_process(&recs, "sdk.py boto2").expect("boto2's verdict");
    assert_eq!(ready["verdict"], "ready", "{ready}");
    assert_eq!(breaks["verdict"], "breaks", "{breaks}");
    assert_eq!(ready["client"], breaks["client"], "same address");
    assert_eq!(breaks["user_agent"], "sdk-test/1.0");
}

/// Issue 13, `proxy_refused` with a DNAT proxy as kube2iam runs it: the pod (ctr namespace)
/// talks to 169.254.169.254; a DNAT rule on the node (host namespace) sends that to a proxy
/// there, which forwards with `X-Forwarded-For`; IMDS refuses its token request (403) and the
/// pod's botocore falls back to IMDSv1 through the proxy. The capture holds both sides: the
/// pod's own requests on its veth (attributed to the pod's process, `forwarded: false`) and
/// the proxy's copies (`forwarded: true`, attributed to the proxy). Both are judged
/// `proxy_refused`: the pod because its token request was refused before it used IMDSv1, the
/// proxy because its relayed copies are the same story (and the only one a capture of the
/// IMDS side alone would hold); the fix for both is the proxy.
#[test]
fn live_pod_behind_a_dnat_proxy_is_proxy_refused() {
    let name = "live_pod_behind_a_dnat_proxy_is_proxy_refused";
    let _serial = serial();
    if let Some(why) = cannot_run("pxy") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    if sh(Command::new("nft").arg("--version")).status.code().is_none() {
        eprintln!("SKIPPED {name}: nft (nftables) is not installed: run scripts/setup.sh");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("pxy");
    let dnat =
        sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["dnat-proxy", &topo.prefix, "8181"]));
    assert!(dnat.status.success(), "DNAT rule: {}", String::from_utf8_lossy(&dnat.stderr));
    topo.start_mock(&tmp.path().join("mock-counts.json"), &[]);
    let mut proxy = topo
        .exec("host")
        .arg("python3")
        .arg(root().join("captures/clients/xff_proxy.py"))
        .args(["8181", "10.213.0.1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the proxy");
    let t = Instant::now();
    while sh(topo.exec("host").args(["ss", "-Hltn", "sport = :8181"])).stdout.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "the proxy did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &[]);
    let py = root().join("captures/.venv/bin/python");
    let mut pod = topo.exec("ctr");
    pod.arg(&py).arg(root().join("captures/clients/botocore_imds.py"));
    let (pod_pid, out) = run_client(pod);
    let (recs, code) = mon.stop();
    let _ = proxy.kill();
    let _ = proxy.wait();
    topo.stop_mock();
    assert!(out.status.success(), "pod's botocore: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(code, 0);
    let creds = "/latest/meta-data/iam/security-credentials/";
    let want = [
        "token_request /latest/api/token 403".to_owned(),
        format!("v1 {creds} 200"),
        format!("v1 {creds}imdswatch-test-role 200"),
    ];
    assert_eq!(by_pid(&recs, pod_pid), want);
    let reqs = requests(&recs);
    let pod_side: Vec<&&Value> = reqs.iter().filter(|r| r["process"]["pid"] == pod_pid).collect();
    assert!(pod_side.iter().all(|r| r["imds"]["forwarded"] == false), "{pod_side:#?}");
    assert!(pod_side.iter().all(|r| r["network"]["client"].as_str().is_some_and(|c| c.starts_with("10.213.0.2:"))));
    let copies: Vec<&&Value> = reqs.iter().filter(|r| r["imds"]["forwarded"] == true).collect();
    let mut copy_lines: Vec<String> = copies.iter().map(|r| summary_of(r)).collect();
    copy_lines.sort();
    let mut sorted = want.to_vec();
    sorted.sort();
    assert_eq!(copy_lines, sorted, "the proxy's forwarded copies");
    for c in &copies {
        assert!(c["network"]["client"].as_str().is_some_and(|a| a.starts_with("10.213.1.1:")), "{c}");
        assert!(c["process"]["cmdline"].as_str().is_some_and(|l| l.contains("xff_proxy.py")), "{c}");
    }
    let pod_verdict = verdict_of_process(&recs, "botocore_imds.py").expect("the pod's verdict");
    assert_eq!(pod_verdict["verdict"], "proxy_refused", "{pod_verdict}");
    assert_eq!(pod_verdict["client"], "10.213.0.2");
    let proxy_verdict = verdict_of_process(&recs, "xff_proxy.py").expect("the proxy's verdict");
    assert_eq!(proxy_verdict["verdict"], "proxy_refused", "{proxy_verdict}");
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["verdict"]["clients_by_verdict"]["proxy_refused"], 2, "{stats}");
}

#[path = "support/tmux.rs"]
mod tmux;

/// Issue 13, part 5: the live dashboard shows a token request still waiting for its answer
/// as "pending" on its process's row, then the row's verdict once the answer came (the mock
/// answers token requests after 3 s here).
#[test]
fn live_dashboard_shows_a_pending_token_request_then_the_verdict() {
    let name = "live_dashboard_shows_a_pending_token_request_then_the_verdict";
    let _serial = serial();
    if let Some(why) = cannot_run("pnd") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED {name}: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("pnd");
    topo.start_mock(&tmp.path().join("mock-counts.json"), &["--token-delay-ms", "3000"]);
    let script =
        format!("ip netns exec {} {} live; echo EXIT=$?; sleep 60", topo.ns("host"), env!("CARGO_BIN_EXE_imdswatch"));
    let s = tmux::Session(format!("imw-pnd-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "160", "-y", "30", "sh", "-c", &script])
        .status()
        .expect("tmux");
    assert!(st.success());
    tmux::wait_for(&s, "Waiting for IMDS requests");
    let mut c = topo.exec("host");
    c.arg("python3").arg(root().join("captures/clients/sdk.py")).arg("boto3");
    let spawned = Instant::now();
    let client = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("sdk.py");
    // The client's row, once it shows `what`.
    let row_with = |what: &str| {
        let t = Instant::now();
        loop {
            let screen = tmux::pane(&s);
            if let Some(l) = screen.lines().find(|l| l.contains("sdk.py boto3") && l.contains(what)) {
                return l.to_owned();
            }
            assert!(t.elapsed() < Duration::from_secs(15), "never saw {what:?} on the row:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let pending = row_with("pending ");
    // An upper bound: from starting the client (interpreter start-up included) to the screen.
    eprintln!("MEASURED pending shown {:.3} s after the client started", spawned.elapsed().as_secs_f64());
    eprintln!("pending row: {}", pending.trim());
    let done = row_with("ready");
    assert!(!done.contains("pending"), "settled: {done}");
    let out = client.wait_with_output().expect("client");
    assert!(out.status.success());
    tmux::keys(&s, &["q"]);
    let after = tmux::wait_for(&s, "EXIT=");
    assert!(after.contains("EXIT=0"), "{after}");
    drop(topo);
}
