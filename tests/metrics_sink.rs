//! The Prometheus sink on its own: counts, the readiness rule, bounded cardinality, health
//! counters fed from totals, escaping, and an exposition `promtool check metrics` accepts.

#[path = "tui_fixtures/mod.rs"]
mod tui_fixtures;

use imdswatch::event::{AttributionMiss, LiveFields, Outcome, StatsRecord};
use imdswatch::sink::metrics::{MAX_CLIENT_SERIES, Metrics, OVERFLOW_EXE, SNAPSHOT_TTL, breaks_when_enforced};
use imdswatch::verdict::Clients;
use tui_fixtures::{by, token, v1, v2};

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

fn fresh(m: &Metrics) -> String {
    std::thread::sleep(SNAPSHOT_TTL);
    m.exposition().to_string()
}

#[test]
fn requests_readiness_and_workloads_are_counted() {
    let m = Metrics::new();
    // Readiness is the host verdict of the per-client aggregate (stats.verdict).
    let mut clients = Clients::<()>::new(true);
    let mut feed = |r: &imdswatch::event::RequestRecord| {
        m.on_record(r);
        clients.add(r);
        m.on_verdict(&clients.host());
    };
    let text = fresh(&m);
    assert_eq!(sample(&text, "imdswatch_enforcement_ready "), Some(1.0));
    feed(&by(v2(1, "/latest/meta-data/ami-id", None), 10, "/usr/bin/curl", "curl -H x", None));
    feed(&by(token(2, Outcome::Ok, None), 10, "/usr/bin/curl", "curl -X PUT", None));
    let text = fresh(&m);
    assert_eq!(sample(&text, "imdswatch_enforcement_ready "), Some(1.0), "v2 and tokens do not break");
    let v1_rec = by(
        v1(3, "/latest/meta-data/instance-id", None),
        11,
        "/opt/app/bin/legacy-agent",
        "legacy-agent --secret=x",
        None,
    );
    assert!(breaks_when_enforced(&v1_rec));
    feed(&v1_rec);
    // A v1 refused (401) does not break anything more once enforced.
    let refused = v1(4, "/latest/meta-data/instance-id", None);
    let mut refused = tui_fixtures::request(4, refused.imds.version, "/x", Outcome::Rejected, None);
    refused.live = Some(LiveFields { attribution: Some(AttributionMiss::Exited), ..LiveFields::default() });
    assert!(!breaks_when_enforced(&refused));
    feed(&refused);
    let text = fresh(&m);
    assert_eq!(sample(&text, "imdswatch_enforcement_ready "), Some(0.0));
    assert_eq!(sample(&text, "imdswatch_clients{verdict=\"breaks\"} "), Some(1.0), "{text}");
    assert_eq!(sample(&text, "imdswatch_clients{verdict=\"ready\"} "), Some(2.0), "{text}");
    assert_eq!(sample(&text, "imdswatch_breaking_requests_total "), Some(1.0));
    assert_eq!(sample(&text, "imdswatch_last_v1_timestamp_seconds "), Some(1_700_000_004.0));
    assert_eq!(
        sample(
            &text,
            "imdswatch_client_requests_total{exe=\"legacy-agent\",container_image=\"\",k8s_namespace=\"\",k8s_container=\"\",version=\"v1\",product=\"unknown\"} "
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "imdswatch_attribution_misses_total{reason=\"exited\"} "), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "imdswatch_requests_total{provider=\"aws\",version=\"v1\",outcome=\"ok\",credentials=\"false\",breaks_when_enforced=\"true\",service=\"ec2_imds\"} "
        ),
        Some(1.0),
        "{text}"
    );
    // Never a pid, a command line or a path in any label.
    for secret in ["--secret", "/opt/app", "pid=\"", "legacy-agent --"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn client_label_sets_are_capped_with_an_overflow_series() {
    let m = Metrics::new();
    let extra = 25;
    for i in 0..MAX_CLIENT_SERIES + extra {
        m.on_record(&by(v1(1, "/latest/meta-data/", None), 100, &format!("/usr/bin/job-{i}"), "job", None));
    }
    // Known label sets keep counting after the cap.
    m.on_record(&by(v1(2, "/latest/meta-data/", None), 100, "/usr/bin/job-0", "job", None));
    let text = fresh(&m);
    let series = text.lines().filter(|l| l.starts_with("imdswatch_client_requests_total{")).count();
    assert_eq!(series, MAX_CLIENT_SERIES + 1, "the cap plus one overflow series");
    let overflow = format!(
        "imdswatch_client_requests_total{{exe=\"{OVERFLOW_EXE}\",container_image=\"\",k8s_namespace=\"\",k8s_container=\"\",version=\"v1\",product=\"unknown\"}} "
    );
    assert_eq!(sample(&text, &overflow), Some(extra as f64));
    assert_eq!(sample(&text, "imdswatch_client_series_overflow_total "), Some(extra as f64));
    assert!(text.contains("exe=\"job-0\""));
    assert_eq!(
        sample(
            &text,
            "imdswatch_client_requests_total{exe=\"job-0\",container_image=\"\",k8s_namespace=\"\",k8s_container=\"\",version=\"v1\",product=\"unknown\"} "
        ),
        Some(2.0)
    );
}

#[test]
fn hostile_executable_names_are_escaped_and_cut() {
    let m = Metrics::new();
    let evil = format!("/tmp/a\"b\\c\nd{}", "x".repeat(500));
    m.on_record(&by(v1(1, "/", None), 1, &evil, "x", None));
    let text = fresh(&m);
    let line = text.lines().find(|l| l.starts_with("imdswatch_client_requests_total{")).expect("series");
    assert!(line.contains("exe=\"a\\\"b\\\\c?d"), "{line}");
    assert!(line.len() < 300, "{line}");
    assert!(!text.contains("\nd"), "a newline from /proc must not start a line");
}

#[test]
fn health_counters_follow_the_totals() {
    let m = Metrics::new();
    let mut s = StatsRecord { packets: 100, kernel_drops: 2, flows_active: 5, ..StatsRecord::default() };
    s.anomalies.insert("truncated", 3);
    s.live_health.shadow_evicted = 700;
    m.on_stats(&s);
    s.packets = 250;
    s.kernel_drops = 2;
    s.anomalies.insert("truncated", 4);
    s.live_health.shadow_evicted = 754;
    s.live_health.shadow_hits = 3;
    s.live_health.perf_lost = 1;
    s.live_health.attribution_overload = 9;
    m.on_stats(&s);
    m.on_output_errors(7);
    m.on_output_errors(7);
    let text = fresh(&m);
    assert_eq!(sample(&text, "imdswatch_packets_total "), Some(250.0));
    assert_eq!(sample(&text, "imdswatch_kernel_drops_total "), Some(2.0));
    assert_eq!(sample(&text, "imdswatch_flows_active "), Some(5.0));
    assert_eq!(sample(&text, "imdswatch_output_errors_total "), Some(7.0));
    assert_eq!(sample(&text, "imdswatch_anomalies_total{kind=\"truncated\"} "), Some(4.0));
    // The attribution path's health (live): the shadow process table, perf rings, the queue.
    assert_eq!(sample(&text, "imdswatch_shadow_evicted_total "), Some(754.0));
    assert_eq!(sample(&text, "imdswatch_shadow_hits_total "), Some(3.0));
    assert_eq!(sample(&text, "imdswatch_perf_lost_total "), Some(1.0));
    assert_eq!(sample(&text, "imdswatch_attribution_overload_total "), Some(9.0));
    assert!(text.contains("imdswatch_build_info{version=\""));
}

#[test]
fn the_exposition_passes_promtool() {
    let have = std::process::Command::new("promtool").arg("--version").output().is_ok();
    if !have {
        eprintln!("SKIPPED the_exposition_passes_promtool: promtool not installed: run scripts/setup.sh");
        return;
    }
    let m = Metrics::new();
    m.on_record(&by(v1(1, "/", None), 1, "/usr/bin/curl", "curl", None));
    m.on_stats(&StatsRecord { packets: 3, ..StatsRecord::default() });
    let text = fresh(&m);
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    }
    let o = child.wait_with_output().expect("promtool");
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}

mod server {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::time::Duration;

    use imdswatch::sink::metrics::Metrics;
    use imdswatch::sink::metrics_http::{MAX_CONNS, MAX_HEAD, bind, serve};

    fn start() -> (SocketAddr, Arc<Metrics>) {
        let m = Arc::new(Metrics::new());
        let l = bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        (serve(l, m.clone()).expect("serve"), m)
    }

    fn ask(addr: SocketAddr, req: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let _ = s.write_all(req);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn only_get_of_two_paths_is_answered() {
        let (addr, _) = start();
        let ok = ask(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n") && ok.contains("text/plain; version=0.0.4"), "{ok}");
        assert!(ok.contains("imdswatch_enforcement_ready 1"));
        assert!(ask(addr, b"GET /healthz HTTP/1.1\r\n\r\n").ends_with("\r\n\r\nok\n"));
        assert!(ask(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200"));
        let head = ask(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"), "{head}");
        assert!(ask(addr, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(ask(addr, b"GET /../etc/passwd HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(ask(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 1\r\n\r\nx").starts_with("HTTP/1.1 405"));
        assert!(ask(addr, b"\x16\x03\x01\x00garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert!(ask(addr, &big).starts_with("HTTP/1.1 400"), "an oversize head is refused");
    }

    #[test]
    fn silent_clients_time_out_and_a_flood_is_refused_and_counted() {
        let (addr, m) = start();
        // More idle clients (never a byte) than heads are read at once: the oldest make
        // room, counted; a scrape is still answered at once, not after the idle ones.
        let idle: Vec<TcpStream> = (0..MAX_CONNS + 6).map(|_| TcpStream::connect(addr).expect("connect")).collect();
        std::thread::sleep(Duration::from_millis(300));
        let t = std::time::Instant::now();
        let ok = ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(t.elapsed() < Duration::from_secs(1), "answered in {:?}", t.elapsed());
        drop(idle);
        let text = m.exposition();
        let refused: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("imdswatch_metrics_refused_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        assert!(refused >= 7.0, "connections beyond MAX_CONNS close the oldest, counted: {text}");
    }
}

/// Issue 24: the `product` label names the client software from the catalogue (a fixed set
/// of values), by user agent or, for a generic one, by the process.
#[test]
fn the_product_label_names_the_client_software() {
    let m = Metrics::new();
    m.on_record(&by(
        v1(1, "/latest/meta-data/", Some("aws-sdk-nodejs/2.500.0 linux/v20.20.2")),
        7,
        "/usr/bin/node",
        "node app.js",
        None,
    ));
    m.on_record(&by(
        v1(2, "/2009-04-04/meta-data/", Some("Python-urllib/3.11")),
        8,
        "/usr/bin/python3.11",
        "/usr/bin/python3 /usr/bin/ec2metadata",
        None,
    ));
    let text = fresh(&m);
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("imdswatch_client_requests_total{")).collect();
    assert!(series.iter().any(|l| l.contains("exe=\"node\"") && l.contains("product=\"aws-sdk-js-v2\"")), "{text}");
    assert!(series.iter().any(|l| l.contains("product=\"cloud-guest-utils-ec2metadata\"")), "{text}");
    for l in series {
        assert!(!l.contains("2.500.0") && !l.contains("app.js"), "no version or argument in a label: {l}");
    }
}
