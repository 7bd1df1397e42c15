//! Several sinks at once (say NDJSON and a metrics endpoint), each at its own stats pace.

use std::io;
use std::time::{Duration, Instant};

use super::Sink;
use crate::event::{RequestRecord, StatsRecord};

struct Member {
    sink: Box<dyn Sink + Send>,
    every: Option<Duration>,
    last_stats: Instant,
}

/// Hands every call to each of its sinks. A member sees periodic stats at its own
/// [`Sink::stats_interval`], not at the fastest member's. Every member is called even when
/// an earlier one fails; the first error is returned (and the driver then stops the run).
#[derive(Default)]
pub struct Fan {
    members: Vec<Member>,
}

impl Fan {
    pub fn new() -> Fan {
        Fan::default()
    }

    /// Adds a sink.
    pub fn with(mut self, sink: Box<dyn Sink + Send>) -> Fan {
        let every = sink.stats_interval();
        self.members.push(Member { sink, every, last_stats: Instant::now() });
        self
    }

    fn each(&mut self, mut f: impl FnMut(&mut Member) -> io::Result<()>) -> io::Result<()> {
        let mut first = Ok(());
        for m in &mut self.members {
            let res = f(m);
            if first.is_ok() {
                first = res;
            }
        }
        first
    }
}

impl Sink for Fan {
    fn stats_interval(&self) -> Option<Duration> {
        self.members.iter().filter_map(|m| m.every).min()
    }

    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.each(|m| m.sink.record(r))
    }

    fn pending(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.each(|m| m.sink.pending(r))
    }

    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        self.each(|m| match m.every {
            Some(every) if m.last_stats.elapsed() >= every => {
                m.last_stats = Instant::now();
                m.sink.stats(s)
            }
            _ => Ok(()),
        })
    }

    fn verdict(&mut self, c: &crate::verdict::Clients) -> io::Result<()> {
        self.each(|m| m.sink.verdict(c))
    }

    fn tick(&mut self) {
        for m in &mut self.members {
            m.sink.tick();
        }
    }

    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        self.each(|m| m.sink.finish(s))
    }
}
