//! `imdswatch live`: capture → engine → attribution → output, one thread each, joined by
//! bounded crossbeam channels.
//!
//! - capture → engine: [`CAPTURE_QUEUE`] batches; a full queue loses the batch (counted as
//!   `queue_losses`), the capture thread never waits;
//! - engine → attribution: [`ATTR_QUEUE`] messages; lookups are skipped when full (counted),
//!   requests wait (they are never dropped: the wait backs up into the capture queue, where
//!   any loss is counted);
//! - attribution → output: [`OUTPUT_QUEUE`] requests (and "token pending" notices, which a
//!   full engine → attribution queue skips, counted with the lookups as
//!   `attribution_overload`: only the dashboard shows them). The output thread is the sink layer's
//!   [`Driver`] with one [`Sink`]: NDJSON, or the dashboard's bounded channel
//!   ([`UI_QUEUE`], never waited on; losses counted).
//!
//! Shutdown (SIGINT, SIGTERM, `--duration`, or a closed stdout): the capture threads stop,
//! dropping their senders; each stage drains its queue, finishes and drops its own sender;
//! the threads are joined in order.

pub mod attribution;
pub mod counters;
pub mod engine_run;
pub mod error;
pub mod linklocal;
pub mod privileges;

use std::io::{self, LineWriter};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use crate::attribute::kernel::KernelSource;
use crate::attribute::{AttributeConfig, Attributor};
use crate::bell::Bell;
use crate::capture::live::{Batch, Frames, LiveCapture, Queue, Wake};
use crate::engine::EngineConfig;
use crate::event::OutMsg;
use crate::event::{LiveHealth, NodeStats, RequestCounts};
use crate::exit::Exit;
use crate::signals::Signals;
use crate::sink::asff::AsffSink;
use crate::sink::fan::Fan;
use crate::sink::findings::FindingFormat;
use crate::sink::json::{Dest, JsonSink, Tolerant};
use crate::sink::logfile::LogFile;
use crate::sink::metrics::{Metrics, MetricsSink};
use crate::sink::metrics_http;
use crate::sink::ocsf::OcsfSink;
use crate::sink::{Driver, RunStats, Sink};
use crate::time::Timestamp;
use crate::ui::sink::{UI_QUEUE, UiSink};
use crate::ui::{UiEvent, UiMode};
use attribution::{AttrMsg, AttributionPath, Lookups, Stage};
use counters::Counters;
use engine_run::EngineRun;
pub use error::LiveError;

pub const CAPTURE_QUEUE: usize = 1024;
pub const ATTR_QUEUE: usize = 8192;
pub const OUTPUT_QUEUE: usize = 8192;

/// A validated `live` invocation.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub interfaces: Vec<String>,
    pub output: Option<PathBuf>,
    pub stats_interval: Option<Duration>,
    pub duration: Option<Duration>,
    pub attribution: bool,
    pub engine: EngineConfig,
    /// Where the node's `/` is mounted (`--host-root`): runtimes' files and DMI are read there.
    pub host_root: PathBuf,
    /// `--attribution`: kernel connect events, /proc, or the first that works.
    pub attribution_path: AttributionPath,
    /// `--buffer-size`: the kernel ring per interface in MiB; `None` for the mode's default.
    pub buffer_mib: Option<u16>,
    /// `--metrics ADDR:PORT`: serve Prometheus metrics there.
    pub metrics: Option<std::net::SocketAddr>,
    /// `--format asff|ocsf`: findings or OCSF events instead of imdswatch's records.
    pub findings: Option<crate::sink::findings::FindingFormat>,
}

/// A snapshot of the pipeline's counters (the output's stages add their request counts and
/// verdicts).
pub fn snapshot(c: &Counters, sources: &[String], started: Instant) -> RunStats {
    let (engine, flows) = c.engine();
    let link_local = linklocal::stats(&engine.link_local, sources, c.ena_baseline.get().map_or(&[], Vec::as_slice));
    RunStats {
        sources: sources.to_vec(),
        files_read: 0,
        elapsed: started.elapsed(),
        now: Some(Timestamp::now()),
        engine,
        flows_active: flows,
        requests: RequestCounts::default(),
        packets: Counters::get(&c.capture.packets),
        kernel_drops: Counters::get(&c.capture.kernel_drops),
        interface_drops: Counters::get(&c.capture.interface_drops),
        queue_losses: c.queue_losses(),
        attribution_misses: Counters::get(&c.attribution_misses),
        output_errors: Counters::get(&c.output_errors),
        reader_skips: Vec::new(),
        link_local,
        node: Some(Box::new(NodeStats {
            host_id: crate::attribute::host_id(),
            workload: Some(c.workload.snapshot()).filter(|w| w.lookups > 0),
        })),
        live_health: Box::new(LiveHealth {
            attribution_overload: Counters::get(&c.attribution_overload),
            output_errors: Counters::get(&c.output_errors),
            attribution_path: c.attribution_path.get().copied(),
            perf_lost: c.kernel.get().map(|k| Counters::get(&k.counters.lost)).unwrap_or(0),
            shadow_hits: c.kernel.get().map(|k| Counters::get(&k.counters.shadow_hits)).unwrap_or(0),
            shadow_evicted: c.kernel.get().map(|k| Counters::get(&k.counters.shadow_evicted)).unwrap_or(0),
        }),
    }
}

/// Live findings are checked for changes this often when `--stats-interval 0`.
const FINDINGS_EVERY: Duration = Duration::from_secs(60);

/// Runs headless (NDJSON) live monitoring until a signal or `--duration`.
pub fn run_json(cfg: &LiveConfig) -> Result<Exit, LiveError> {
    let opened = open_all(cfg)?;
    let dest = match &cfg.output {
        Some(p) => Dest::File(match LogFile::open(p) {
            Err(e) if crate::sink::logfile::is_refusal(&e) => LogFile::closed(p), // said and counted by the output
            r => r.map_err(|error| LiveError::Output { path: crate::text::safe_path(p).to_string(), error })?,
        }),
        None => Dest::Stdout(LineWriter::new(io::stdout())),
    };
    let metrics = start_metrics(cfg)?;
    let r = Running::start(cfg, opened)?;
    let sink = JsonSink::tolerant(
        dest,
        Tolerant {
            errors: r.counters.output_errors.clone(),
            hup: r.signals.hup.clone(),
            stats_interval: cfg.stats_interval,
        },
    );
    let sink: Box<dyn Sink + Send> = match &cfg.findings {
        None => Box::new(sink),
        // Issue 28: the same tolerant output, carrying findings/events instead of records.
        Some(FindingFormat::Asff(t)) => Box::new(AsffSink::<io::Sink, _>::lines(
            t.clone(),
            sink,
            Some(cfg.stats_interval.unwrap_or(FINDINGS_EVERY)),
        )),
        Some(FindingFormat::Ocsf) => {
            Box::new(OcsfSink::new(sink, true, Some(cfg.stats_interval.unwrap_or(FINDINGS_EVERY))))
        }
    };
    let writer = match metrics {
        Some(m) => r.spawn_output("output", Fan::new().with(sink).with(Box::new(MetricsSink::new(m))))?,
        None => r.spawn_output("output", sink)?,
    };
    wait_for_stop(&r.signals.stop, cfg.duration, &r.pipeline);
    r.pipeline.join();
    let counts = writer.join().unwrap_or_default();
    Ok(finish(&r.counters, &counts, &r.sources, r.started))
}

/// A started pipeline and what its faces share. Everything that needs privileges (capture
/// handles, the output file) is opened before; this drops them before any thread starts.
struct Running {
    signals: Signals,
    counters: Arc<Counters>,
    started: Instant,
    sources: Vec<String>,
    pipeline: Pipeline,
    /// `--service`: what the outputs keep.
    services: Option<crate::event::ServiceSet>,
}

impl Running {
    fn start(cfg: &LiveConfig, opened: Opened) -> Result<Running, LiveError> {
        privileges::boost_priority();
        let counters = Arc::new(Counters::default());
        // The ENA driver's link-local counter, read now so that stats report its increase.
        let _ = counters.ena_baseline.set(linklocal::ena_baseline());
        let Opened { captures, kernel, path_line, path_name } = opened;
        let _ = counters.attribution_path.set(path_name);
        privileges::drop_after_capture().map_err(LiveError::Privileges)?;
        let signals = Signals::register()?;
        let sources: Vec<String> = captures.iter().map(|c| c.iface.clone()).collect();
        let pipeline = Pipeline::start(cfg, captures, kernel, counters.clone(), signals.stop.clone())?;
        eprintln!(
            "imdswatch: capturing on {} ({}); stop with Ctrl-C",
            crate::text::sanitize(&sources.join(", ")),
            cfg.engine.endpoints.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        );
        eprintln!("imdswatch: attribution: {path_line}");
        // Capture and kernel rings are open: a `Type=notify` unit's followers may start now.
        if let Err(e) = crate::notify::ready() {
            eprintln!("imdswatch: cannot tell the service manager it is ready: {e}");
        }
        Ok(Running { signals, counters, started: Instant::now(), sources, pipeline, services: cfg.engine.services })
    }

    /// Runs the pipeline's output through `sink` on its own thread, which ends when the
    /// pipeline does; a sink whose reader left stops the monitor.
    fn spawn_output<S: Sink + Send + 'static>(
        &self,
        name: &str,
        sink: S,
    ) -> io::Result<thread::JoinHandle<RequestCounts>> {
        let rx = self.pipeline.stages.output.clone();
        let bell = self.pipeline.stages.output_bell.clone();
        let (counters, sources, started) = (self.counters.clone(), self.sources.clone(), self.started);
        let services = self.services;
        let stop = self.signals.stop.clone();
        thread::Builder::new().name(name.into()).spawn(move || {
            Driver::new(sink).with_services(services).live().with_bell(bell).run(
                &rx,
                &mut || snapshot(&counters, &sources, started),
                &mut |_| stop.store(true, Relaxed),
            )
        })
    }
}

/// Runs the dashboard on this terminal over the live pipeline.
pub fn run_dashboard(cfg: &LiveConfig) -> Result<Exit, LiveError> {
    let opened = open_all(cfg)?;
    let metrics = start_metrics(cfg)?;
    let r = Running::start(cfg, opened)?;
    let (ui_tx, ui_rx) = bounded::<UiEvent>(UI_QUEUE);
    let ui_sink = UiSink::live(ui_tx, r.counters.queue_losses.clone());
    let feeder = match metrics {
        Some(m) => r.spawn_output("ui-feed", Fan::new().with(Box::new(ui_sink)).with(Box::new(MetricsSink::new(m))))?,
        None => r.spawn_output("ui-feed", ui_sink)?,
    };
    let title = format!("live on {}", r.sources.join(", "));
    let ui = crate::ui::run(ui_rx, UiMode::Live, title, &r.signals);
    r.signals.stop.store(true, Relaxed);
    r.pipeline.join();
    let counts = feeder.join().unwrap_or_default();
    ui?;
    Ok(finish(&r.counters, &counts, &r.sources, r.started))
}

/// Binds and serves `--metrics` (before privileges are dropped: a low port works).
fn start_metrics(cfg: &LiveConfig) -> Result<Option<Arc<Metrics>>, LiveError> {
    let Some(addr) = cfg.metrics else { return Ok(None) };
    let listener = metrics_http::bind(addr).map_err(|error| LiveError::Metrics { addr, error })?;
    let m = Arc::new(Metrics::new());
    let bound = metrics_http::serve(listener, m.clone())?;
    eprintln!("imdswatch: metrics on http://{bound}/metrics");
    Ok(Some(m))
}

/// Prints the closing summary; exit status 1 when a capture died, else 0.
fn finish(counters: &Counters, counts: &RequestCounts, sources: &[String], started: Instant) -> Exit {
    let errors = counters.take_errors();
    for e in &errors {
        eprintln!("imdswatch: {}", crate::text::sanitize_message(&e.to_string()));
    }
    let last = RunStats { requests: *counts, ..snapshot(counters, sources, started) };
    eprintln!("imdswatch: {}", last.live_line());
    if errors.is_empty() { Exit::Ok } else { Exit::Error }
}

/// What `live` reads, opened while privileges allow: the kernel path first (its presence
/// decides how the captures wake), then one capture per interface.
struct Opened {
    captures: Vec<LiveCapture>,
    kernel: Option<KernelSource>,
    /// The start-up line's account of the attribution path, and its name in stats.
    path_line: String,
    path_name: &'static str,
}

fn open_all(cfg: &LiveConfig) -> Result<Opened, LiveError> {
    // Opened while perf_event_open is still allowed; the rings outlive the privileges.
    let (kernel, path_line, path_name) = if cfg.attribution {
        let ports: Vec<u16> = cfg.engine.endpoints.iter().map(|a| a.port()).collect();
        let (k, line) = attribution::open_kernel(cfg.attribution_path, &ports)?;
        let name = if k.is_some() { "kernel" } else { "procfs" };
        (k, line, name)
    } else {
        (None, "off (--no-attribution)".to_string(), "off")
    };
    // The /proc path must look a connection up while its client lives (a curl lives ~2 ms
    // after its SYN): every frame at once. The kernel path names the client in connect(),
    // so frames may wait a few milliseconds and arrive together (fewer wake-ups per request).
    let wake = if kernel.is_some() { Wake::Coalesce } else { Wake::EachFrame };
    let captures = cfg
        .interfaces
        .iter()
        .map(|i| LiveCapture::open(i, &cfg.engine.endpoints, wake, cfg.buffer_mib).map_err(LiveError::from))
        .collect::<Result<_, _>>()?;
    Ok(Opened { captures, kernel, path_line, path_name })
}

/// The running threads of capture, engine and attribution.
pub struct Pipeline {
    captures: Vec<thread::JoinHandle<()>>,
    stages: Stages,
    kernel: Option<thread::JoinHandle<()>>,
}

/// The engine and attribution threads over a stream of frame batches: the capture threads'
/// in `live`, a test's fake frames otherwise (with fake attribution sources in `Lookups`).
/// With one capture, the engine runs on the capture thread instead ([`Stages::inline`]).
pub struct Stages {
    engine: Option<thread::JoinHandle<()>>,
    attribution: thread::JoinHandle<()>,
    /// Finished, attributed requests (and pending token requests).
    pub output: Receiver<OutMsg>,
    /// Rung by the attribution stage after each message on `output`.
    pub output_bell: Bell,
}

impl Stages {
    /// Starts the engine on `frames` and the attribution stage over `lookups`; they end
    /// when every sender of `frames` is gone. `frames_bell` is the engine's bell: every
    /// sender of `frames` rings it after a send and when it is done (see `bell`).
    pub fn start(
        engine: &EngineConfig,
        frames: Receiver<Batch>,
        frames_bell: Bell,
        lookups: Lookups,
        counters: Arc<Counters>,
    ) -> io::Result<Stages> {
        let (run, mut stages) = Stages::inline(engine, lookups, counters)?;
        stages.engine =
            Some(thread::Builder::new().name("engine".into()).spawn(move || run.run_queue(&frames, &frames_bell))?);
        Ok(stages)
    }

    /// Starts the attribution stage over `lookups`, and returns the engine that feeds it,
    /// for the caller's thread to run (as [`Frames`](crate::capture::live::Frames)).
    pub fn inline(engine: &EngineConfig, lookups: Lookups, counters: Arc<Counters>) -> io::Result<(EngineRun, Stages)> {
        let (attr_tx, attr_rx) = bounded::<AttrMsg>(ATTR_QUEUE);
        let (out_tx, out_rx) = bounded::<OutMsg>(OUTPUT_QUEUE);
        let (attr_bell, output_bell) = (Bell::default(), Bell::default());
        let stage = Stage::new(lookups, Arc::clone(&counters.attribution_misses))
            .with_bells(attr_bell.clone(), output_bell.clone());
        let attribution =
            thread::Builder::new().name("attribution".into()).spawn(move || stage.run(attr_rx, out_tx))?;
        let run = EngineRun::new(engine, attr_tx, counters, attr_bell);
        Ok((run, Stages { engine: None, attribution, output: out_rx, output_bell }))
    }

    /// Waits for the threads (after the frames' senders are gone).
    pub fn join(self) {
        if let Some(e) = self.engine {
            let _ = e.join();
        }
        let _ = self.attribution.join();
    }
}

impl Pipeline {
    pub fn start(
        cfg: &LiveConfig,
        captures: Vec<LiveCapture>,
        kernel: Option<KernelSource>,
        counters: Arc<Counters>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Pipeline> {
        // The instance id, from DMI under the host root (never from IMDS), once.
        let host_id = crate::attribute::init_host_id(&cfg.host_root);
        let shared = kernel.as_ref().map(KernelSource::shared);
        if let Some(k) = &shared {
            let _ = counters.kernel.set(k.clone());
        }
        let kernel = match kernel {
            Some(k) => {
                let stop = stop.clone();
                Some(thread::Builder::new().name("kernel-events".into()).spawn(move || k.run(&stop))?)
            }
            None => None,
        };
        let attribute = AttributeConfig {
            host_root: cfg.host_root.clone(),
            workload_counters: Arc::clone(&counters.workload),
            ..AttributeConfig::default()
        };
        let lookups = Lookups {
            process: cfg.attribution.then(|| {
                let mut a = Attributor::with_config(attribute.clone());
                a.warm_up();
                Box::new(a) as Box<dyn crate::attribute::ProcessLookup>
            }),
            kernel: shared.map(|k| k as Arc<dyn crate::attribute::ConnectEvents>),
            workloads: cfg.attribution.then(|| {
                Box::new(crate::attribute::workloads(&attribute)) as Box<dyn crate::attribute::WorkloadLookup>
            }),
            host: crate::attribute::host(),
            host_id,
        };
        let mut capture_threads = Vec::new();
        let mut spawn = |c: LiveCapture, mut frames: Box<dyn Frames + Send>| -> io::Result<()> {
            let (counters, stop) = (counters.capture.clone(), stop.clone());
            let name = format!("capture-{}", c.iface);
            capture_threads.push(thread::Builder::new().name(name).spawn(move || c.run(&mut *frames, counters, stop))?);
            Ok(())
        };
        let stages = match <[LiveCapture; 1]>::try_from(captures) {
            // One capture: the engine on its thread (one hand-off fewer per request).
            Ok([c]) => {
                let (run, stages) = Stages::inline(&cfg.engine, lookups, Arc::clone(&counters))?;
                spawn(c, Box::new(run))?;
                stages
            }
            Err(captures) => {
                let (cap_tx, cap_rx) = bounded::<Batch>(CAPTURE_QUEUE);
                let engine_bell = Bell::default();
                for c in captures {
                    spawn(c, Box::new(Queue::new(cap_tx.clone(), counters.capture.clone(), engine_bell.clone())))?;
                }
                drop(cap_tx);
                Stages::start(&cfg.engine, cap_rx, engine_bell, lookups, Arc::clone(&counters))?
            }
        };
        Ok(Pipeline { captures: capture_threads, stages, kernel })
    }

    fn captures_running(&self) -> bool {
        self.captures.iter().any(|h| !h.is_finished())
    }

    /// Joins the threads in pipeline order (call after `stop` is set).
    pub fn join(self) {
        for h in self.captures {
            let _ = h.join();
        }
        self.stages.join();
        if let Some(k) = self.kernel {
            let _ = k.join();
        }
    }
}

/// Blocks until a signal, the duration, or the end of every capture.
pub fn wait_for_stop(stop: &AtomicBool, duration: Option<Duration>, p: &Pipeline) {
    let started = Instant::now();
    // 5 looks a second (it was 20: idle wake-ups are what an idle monitor costs).
    let look = Duration::from_millis(200);
    while !stop.load(Relaxed) && p.captures_running() {
        let left = duration.map_or(look, |d| d.saturating_sub(started.elapsed()));
        if left.is_zero() {
            break;
        }
        thread::sleep(left.min(look));
    }
    stop.store(true, Relaxed);
}
