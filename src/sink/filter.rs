//! `--service`: a decorator that keeps only the records of some services (rustnet's
//! `FilteredSink` idea). The sink it wraps never filters; the driver only moves records.

use std::io;
use std::time::Duration;

use super::Sink;
use crate::event::{RequestRecord, ServiceSet, StatsRecord};
use crate::verdict::Clients;

/// Hands `inner` only the records of `services` (`None`: all). The others are counted and
/// stamped on every stats record passed through (`requests.filtered_out`); a pending token
/// request of another service is dropped without counting (its finished record is counted).
pub struct ServiceFilter<S> {
    inner: S,
    services: Option<ServiceSet>,
    filtered: u64,
}

impl<S> ServiceFilter<S> {
    pub fn new(inner: S, services: Option<ServiceSet>) -> ServiceFilter<S> {
        ServiceFilter { inner, services, filtered: 0 }
    }

    /// Records left out so far.
    pub fn filtered(&self) -> u64 {
        self.filtered
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    pub fn set_services(&mut self, services: Option<ServiceSet>) {
        self.services = services;
    }

    fn keeps(&self, r: &RequestRecord) -> bool {
        self.services.is_none_or(|s| s.contains(r.imds.service))
    }

    fn stamp(&self, s: &StatsRecord) -> StatsRecord {
        let mut rec = s.clone();
        rec.requests.filtered_out = self.filtered;
        rec
    }
}

impl<S: Sink> Sink for ServiceFilter<S> {
    fn stats_interval(&self) -> Option<Duration> {
        self.inner.stats_interval()
    }

    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        if !self.keeps(r) {
            self.filtered += 1;
            return Ok(());
        }
        self.inner.record(r)
    }

    fn pending(&mut self, r: &RequestRecord) -> io::Result<()> {
        if !self.keeps(r) {
            return Ok(());
        }
        self.inner.pending(r)
    }

    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        let rec = self.stamp(s);
        self.inner.stats(&rec)
    }

    fn verdict(&mut self, c: &Clients) -> io::Result<()> {
        self.inner.verdict(c)
    }

    fn tick(&mut self) {
        self.inner.tick();
    }

    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        let rec = self.stamp(s);
        self.inner.finish(&rec)
    }
}
