//! What the dashboard knows: per-client rows, the latest requests, the request rate and the
//! monitor's own counters. Fed one record at a time; rendering only reads.
//!
//! The rows are the one per-client aggregate ([`Clients`], the one the `verdict` record and
//! the table read: same key, same bound, same overflow rule), each with what the dashboard
//! shows beyond the verdict inputs ([`RowDetail`]). Every collection is bounded:
//! - rows: [`MAX_CLIENTS`]; a client first seen past it is folded into `(other clients)`,
//!   its requests counted in [`Clients::requests_folded`] (shown in the header);
//! - the event stream: the latest [`MAX_EVENTS`] requests;
//! - the rate window: [`RATE_WINDOW_SECS`] one-second buckets;
//! - per row: [`MAX_PIDS`] recent pids, and the summary's bounded user agents;
//! - stored strings: [`text::MAX_STORED_CHARS`] characters, control characters replaced;
//! - token requests waiting for their answer: [`super::pending::MAX_PENDING`] (live).

use std::collections::VecDeque;

use crate::event::{Ancestor, Outcome, RequestCounts, RequestRecord, StatsRecord, Version};
use crate::time::Timestamp;
pub use crate::verdict::{ClientKey, MAX_CLIENTS};
use crate::verdict::{ClientStats, Clients, Detail};

use super::UiMode;
use super::grouping::program_of;
use super::pending::PendingTokens;
use super::text::sanitize;
use super::workload::RowWorkload;

/// Most requests kept for the event stream.
pub const MAX_EVENTS: usize = 1_000;
/// Seconds of request rate kept for the sparkline.
pub const RATE_WINDOW_SECS: u64 = 120;
/// Most recent distinct pids kept per row.
pub const MAX_PIDS: usize = 8;

/// One row of the table: a client of the aggregate with the dashboard's detail.
pub type RowStats = ClientStats<RowDetail>;

/// What the dashboard shows of a client beyond the verdict inputs (sanitised).
#[derive(Debug, Clone)]
pub struct RowDetail {
    /// What the table shows first: executable (plus script) or client IP.
    pub label: String,
    /// Most recent distinct pids, newest last (at most [`MAX_PIDS`]).
    pub pids: VecDeque<u32>,
    /// Distinct pids seen (counted when a pid is not among the recent ones).
    pub pid_count: u64,
    pub container: Option<(String, String)>,
    /// Names of the container (pod, image), when the node's files gave them.
    pub workload: Option<RowWorkload>,
    pub user: Option<String>,
    pub cmdline: Option<String>,
    pub exe_path: Option<String>,
    pub ancestors: Vec<Ancestor>,
    pub last_path: String,
    /// The last credentials handed to this row (issue 28: role and key id, no secret).
    pub last_credentials: Option<crate::event::CredentialIdentity>,
    pub last_version: Version,
    /// The latest client address (`ip:port`).
    pub client: String,
    pub host: Option<String>,
    /// Live: when this row's oldest token request still waiting for its answer was sent
    /// (the table then shows "pending" instead of the verdict).
    pub pending_since: Option<Timestamp>,
}

impl Detail for RowDetail {
    fn new(key: &ClientKey, r: &RequestRecord) -> RowDetail {
        let label = match key {
            ClientKey::Process { exe, cmdline, .. } => {
                let name = r
                    .live
                    .as_ref()
                    .and_then(|l| l.process.as_ref())
                    .map_or_else(|| sanitize(exe), |p| sanitize(&p.file.name));
                match program_of(&name, cmdline) {
                    Some(p) => format!("{name} {p}"),
                    None => name,
                }
            }
            ClientKey::Unattributed { reason, ip, .. } => format!("{ip} ({reason})"),
            ClientKey::Address { ip, .. } => ip.to_string(),
            ClientKey::Other => "(other clients)".to_owned(),
        };
        RowDetail {
            label,
            pids: VecDeque::new(),
            pid_count: 0,
            container: None,
            workload: None,
            user: None,
            cmdline: None,
            exe_path: None,
            ancestors: Vec::new(),
            last_path: String::new(),
            last_credentials: None,
            last_version: r.imds.version,
            client: r.network.client.to_string(),
            host: None,
            pending_since: None,
        }
    }

    fn add(&mut self, r: &RequestRecord, newer: bool) {
        if newer {
            self.last_path = sanitize(&r.imds.path);
            self.last_version = r.imds.version;
            self.client = r.network.client.to_string();
        }
        if let Some(id) = &r.credentials {
            self.last_credentials = Some((**id).clone());
        }
        self.identify(r, newer);
    }
}

impl RowDetail {
    /// The row's process, container and host from a record (`newer`: it replaces what is
    /// known).
    fn identify(&mut self, r: &RequestRecord, newer: bool) {
        let Some(live) = &r.live else { return };
        if newer || self.host.is_none() {
            self.host = live.host.as_deref().map(sanitize);
        }
        if let Some(c) = &live.container {
            self.container = Some((sanitize(&c.id), sanitize(&c.runtime)));
            if let Some(w) = RowWorkload::of(live) {
                self.workload = Some(w);
            }
        }
        let Some(p) = &live.process else { return };
        if !self.pids.contains(&p.pid) {
            self.pid_count += 1;
            if self.pids.len() >= MAX_PIDS {
                self.pids.pop_front();
            }
            self.pids.push_back(p.pid);
        }
        if newer || self.cmdline.is_none() {
            self.cmdline = Some(sanitize(&p.cmdline));
            self.exe_path = p.file.path.as_deref().map(sanitize);
            self.user = Some(p.user.as_deref().map_or_else(|| p.uid.to_string(), sanitize));
            self.ancestors = p
                .ancestors
                .iter()
                .take(16)
                .map(|a| Ancestor { pid: a.pid, name: sanitize(&a.name), path: a.path.as_deref().map(sanitize) })
                .collect();
        }
    }
}

impl RowStats {
    /// Text the filter matches against.
    pub fn matches(&self, needle_lower: &str) -> bool {
        if needle_lower.is_empty() {
            return true;
        }
        let hit = |s: &str| s.to_lowercase().contains(needle_lower);
        hit(&self.label)
            || hit(&self.client)
            || hit(&self.last_path)
            || self.cmdline.as_deref().is_some_and(hit)
            || self.user.as_deref().is_some_and(hit)
            || self.container.as_ref().is_some_and(|(id, rt)| hit(id) || hit(rt))
            || self.workload.as_ref().is_some_and(|w| w.matches(hit))
            || self.summary.user_agents.iter().any(|(ua, _)| hit(ua))
            || self.pids.iter().any(|p| p.to_string() == needle_lower)
            || self.summary.services.iter().any(|s| hit(s.as_str()))
    }
}

/// One line of the event stream.
#[derive(Debug, Clone)]
pub struct EventLine {
    pub timestamp: Timestamp,
    pub version: Version,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub credentials: bool,
    pub service: crate::event::Service,
    /// Executable (live) or client IP (offline).
    pub who: String,
    /// The row this request counted in (the `/` filter and `v` narrow the list to its rows).
    pub row: crate::verdict::ClientKey,
}

/// The dashboard's data, without any view state.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// The per-client aggregate, with the dashboard's detail per client.
    pub rows: Clients<RowDetail>,
    /// Newest request last.
    pub events: VecDeque<EventLine>,
    /// Requests per second (by record time), oldest first: `(unix second, count)`.
    pub rate: VecDeque<(u64, u64)>,
    /// Requests counted from the records received.
    pub counts: RequestCounts,
    /// Latest `stats` record from the monitor.
    pub stats: Option<StatsRecord>,
    pub first: Option<Timestamp>,
    /// Newest record or stats time: "now" for ages, so screens are deterministic.
    pub newest: Timestamp,
    pub records: u64,
    /// Live: token requests waiting for their answer, by row (bounded, never stuck).
    pub pending: PendingTokens,
}

impl Model {
    /// An empty model; `mode` live: rows are processes.
    pub fn new(mode: UiMode) -> Model {
        Model { rows: Clients::new(mode == UiMode::Live), ..Model::default() }
    }

    /// Totals for the header: the larger of what the monitor counted and what arrived here
    /// (the UI channel may drop records under load; the stats record never misses any).
    pub fn totals(&self) -> RequestCounts {
        let own = self.counts;
        let Some(s) = &self.stats else { return own };
        let st = s.requests;
        RequestCounts {
            v1: own.v1.max(st.v1),
            v2: own.v2.max(st.v2),
            token_request: own.token_request.max(st.token_request),
            rejected: own.rejected.max(st.rejected),
            token_unanswered: own.token_unanswered.max(st.token_unanswered),
            credentials_v1: own.credentials_v1.max(st.credentials_v1),
            other_providers: own.other_providers.max(st.other_providers),
            server_closed: own.server_closed.max(st.server_closed),
            filtered_out: own.filtered_out.max(st.filtered_out),
        }
    }

    pub fn on_stats(&mut self, s: StatsRecord) {
        self.newest = self.newest.max(s.timestamp);
        // A capture cut short (the driver's aggregate says so): never "safe" here either.
        if s.verdict.as_ref().is_some_and(|v| v.incomplete) {
            self.rows.mark_incomplete(s.timestamp);
        }
        self.stats = Some(s);
        for k in self.pending.expire(self.newest) {
            self.refresh_pending(&k);
        }
    }

    /// A token request waiting for its answer (live): its row shows "pending" until the
    /// finished record settles it. A process seen first through it gets its row now.
    pub fn on_pending(&mut self, r: &RequestRecord) {
        self.newest = self.newest.max(r.timestamp);
        let row = self.rows.touch(r);
        row.last_seen = row.last_seen.max(r.timestamp);
        row.detail.identify(r, false);
        let key = row.key.clone();
        if let Some(old) = self.pending.add(r.timestamp, r.network.client, key.clone()) {
            self.refresh_pending(&old);
        }
        self.refresh_pending(&key);
    }

    /// Recomputes a row's pending state from the pending set. A row that only ever had a
    /// pending request (its record went to another row, e.g. named differently) goes away.
    fn refresh_pending(&mut self, key: &ClientKey) {
        let since = self.pending.oldest_of(key);
        if let Some(row) = self.rows.get_mut(key) {
            row.pending_since = since;
            if since.is_none() && row.counts == RequestCounts::default() && row.summary.server_closed == 0 {
                self.rows.remove(key);
            }
        }
    }

    pub fn on_record(&mut self, r: &RequestRecord) {
        self.records += 1;
        self.counts.add(r);
        self.newest = self.newest.max(r.timestamp);
        self.first = Some(self.first.map_or(r.timestamp, |f| f.min(r.timestamp)));
        self.count_rate(r.timestamp);

        let (label, key) = {
            let row = self.rows.add(r);
            (row.label.clone(), row.key.clone())
        };
        if r.imds.version == Version::TokenRequest
            && let Some(k) = self.pending.settle(r.timestamp, r.network.client)
        {
            self.refresh_pending(&k);
        }

        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(EventLine {
            timestamp: r.timestamp,
            version: r.imds.version,
            method: sanitize(&r.imds.method),
            path: sanitize(&r.imds.path),
            status: r.imds.status,
            outcome: r.imds.outcome,
            credentials: r.imds.credentials,
            service: r.imds.service,
            who: label,
            row: key,
        });
    }

    fn count_rate(&mut self, t: Timestamp) {
        let sec = t.secs();
        match self.rate.iter_mut().rev().find(|(s, _)| *s == sec) {
            Some((_, n)) => *n += 1,
            None => {
                let pos = self.rate.iter().rposition(|(s, _)| *s < sec).map_or(0, |p| p + 1);
                self.rate.insert(pos, (sec, 1));
            }
        }
        let horizon = self.newest.secs().saturating_sub(RATE_WINDOW_SECS - 1);
        while self.rate.front().is_some_and(|(s, _)| *s < horizon) {
            self.rate.pop_front();
        }
    }

    /// Requests per second over the window ending at the newest time, oldest first, one
    /// value per second (seconds without requests are 0).
    pub fn rate_series(&self, len: usize) -> Vec<u64> {
        let len = len.min(RATE_WINDOW_SECS as usize);
        let end = self.newest.secs();
        let mut out = vec![0u64; len];
        for (sec, n) in &self.rate {
            let back = end.saturating_sub(*sec) as usize;
            if back < len {
                out[len - 1 - back] = *n;
            }
        }
        out
    }
}
