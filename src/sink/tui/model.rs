//! What the dashboard knows: per-process (or per-client) rows, the latest requests, the
//! request rate and the monitor's own counters. Fed one record at a time; rendering only reads.
//!
//! Every collection is bounded:
//! - rows: [`MAX_ROWS`]; beyond, the least recently seen row without v1 is evicted (a v1 row
//!   only if every row has v1), and the eviction is counted in [`Model::evicted_rows`];
//! - the event stream: the latest [`MAX_EVENTS`] requests;
//! - the rate window: [`RATE_WINDOW_SECS`] one-second buckets;
//! - per row: [`MAX_PIDS`] recent pids and [`MAX_USER_AGENTS`] user agents (more are counted);
//! - stored strings: [`text::MAX_STORED_CHARS`] characters, control characters replaced;
//! - token requests waiting for their answer: [`super::pending::MAX_PENDING`] (live).

use std::collections::{HashMap, VecDeque};

use crate::event::{Ancestor, Outcome, RequestCounts, RequestRecord, StatsRecord, Version};
use crate::time::Timestamp;

use crate::verdict::{ClientSummary, Verdict, verdict};

use super::UiMode;
pub use super::grouping::RowKey;
use super::grouping::row_key;
use super::pending::PendingTokens;
use super::text::sanitize;
use super::workload::RowWorkload;

/// Most rows (processes or clients) kept.
pub const MAX_ROWS: usize = 10_000;
/// Most requests kept for the event stream.
pub const MAX_EVENTS: usize = 1_000;
/// Seconds of request rate kept for the sparkline.
pub const RATE_WINDOW_SECS: u64 = 120;
/// Most distinct user agents kept per row.
pub const MAX_USER_AGENTS: usize = 8;
/// Most recent distinct pids kept per row.
pub const MAX_PIDS: usize = 8;

/// One row of the table: everything seen from one process group or client.
#[derive(Debug, Clone)]
pub struct RowStats {
    pub key: RowKey,
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
    /// Distinct user agents with their request counts (at most [`MAX_USER_AGENTS`]).
    pub user_agents: Vec<(String, u64)>,
    /// Requests whose user agent did not fit in `user_agents`.
    pub user_agents_dropped: u64,
    /// Requests without a User-Agent header.
    pub no_user_agent: u64,
    pub counts: RequestCounts,
    pub last_path: String,
    /// The last credentials handed to this row (issue 28: role and key id, no secret).
    pub last_credentials: Option<crate::event::CredentialIdentity>,
    pub last_version: Version,
    pub client: String,
    pub host: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Earliest token request of this row that got no answer.
    pub first_unanswered_token: Option<Timestamp>,
    /// Latest IMDSv1 request of this row.
    pub last_v1: Option<Timestamp>,
    /// What the verdict and the advice are computed from (`crate::verdict`).
    pub summary: ClientSummary,
    /// Live: when this row's oldest token request still waiting for its answer was sent
    /// (the table then shows "pending" instead of the verdict).
    pub pending_since: Option<Timestamp>,
}

impl RowStats {
    pub fn requests(&self) -> u64 {
        self.counts.v1 + self.counts.v2 + self.counts.token_request
    }

    /// The hop-limit symptom: a token request went unanswered and the same row later used v1.
    pub fn hop_limit_suspect(&self) -> bool {
        self.summary.hop_limit_suspect()
    }

    /// What enforcing IMDSv2 would do to this row.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.summary)
    }

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
            || self.user_agents.iter().any(|(ua, _)| hit(ua))
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
}

/// The dashboard's data, without any view state.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub rows: HashMap<RowKey, RowStats>,
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
    pub evicted_rows: u64,
    /// Live: token requests waiting for their answer, by row (bounded, never stuck).
    pub pending: PendingTokens,
}

impl Model {
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
        self.stats = Some(s);
        for k in self.pending.expire(self.newest) {
            self.refresh_pending(&k);
        }
    }

    /// A token request waiting for its answer (live): its row shows "pending" until the
    /// finished record settles it. A process seen first through it gets its row now.
    pub fn on_pending(&mut self, r: &RequestRecord, mode: UiMode) {
        self.newest = self.newest.max(r.timestamp);
        let key = row_key(r, mode);
        if !self.rows.contains_key(&key) && self.rows.len() >= MAX_ROWS {
            self.evict_one();
        }
        let row = self.rows.entry(key.clone()).or_insert_with(|| new_row(key.clone(), r));
        if row.client.is_empty() {
            row.client = sanitize(&r.network.client);
        }
        row.last_seen = row.last_seen.max(r.timestamp);
        identify(row, r, false);
        if let Some(old) = self.pending.add(r.timestamp, &r.network.client, key.clone()) {
            self.refresh_pending(&old);
        }
        self.refresh_pending(&key);
    }

    /// Recomputes a row's pending state from the pending set. A row that only ever had a
    /// pending request (its record went to another row, e.g. named differently) goes away.
    fn refresh_pending(&mut self, key: &RowKey) {
        let since = self.pending.oldest_of(key);
        if let Some(row) = self.rows.get_mut(key) {
            row.pending_since = since;
            if since.is_none() && row.counts == RequestCounts::default() {
                self.rows.remove(key);
            }
        }
    }

    pub fn on_record(&mut self, r: &RequestRecord, mode: UiMode) {
        self.records += 1;
        self.counts.add(r);
        self.newest = self.newest.max(r.timestamp);
        self.first = Some(self.first.map_or(r.timestamp, |f| f.min(r.timestamp)));
        self.count_rate(r.timestamp);

        let key = row_key(r, mode);
        if !self.rows.contains_key(&key) && self.rows.len() >= MAX_ROWS {
            self.evict_one();
        }
        let row = self.rows.entry(key.clone()).or_insert_with(|| new_row(key, r));
        update_row(row, r);
        let label = row.label.clone();
        if r.imds.version == Version::TokenRequest
            && let Some(k) = self.pending.settle(r.timestamp, &r.network.client)
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

    fn evict_one(&mut self) {
        let victim = self
            .rows
            .values()
            .filter(|r| r.counts.v1 == 0)
            .min_by_key(|r| r.last_seen)
            .or_else(|| self.rows.values().min_by_key(|r| r.last_seen))
            .map(|r| r.key.clone());
        if let Some(k) = victim {
            self.rows.remove(&k);
            self.pending.forget_row(&k);
            self.evicted_rows += 1;
        }
    }
}

fn new_row(key: RowKey, r: &RequestRecord) -> RowStats {
    let label = match &key {
        RowKey::Process { exe, program, .. } => {
            let name = r
                .live
                .as_ref()
                .and_then(|l| l.process.as_ref())
                .map_or_else(|| exe.clone(), |p| sanitize(&p.file.name));
            match program {
                Some(p) => format!("{name} {p}"),
                None => name,
            }
        }
        RowKey::Unattributed { reason, client } => format!("{client} ({reason})"),
        RowKey::Client { ip, .. } => ip.clone(),
    };
    RowStats {
        key,
        label,
        pids: VecDeque::new(),
        pid_count: 0,
        container: None,
        workload: None,
        user: None,
        cmdline: None,
        exe_path: None,
        ancestors: Vec::new(),
        user_agents: Vec::new(),
        user_agents_dropped: 0,
        no_user_agent: 0,
        counts: RequestCounts::default(),
        last_path: String::new(),
        last_credentials: None,
        last_version: r.imds.version,
        client: String::new(),
        host: None,
        first_seen: r.timestamp,
        last_seen: r.timestamp,
        first_unanswered_token: None,
        last_v1: None,
        summary: ClientSummary::default(),
        pending_since: None,
    }
}

fn update_row(row: &mut RowStats, r: &RequestRecord) {
    row.counts.add(r);
    row.summary.add(r);
    row.first_seen = row.first_seen.min(r.timestamp);
    if let Some(id) = &r.credentials {
        row.last_credentials = Some((**id).clone());
    }
    let newer = r.timestamp >= row.last_seen;
    if newer {
        row.last_seen = r.timestamp;
        row.last_path = sanitize(&r.imds.path);
        row.last_version = r.imds.version;
        row.client = sanitize(&r.network.client);
    }
    match r.imds.version {
        Version::V1 => row.last_v1 = row.last_v1.max(Some(r.timestamp)),
        Version::TokenRequest if r.imds.outcome == Outcome::NoResponse => {
            let t = r.timestamp;
            row.first_unanswered_token = Some(row.first_unanswered_token.map_or(t, |f| f.min(t)));
        }
        _ => {}
    }
    match r.imds.user_agent.as_deref() {
        None => row.no_user_agent += 1,
        Some(ua) => {
            let ua = sanitize(ua);
            if let Some(e) = row.user_agents.iter_mut().find(|(u, _)| *u == ua) {
                e.1 += 1;
            } else if row.user_agents.len() < MAX_USER_AGENTS {
                row.user_agents.push((ua, 1));
            } else {
                row.user_agents_dropped += 1;
            }
        }
    }
    identify(row, r, newer);
}

/// The row's process, container and host from a record (`newer`: it replaces what is known).
fn identify(row: &mut RowStats, r: &RequestRecord, newer: bool) {
    let Some(live) = &r.live else { return };
    if newer || row.host.is_none() {
        row.host = live.host.as_deref().map(sanitize);
    }
    if let Some(c) = &live.container {
        row.container = Some((sanitize(&c.id), sanitize(&c.runtime)));
        if let Some(w) = RowWorkload::of(live) {
            row.workload = Some(w);
        }
    }
    let Some(p) = &live.process else { return };
    if !row.pids.contains(&p.pid) {
        row.pid_count += 1;
        if row.pids.len() >= MAX_PIDS {
            row.pids.pop_front();
        }
        row.pids.push_back(p.pid);
    }
    if newer || row.cmdline.is_none() {
        row.cmdline = Some(sanitize(&p.cmdline));
        row.exe_path = p.file.path.as_deref().map(sanitize);
        row.user = Some(p.user.as_deref().map_or_else(|| p.uid.to_string(), sanitize));
        row.ancestors = p
            .ancestors
            .iter()
            .take(16)
            .map(|a| Ancestor { pid: a.pid, name: sanitize(&a.name), path: a.path.as_deref().map(sanitize) })
            .collect();
    }
}
