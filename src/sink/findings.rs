//! What the finding outputs (`asff`, `ocsf`: issue 28) know of a client beyond its verdict:
//! where it ran (host, instance id, capture file), which process, container and pod, and
//! which credentials it was handed. Gathered from the request records, keyed like the
//! verdicts (`verdict::Tracker`): live by process group, else client IP + user agent, and
//! joined to each [`ClientVerdict`] of the `verdict` record.
//!
//! Bounded: at most [`crate::verdict::tracker::MAX_CLIENTS`] clients (more are counted in
//! `dropped`), [`MAX_IDENTITIES`] credential identities each.

use std::collections::HashMap;
use std::io;

use crate::event::{Container, CredentialIdentity, K8s, Process, RequestRecord};
use crate::time::Timestamp;
use crate::verdict::Verdict;
use crate::verdict::tracker::{ClientVerdict, MAX_CLIENTS, Tracker, VerdictRecord, client_key};

/// Distinct credential identities kept per client.
pub const MAX_IDENTITIES: usize = 4;

/// A client as the verdicts key it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// Live: the process group (`sink/tui/grouping.rs`).
    Process(String),
    /// Client IP and user agent (`-` when none).
    Client(String, String),
}

impl Key {
    pub fn of_verdict(c: &ClientVerdict) -> Key {
        match &c.process {
            Some(p) => Key::Process(p.clone()),
            None => Key::Client(c.client.clone(), c.user_agent.clone().unwrap_or_else(|| "-".into())),
        }
    }

    /// A stable text of the key (for finding ids).
    pub fn text(&self) -> String {
        match self {
            Key::Process(p) => format!("process {p}"),
            Key::Client(ip, ua) => format!("client {ip} {ua}"),
        }
    }
}

/// What the records said about one client.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub first: Timestamp,
    pub last: Timestamp,
    pub host: Option<String>,
    pub host_id: Option<String>,
    pub process: Option<Process>,
    pub container: Option<Container>,
    pub k8s: Option<K8s>,
    /// The metadata server it spoke to (`ip:port`), last seen.
    pub server: String,
    /// `analyze` of several files: the file of its last request.
    pub capture: Option<String>,
    /// IMDSv1 credential fetches that were answered.
    pub credentials_v1: u64,
    pub identities: Vec<CredentialIdentity>,
}

impl Extra {
    fn add(&mut self, r: &RequestRecord) {
        if self.first.0 == 0 || r.timestamp < self.first {
            self.first = r.timestamp;
        }
        self.last = self.last.max(r.timestamp);
        self.server.clone_from(&r.network.server);
        if let Some(l) = &r.live {
            self.host = l.host.clone().or(self.host.take());
            self.host_id = l.host_id.clone().or(self.host_id.take());
            self.process = l.process.clone().or(self.process.take());
            self.container = l.container.clone().or(self.container.take());
            self.k8s = l.k8s.clone().or(self.k8s.take());
        }
        if let Some(c) = &r.capture {
            self.capture = Some(c.file.to_string());
        }
        if r.imds.credentials && r.imds.breaks_when_enforced == Some(true) {
            self.credentials_v1 += 1;
        }
        if let Some(id) = &r.credentials
            && self.identities.len() < MAX_IDENTITIES
            && !self.identities.iter().any(|i| i.access_key_id == id.access_key_id)
        {
            self.identities.push((**id).clone());
        }
    }

    /// `host_id`, else the host name, else the capture file, else `fallback`.
    pub fn host_label<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.host_id.as_deref().or(self.host.as_deref()).or(self.capture.as_deref()).unwrap_or(fallback)
    }
}

/// The clients seen, with their extras; live also their running verdicts.
#[derive(Debug, Default)]
pub struct Clients {
    live: bool,
    extras: HashMap<Key, Extra>,
    /// Live: verdicts so far (the driver hands over only the closing ones).
    tracker: Option<Tracker>,
    /// Clients past the bound (their extras are not kept).
    pub dropped: u64,
    /// Live: what each client's last finding said (verdict, IMDSv1 count): a finding is
    /// written again only when this changes.
    written: HashMap<Key, (Verdict, u64)>,
}

impl Clients {
    pub fn new(live: bool) -> Clients {
        Clients { live, tracker: live.then(Tracker::default), ..Clients::default() }
    }

    pub fn key_of(&self, r: &RequestRecord) -> Key {
        if self.live
            && let Some(g) = super::tui::grouping::process_group(r)
        {
            return Key::Process(g);
        }
        let (ip, ua) = client_key(r);
        Key::Client(ip, ua)
    }

    pub fn add(&mut self, r: &RequestRecord) {
        let key = self.key_of(r);
        if let Some(t) = &mut self.tracker {
            match &key {
                Key::Process(g) => t.add_process(g.clone(), r),
                Key::Client(..) => t.add(r),
            }
        }
        let room = self.extras.len() < MAX_CLIENTS;
        match self.extras.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().add(r),
            std::collections::hash_map::Entry::Vacant(e) if room => e.insert(Extra::default()).add(r),
            std::collections::hash_map::Entry::Vacant(_) => self.dropped += 1,
        }
    }

    pub fn extra(&self, c: &ClientVerdict) -> Option<&Extra> {
        self.extras.get(&Key::of_verdict(c))
    }

    /// Live: the verdicts so far, at `ts`.
    pub fn running(&self, ts: Timestamp) -> Option<VerdictRecord> {
        self.tracker.as_ref().map(|t| t.record(ts))
    }

    /// The clients of `v` that would break and whose finding is new or changed (offline:
    /// all of them, once).
    pub fn changed<'a>(&mut self, v: &'a VerdictRecord) -> Vec<&'a ClientVerdict> {
        let mut out = Vec::new();
        for c in v.clients.iter().filter(|c| c.verdict.would_break()) {
            let now = (c.verdict, c.v1_served);
            let key = Key::of_verdict(c);
            if self.written.get(&key) == Some(&now) {
                continue;
            }
            if self.written.len() < MAX_CLIENTS || self.written.contains_key(&key) {
                self.written.insert(key, now);
            }
            out.push(c);
        }
        out
    }
}

/// A stable 64-bit FNV-1a hash, as 16 hex digits (finding ids; no secret goes in).
pub fn stable_id(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Milliseconds since the epoch (OCSF `time`).
pub fn millis(t: Timestamp) -> u64 {
    t.0 / 1000
}

/// The advice of a client as one text, at most `max` bytes (on a character boundary).
pub fn advice_text(c: &ClientVerdict, max: usize) -> String {
    let mut s = c.advice.join(" / ");
    if s.is_empty() {
        s = "Move this client to IMDSv2 (token requests) before enforcing http_tokens=required.".into();
    }
    truncate(&mut s, max);
    s
}

pub fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Who the client is, in words (title and description).
pub fn who(c: &ClientVerdict) -> String {
    match (&c.process, &c.user_agent) {
        (Some(p), _) => format!("{p} ({})", c.client),
        (None, Some(ua)) => format!("{} ({ua})", c.client),
        (None, None) => c.client.clone(),
    }
}

/// Where finding lines or arrays go: a strict writer (analyze) or the tolerant NDJSON
/// output of live mode (errors counted, the file reopened on SIGHUP).
pub trait LineOut {
    fn line(&mut self, v: &serde_json::Value) -> io::Result<()>;
    fn tick(&mut self) {}
    fn flush(&mut self) -> io::Result<()>;
}

impl<W: super::json::Destination> LineOut for super::json::JsonSink<W> {
    fn line(&mut self, v: &serde_json::Value) -> io::Result<()> {
        self.write_line(v)
    }
    fn tick(&mut self) {
        super::Sink::tick(self);
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_out()
    }
}

/// The finding outputs: `--format asff` (with its Security Hub) or `--format ocsf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingFormat {
    Asff(super::asff::AsffTarget),
    Ocsf,
}
