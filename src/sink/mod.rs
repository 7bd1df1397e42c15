//! Where records go: NDJSON lines, the summary table, the metrics (the dashboard, a sibling,
//! is the `ui` module, whose `UiSink` implements [`Sink`]).
//!
//! Every output is a [`Sink`], fed by the one [`Driver`] that both
//! `analyze` (files, on the caller's thread) and `live` (the output thread, from the
//! pipeline's channel) use. The driver counts requests and decides when a sink sees a stats
//! snapshot; the sink only writes.
//!
//! Adding an output (say a metrics endpoint) is one new file here: a type implementing
//! [`Sink`], and one line where `analyze` or `live` chooses its sink. To run it beside
//! another output (NDJSON and metrics), combine them with [`fan::Fan`], which keeps each
//! one's stats pace.

pub mod asff;
pub mod driver;
pub mod fan;
pub mod filter;
pub mod findings;
pub mod json;
pub mod judged;
pub mod logfile;
pub mod metrics;
pub mod metrics_http;
pub mod metrics_label;
pub mod metrics_link;
pub mod ndjson;
pub mod ocsf;
pub mod request_json;
pub mod stats;
pub mod table;

use std::io;
use std::time::Duration;

use crate::event::{RequestRecord, StatsRecord};
use crate::verdict::Clients;

pub use driver::Driver;
pub use stats::RunStats;

/// An output of imdswatch.
///
/// The [`Driver`] calls, in this order and from one thread:
/// - [`record`](Sink::record) for every finished request (attributed in live mode), in the
///   order the engine reported them;
/// - [`stats`](Sink::stats) about every [`stats_interval`](Sink::stats_interval) (live mode
///   only: an analysis has no clock of its own);
/// - [`tick`](Sink::tick) at least every 200 ms in live mode, for housekeeping (reopening a
///   rotated file);
/// - [`finish`](Sink::finish) once, at the end, with the final counters.
///
/// Rules every sink keeps:
/// - never block the pipeline for long: a sink that can fall behind keeps a bound and
///   counts what it drops (see `ui::sink::UiSink`);
/// - an `Err` from `record`, `stats` or `finish` means the output is gone for good (its
///   reader left: `BrokenPipe`, or a fatal write error in `analyze`). The driver stops
///   feeding the sink and ends the run; passing failures (a full disk in live mode) are the
///   sink's to count and report, returning `Ok`;
/// - never print or store secrets: records carry none, and a sink adds none.
pub trait Sink {
    /// How often this sink wants a stats snapshot in live mode; `None`: only the final one.
    fn stats_interval(&self) -> Option<Duration> {
        None
    }

    /// One finished request.
    fn record(&mut self, r: &RequestRecord) -> io::Result<()>;

    /// A token request still waiting for its answer (live mode; the record has no status).
    /// Its settlement is a later [`Sink::record`] with the same client address and
    /// timestamp. Only the dashboard shows it; NDJSON has no pending records.
    fn pending(&mut self, _r: &RequestRecord) -> io::Result<()> {
        Ok(())
    }

    /// A periodic snapshot of the counters (live mode, every [`Sink::stats_interval`]).
    fn stats(&mut self, _s: &StatsRecord) -> io::Result<()> {
        Ok(())
    }

    /// The closing per-client verdicts, once, after the last record and before `finish`,
    /// whatever the stats pace (the aggregate may be empty: nothing was judged).
    fn verdict(&mut self, _clients: &Clients) -> io::Result<()> {
        Ok(())
    }

    /// Housekeeping between records (live mode).
    fn tick(&mut self) {}

    /// End of run, with the final counters: write what is left, flush.
    fn finish(&mut self, s: &StatsRecord) -> io::Result<()>;
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn stats_interval(&self) -> Option<Duration> {
        (**self).stats_interval()
    }
    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        (**self).record(r)
    }
    fn pending(&mut self, r: &RequestRecord) -> io::Result<()> {
        (**self).pending(r)
    }
    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        (**self).stats(s)
    }
    fn verdict(&mut self, c: &Clients) -> io::Result<()> {
        (**self).verdict(c)
    }
    fn tick(&mut self) {
        (**self).tick()
    }
    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        (**self).finish(s)
    }
}
