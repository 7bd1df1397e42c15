//! Issue 22: the live pipeline in process, without root — fake frames → live's own engine
//! and attribution threads (`live::Stages`, as `imdswatch live` starts them) → the
//! attribution stage (with a fake process table behind `attribute::ProcessLookup`, and in
//! the second test a fake kernel path and fake container files too) → the output driver
//! (live client keys) → NDJSON and the dashboard. The scenario: two
//! `curl -A legacy-cron/1` runs (IMDSv1 only) and a `curl -A good-app/2` token + IMDSv2 pair
//! from one address: legacy-cron breaks, good-app is ready, never one `falls_back` client.

mod support;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use crossbeam_channel::bounded;
use imdswatch::attribute::stage::{AttrMsg, Lookups, Stage};
use imdswatch::attribute::{ConnectEvents, ProcessLookup, WorkloadLookup};
use imdswatch::bell::Bell;
use imdswatch::capture::live::Batch;
use imdswatch::capture::{LinkType, Packet};
use imdswatch::engine::{Engine, EngineConfig, EngineEvent};
use imdswatch::event::OutMsg;
use imdswatch::event::{Attribution, AttributionSource, Container, K8s, Process, ProcessFile};
use imdswatch::live::Stages;
use imdswatch::live::counters::Counters;
use imdswatch::sink::fan::Fan;
use imdswatch::sink::json::{Destination, JsonSink, Tolerant};
use imdswatch::sink::{Driver, RunStats};
use imdswatch::ui::sink::UiSink;
use imdswatch::ui::{App, UiMode};
use serde_json::Value;
use support::{Conv, OK_10};

/// A fake process table: the owner of each client port.
struct FakeProcs(HashMap<u16, (u32, &'static str)>);

impl ProcessLookup for FakeProcs {
    fn lookup(&mut self, client: SocketAddr, _server: SocketAddr) -> Attribution {
        let Some(&(pid, cmdline)) = self.0.get(&client.port()) else { return Attribution::default() };
        Attribution {
            process: Some(Process {
                pid,
                file: ProcessFile { name: "curl".into(), path: Some("/usr/bin/curl".into()) },
                cmdline: cmdline.into(),
                uid: 1000,
                user: Some("ops".into()),
                ancestors: Vec::new(),
            }),
            source: Some(AttributionSource::Procfs),
            ..Attribution::default()
        }
    }
}

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

const LEGACY: &str = "curl -s -A legacy-cron/1 http://169.254.169.254/latest/meta-data/instance-id";
const PUT: &str =
    "curl -s -A good-app/2 -X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 60 http://169.254.169.254/latest/api/token";
const GET: &str =
    "curl -s -A good-app/2 -H X-aws-ec2-metadata-token: [REDACTED] http://169.254.169.254/latest/meta-data/instance-id";

/// One curl: a connection from `port`, one request, its answer, closed.
fn curl(port: u16, request: &str, answer: &[u8], at: u64) -> Vec<support::Frame> {
    let mut c = Conv::new(&format!("10.0.0.5:{port}"), "169.254.169.254:80", 1000 + u32::from(port), 9000);
    c.now += at;
    c.handshake();
    c.client(request.as_bytes());
    c.server(answer);
    c.client_fin();
    c.server_fin();
    c.frames
}

fn frames() -> Vec<support::Frame> {
    let get = |ua: &str, token: bool| {
        let t = if token { "X-aws-ec2-metadata-token: AQAEAsecret\r\n" } else { "" };
        format!(
            "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: {ua}\r\n{t}Accept: */*\r\n\r\n"
        )
    };
    let put = "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: good-app/2\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
    let token = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\nAQAEAsecre";
    [
        curl(40001, &get("legacy-cron/1", false), OK_10, 0),
        curl(40002, &get("legacy-cron/1", false), OK_10, 1_000_000),
        curl(40003, put, token, 2_000_000),
        curl(40004, &get("good-app/2", true), OK_10, 2_100_000),
    ]
    .concat()
}

#[test]
fn live_pipeline_in_process_legacy_cron_breaks_good_app_is_ready() {
    for stats_interval in [Some(std::time::Duration::from_secs(1)), None] {
        let procs = FakeProcs(HashMap::from([
            (40001, (101, LEGACY)),
            (40002, (102, LEGACY)),
            (40003, (103, PUT)),
            (40004, (104, GET)),
        ]));
        let lookups = Lookups { process: Some(Box::new(procs)), host: Some("node-1".into()), ..Lookups::default() };
        // The frames, as a capture thread hands them to live's engine thread.
        let (frames_tx, frames_rx) = bounded::<Batch>(4);
        let counters = Arc::new(Counters::default());
        let bell = Bell::default();
        let stages = Stages::start(&EngineConfig::default(), frames_rx, bell.clone(), lookups, Arc::clone(&counters))
            .expect("stages");
        let out_rx = stages.output.clone();

        let json = Shared::default();
        let (ui_tx, ui_rx) = crossbeam_channel::unbounded();
        let tolerant =
            Tolerant { errors: Arc::new(AtomicU64::new(0)), hup: Arc::new(AtomicBool::new(false)), stats_interval };
        let fan = Fan::new()
            .with(Box::new(JsonSink::tolerant(json.clone(), tolerant)))
            .with(Box::new(UiSink::offline(ui_tx)));
        let output = std::thread::spawn(move || {
            Driver::new(fan).live().run(&out_rx, &mut RunStats::default, &mut |e| panic!("output: {e}"))
        });

        let mut batch = Batch::new(LinkType::Ethernet, 0);
        for f in frames() {
            assert_eq!(f.link, LinkType::Ethernet);
            batch.push(f.ts, &f.data);
        }
        frames_tx.send(batch).expect("engine");
        bell.ring();
        drop(frames_tx);
        bell.ring();
        stages.join();
        let counts = output.join().expect("output");
        assert_eq!((counts.v1, counts.v2, counts.token_request), (2, 1, 1));
        assert_eq!(Counters::get(&counters.attribution_misses), 0, "every request named");

        let text = String::from_utf8(json.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(!text.contains("AQAEAsecret"), "a token leaked: {text}");
        let recs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect();
        let requests: Vec<&Value> = recs.iter().filter(|r| r["type"] == "request").collect();
        assert_eq!(requests.len(), 4);
        assert!(requests.iter().all(|r| r["process"]["file"]["path"] == "/usr/bin/curl"), "{requests:#?}");
        let verdict = recs.iter().find(|r| r["type"] == "verdict").expect("a verdict record, whatever the stats pace");
        assert_eq!(recs.iter().any(|r| r["type"] == "stats"), stats_interval.is_some());
        let clients = verdict["clients"].as_array().expect("clients");
        let of = |ua: &str| -> Vec<&str> {
            clients.iter().filter(|c| c["user_agent"] == ua).map(|c| c["verdict"].as_str().unwrap_or("?")).collect()
        };
        assert_eq!(of("legacy-cron/1"), ["breaks"], "two runs of one command are one client: {verdict}");
        assert_eq!(of("good-app/2"), ["ready", "ready"], "two command lines are two clients: {verdict}");
        assert_eq!(verdict["would_break"], 1);

        let mut app = App::new(UiMode::Live, "t");
        while let Ok(ev) = ui_rx.try_recv() {
            app.on_event(ev);
        }
        let rows = app.visible_rows();
        let row_verdicts: Vec<(Option<&str>, &str)> =
            rows.iter().map(|r| (r.key.user_agent(), r.verdict().as_str())).collect();
        assert_eq!(
            row_verdicts,
            [(Some("legacy-cron/1"), "breaks"), (Some("good-app/2"), "ready"), (Some("good-app/2"), "ready")]
        );
        assert_eq!(rows[0].pids.iter().copied().collect::<Vec<_>>(), [101, 102]);
    }
}

/// The kernel path's fake: the connect event of each listed client port.
struct FakeKernel(HashMap<u16, Attribution>);

impl ConnectEvents for FakeKernel {
    fn get(&self, client: SocketAddr, _server: SocketAddr) -> Option<Attribution> {
        self.0.get(&client.port()).cloned()
    }
}

/// The node's container files' fake: container id → name, image and pod.
struct FakeWorkloads(HashMap<&'static str, (&'static str, &'static str)>);

impl WorkloadLookup for FakeWorkloads {
    fn enrich(&mut self, c: &mut Container) -> Option<K8s> {
        let &(name, pod) = self.0.get(c.id.as_str())?;
        c.name = Some(name.into());
        c.image = Some("registry.example/app:1".into());
        Some(K8s { namespace: Some("billing".into()), pod: Some(pod.into()), ..K8s::default() })
    }
}

fn process(pid: u32, exe: &str, cmdline: &str) -> Process {
    Process {
        pid,
        file: ProcessFile { name: exe.rsplit('/').next().unwrap_or(exe).into(), path: Some(exe.into()) },
        cmdline: cmdline.into(),
        uid: 0,
        user: Some("root".into()),
        ancestors: Vec::new(),
    }
}

/// Every source of the attribution stage injected: the kernel path names the first client
/// (in a container the node's files name), /proc the second, nobody the third. The stage
/// keeps its order (kernel, then /proc, then a miss, counted), names containers through the
/// workload lookup whichever path found the process, and stamps host and instance id.
#[test]
fn live_pipeline_in_process_with_fake_kernel_procfs_and_workloads() {
    const CTR: &str = "4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c";
    let in_ctr = |a: Attribution| Attribution { container: Some(Container::new(CTR, "containerd")), ..a };
    let kernel = FakeKernel(HashMap::from([(
        40001,
        in_ctr(Attribution {
            process: Some(process(201, "/usr/bin/python3", "python3 /app/sync.py")),
            source: Some(AttributionSource::Kernel),
            ..Attribution::default()
        }),
    )]));
    // /proc knows 40001 too (as another program): the kernel's answer comes first.
    let procs = FakeProcs(HashMap::from([(40001, (999, "not this one")), (40002, (202, LEGACY))]));
    let workloads = FakeWorkloads(HashMap::from([(CTR, ("sync", "sync-7d4b9c8f6d-x2x9q"))]));
    let misses = Arc::new(AtomicU64::new(0));
    let lookups = Lookups {
        process: Some(Box::new(procs)),
        kernel: Some(Arc::new(kernel)),
        workloads: Some(Box::new(workloads)),
        host: Some("node-1".into()),
        host_id: Some("i-0123456789abcdef0".into()),
    };
    let stage = Stage::new(lookups, Arc::clone(&misses));
    let (attr_tx, attr_rx) = bounded::<AttrMsg>(64);
    let (out_tx, out_rx) = bounded::<OutMsg>(64);
    let attribution = std::thread::spawn(move || stage.run(attr_rx, out_tx));

    let get = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: x/1\r\n\r\n";
    let frames = [curl(40001, get, OK_10, 0), curl(40002, get, OK_10, 1_000), curl(40003, get, OK_10, 2_000)].concat();
    let mut engine = Engine::new(EngineConfig::default());
    let mut dispatch = |ev: EngineEvent| {
        let m = match ev {
            EngineEvent::FlowOpened { key, ts } => AttrMsg::Lookup { key, ts },
            EngineEvent::Request { key, record } => AttrMsg::Record { key, record },
            EngineEvent::TokenPending { key, record } => AttrMsg::TokenPending { key, record },
        };
        attr_tx.send(m).expect("attribution stage");
    };
    for f in frames {
        engine.packet(&Packet { ts: f.ts, link: f.link, data: &f.data }, &mut dispatch);
    }
    engine.finish(&mut dispatch);
    drop(attr_tx);
    attribution.join().expect("attribution");

    let mut by_port = HashMap::new();
    for m in out_rx.try_iter() {
        if let OutMsg::Record(r) = m {
            by_port.insert(r.network.client.port(), r);
        }
    }
    assert_eq!(by_port.len(), 3);
    let live = |port: u16| by_port[&port].live.clone().expect("live fields");
    let k = live(40001);
    assert_eq!(k.attribution_source, Some(AttributionSource::Kernel));
    assert_eq!(k.process.as_ref().map(|p| p.pid), Some(201));
    let c = k.container.expect("container");
    assert_eq!((c.name.as_deref(), c.image.as_deref()), (Some("sync"), Some("registry.example/app:1")));
    assert_eq!(k.k8s.and_then(|p| p.pod).as_deref(), Some("sync-7d4b9c8f6d-x2x9q"));
    let p = live(40002);
    assert_eq!((p.attribution_source, p.process.map(|p| p.pid)), (Some(AttributionSource::Procfs), Some(202)));
    assert!(p.container.is_none() && p.k8s.is_none());
    let none = live(40003);
    assert!(none.process.is_none() && none.attribution_source.is_none());
    assert_eq!(misses.load(std::sync::atomic::Ordering::Relaxed), 1, "one request without a process");
    for port in [40001, 40002, 40003] {
        let l = live(port);
        assert_eq!((l.host.as_deref(), l.host_id.as_deref()), (Some("node-1"), Some("i-0123456789abcdef0")));
    }
}
