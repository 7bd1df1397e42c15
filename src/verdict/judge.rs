//! The verdict stage: the last step before the outputs. Every finished request the outputs
//! get passes through here first and is counted ([`RequestCounts`]) and judged in the one
//! per-client aggregate ([`Clients`]); the outputs only show what this stage holds (the host
//! verdict of every `stats` record, the closing `verdict` record, the table).

use crate::event::{HostVerdict, RequestCounts, RequestRecord, StatsRecord};

use super::Clients;

/// Request counts and per-client verdicts of one run (bounded as [`Clients`] is).
#[derive(Debug, Default)]
pub struct Judge {
    counts: RequestCounts,
    clients: Clients,
}

impl Judge {
    /// An empty stage; `live`: a request whose process was named belongs to that process's
    /// client (executable + command line + user agent + container: `ClientKey`).
    pub fn new(live: bool) -> Judge {
        Judge { counts: RequestCounts::default(), clients: Clients::new(live) }
    }

    /// One finished request.
    pub fn record(&mut self, r: &RequestRecord) {
        self.counts.add(r);
        self.clients.add(r);
    }

    /// Requests judged so far.
    pub fn counts(&self) -> RequestCounts {
        self.counts
    }

    /// The per-client aggregate so far.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// The host-level verdict over the clients seen so far (never safe on incomplete input).
    pub fn host(&self) -> HostVerdict {
        self.clients.host()
    }

    /// Says that the input was incomplete (a capture cut mid-record): what was not read may
    /// hold a served IMDSv1 request, so the verdict and the closing line never say "safe".
    pub fn mark_incomplete(&mut self, at: crate::time::Timestamp) {
        self.clients.mark_incomplete(at);
    }

    /// `s` with this stage's request counts (what an earlier stage counted as left out is
    /// kept) and host verdict.
    pub fn stamp(&self, s: &StatsRecord) -> StatsRecord {
        let mut rec = s.clone();
        rec.requests = RequestCounts { filtered_out: s.requests.filtered_out, ..self.counts };
        rec.verdict = Some(Box::new(self.clients.host()));
        rec
    }
}
