//! `imdswatch analyze FILE...`: capture files through the engine into NDJSON or the table.

mod progress;

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use crate::capture::file::{self, End, ReadStats};
use crate::cli::exit;
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crossbeam_channel::Sender;

use crate::event::{RequestCounts, StatsRecord};
use crate::sink::ndjson::Ndjson;
use crate::sink::summary::Summary;
use crate::sink::tui::{UiEvent, UiMode};
use crate::verdict::Tracker;
use progress::Progress;

/// Output of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Table,
    Tui,
}

/// A validated `analyze` invocation.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    pub files: Vec<PathBuf>,
    pub output: Output,
    pub fail_on_v1: bool,
    pub quiet: bool,
    /// Show a progress bar on standard error (decided by the caller: a terminal, not quiet).
    pub progress: bool,
    pub engine: EngineConfig,
}

/// Where records go during an analysis.
enum Sink<W: Write> {
    Json(Ndjson<W>),
    Table(Summary, W),
    /// The dashboard (`--tui`): records go over a channel to the UI thread.
    Ui(Sender<UiEvent>),
}

/// Runs the analysis, writing to stdout; returns the exit status.
pub fn run(cfg: &AnalyzeConfig) -> anyhow::Result<u8> {
    if cfg.output == Output::Tui {
        return run_tui(cfg);
    }
    let stdout = io::stdout().lock();
    let w = io::BufWriter::with_capacity(64 * 1024, stdout);
    match analyze(cfg, w, &mut io::stderr()) {
        Ok(code) => Ok(code),
        // `imdswatch analyze big.pcap | head`: the reader left; that is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(anyhow::anyhow!("writing output: {e}")),
    }
}

/// Browses the analysis in the dashboard: the files are read on a worker thread while the
/// dashboard shows what has been found so far.
fn run_tui(cfg: &AnalyzeConfig) -> anyhow::Result<u8> {
    let (tx, rx) = crossbeam_channel::bounded::<UiEvent>(65_536);
    let title = "analyze".to_owned();
    let worker_cfg = cfg.clone();
    let worker = std::thread::Builder::new().name("analyze".into()).spawn(move || {
        let mut err = Vec::new();
        let code = analyze_into(&worker_cfg, Sink::<io::Sink>::Ui(tx), &mut err);
        (code, err)
    })?;
    crate::sink::tui::run(rx, UiMode::Offline, title)?;
    let (code, err) = worker.join().map_err(|_| anyhow::anyhow!("the analysis thread failed"))?;
    io::stderr().write_all(&err)?;
    match code {
        Ok(c) => Ok(c),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(e.into()),
    }
}

/// The analysis proper, on any writer (tests pass a Vec).
pub fn analyze<W: Write>(cfg: &AnalyzeConfig, out: W, err: &mut dyn Write) -> io::Result<u8> {
    let sink = match cfg.output {
        Output::Json => Sink::Json(Ndjson::new(out, false)),
        Output::Table | Output::Tui => Sink::Table(Summary::default(), out),
    };
    analyze_into(cfg, sink, err)
}

fn analyze_into<W: Write>(cfg: &AnalyzeConfig, sink: Sink<W>, err: &mut dyn Write) -> io::Result<u8> {
    let started = Instant::now();
    let mut engine = Engine::new(cfg.engine.clone());
    let mut c = Collector {
        sink,
        counts: RequestCounts::default(),
        verdicts: Tracker::default(),
        newest: crate::time::Timestamp(0),
        write_error: None,
    };
    let mut failed = false;
    let mut read_stats = ReadStats::default();

    let progress = Progress::new(&cfg.files, cfg.progress && !matches!(c.sink, Sink::Ui(_)));
    for path in &cfg.files {
        let result = file::open(path).and_then(|input| {
            file::read(path, progress.wrap(path, input), &mut read_stats, &mut |pkt| {
                engine.packet(pkt, &mut |ev| c.on_event(ev));
            })
        });
        match result {
            Ok(End::Clean) => {}
            Ok(End::Truncated { offset }) => {
                if !cfg.quiet {
                    progress.suspend(|| {
                        writeln!(
                            err,
                            "imdswatch: warning: {}: file ends in the middle of a record at byte {offset} (capture cut short?); results up to there are shown",
                            path.display()
                        )
                    })?;
                }
            }
            Err(e) => {
                failed = true;
                progress.suspend(|| writeln!(err, "imdswatch: {e}"))?;
            }
        }
        if let Some(e) = c.write_error.take() {
            return Err(e);
        }
    }
    progress.finish();
    engine.finish(&mut |ev| c.on_event(ev));
    if let Some(e) = c.write_error.take() {
        return Err(e);
    }
    let counts = c.counts;
    let host = c.verdicts.host();
    match c.sink {
        Sink::Json(mut j) => {
            // The closing `verdict` record (README "NDJSON schema"), after every request;
            // none when there was no request (nothing to judge).
            if c.newest.0 > 0 {
                j.write(&c.verdicts.record(c.newest))?;
            }
            j.flush()?
        }
        Sink::Table(s, mut w) => {
            w.write_all(s.render().as_bytes())?;
            w.flush()?;
        }
        Sink::Ui(tx) => {
            let st = engine.stats();
            let stats = StatsRecord {
                sources: cfg.files.iter().map(|f| f.display().to_string()).collect(),
                packets: st.packets,
                imds_packets: st.imds_packets,
                requests: counts,
                flows_evicted: st.flows_evicted,
                anomalies: st.anomalies(),
                uptime_seconds: started.elapsed().as_secs(),
                ..StatsRecord::default()
            };
            let _ = tx.send(UiEvent::Stats(stats));
        }
    }

    if !cfg.quiet {
        let st = engine.stats();
        let mut line = format!(
            "imdswatch: {} file(s), {} packets, {} IMDS packets, {} requests (v1 {}, v2 {}, token {}) in {:.2} s",
            cfg.files.len(),
            st.packets,
            st.imds_packets,
            st.requests,
            counts.v1,
            counts.v2,
            counts.token_request,
            started.elapsed().as_secs_f64()
        );
        let anomalies = st.anomalies();
        if !anomalies.is_empty() {
            line.push_str("; skipped: ");
            let parts: Vec<String> = anomalies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&parts.join(", "));
        }
        if read_stats.unknown_blocks > 0 {
            line.push_str(&format!("; unknown pcapng blocks skipped: {}", read_stats.unknown_blocks));
        }
        if read_stats.over_snaplen > 0 {
            line.push_str(&format!("; records longer than the snapshot length: {}", read_stats.over_snaplen));
        }
        if read_stats.unsupported_link > 0 {
            line.push_str(&format!("; packets on undecodable interfaces: {}", read_stats.unsupported_link));
        }
        writeln!(err, "{line}")?;
    }

    Ok(if failed {
        exit::ERROR
    } else if cfg.fail_on_v1 && !host.safe_to_enforce {
        // Same rule as the table's closing line: a client whose verdict would break.
        exit::V1_SEEN
    } else {
        exit::OK
    })
}

/// Takes the engine's events into the sink, keeping the first write error.
struct Collector<W: Write> {
    sink: Sink<W>,
    counts: RequestCounts,
    /// Per-client verdicts: the closing `verdict` record and `--fail-on-v1`.
    verdicts: Tracker,
    /// Time of the newest request (the `verdict` record's timestamp).
    newest: crate::time::Timestamp,
    write_error: Option<io::Error>,
}

impl<W: Write> Collector<W> {
    fn on_event(&mut self, ev: EngineEvent) {
        let EngineEvent::Request { record, .. } = ev else {
            return;
        };
        self.counts.add(&record);
        self.verdicts.add(&record);
        self.newest = self.newest.max(record.timestamp);
        match &mut self.sink {
            Sink::Json(j) => {
                if self.write_error.is_none()
                    && let Err(e) = j.write(&record)
                {
                    self.write_error = Some(e);
                }
            }
            Sink::Table(s, _) => s.add(&record),
            Sink::Ui(tx) => {
                // The dashboard is gone (the user quit): stop feeding it, quietly.
                if tx.send(UiEvent::Request(record)).is_err() && self.write_error.is_none() {
                    self.write_error = Some(io::Error::from(io::ErrorKind::BrokenPipe));
                }
            }
        }
    }
}
