//! End-to-end: a real Prometheus scrapes `imdswatch live --metrics` while real clients (curl)
//! make IMDSv1 and IMDSv2 requests in the network-namespace topology (captures/netns.sh);
//! PromQL through Prometheus's HTTP API must return the numbers the clients produced, and
//! `promtool check metrics` must accept the exposition.
//!
//! Needs root, `ip netns`, and Prometheus (`prometheus`, `promtool`: Debian package
//! `prometheus`, installed by scripts/setup.sh); skips with a printed reason otherwise.
//! Prometheus runs inside the topology's host namespace, on its loopback, with a temporary
//! configuration and storage directory.

#[path = "support/host.rs"]
mod host;
use host::{euid, netns_permitted, root, sh};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn cannot_run() -> Option<String> {
    if euid() != 0 {
        return Some("not root".into());
    }
    if !have("prometheus") || !have("promtool") {
        return Some("prometheus/promtool not installed: run scripts/setup.sh".into());
    }
    if !netns_permitted("metrics") {
        return Some("`ip netns add` is not permitted here".into());
    }
    None
}

/// The topology's namespaces and what runs in them; all stopped and removed on drop.
struct Topology {
    prefix: String,
    children: Vec<Child>,
}

impl Topology {
    fn up() -> Topology {
        let prefix = format!("imw-met{}-", std::process::id() % 100_000);
        let st = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["up", &prefix]));
        assert!(st.status.success(), "netns up: {}", String::from_utf8_lossy(&st.stderr));
        Topology { prefix, children: Vec::new() }
    }

    fn exec(&self, which: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}{which}", self.prefix)]);
        c
    }

    fn spawn(&mut self, mut c: Command) {
        self.children.push(c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn"));
    }

    /// Waits until something listens on TCP `port` in namespace `which`.
    fn wait_listen(&self, which: &str, port: u16) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            let o = sh(self.exec(which).args(["ss", "-Hltn", &format!("sport = :{port}")]));
            if !o.stdout.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("nothing listens on port {port} in {which}");
    }

    fn curl(&self, args: &[&str]) -> Output {
        sh(self.exec("host").arg("curl").args(["-s", "--max-time", "5"]).args(args))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = sh(Command::new("kill").args(["-TERM", &c.id().to_string()]));
            let _ = c.wait();
        }
        let _ = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["down", &self.prefix]));
    }
}

const METRICS: &str = "127.0.0.1:19797";
const PROM: &str = "127.0.0.1:19090";

/// The value of an instant PromQL query with one result (None when it has none).
fn promql(t: &Topology, query: &str) -> Option<f64> {
    let url = format!("http://{PROM}/api/v1/query");
    let o = t.curl(&["-G", &url, "--data-urlencode", &format!("query={query}")]);
    let v: Value = serde_json::from_slice(&o.stdout).ok()?;
    let result = v["data"]["result"].as_array()?;
    assert!(result.len() <= 1, "{query}: more than one series: {v}");
    result.first()?["value"][1].as_str()?.parse().ok()
}

/// `sum by (LABEL)` query results as (label value, number) pairs, sorted.
fn promql_by(t: &Topology, query: &str, label: &str) -> Vec<(String, f64)> {
    let url = format!("http://{PROM}/api/v1/query");
    let o = t.curl(&["-G", &url, "--data-urlencode", &format!("query={query}")]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("Prometheus answers JSON");
    let mut out: Vec<(String, f64)> = v["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|r| {
            let l = r["metric"][label].as_str().unwrap_or("").to_owned();
            (l, r["value"][1].as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Polls until `query` returns `want` (Prometheus scrapes once a second).
fn wait_for(t: &Topology, query: &str, want: f64) {
    let start = Instant::now();
    let mut got = None;
    while start.elapsed() < Duration::from_secs(30) {
        got = promql(t, query);
        if got == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("{query}: want {want}, got {got:?}");
}

/// The topology with the mock IMDS, `imdswatch live --metrics` and Prometheus scraping it
/// every second, once Prometheus sees the target up.
fn start(tmp: &std::path::Path) -> Topology {
    let mut t = Topology::up();
    let mut mock = t.exec("imds");
    mock.arg("python3").arg(root().join("captures/mock_imds.py")).args(["--listen", "0.0.0.0:80"]);
    t.spawn(mock);
    t.wait_listen("imds", 80);

    let mut mon = t.exec("host");
    mon.arg(env!("CARGO_BIN_EXE_imdswatch")).args(["live", "--json", "--stats-interval", "0", "--metrics", METRICS]);
    t.spawn(mon);
    t.wait_listen("host", 19797);

    let config = tmp.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: imdswatch\n    static_configs:\n      - targets: ['{METRICS}']\n"
        ),
    )
    .expect("write the config");
    let mut prom = t.exec("host");
    prom.arg("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tmp.join("data").display()))
        .arg(format!("--web.listen-address={PROM}"));
    t.spawn(prom);
    t.wait_listen("host", 19090);
    wait_for(&t, "up{job=\"imdswatch\"}", 1.0);
    wait_for(&t, "imdswatch_enforcement_ready", 1.0);

    t
}

/// Two IMDSv1 reads, one token request and one IMDSv2 read from the host namespace.
fn make_requests(t: &Topology) {
    // Two IMDSv1 reads, one token request and one IMDSv2 read, each its own curl.
    let base = "http://169.254.169.254";
    for _ in 0..2 {
        let o = t.curl(&["-o", "/dev/null", &format!("{base}/latest/meta-data/instance-id")]);
        assert!(o.status.success(), "v1 curl");
    }
    let put =
        t.curl(&["-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", &format!("{base}/latest/api/token")]);
    let token = String::from_utf8_lossy(&put.stdout).trim().to_owned();
    assert!(!token.is_empty(), "no token from the mock");
    let v2 = t.curl(&[
        "-o",
        "/dev/null",
        "-H",
        &format!("X-aws-ec2-metadata-token: {token}"),
        &format!("{base}/latest/meta-data/ami-id"),
    ]);
    assert!(v2.status.success(), "v2 curl");
}

#[test]
fn prometheus_scrapes_live_metrics_of_v1_and_v2_clients() {
    if let Some(why) = cannot_run() {
        eprintln!("SKIPPED prometheus_scrapes_live_metrics_of_v1_and_v2_clients: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = start(tmp.path());
    make_requests(&t);

    wait_for(&t, "sum(imdswatch_requests_total)", 4.0);
    assert_eq!(promql(&t, "sum(imdswatch_requests_total{version=\"v1\",outcome=\"ok\"})"), Some(2.0));
    assert_eq!(promql(&t, "sum(imdswatch_requests_total{version=\"v2\"})"), Some(1.0));
    assert_eq!(promql(&t, "sum(imdswatch_requests_total{version=\"token_request\"})"), Some(1.0));
    assert_eq!(promql(&t, "sum(imdswatch_requests_total{breaks_when_enforced=\"true\"})"), Some(2.0));
    // The IMDSv1InUse alert's grouping (dist/prometheus-rules.yaml) names the service.
    let by_service = promql_by(
        &t,
        "sum by (instance, service) (imdswatch_requests_total{breaks_when_enforced=\"true\"})",
        "service",
    );
    assert_eq!(by_service, vec![("ec2_imds".to_string(), 2.0)]);
    wait_for(&t, "imdswatch_enforcement_ready", 0.0);
    assert_eq!(promql(&t, "imdswatch_breaking_requests_total"), Some(2.0));
    let last_v1 = promql(&t, "imdswatch_last_v1_timestamp_seconds").expect("last v1");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    assert!((now - last_v1).abs() < 120.0, "last v1 at {last_v1}, now {now}");

    // Per workload: both v1 requests are curl's. A curl lives ~1 ms after its SYN; one per
    // run may go unnamed (exe=""), counted as an attribution miss.
    let by_exe = promql_by(&t, "sum by (exe) (imdswatch_client_requests_total{version=\"v1\"})", "exe");
    let total: f64 = by_exe.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 2.0, "{by_exe:?}");
    let curl = by_exe.iter().find(|(e, _)| e == "curl").map_or(0.0, |(_, n)| *n);
    assert!(curl >= 1.0, "v1 not attributed to curl: {by_exe:?}");
    let unnamed = 2.0 - curl;
    let misses = promql(&t, "sum(imdswatch_attribution_misses_total)").unwrap_or(0.0);
    assert!(misses >= unnamed, "unnamed v1 {unnamed}, misses {misses}");
    // Health: packets were seen, none lost.
    wait_for(&t, "imdswatch_packets_total > bool 0", 1.0);
    assert_eq!(promql(&t, "imdswatch_kernel_drops_total + imdswatch_queue_losses_total"), Some(0.0));
    assert_eq!(promql(&t, "count(imdswatch_build_info)"), Some(1.0));

    exposition_is_clean_and_dashboard_queries_run(&t);
}

/// `promtool check metrics` on the exposition, the paths served, and every query of the
/// Grafana dashboard against this Prometheus.
fn exposition_is_clean_and_dashboard_queries_run(t: &Topology) {
    // The exposition itself is clean for promtool, and nothing else is served.
    let text = t.curl(&[&format!("http://{METRICS}/metrics")]).stdout;
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    {
        use std::io::Write;
        check.stdin.take().expect("stdin").write_all(&text).expect("feed promtool");
    }
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = |path: &str| {
        let o = t.curl(&["-o", "/dev/null", "-w", "%{http_code}", &format!("http://{METRICS}{path}")]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(code("/healthz"), "200");
    assert_eq!(code("/"), "404");
    assert_eq!(code("/debug/pprof"), "404");

    // Every query of the Grafana dashboard is valid PromQL for this Prometheus.
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("dist/grafana-dashboard.json")).expect("dashboard"))
            .expect("dashboard JSON");
    let url = format!("http://{PROM}/api/v1/query");
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let o = t.curl(&["-G", &url, "--data-urlencode", &format!("query={expr}")]);
            let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
            assert_eq!(v["status"], "success", "{expr}: {v}");
        }
    }
    // The v1 panel shows curl (increase() needs two scrapes of the series: poll for it).
    let q = "sum by (exe) (increase(imdswatch_client_requests_total{version=\"v1\"}[5m]))";
    let start = Instant::now();
    let mut v1_panel = promql_by(t, q, "exe");
    while !v1_panel.iter().any(|(e, _)| e == "curl") && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(500));
        v1_panel = promql_by(t, q, "exe");
    }
    assert!(v1_panel.iter().any(|(e, _)| e == "curl"), "{v1_panel:?}");
}

#[test]
fn the_alerting_rules_pass_promtool() {
    if !have("promtool") {
        eprintln!("SKIPPED the_alerting_rules_pass_promtool: promtool not installed: run scripts/setup.sh");
        return;
    }
    let o = sh(Command::new("promtool").args(["check", "rules"]).arg(root().join("dist/prometheus-rules.yaml")));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("3 rules found"), "{out}");
    let rules = std::fs::read_to_string(root().join("dist/prometheus-rules.yaml")).expect("rules");
    for alert in ["IMDSv1InUse", "IMDSTokenLostAtHopLimit", "imdswatchDropping"] {
        assert!(rules.contains(&format!("alert: {alert}")), "{alert} missing");
    }
}
