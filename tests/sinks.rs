//! The one output path: the Driver and the sinks behind the `Sink` trait, on real records
//! (the bundled curl-v1 capture through the engine).

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use imdswatch::capture::file::{ReadStats, read_file};
use imdswatch::engine::{Engine, EngineConfig, EngineEvent};
use imdswatch::event::{RequestRecord, StatsRecord};
use imdswatch::sink::json::{Destination, JsonSink, Tolerant};
use imdswatch::sink::table::TableSink;
use imdswatch::sink::{Driver, RunStats, Sink};
use imdswatch::ui::UiEvent;
use imdswatch::ui::sink::UiSink;

/// The requests of captures/curl-v1.pcap (two IMDSv1 GETs).
fn records() -> Vec<RequestRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/curl-v1.pcap");
    let mut engine = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let mut keep = |ev: EngineEvent| {
        if let EngineEvent::Request { record, .. } = ev {
            out.push(*record);
        }
    };
    read_file(&path, &mut ReadStats::default(), &mut |p| engine.packet(p, &mut keep)).expect("read");
    engine.finish(&mut keep);
    assert_eq!(out.len(), 2, "the capture holds two requests");
    out
}

/// Records what the driver calls.
#[derive(Default)]
struct Probe {
    calls: Vec<String>,
    fail_on_record: Option<usize>,
    stats_every: Option<Duration>,
}

impl Sink for Probe {
    fn stats_interval(&self) -> Option<Duration> {
        self.stats_every
    }
    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.calls.push(format!("record {}", r.imds.path));
        if self.fail_on_record == Some(self.calls.len()) {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        Ok(())
    }
    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        self.calls.push(format!("stats {}", s.requests.v1));
        Ok(())
    }
    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        self.calls.push(format!("finish {}", s.requests.v1));
        Ok(())
    }
}

/// A sink behind a shared handle, so the test can look at it after the driver is gone.
struct Shared(Arc<std::sync::Mutex<Probe>>);

impl Sink for Shared {
    fn stats_interval(&self) -> Option<Duration> {
        self.0.lock().expect("lock").stats_interval()
    }
    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.0.lock().expect("lock").record(r)
    }
    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        self.0.lock().expect("lock").stats(s)
    }
    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        self.0.lock().expect("lock").finish(s)
    }
}

#[test]
fn a_sink_that_failed_is_fed_no_more_but_requests_are_still_counted() {
    let recs = records();
    let probe = Arc::new(std::sync::Mutex::new(Probe { fail_on_record: Some(1), ..Probe::default() }));
    let mut d = Driver::new(Shared(probe.clone()));
    for r in &recs {
        d.record(r);
    }
    assert_eq!(d.counts().v1, 2, "both requests are counted");
    assert_eq!(d.take_error().map(|e| e.kind()), Some(io::ErrorKind::BrokenPipe));
    assert!(d.take_error().is_none(), "the error is handed out once");
    let counts = d.finish(&RunStats::default()).expect("no error left");
    assert_eq!(counts.v1, 2);
    assert_eq!(probe.lock().expect("lock").calls, [format!("record {}", recs[0].imds.path)], "only the first record");
}

#[test]
fn run_feeds_every_record_then_finishes_with_the_final_counts() {
    let recs = records();
    let probe = Arc::new(std::sync::Mutex::new(Probe { stats_every: Some(Duration::ZERO), ..Probe::default() }));
    let (tx, rx) = crossbeam_channel::bounded(8);
    for r in &recs {
        tx.send(Box::new(r.clone())).expect("send");
    }
    drop(tx);
    let mut snapshots = 0;
    let counts = Driver::new(Shared(probe.clone())).run(
        &rx,
        &mut || {
            snapshots += 1;
            RunStats::default()
        },
        &mut |e| panic!("no error expected: {e}"),
    );
    assert_eq!(counts.v1, 2);
    let calls = probe.lock().expect("lock").calls.clone();
    assert_eq!(calls.iter().filter(|c| c.starts_with("record ")).count(), 2, "{calls:?}");
    assert!(calls.iter().any(|c| c.starts_with("stats ")), "a stats snapshot was due: {calls:?}");
    assert_eq!(calls.last().map(String::as_str), Some("finish 2"), "{calls:?}");
    assert!(snapshots >= 2);
}

/// Issue 22: the service filter is a decorator in front of the verdict stage: records of other
/// services reach neither the output nor the verdicts, and are counted on every stats record.
#[test]
fn service_filter_decorates_the_output_and_the_verdicts() {
    use imdswatch::event::{Service, ServiceSet};
    use imdswatch::sink::filter::ServiceFilter;
    let recs = records();
    let mut ecs = ServiceSet::default();
    ecs.insert(Service::EcsTaskCredentials);

    let mut f = ServiceFilter::new(Probe::default(), Some(ecs));
    for r in &recs {
        f.record(r).expect("record");
    }
    f.finish(&StatsRecord::default()).expect("finish");
    assert_eq!(f.filtered(), 2);
    assert_eq!(f.inner().calls, ["finish 0"], "the output saw no record");

    let probe = Arc::new(std::sync::Mutex::new(Probe::default()));
    let mut d = Driver::new(Shared(probe.clone())).with_services(Some(ecs));
    for r in &recs {
        d.record(r);
    }
    assert!(d.clients().is_empty(), "no verdict of a filtered record");
    assert_eq!((d.counts().v1, d.counts().filtered_out), (0, 2));
    assert_eq!(d.finish(&RunStats::default()).expect("finish").filtered_out, 2);
    assert_eq!(probe.lock().expect("lock").calls, ["finish 0"]);
}

/// A writer that fails every write with `kind`.
struct Failing(io::ErrorKind);

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(self.0))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Destination for Failing {}

fn tolerant(kind: io::ErrorKind) -> (JsonSink<Failing>, Arc<AtomicU64>) {
    let errors = Arc::new(AtomicU64::new(0));
    let t = Tolerant { errors: errors.clone(), hup: Arc::new(AtomicBool::new(false)), stats_interval: None };
    (JsonSink::tolerant(Failing(kind), t), errors)
}

#[test]
fn live_json_counts_failed_writes_and_gives_up_only_on_a_closed_pipe() {
    let r = &records()[0];
    let (mut full, errors) = tolerant(io::ErrorKind::StorageFull);
    assert!(full.record(r).is_ok(), "a full disk is not fatal");
    assert!(full.record(r).is_ok());
    assert_eq!(errors.load(Relaxed), 2, "each lost line is counted");

    let (mut closed, errors) = tolerant(io::ErrorKind::BrokenPipe);
    assert_eq!(closed.record(r).map_err(|e| e.kind()), Err(io::ErrorKind::BrokenPipe));
    assert_eq!(errors.load(Relaxed), 0, "a reader that left is not an output error");

    let mut strict = JsonSink::strict(io::BufWriter::with_capacity(0, Failing(io::ErrorKind::StorageFull)));
    assert!(strict.record(r).is_err(), "analyze stops at the first write error");
}

#[test]
fn the_table_sink_prints_the_summary_at_finish() {
    let recs = records();
    let mut out = Vec::new();
    // The table reads the driver's per-client aggregate (handed over with the verdicts).
    let mut driver = imdswatch::sink::Driver::new(TableSink::new(&mut out));
    for r in &recs {
        driver.record(r);
    }
    driver.finish(&imdswatch::sink::RunStats::default()).expect("table");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.contains("curl/7.88.1") && text.contains("1 client would break: 10.213.1.1 curl/7.88.1 (breaks)."),
        "{text}"
    );
}

#[test]
fn the_live_dashboard_never_waits_and_counts_what_it_drops() {
    let recs = records();
    let (tx, rx) = crossbeam_channel::bounded::<UiEvent>(1);
    let losses = Arc::new(AtomicU64::new(0));
    let mut ui = UiSink::live(tx, losses.clone());
    for r in &recs {
        ui.record(r).expect("never an error");
    }
    assert_eq!(losses.load(Relaxed), 1, "the queue held one; the other is counted");
    assert!(matches!(rx.try_recv(), Ok(UiEvent::Request(_))));
    assert_eq!(ui.stats_interval(), Some(Duration::from_secs(1)));
}

#[test]
fn a_fan_feeds_every_member_and_keeps_each_ones_stats_pace() {
    use imdswatch::sink::fan::Fan;
    let recs = records();
    let fast = Arc::new(std::sync::Mutex::new(Probe { stats_every: Some(Duration::ZERO), ..Probe::default() }));
    let quiet = Arc::new(std::sync::Mutex::new(Probe { fail_on_record: Some(1), ..Probe::default() }));
    let mut fan = Fan::new().with(Box::new(Shared(quiet.clone()))).with(Box::new(Shared(fast.clone())));
    assert_eq!(fan.stats_interval(), Some(Duration::ZERO), "the fastest member's pace");
    assert!(fan.record(&recs[0]).is_err(), "a member's error is passed on");
    fan.stats(&StatsRecord::default()).expect("stats");
    fan.finish(&StatsRecord::default()).expect("finish");
    let fast = fast.lock().expect("lock").calls.clone();
    let quiet = quiet.lock().expect("lock").calls.clone();
    assert_eq!(fast.len(), 3, "fed although the first member failed: {fast:?}");
    assert!(quiet.iter().all(|c| !c.starts_with("stats ")), "no periodic stats without an interval: {quiet:?}");
    assert_eq!(quiet.last().map(String::as_str), Some("finish 0"));
}
