//! The NDJSON face of live mode: one line per request, flushed per line, and a `stats`
//! record every `stats_interval`. Write failures (disk full) and a deleted output file are
//! counted and reported, never fatal: the monitor keeps watching (a deleted or moved file is
//! reopened within a second).

use std::io::{self, LineWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::counters::Counters;
use super::stats_record;
use crate::event::{RequestCounts, RequestRecord};
use crate::sink::logfile::{LogFile, PathState};
use crate::sink::ndjson::Ndjson;

/// Where lines go.
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

/// How often the output file's path is compared with the open file.
const PATH_CHECK: Duration = Duration::from_secs(1);

pub struct JsonOutput {
    pub out: Ndjson<Dest>,
    pub stats_interval: Option<Duration>,
    pub sources: Vec<String>,
    pub counters: Arc<Counters>,
    pub started: Instant,
    /// Set by SIGHUP: reopen the output file.
    pub hup: Arc<AtomicBool>,
    /// Set when nobody reads any more (stdout closed): the monitor stops.
    pub stop: Arc<AtomicBool>,
}

impl JsonOutput {
    /// Runs until the pipeline closes; returns the request counts for the final summary.
    pub fn run(mut self, rx: Receiver<Box<RequestRecord>>) -> RequestCounts {
        let mut counts = RequestCounts::default();
        let mut verdicts = crate::verdict::Tracker::default();
        let mut last_stats = Instant::now();
        let mut last_warning: Option<Instant> = None;
        let mut last_path_check = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(r) => {
                    counts.add(&r);
                    verdicts.add(&r);
                    let res = self.out.write(&*r);
                    self.check(res, &mut last_warning);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.hup.swap(false, Relaxed)
                && let Dest::File(f) = self.out.get_mut()
                && let Err(e) = f.reopen()
            {
                eprintln!("imdswatch: cannot reopen {}: {e}", f.path().display());
            }
            if last_path_check.elapsed() >= PATH_CHECK {
                last_path_check = Instant::now();
                self.follow_path();
            }
            if let Some(every) = self.stats_interval
                && last_stats.elapsed() >= every
            {
                last_stats = Instant::now();
                let mut rec = stats_record(&self.counters, &counts, &self.sources, self.started);
                rec.verdict = Some(Box::new(verdicts.host()));
                let res = self.out.write(&rec);
                self.check(res, &mut last_warning);
            }
        }
        if self.stats_interval.is_some() {
            let mut rec = stats_record(&self.counters, &counts, &self.sources, self.started);
            rec.verdict = Some(Box::new(verdicts.host()));
            let res = self.out.write(&rec);
            self.check(res, &mut last_warning);
        }
        // Lines that failed are already counted; at exit only say that some are still unwritten.
        if let Err(e) = self.out.flush()
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            eprintln!("imdswatch: output not fully written at exit: {e}");
        }
        counts
    }

    /// Reopens the output file when its path no longer names it: moved (rotated, SIGHUP not
    /// yet sent) quietly; deleted with a warning and a count, since lines written between
    /// the deletion and now went nowhere.
    fn follow_path(&mut self) {
        let Dest::File(f) = self.out.get_mut() else { return };
        let state = f.path_state();
        if state == PathState::Same {
            return;
        }
        let res = f.reopen();
        let path = f.path().display().to_string();
        if state == PathState::Deleted {
            self.counters.output_errors.fetch_add(1, Relaxed);
            eprintln!(
                "imdswatch: {path} was deleted; lines of the last second may be lost (counted in stats.output_errors); writing to a new {path}"
            );
        }
        if let Err(e) = res {
            eprintln!("imdswatch: cannot reopen {path}: {e}");
        }
    }

    fn check(&self, res: io::Result<()>, last_warning: &mut Option<Instant>) {
        let Err(e) = res else { return };
        if e.kind() == io::ErrorKind::BrokenPipe {
            self.stop.store(true, Relaxed);
            return;
        }
        self.counters.output_errors.fetch_add(1, Relaxed);
        if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            *last_warning = Some(Instant::now());
            eprintln!("imdswatch: cannot write output: {e} (lines are being lost; counted in stats.output_errors)");
        }
    }
}
