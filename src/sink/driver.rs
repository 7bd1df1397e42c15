//! The one loop that hands records to a [`Sink`]: `analyze` pushes records into it as the
//! engine reports them; `live` runs [`Driver::run`] on its output thread over the pipeline's
//! last channel.

use std::io;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::{RunStats, Sink};
use crate::bell::Bell;
use crate::event::{HostVerdict, OutMsg, RequestCounts, RequestRecord, ServiceSet, StatsRecord};
use crate::verdict::Clients;

/// Longest wait for a record before the sink's housekeeping and stats run (live mode).
pub const POLL: Duration = Duration::from_millis(200);

/// Feeds one sink and counts what it was fed. After the sink's first error it is fed no
/// more (requests are still counted); the error is kept for the caller.
pub struct Driver<S: Sink> {
    sink: S,
    counts: RequestCounts,
    error: Option<io::Error>,
    /// The error was already handed out by [`Driver::take_error`].
    failed: bool,
    /// The per-client aggregate (bounded: see `verdict::Clients`): the host verdict of
    /// every stats record, the closing `verdict` record and the table read it.
    clients: Clients,
    /// `--service`: records of other services are counted (`filtered_out`), never fed.
    services: Option<ServiceSet>,
    /// [`Driver::run`] parks on this bell (rung by the sender) instead of crossbeam's
    /// yielding wait (see `bell`).
    bell: Option<Bell>,
}

impl<S: Sink> Driver<S> {
    pub fn new(sink: S) -> Driver<S> {
        Driver {
            sink,
            counts: RequestCounts::default(),
            error: None,
            failed: false,
            clients: Clients::new(false),
            services: None,
            bell: None,
        }
    }

    /// [`Driver::run`] waits on `bell`, which the channel's sender rings after each message.
    pub fn with_bell(mut self, bell: Bell) -> Driver<S> {
        self.bell = Some(bell);
        self
    }

    /// Keeps only records of `services` (`None`: all); the others are counted in
    /// `requests.filtered_out` and reach neither the sink nor the verdicts.
    pub fn with_services(mut self, services: Option<ServiceSet>) -> Driver<S> {
        self.services = services;
        self
    }

    /// Live: a request whose process was named belongs to that process's client
    /// (executable + command line + user agent + container: `verdict::ClientKey`).
    pub fn live(mut self) -> Driver<S> {
        self.clients = Clients::new(true);
        self
    }

    /// The per-client aggregate so far.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Requests seen so far.
    pub fn counts(&self) -> RequestCounts {
        self.counts
    }

    /// One finished request.
    pub fn record(&mut self, r: &RequestRecord) {
        if self.services.is_some_and(|s| !s.contains(r.imds.service)) {
            self.counts.filtered_out += 1;
            return;
        }
        self.counts.add(r);
        self.clients.add(r);
        if !self.failed() {
            let res = self.sink.record(r);
            self.keep(res);
        }
    }

    /// A token request still waiting for its answer: handed to the sink only.
    pub fn pending(&mut self, r: &RequestRecord) {
        if self.services.is_some_and(|s| !s.contains(r.imds.service)) {
            return; // its finished record is counted as filtered out
        }
        if !self.failed() {
            let res = self.sink.pending(r);
            self.keep(res);
        }
    }

    /// The host-level verdict over the clients seen so far (never safe on incomplete input).
    pub fn host(&self) -> HostVerdict {
        self.clients.host()
    }

    /// Says that the input was incomplete (a capture cut mid-record): what was not read may
    /// hold a served IMDSv1 request, so the verdict and the closing line never say "safe".
    pub fn mark_incomplete(&mut self) {
        self.clients.mark_incomplete();
    }

    /// A stats record with the host-level verdict so far.
    fn stats_record(&self, stats: &RunStats) -> StatsRecord {
        let mut rec = stats.record();
        rec.verdict = Some(Box::new(self.clients.host()));
        rec
    }

    /// The sink's first error, once.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    fn failed(&self) -> bool {
        self.failed || self.error.is_some()
    }

    fn keep(&mut self, res: io::Result<()>) {
        if let Err(e) = res
            && !self.failed()
        {
            self.error = Some(e);
            self.failed = true;
        }
    }

    /// Ends the run: the sink gets the final counters (unless it already failed). Returns the
    /// request counts, or the sink's error.
    pub fn finish(mut self, stats: &RunStats) -> io::Result<RequestCounts> {
        // The closing verdicts, after every request, whatever the stats pace.
        if !self.failed() {
            let res = self.sink.verdict(&self.clients);
            self.keep(res);
        }
        if !self.failed() {
            let res = self.sink.finish(&self.stats_record(stats));
            self.keep(res);
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.counts),
        }
    }

    /// Live mode: takes records from `rx` until every sender is gone, with the sink's
    /// housekeeping every [`POLL`] and a stats snapshot (built by `snapshot` from the counts
    /// so far) every [`Sink::stats_interval`]. `on_error` hears of the sink's first error
    /// (the reader left: the monitor should stop). Returns the request counts.
    pub fn run<M: Into<OutMsg>>(
        mut self,
        rx: &Receiver<M>,
        snapshot: &mut dyn FnMut(&RequestCounts) -> RunStats,
        on_error: &mut dyn FnMut(&io::Error),
    ) -> RequestCounts {
        let every = self.sink.stats_interval();
        let mut last_stats = Instant::now();
        loop {
            let got = match &self.bell {
                Some(b) => b.recv(rx, POLL),
                None => rx.recv_timeout(POLL),
            };
            match got {
                Ok(m) => match m.into() {
                    OutMsg::Record(r) => self.record(&r),
                    OutMsg::TokenPending(r) => self.pending(&r),
                },
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(e) = &self.error {
                on_error(e);
                self.error = None; // reported; `failed` keeps the sink unfed
            }
            if self.failed {
                continue;
            }
            self.sink.tick();
            if let Some(every) = every
                && last_stats.elapsed() >= every
            {
                last_stats = Instant::now();
                let rec = self.stats_record(&snapshot(&self.counts));
                let res = self.sink.stats(&rec);
                self.keep(res);
            }
        }
        let counts = self.counts;
        let last = snapshot(&counts);
        if let Err(e) = self.finish(&last) {
            on_error(&e);
        }
        counts
    }
}
