//! `imdswatch analyze FILE...`: capture files through the engine into NDJSON or the table.

mod hint;
mod per_file;
mod progress;

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use crate::capture::file::{self, End, ReadStats};
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crate::event::RequestCounts;
use crate::exit::Exit;
use crate::signals::Signals;
use crate::sink::asff::AsffSink;
use crate::sink::findings::FindingFormat;
use crate::sink::json::JsonSink;
use crate::sink::ocsf::OcsfSink;
use crate::sink::table::TableSink;
use crate::sink::{Driver, RunStats, Sink};
use crate::ui::sink::{UI_QUEUE, UiSink};
use crate::ui::{UiEvent, UiMode};
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
    /// `--format asff|ocsf` (issue 28): findings or OCSF events instead of `output`.
    pub findings: Option<crate::sink::findings::FindingFormat>,
}

/// Why an analysis could not run to its end (a file that cannot be read is reported and
/// gives [`Exit::Error`], not this).
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("writing output: {0}")]
    Output(io::Error),
    #[error("installing signal handlers: {0}")]
    Signals(io::Error),
    #[error("the analysis thread failed")]
    Thread,
    #[error(transparent)]
    Dashboard(#[from] crate::ui::UiError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Runs the analysis, writing to stdout; returns the exit status.
pub fn run(cfg: &AnalyzeConfig) -> Result<Exit, AnalyzeError> {
    if cfg.output == Output::Tui {
        return run_tui(cfg);
    }
    match analyze(cfg, io::stdout().lock(), &mut io::stderr()) {
        Ok(code) => Ok(code),
        // `imdswatch analyze big.pcap | head`: the reader left; that is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
        Err(e) => Err(AnalyzeError::Output(e)),
    }
}

/// Browses the analysis in the dashboard: the files are read on a worker thread while the
/// dashboard shows what has been found so far.
fn run_tui(cfg: &AnalyzeConfig) -> Result<Exit, AnalyzeError> {
    let signals = Signals::register().map_err(AnalyzeError::Signals)?;
    let (tx, rx) = crossbeam_channel::bounded::<UiEvent>(UI_QUEUE);
    let title = "analyze".to_owned();
    let worker_cfg = cfg.clone();
    let worker = std::thread::Builder::new().name("analyze".into()).spawn(move || {
        let mut err = Vec::new();
        let code = analyze_to_dashboard(&worker_cfg, tx, &mut err);
        (code, err)
    })?;
    crate::ui::run(rx, UiMode::Offline, title, &signals)?;
    let (code, err) = worker.join().map_err(|_| AnalyzeError::Thread)?;
    io::stderr().write_all(&err)?;
    match code {
        Ok(c) => Ok(c),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
        Err(e) => Err(e.into()),
    }
}

/// The analysis that `analyze --tui` shows: every record, then the closing stats (with the
/// host verdict: a capture cut short says so) as [`UiEvent`]s on `tx`, waiting for the
/// dashboard. Warnings go to `err`, printed once the dashboard is gone.
pub fn analyze_to_dashboard(
    cfg: &AnalyzeConfig,
    tx: crossbeam_channel::Sender<UiEvent>,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    analyze_into(cfg, UiSink::offline(tx), false, err)
}

/// The analysis proper, on any writer (tests pass a Vec).
pub fn analyze<W: Write>(cfg: &AnalyzeConfig, out: W, err: &mut dyn Write) -> io::Result<Exit> {
    let out = io::BufWriter::with_capacity(64 * 1024, out);
    match &cfg.findings {
        Some(FindingFormat::Asff(t)) => {
            return analyze_into(cfg, AsffSink::<_, JsonSink<Vec<u8>>>::array(t.clone(), out), cfg.progress, err);
        }
        Some(FindingFormat::Ocsf) => {
            return analyze_into(cfg, OcsfSink::new(JsonSink::strict(out), false, None), cfg.progress, err);
        }
        None => {}
    }
    match cfg.output {
        Output::Json => analyze_into(cfg, JsonSink::strict(out), cfg.progress, err),
        Output::Table | Output::Tui => analyze_into(cfg, TableSink::new(out), cfg.progress, err),
    }
}

/// Reads every file through the engine into `sink`; prints the closing line unless quiet.
/// With several files, each is a capture of its own: its connections end with it, and its
/// records name it (`capture.file`) and come out in time order.
fn analyze_into<S: Sink>(cfg: &AnalyzeConfig, sink: S, progress: bool, err: &mut dyn Write) -> io::Result<Exit> {
    let started = Instant::now();
    let mut engine = Engine::new(cfg.engine.clone());
    let mut driver = Driver::new(sink).with_services(cfg.engine.services);
    let mut failed = false;
    let mut read_stats = ReadStats::default();
    let mut per_file = (cfg.files.len() > 1).then(per_file::PerFile::default);
    let mut other_http = hint::OtherHttp::default();
    let mut files_read = 0usize;
    let mut incomplete = false;
    let mut any_request = false;
    // The capture's clock: dates a verdict that no request dates (an incomplete input).
    let mut last_ts = crate::time::Timestamp::default();

    let progress = Progress::new(&cfg.files, progress);
    for path in &cfg.files {
        if let Some(pf) = &mut per_file {
            pf.begin(path.display().to_string());
        }
        let result = file::open(path).and_then(|input| {
            file::read(path, progress.wrap(path, input), &mut read_stats, &mut |pkt| {
                last_ts = last_ts.max(pkt.ts);
                engine.packet(pkt, &mut |ev| feed(&mut driver, per_file.as_mut(), ev));
                // Until the first request: HTTP to other addresses hints at a wrong --endpoint.
                if !any_request {
                    any_request = driver.counts() != RequestCounts::default();
                    if !any_request {
                        other_http.packet(pkt);
                    }
                }
            })
        });
        match &result {
            Ok(End::Truncated { .. }) => {
                files_read += 1;
                // What came after the cut may hold a served v1 request: never "safe".
                driver.mark_incomplete(last_ts);
                incomplete = true;
            }
            Ok(End::Clean) => files_read += 1,
            Err(_) => {}
        }
        if let Some(pf) = &mut per_file {
            engine.finish(&mut |ev| feed(&mut driver, Some(&mut *pf), ev));
            pf.flush(&mut driver);
        }
        failed |= report_end(&result, path, cfg.quiet, &progress, err)?;
        if let Some(e) = driver.take_error() {
            return Err(e);
        }
    }
    progress.finish();
    engine.finish(&mut |ev| feed(&mut driver, None, ev));
    if let Some(e) = driver.take_error() {
        return Err(e);
    }
    let st = engine.stats();
    let stats = RunStats {
        sources: cfg.files.iter().map(|f| f.display().to_string()).collect(),
        files_read,
        elapsed: started.elapsed(),
        engine: st.clone(),
        flows_active: engine.flows(),
        requests: driver.counts(),
        packets: st.packets,
        reader_skips: vec![
            ("unknown pcapng blocks skipped", read_stats.unknown_blocks),
            ("records longer than the snapshot length", read_stats.over_snaplen),
            ("packets on undecodable interfaces", read_stats.unsupported_link),
            ("packets the capturing tool dropped", read_stats.capture_drops),
        ],
        // Lost before they were written: to the verdict, frames lost like a live monitor's.
        kernel_drops: read_stats.capture_drops,
        link_local: st.link_local.report(&|i| offline_iface_name(i, &cfg.files)).map(Box::new),
        ..RunStats::default()
    };
    driver.note_missed(&stats, last_ts);
    let host = driver.host();
    // Every input failed and nothing was read: the errors said everything; standard output
    // stays empty (no "No IMDS requests found.", no statistics record).
    if failed && files_read == 0 && driver.counts() == RequestCounts::default() {
        return Ok(Exit::Error);
    }
    let counts = driver.finish(&stats)?;
    if !cfg.quiet
        && counts == RequestCounts::default()
        && let Some(h) = other_http.hint()
    {
        writeln!(err, "{h}")?;
    }
    // After files that all failed, their errors say everything: no statistics line of nothing.
    if !cfg.quiet && files_read > 0 {
        // The time of the whole run, as before the table was written.
        let stats = RunStats { elapsed: started.elapsed(), ..stats };
        writeln!(err, "imdswatch: {}", stats.files_line())?;
    }

    Ok(if failed {
        Exit::Error
    } else if cfg.fail_on_v1 && host.would_break > 0 {
        // Same rule as the table's closing line: a client whose verdict would break.
        Exit::V1Seen
    } else if incomplete {
        // A capture cut short is never a clean "nothing to report".
        Exit::Error
    } else {
        Exit::Ok
    })
}

/// Takes the engine's requests to the driver (the other events are for live attribution);
/// with several files, through the current file's time-ordered batch.
fn feed<S: Sink>(driver: &mut Driver<S>, per_file: Option<&mut per_file::PerFile>, ev: EngineEvent) {
    if let EngineEvent::Request { record, .. } = ev {
        match per_file {
            Some(pf) => pf.push(record, driver),
            None => driver.record(&record),
        }
    }
}

/// Says how a file ended: a warning for a file cut mid-record (unless quiet; the verdict
/// then says the capture is incomplete and the exit status is 1), the error of a file that
/// could not be read. True when it failed.
fn report_end(
    result: &Result<End, file::FileError>,
    path: &std::path::Path,
    quiet: bool,
    progress: &Progress,
    err: &mut dyn Write,
) -> io::Result<bool> {
    match result {
        Ok(End::Clean) => Ok(false),
        Ok(End::Truncated { offset }) => {
            if !quiet {
                progress.suspend(|| {
                    writeln!(
                        err,
                        "imdswatch: warning: {}: file ends in the middle of a record at byte {offset} (capture cut short?); results up to there are shown",
                        crate::text::safe_path(path)
                    )
                })?;
            }
            Ok(false)
        }
        Err(e) => {
            progress.suspend(|| writeln!(err, "imdswatch: {}", crate::text::sanitize_message(&e.to_string())))?;
            Ok(true)
        }
    }
}

/// An interface of a capture file: `-i any` captures (Linux cooked v2) name its index (the
/// host that took them knows its name); the others are the capture's own interface, named
/// after the file(s).
fn offline_iface_name(ifindex: u32, files: &[std::path::PathBuf]) -> String {
    if ifindex != 0 {
        return format!("ifindex {ifindex}");
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    names.join(",")
}
