//! The verdict stage ([`Judge`]) in front of an output: every record is counted and judged
//! before the output gets it; the output's stats records carry the stage's counts and host
//! verdict, and at the end it gets the stage's per-client aggregate
//! ([`Sink::verdict`], whatever the stats pace). After the output's first error it is fed
//! no more, while the stage keeps judging (the closing counts stay whole).

use std::io;
use std::time::Duration;

use super::Sink;
use crate::event::{RequestRecord, StatsRecord};
use crate::verdict::{Clients, Judge};

pub struct Judged<S> {
    judge: Judge,
    inner: S,
    failed: bool,
}

impl<S> Judged<S> {
    /// `live`: see [`Judge::new`].
    pub fn new(inner: S, live: bool) -> Judged<S> {
        Judged { judge: Judge::new(live), inner, failed: false }
    }

    pub fn judge(&self) -> &Judge {
        &self.judge
    }

    pub fn judge_mut(&mut self) -> &mut Judge {
        &mut self.judge
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Calls the output unless it failed before; its first error is returned once.
    fn forward(&mut self, f: impl FnOnce(&mut S) -> io::Result<()>) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        let res = f(&mut self.inner);
        self.failed = res.is_err();
        res
    }
}

impl<S: Sink> Sink for Judged<S> {
    fn stats_interval(&self) -> Option<Duration> {
        self.inner.stats_interval()
    }

    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.judge.record(r);
        self.forward(|s| s.record(r))
    }

    fn pending(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.forward(|s| s.pending(r))
    }

    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        let rec = self.judge.stamp(s);
        self.forward(|o| o.stats(&rec))
    }

    /// The stage is where the verdicts come from: one handed in from outside is not used.
    fn verdict(&mut self, _c: &Clients) -> io::Result<()> {
        Ok(())
    }

    fn tick(&mut self) {
        if !self.failed {
            self.inner.tick();
        }
    }

    /// The closing verdicts (after every record, whatever the stats pace), then the final
    /// stats record.
    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        let rec = self.judge.stamp(s);
        if self.failed {
            return Ok(());
        }
        let res = self.inner.verdict(self.judge.clients());
        let res = res.and_then(|()| self.inner.finish(&rec));
        self.failed = res.is_err();
        res
    }
}
