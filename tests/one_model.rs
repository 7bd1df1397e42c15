//! Issue 22: one per-client aggregate feeds every face. The same records go through the
//! output driver (NDJSON `verdict` and `stats` records, the summary table, the metrics) and
//! through the dashboard's sink into its model; every face must name the same clients with
//! the same verdicts, the overflow included, and live two command lines or two user agents
//! of one executable are never one client.

mod tui_fixtures;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imdswatch::event::{Outcome, RequestRecord};
use imdswatch::sink::fan::Fan;
use imdswatch::sink::json::{Destination, JsonSink, Tolerant};
use imdswatch::sink::metrics::{Metrics, MetricsSink};
use imdswatch::sink::table::TableSink;
use imdswatch::sink::{Driver, RunStats};
use imdswatch::ui::sink::UiSink;
use imdswatch::ui::{App, UiEvent, UiMode};
use imdswatch::verdict::{ClientKey, MAX_CLIENTS};
use serde_json::Value;
use tui_fixtures::{by, token, v1, v2};

/// A writer the test reads after the sink that owns a clone of it is gone.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Destination for Shared {}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
    }
}

/// Every face, fed by one driver: NDJSON (`stats_interval` as `live --stats-interval`), the
/// table, the metrics, and the dashboard's sink.
struct Faces {
    json: Shared,
    table: Shared,
    metrics: Arc<Metrics>,
    ui: crossbeam_channel::Receiver<UiEvent>,
}

fn run(records: &[RequestRecord], live: bool, stats_interval: Option<Duration>) -> Faces {
    let (json, table, metrics) = (Shared::default(), Shared::default(), Arc::new(Metrics::new()));
    let (tx, ui) = crossbeam_channel::unbounded();
    let tolerant =
        Tolerant { errors: Arc::new(AtomicU64::new(0)), hup: Arc::new(AtomicBool::new(false)), stats_interval };
    let fan = Fan::new()
        .with(Box::new(JsonSink::tolerant(json.clone(), tolerant)))
        .with(Box::new(TableSink::new(table.clone())))
        .with(Box::new(MetricsSink::new(metrics.clone())))
        .with(Box::new(UiSink::offline(tx)));
    let mut driver = Driver::new(fan);
    if live {
        driver = driver.live();
    }
    for r in records {
        driver.record(r);
    }
    driver.finish(&RunStats::default()).expect("finish");
    Faces { json, table, metrics, ui }
}

fn dashboard(faces: &Faces, mode: UiMode) -> App {
    let mut app = App::new(mode, "t");
    while let Ok(ev) = faces.ui.try_recv() {
        app.on_event(ev);
    }
    app
}

fn records_of(text: &str, kind: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str::<Value>(l).expect("NDJSON")).filter(|v| v["type"] == kind).collect()
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

/// Client `i`'s requests: four behaviours in turn (breaks, ready, hop_limit, falls_back),
/// each client its own address and user agent.
fn client(i: u64) -> Vec<RequestRecord> {
    let ua = format!("app-{i}/1");
    let ua = Some(ua.as_str());
    let t = i * 4;
    let mut rs = match i % 4 {
        0 => vec![v1(t, "/latest/meta-data/", ua)],
        1 => vec![token(t, Outcome::Ok, ua), v2(t + 1, "/latest/meta-data/", ua)],
        2 => vec![token(t, Outcome::NoResponse, ua), v1(t + 1, "/latest/meta-data/", ua)],
        _ => vec![v1(t, "/latest/meta-data/", ua), token(t + 1, Outcome::Ok, ua), v2(t + 2, "/", ua)],
    };
    for r in &mut rs {
        r.network.client = format!("10.{}.{}.{}:40000", i >> 16 & 255, i >> 8 & 255, i & 255).parse().expect("addr");
    }
    rs
}

#[test]
fn twenty_thousand_clients_every_face_agrees_overflow_included() {
    const N: u64 = 20_000;
    let records: Vec<RequestRecord> = (0..N).flat_map(client).collect();
    let folded_requests: usize = (MAX_CLIENTS as u64..N).map(|i| client(i).len()).sum();
    let faces = run(&records, false, Some(Duration::from_secs(1)));
    let text = faces.json.text();

    // The `verdict` record: the first MAX_CLIENTS clients, then `(other clients)`.
    let verdict = records_of(&text, "verdict").pop().expect("a verdict record");
    let clients = verdict["clients"].as_array().expect("clients");
    assert_eq!(clients.len(), MAX_CLIENTS + 1);
    assert_eq!(verdict["clients_folded"], folded_requests as u64);
    let by_verdict: BTreeMap<String, u64> = serde_json::from_value(verdict["clients_by_verdict"].clone()).expect("map");
    assert_eq!(by_verdict.values().sum::<u64>(), MAX_CLIENTS as u64 + 1);
    for v in ["breaks", "ready", "hop_limit", "falls_back"] {
        assert!(by_verdict[v] >= MAX_CLIENTS as u64 / 4, "{by_verdict:?}");
    }
    let verdict_of: BTreeMap<(String, String), String> = clients
        .iter()
        .map(|c| {
            let key =
                (c["client"].as_str().expect("client").to_owned(), c["user_agent"].as_str().unwrap_or("-").to_owned());
            (key, c["verdict"].as_str().expect("verdict").to_owned())
        })
        .collect();
    assert_eq!(verdict_of.len(), MAX_CLIENTS + 1, "every client once");
    assert!(verdict_of.keys().any(|(c, _)| c == "(other clients)"));

    // `stats.verdict` is the same host verdict.
    let stats = records_of(&text, "stats").pop().expect("a stats record");
    for field in ["clients_by_verdict", "would_break", "safe_to_enforce", "clients_folded"] {
        assert_eq!(stats["verdict"][field], verdict[field], "{field}");
    }

    // The dashboard's model: the same rows, verdicts and fold.
    let app = dashboard(&faces, UiMode::Offline);
    let rows = &app.view().rows;
    assert_eq!(rows.len(), MAX_CLIENTS + 1);
    assert_eq!(rows.requests_folded(), folded_requests as u64);
    let host = rows.host();
    assert_eq!(serde_json::to_value(&host.clients_by_verdict).expect("json"), verdict["clients_by_verdict"]);
    assert_eq!(host.would_break, verdict["would_break"].as_u64().expect("would_break"));
    for r in rows.values() {
        let key = match &r.key {
            ClientKey::Other => ("(other clients)".to_owned(), "-".to_owned()),
            ClientKey::Address { ip, user_agent } => (ip.to_string(), user_agent.clone().unwrap_or_else(|| "-".into())),
            k => panic!("offline row keyed {k:?}"),
        };
        // The folded row names its most frequent user agent in the record.
        let want = verdict_of.get(&key).or_else(|| verdict_of.iter().find(|((c, _), _)| *c == key.0).map(|(_, v)| v));
        assert_eq!(want.map(String::as_str), Some(r.verdict().as_str()), "{key:?}");
    }

    // The table: one line per client with the same verdict, the same count that would break.
    let table = faces.table.text();
    let (body, closing) = table.split_once("\n\n").expect("table, then the closing lines");
    let lines: Vec<&str> = body.lines().skip(1).collect();
    assert_eq!(lines.len(), MAX_CLIENTS + 1);
    for l in &lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        let (client, ua, v) = if l.starts_with("(other clients)") {
            ("(other clients)".to_owned(), words[2], words[words.len() - 1])
        } else {
            (words[0].to_owned(), words[1], words[words.len() - 1])
        };
        let want = verdict_of.get(&(client.clone(), ua.to_owned())).or_else(|| {
            (client == "(other clients)").then(|| verdict_of.iter().find(|((c, _), _)| *c == client).map(|(_, v)| v))?
        });
        assert_eq!(want.map(String::as_str), Some(v), "{l}");
    }
    let would_break = verdict["would_break"].as_u64().expect("would_break");
    assert!(closing.starts_with(&format!("{would_break} clients would break")), "{closing}");

    // The metrics: clients by verdict, the fold and readiness from the same host verdict.
    let m = faces.metrics.exposition();
    for (v, n) in &by_verdict {
        assert_eq!(metric(&m, &format!("imdswatch_clients{{verdict=\"{v}\"}} ")), Some(*n as f64), "{v}");
    }
    assert_eq!(metric(&m, "imdswatch_clients_folded "), Some(folded_requests as f64));
    assert_eq!(metric(&m, "imdswatch_enforcement_ready "), Some(0.0));
}

/// The scenario, in process: two runs of `curl -A legacy-cron/1` (IMDSv1 only) and a
/// `curl -A good-app/2` token + IMDSv2 pair, from one shell (one address). Live, each is its
/// own client: legacy-cron breaks, good-app is ready, in the verdict record (also with
/// `--stats-interval 0`: no stats record, the verdict record still written) and on the
/// dashboard.
#[test]
fn live_scenario_legacy_cron_breaks_and_good_app_is_ready_whatever_the_stats_pace() {
    let curl = "/usr/bin/curl";
    let legacy = "curl -s -A legacy-cron/1 http://169.254.169.254/latest/meta-data/instance-id";
    let put = "curl -s -X PUT -A good-app/2 -H X-aws-ec2-metadata-token-ttl-seconds: 60 http://169.254.169.254/latest/api/token";
    let get = "curl -s -A good-app/2 -H X-aws-ec2-metadata-token: [REDACTED] http://169.254.169.254/latest/meta-data/instance-id";
    let (old, good) = (Some("legacy-cron/1"), Some("good-app/2"));
    let records = [
        by(v1(1, "/latest/meta-data/instance-id", old), 100, curl, legacy, None),
        by(v1(2, "/latest/meta-data/instance-id", old), 101, curl, legacy, None),
        by(token(3, Outcome::Ok, good), 102, curl, put, None),
        by(v2(4, "/latest/meta-data/instance-id", good), 103, curl, get, None),
    ];
    for interval in [Some(Duration::from_secs(1)), None] {
        let faces = run(&records, true, interval);
        let text = faces.json.text();
        assert_eq!(records_of(&text, "stats").is_empty(), interval.is_none(), "{text}");
        let verdict = records_of(&text, "verdict").pop().unwrap_or_else(|| panic!("no verdict record ({interval:?})"));
        let clients = verdict["clients"].as_array().expect("clients");
        let of = |ua: &str| -> Vec<&str> {
            clients.iter().filter(|c| c["user_agent"] == ua).map(|c| c["verdict"].as_str().unwrap_or("?")).collect()
        };
        assert_eq!(of("legacy-cron/1"), ["breaks"], "the two runs are one client: {verdict}");
        assert!(!of("good-app/2").is_empty() && of("good-app/2").iter().all(|v| *v == "ready"), "{verdict}");
        assert!(clients.iter().all(|c| c["process"].as_str().is_some_and(|p| p.starts_with("/usr/bin/curl -s"))));
        assert_eq!(verdict["would_break"], 1);

        let app = dashboard(&faces, UiMode::Live);
        let rows = app.visible_rows();
        let verdicts = |ua: &str| -> Vec<&str> {
            rows.iter().filter(|r| r.key.user_agent() == Some(ua)).map(|r| r.verdict().as_str()).collect()
        };
        assert_eq!(verdicts("legacy-cron/1"), ["breaks"]);
        assert_eq!(verdicts("good-app/2"), of("good-app/2"));
        assert_eq!(rows[0].key.user_agent(), Some("legacy-cron/1"), "the client that breaks comes first");
        assert_eq!(rows[0].counts.v1, 2);
    }
}
