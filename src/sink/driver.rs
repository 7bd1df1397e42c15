//! The one loop that hands records to a [`Sink`], through the stages before it (service
//! filter, verdict): `analyze` pushes records into it as the engine reports them; `live` runs
//! [`Driver::run`] on its output thread over the pipeline's last channel.

use std::io;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::filter::ServiceFilter;
use super::judged::Judged;
use super::{RunStats, Sink};
use crate::bell::Bell;
use crate::event::{HostVerdict, OutMsg, RequestCounts, RequestRecord, ServiceSet};
use crate::time::Timestamp;
use crate::verdict::{Clients, Judge};

/// Longest wait for a record before the sink's housekeeping and stats run (live mode).
pub const POLL: Duration = Duration::from_millis(200);

/// Moves records into one output, through the stages before it: the `--service` filter
/// ([`ServiceFilter`], a decorator) and the verdict stage ([`Judged`]: counts, per-client
/// verdicts). It decides when the output sees a stats snapshot and keeps the output's first
/// error for the caller; after that error the output is fed no more (requests are still
/// counted and judged).
pub struct Driver<S: Sink> {
    chain: ServiceFilter<Judged<S>>,
    error: Option<io::Error>,
    /// An error was met (kept in `error` until handed out by [`Driver::take_error`]).
    failed: bool,
    /// [`Driver::run`] parks on this bell (rung by the sender) instead of crossbeam's
    /// yielding wait (see `bell`).
    bell: Option<Bell>,
}

impl<S: Sink> Driver<S> {
    pub fn new(sink: S) -> Driver<S> {
        Driver { chain: ServiceFilter::new(Judged::new(sink, false), None), error: None, failed: false, bell: None }
    }

    /// [`Driver::run`] waits on `bell`, which the channel's sender rings after each message.
    pub fn with_bell(mut self, bell: Bell) -> Driver<S> {
        self.bell = Some(bell);
        self
    }

    /// Keeps only records of `services` (`None`: all); the others are counted in
    /// `requests.filtered_out` and reach neither the output nor the verdicts.
    pub fn with_services(mut self, services: Option<ServiceSet>) -> Driver<S> {
        self.chain.set_services(services);
        self
    }

    /// Live: a request whose process was named belongs to that process's client
    /// (executable + command line + user agent + container: `verdict::ClientKey`). Call
    /// before the first record.
    pub fn live(mut self) -> Driver<S> {
        *self.judge_mut() = Judge::new(true);
        self
    }

    fn judge(&self) -> &Judge {
        self.chain.inner().judge()
    }

    fn judge_mut(&mut self) -> &mut Judge {
        self.chain.inner_mut().judge_mut()
    }

    /// The per-client aggregate so far.
    pub fn clients(&self) -> &Clients {
        self.judge().clients()
    }

    /// Requests seen so far (judged, and left out by `--service`).
    pub fn counts(&self) -> RequestCounts {
        RequestCounts { filtered_out: self.chain.filtered(), ..self.judge().counts() }
    }

    /// One finished request.
    pub fn record(&mut self, r: &RequestRecord) {
        let res = self.chain.record(r);
        self.keep(res);
    }

    /// A token request still waiting for its answer: handed to the output only.
    pub fn pending(&mut self, r: &RequestRecord) {
        let res = self.chain.pending(r);
        self.keep(res);
    }

    /// The host-level verdict over the clients seen so far (never safe on incomplete input).
    pub fn host(&self) -> HostVerdict {
        self.judge().host()
    }

    /// Says that the input was incomplete (a capture cut mid-record): what was not read may
    /// hold a served IMDSv1 request, so the verdict and the closing line never say "safe".
    pub fn mark_incomplete(&mut self, at: Timestamp) {
        self.judge_mut().mark_incomplete(at);
    }

    /// Frames the kernel or the capture queue lost, and holes in a client's stream, may have
    /// held a served IMDSv1 request: from the first one on, the verdict is made on
    /// incomplete input. `at`: the input's time (live: now; offline: the last packet's).
    pub fn note_missed(&mut self, s: &RunStats, at: Timestamp) {
        if s.missed_client_bytes() {
            self.mark_incomplete(at);
        }
    }

    /// The output's first error, once.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    fn keep(&mut self, res: io::Result<()>) {
        if let Err(e) = res
            && !self.failed
        {
            self.error = Some(e);
            self.failed = true;
        }
    }

    /// Ends the run: the output gets the closing verdicts and the final counters (unless it
    /// already failed). Returns the request counts, or the output's error.
    pub fn finish(mut self, stats: &RunStats) -> io::Result<RequestCounts> {
        let res = self.chain.finish(&stats.record());
        self.keep(res);
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.counts()),
        }
    }

    /// Live mode: takes records from `rx` until every sender is gone, with the output's
    /// housekeeping every [`POLL`] and a stats snapshot (the pipeline's counters from
    /// `snapshot`; the stages add theirs) every [`Sink::stats_interval`]. `on_error` hears of the sink's first error
    /// (the reader left: the monitor should stop). Returns the request counts.
    pub fn run<M: Into<OutMsg>>(
        mut self,
        rx: &Receiver<M>,
        snapshot: &mut dyn FnMut() -> RunStats,
        on_error: &mut dyn FnMut(&io::Error),
    ) -> RequestCounts {
        let every = self.chain.stats_interval();
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
                self.error = None; // reported; the verdict stage keeps the output unfed
            }
            if self.failed {
                continue;
            }
            self.chain.tick();
            if let Some(every) = every
                && last_stats.elapsed() >= every
            {
                last_stats = Instant::now();
                let now = snapshot();
                self.note_missed(&now, now.now.unwrap_or_default());
                let res = self.chain.stats(&now.record());
                self.keep(res);
            }
        }
        let counts = self.counts();
        let last = snapshot();
        self.note_missed(&last, last.now.unwrap_or_default());
        if let Err(e) = self.finish(&last) {
            on_error(&e);
        }
        counts
    }
}
