//! `imdswatch live`: capture → engine → attribution → output, one thread each, joined by
//! bounded crossbeam channels.
//!
//! - capture → engine: [`CAPTURE_QUEUE`] batches; a full queue loses the batch (counted as
//!   `queue_losses`), the capture thread never waits;
//! - engine → attribution: [`ATTR_QUEUE`] messages; lookups are skipped when full (counted),
//!   requests wait (they are never dropped: the wait backs up into the capture queue, where
//!   any loss is counted);
//! - attribution → output: [`OUTPUT_QUEUE`] requests.
//!
//! Shutdown (SIGINT, SIGTERM, `--duration`, or a closed stdout): the capture threads stop,
//! dropping their senders; each stage drains its queue, finishes and drops its own sender;
//! the threads are joined in order.

pub mod attribution;
pub mod counters;
pub mod output;
pub mod privileges;

use std::io::{self, LineWriter};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use crate::attribute::Attributor;
use crate::capture::live::{Batch, LiveCapture};
use crate::cli::exit;
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crate::event::{RequestCounts, RequestRecord, StatsRecord};
use crate::sink::logfile::LogFile;
use crate::sink::ndjson::Ndjson;
use crate::sink::tui::{UiEvent, UiMode};
use crate::time::Timestamp;
use attribution::{AttrMsg, Stage};
use counters::Counters;
use output::{Dest, JsonOutput};

pub const CAPTURE_QUEUE: usize = 1024;
pub const ATTR_QUEUE: usize = 8192;
pub const OUTPUT_QUEUE: usize = 8192;
/// Records waiting for the dashboard's next frame.
pub const UI_QUEUE: usize = 65_536;

/// A validated `live` invocation.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub interfaces: Vec<String>,
    pub output: Option<PathBuf>,
    pub stats_interval: Option<Duration>,
    pub duration: Option<Duration>,
    pub attribution: bool,
    pub engine: EngineConfig,
}

/// Builds the `stats` record from the pipeline's counters.
pub fn stats_record(c: &Counters, counts: &RequestCounts, sources: &[String], started: Instant) -> StatsRecord {
    let (engine, flows) = c.engine();
    StatsRecord {
        timestamp: Timestamp::now(),
        uptime_seconds: started.elapsed().as_secs(),
        sources: sources.to_vec(),
        packets: Counters::get(&c.packets),
        imds_packets: engine.imds_packets,
        requests: *counts,
        kernel_drops: Counters::get(&c.kernel_drops),
        interface_drops: Counters::get(&c.interface_drops),
        queue_losses: Counters::get(&c.queue_losses),
        flows_active: flows as u64,
        flows_evicted: engine.flows_evicted,
        attribution_misses: Counters::get(&c.attribution_misses),
        anomalies: engine.anomalies(),
        verdict: None,
    }
}

/// Runs headless (NDJSON) live monitoring until a signal or `--duration`.
pub fn run_json(cfg: &LiveConfig) -> anyhow::Result<u8> {
    let captures = open_all(cfg)?;
    let dest = match &cfg.output {
        Some(p) => Dest::File(LogFile::open(p).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", p.display()))?),
        None => Dest::Stdout(LineWriter::new(io::stdout())),
    };
    let r = Running::start(cfg, captures)?;
    let out = JsonOutput {
        out: Ndjson::new(dest, true),
        stats_interval: cfg.stats_interval,
        sources: r.sources.clone(),
        counters: r.counters.clone(),
        started: r.started,
        hup: r.signals.hup.clone(),
        stop: r.signals.stop.clone(),
    };
    let rx = r.pipeline.output.clone();
    let writer = thread::Builder::new().name("output".into()).spawn(move || out.run(rx))?;
    wait_for_stop(&r.signals.stop, cfg.duration, &r.pipeline);
    r.pipeline.join();
    let counts = writer.join().unwrap_or_default();
    Ok(finish(&r.counters, &counts, r.started))
}

/// A started pipeline and what its faces share. Everything that needs privileges (capture
/// handles, the output file) is opened before; this drops them before any thread starts.
struct Running {
    signals: Signals,
    counters: Arc<Counters>,
    started: Instant,
    sources: Vec<String>,
    pipeline: Pipeline,
}

impl Running {
    fn start(cfg: &LiveConfig, captures: Vec<LiveCapture>) -> anyhow::Result<Running> {
        privileges::boost_priority();
        privileges::drop_after_capture().map_err(|e| anyhow::anyhow!("cannot drop privileges: {e}"))?;
        let signals = Signals::register()?;
        let counters = Arc::new(Counters::default());
        let sources: Vec<String> = captures.iter().map(|c| c.iface.clone()).collect();
        let pipeline = Pipeline::start(cfg, captures, counters.clone(), signals.stop.clone())?;
        eprintln!(
            "imdswatch: capturing on {} ({}); stop with Ctrl-C",
            sources.join(", "),
            cfg.engine.endpoints.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        );
        Ok(Running { signals, counters, started: Instant::now(), sources, pipeline })
    }
}

/// Runs the dashboard on this terminal over the live pipeline.
pub fn run_dashboard(cfg: &LiveConfig) -> anyhow::Result<u8> {
    let r = Running::start(cfg, open_all(cfg)?)?;
    let (ui_tx, ui_rx) = bounded::<UiEvent>(UI_QUEUE);
    let (rx, c2, src, started) = (r.pipeline.output.clone(), r.counters.clone(), r.sources.clone(), r.started);
    let feeder = thread::Builder::new().name("ui-feed".into()).spawn(move || feed_ui(rx, ui_tx, c2, src, started))?;
    let title = format!("live on {}", r.sources.join(", "));
    let ui = crate::sink::tui::run(ui_rx, UiMode::Live, title);
    r.signals.stop.store(true, Relaxed);
    r.pipeline.join();
    let counts = feeder.join().unwrap_or_default();
    ui?;
    Ok(finish(&r.counters, &counts, r.started))
}

/// Hands records to the dashboard without ever waiting on it (a full queue loses the record,
/// counted in `queue_losses`), plus a stats record each second to move its clock.
fn feed_ui(
    rx: Receiver<Box<RequestRecord>>,
    tx: Sender<UiEvent>,
    counters: Arc<Counters>,
    sources: Vec<String>,
    started: Instant,
) -> RequestCounts {
    let mut counts = RequestCounts::default();
    let mut last = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(r) => {
                counts.add(&r);
                if tx.try_send(UiEvent::Request(r)).is_err() {
                    counters.queue_losses.fetch_add(1, Relaxed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            let _ = tx.try_send(UiEvent::Stats(stats_record(&counters, &counts, &sources, started)));
        }
    }
    let _ = tx.try_send(UiEvent::Stats(stats_record(&counters, &counts, &sources, started)));
    counts
}

/// Prints the closing summary; exit status 1 when a capture died, else 0.
fn finish(counters: &Counters, counts: &RequestCounts, started: Instant) -> u8 {
    let errors = counters.take_errors();
    for e in &errors {
        eprintln!("imdswatch: {e}");
    }
    let (engine, _) = counters.engine();
    eprintln!(
        "imdswatch: stopped after {} s: {} packets, {} requests (v1 {}, v2 {}, token {}, rejected {}, unanswered tokens {}); kernel drops {}, queue losses {}, attribution misses {}, output errors {}",
        started.elapsed().as_secs(),
        Counters::get(&counters.packets),
        engine.requests,
        counts.v1,
        counts.v2,
        counts.token_request,
        counts.rejected,
        counts.token_unanswered,
        Counters::get(&counters.kernel_drops),
        Counters::get(&counters.queue_losses),
        Counters::get(&counters.attribution_misses),
        Counters::get(&counters.output_errors),
    );
    if errors.is_empty() { exit::OK } else { exit::ERROR }
}

fn open_all(cfg: &LiveConfig) -> anyhow::Result<Vec<LiveCapture>> {
    cfg.interfaces.iter().map(|i| LiveCapture::open(i, &cfg.engine.endpoints).map_err(anyhow::Error::from)).collect()
}

/// SIGINT/SIGTERM set `stop`; SIGHUP sets `hup`.
pub struct Signals {
    pub stop: Arc<AtomicBool>,
    pub hup: Arc<AtomicBool>,
}

impl Signals {
    pub fn register() -> anyhow::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(SIGINT, stop.clone())?;
        signal_hook::flag::register(SIGTERM, stop.clone())?;
        signal_hook::flag::register(SIGHUP, hup.clone())?;
        Ok(Signals { stop, hup })
    }
}

/// The running threads of capture, engine and attribution.
pub struct Pipeline {
    captures: Vec<thread::JoinHandle<()>>,
    engine: thread::JoinHandle<()>,
    attribution: thread::JoinHandle<()>,
    /// Finished, attributed requests.
    pub output: Receiver<Box<RequestRecord>>,
}

impl Pipeline {
    pub fn start(
        cfg: &LiveConfig,
        captures: Vec<LiveCapture>,
        counters: Arc<Counters>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Pipeline> {
        let (cap_tx, cap_rx) = bounded::<Batch>(CAPTURE_QUEUE);
        let (attr_tx, attr_rx) = bounded::<AttrMsg>(ATTR_QUEUE);
        let (out_tx, out_rx) = bounded::<Box<RequestRecord>>(OUTPUT_QUEUE);
        let mut capture_threads = Vec::new();
        for c in captures {
            let (tx, counters, stop) = (cap_tx.clone(), counters.clone(), stop.clone());
            capture_threads.push(
                thread::Builder::new().name(format!("capture-{}", c.iface)).spawn(move || c.run(tx, counters, stop))?,
            );
        }
        drop(cap_tx);
        let engine_cfg = cfg.engine.clone();
        let c2 = counters.clone();
        let engine =
            thread::Builder::new().name("engine".into()).spawn(move || engine_loop(engine_cfg, cap_rx, attr_tx, c2))?;
        let stage = Stage::new(
            cfg.attribution.then(|| {
                let mut a = Attributor::new();
                a.warm_up();
                a
            }),
            crate::attribute::host(),
            counters,
        );
        let attribution =
            thread::Builder::new().name("attribution".into()).spawn(move || stage.run(attr_rx, out_tx))?;
        Ok(Pipeline { captures: capture_threads, engine, attribution, output: out_rx })
    }

    fn captures_running(&self) -> bool {
        self.captures.iter().any(|h| !h.is_finished())
    }

    /// Joins the threads in pipeline order (call after `stop` is set).
    pub fn join(self) {
        for h in self.captures {
            let _ = h.join();
        }
        let _ = self.engine.join();
        let _ = self.attribution.join();
    }
}

/// Blocks until a signal, the duration, or the end of every capture.
pub fn wait_for_stop(stop: &AtomicBool, duration: Option<Duration>, p: &Pipeline) {
    let started = Instant::now();
    while !stop.load(Relaxed) && p.captures_running() {
        if duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Relaxed);
}

fn engine_loop(cfg: EngineConfig, rx: Receiver<Batch>, tx: Sender<AttrMsg>, counters: Arc<Counters>) {
    let mut engine = Engine::new(cfg);
    let mut last_tick = Instant::now();
    let mut dispatch = |ev: EngineEvent| match ev {
        EngineEvent::FlowOpened { key, ts } => {
            if tx.try_send(AttrMsg::Lookup { key, ts }).is_err() {
                counters.attribution_overload.fetch_add(1, Relaxed);
            }
        }
        EngineEvent::Request { key, record } => {
            let _ = tx.send(AttrMsg::Record { key, record });
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(batch) => {
                for p in batch.packets() {
                    engine.packet(&p, &mut dispatch);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            engine.tick(Timestamp::now(), &mut dispatch);
            counters.publish_engine(engine.stats(), engine.flows());
        }
    }
    engine.finish(&mut dispatch);
    counters.publish_engine(engine.stats(), engine.flows());
}
