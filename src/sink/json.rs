//! The NDJSON output: one line per request, and `stats` records in live mode.
//!
//! `analyze` writes to any writer and stops at the first write error. `live` writes to
//! standard output or a [`LogFile`], flushed per line; there a failed write (disk full) or a
//! deleted output file is counted and reported, never fatal (only a closed standard output
//! ends the run), and a moved or deleted file is reopened within a second.

use std::io::{self, LineWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::Sink;
use super::logfile::{LogFile, PathState};
use super::ndjson::Ndjson;
use crate::event::{RequestRecord, StatsRecord};
use crate::text::safe_path;

/// How often the output file's path is compared with the open file.
const PATH_CHECK: Duration = Duration::from_secs(1);
/// Fewest seconds between two warnings about failed writes.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Where the lines go; only a [`LogFile`] is followed and reopened.
pub trait Destination: Write {
    fn log_file(&mut self) -> Option<&mut LogFile> {
        None
    }
}

impl<W: Write> Destination for io::BufWriter<W> {}
impl Destination for Vec<u8> {}

/// Live mode's destinations.
pub enum Dest {
    Stdout(LineWriter<io::Stdout>),
    File(LogFile),
}

impl Write for Dest {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Dest::Stdout(w) => w.write(b),
            Dest::File(w) => w.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Dest::Stdout(w) => w.flush(),
            Dest::File(w) => w.flush(),
        }
    }
}

impl Destination for Dest {
    fn log_file(&mut self) -> Option<&mut LogFile> {
        match self {
            Dest::File(f) => Some(f),
            Dest::Stdout(_) => None,
        }
    }
}

/// Live mode's tolerance of failed writes.
pub struct Tolerant {
    /// Failed lines, and lines lost with a deleted file (`stats.output_errors`).
    pub errors: Arc<AtomicU64>,
    /// Set by SIGHUP: reopen the output file.
    pub hup: Arc<AtomicBool>,
    /// Write a `stats` record this often (and at the end).
    pub stats_interval: Option<Duration>,
}

pub struct JsonSink<W: Destination> {
    out: Ndjson<W>,
    /// `None` (analyze): the first write error ends the run.
    tolerant: Option<Tolerant>,
    last_warning: Option<Instant>,
    last_path_check: Instant,
}

impl<W: Destination> JsonSink<W> {
    /// `analyze`: buffered, any write error is final.
    pub fn strict(w: W) -> JsonSink<W> {
        JsonSink { out: Ndjson::new(w, false), tolerant: None, last_warning: None, last_path_check: Instant::now() }
    }

    /// `live`: a line is flushed as soon as it is written; failures are counted. A file
    /// refused at start is said and counted now, and retried every second.
    pub fn tolerant(w: W, t: Tolerant) -> JsonSink<W> {
        let mut s = JsonSink {
            out: Ndjson::new(w, true),
            tolerant: Some(t),
            last_warning: None,
            last_path_check: Instant::now(),
        };
        s.follow_path();
        s
    }

    /// Passes a closed pipe and (in analyze) every error on; counts and warns about others.
    fn check(&mut self, res: io::Result<()>) -> io::Result<()> {
        let Err(e) = res else { return Ok(()) };
        let Some(t) = &self.tolerant else { return Err(e) };
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Err(e);
        }
        t.errors.fetch_add(1, Relaxed);
        if self.last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            self.last_warning = Some(Instant::now());
            eprintln!("imdswatch: cannot write output: {e} (lines are being lost; counted in stats.output_errors)");
        }
        Ok(())
    }

    /// Reopens the output file when its path no longer names it: moved (rotated, SIGHUP not
    /// yet sent) quietly; deleted with a warning and a count, since lines written between
    /// the deletion and now went nowhere. A file refused at start (`PathState::Closed`) is
    /// retried here every second.
    fn follow_path(&mut self) {
        let Some(t) = &self.tolerant else { return };
        let errors = t.errors.clone();
        let Some(f) = self.out.get_mut().log_file() else { return };
        let state = f.path_state();
        if state == PathState::Same {
            return;
        }
        if state == PathState::Deleted {
            let path = safe_path(f.path());
            errors.fetch_add(1, Relaxed);
            eprintln!(
                "imdswatch: {path} was deleted; lines of the last second may be lost (counted in stats.output_errors); writing to a new {path}"
            );
        }
        self.reopen(state);
    }

    /// Opens the output file again (SIGHUP, or the path no longer names it). A failure or a
    /// refusal (symlink, not a regular file, another owner: see `open_log_file`) is said in
    /// one line and counted once per episode; the monitor keeps running, writing to the
    /// old file if it still has a name, else counting the lines it loses.
    fn reopen(&mut self, state: PathState) {
        let Some(t) = &self.tolerant else { return };
        let errors = t.errors.clone();
        let Some(f) = self.out.get_mut().log_file() else { return };
        let Err(e) = f.reopen() else { return };
        if matches!(state, PathState::Deleted | PathState::Closed) {
            f.close();
        }
        if e.first {
            errors.fetch_add(1, Relaxed);
            let keep = if f.path_state() == PathState::Closed {
                "lines are lost until it can be opened (counted in stats.output_errors)"
            } else {
                "still writing to the file open before"
            };
            eprintln!("imdswatch: cannot open {}: {}; {keep}", safe_path(f.path()), e.error);
        }
    }
}

impl<W: Destination> JsonSink<W> {
    /// Any one value as a line, with this sink's error handling (the finding outputs).
    pub fn write_line<T: serde::Serialize>(&mut self, v: &T) -> io::Result<()> {
        let res = self.out.write(v);
        self.check(res)
    }

    /// Flushes the output (the finding outputs, at the end).
    pub fn flush_out(&mut self) -> io::Result<()> {
        let res = self.out.flush();
        match &self.tolerant {
            None => res,
            Some(_) => {
                if let Err(e) = res
                    && e.kind() != io::ErrorKind::BrokenPipe
                {
                    eprintln!("imdswatch: output not fully written at exit: {e}");
                }
                Ok(())
            }
        }
    }
}

impl<W: Destination> Sink for JsonSink<W> {
    fn stats_interval(&self) -> Option<Duration> {
        self.tolerant.as_ref().and_then(|t| t.stats_interval)
    }

    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        let res = self.out.write_request(r);
        self.check(res)
    }

    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        let res = self.out.write(s);
        self.check(res)
    }

    /// The closing `verdict` record (README "NDJSON schema"): `analyze` per client address +
    /// user agent; live, at shutdown (also with `--stats-interval 0`), per process client.
    /// None when no request was judged.
    fn verdict(&mut self, clients: &crate::verdict::Clients) -> io::Result<()> {
        // No request, no verdict; unless the input was incomplete: then the record says so
        // (what was not seen may hold a served IMDSv1 request).
        if clients.is_empty() && !clients.host().incomplete {
            return Ok(());
        }
        let res = self.out.write(&clients.record(clients.newest()));
        self.check(res)
    }

    fn tick(&mut self) {
        if self.tolerant.as_ref().is_some_and(|t| t.hup.swap(false, Relaxed)) {
            self.reopen(PathState::Same);
        }
        if self.last_path_check.elapsed() >= PATH_CHECK {
            self.last_path_check = Instant::now();
            self.follow_path();
        }
    }

    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        if self.stats_interval().is_some() {
            self.stats(s)?;
        }
        let res = self.out.flush();
        if self.tolerant.is_none() {
            return res;
        }
        // Lines that failed are already counted; at exit only say that some are still unwritten.
        if let Err(e) = res
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            eprintln!("imdswatch: output not fully written at exit: {e}");
        }
        Ok(())
    }
}
