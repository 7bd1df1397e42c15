//! What the finding outputs (`asff`, `ocsf`: issue 28) know of a client beyond its verdict:
//! where it ran (host, instance id, capture file), which process, container and pod, and
//! which credentials it was handed. Kept as the [`Detail`] of a [`Clients`] aggregate (the
//! one per-client model every face reads, as the dashboard keeps its rows), so a finding
//! groups, bounds and judges its client exactly as the `verdict` record does.
//!
//! Bounded: the aggregate's [`crate::verdict::MAX_CLIENTS`] (later clients folded into
//! `(other clients)`), [`MAX_IDENTITIES`] credential identities each.

use std::collections::HashMap;
use std::io;

use crate::event::{Container, CredentialIdentity, HostVerdict, K8s, Process, RequestRecord};
use crate::time::Timestamp;
use crate::verdict::{ClientKey, ClientStats, ClientVerdict, Clients, Detail, MAX_CLIENTS, Verdict};

/// Distinct credential identities kept per client.
pub const MAX_IDENTITIES: usize = 4;

/// A stable text of a client's key (for finding ids: the same client gets the same id).
pub fn key_text(k: &ClientKey) -> String {
    let o = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    match k {
        ClientKey::Process { exe, cmdline, container, user_agent } => {
            format!("process {exe}\0{cmdline}\0{}\0{}", o(container), o(user_agent))
        }
        ClientKey::Unattributed { reason, ip, user_agent } => format!("unattributed {reason} {ip} {}", o(user_agent)),
        ClientKey::Address { ip, user_agent } => format!("client {ip} {}", o(user_agent)),
        ClientKey::Other => "other clients".into(),
    }
}

/// What the records said about one client, beyond the verdict inputs.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub host: Option<String>,
    pub host_id: Option<String>,
    pub process: Option<Process>,
    pub container: Option<Container>,
    pub k8s: Option<K8s>,
    /// The metadata server it spoke to, last seen.
    pub server: Option<std::net::SocketAddr>,
    /// `analyze` of several files: the file of its last request.
    pub capture: Option<String>,
    pub identities: Vec<CredentialIdentity>,
}

impl Detail for Extra {
    fn new(_: &ClientKey, _: &RequestRecord) -> Extra {
        Extra::default()
    }

    fn add(&mut self, r: &RequestRecord, newer: bool) {
        if newer || self.server.is_none() {
            self.server = Some(r.network.server);
        }
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
        if let Some(id) = &r.credentials
            && self.identities.len() < MAX_IDENTITIES
            && !self.identities.iter().any(|i| i.access_key_id == id.access_key_id)
        {
            self.identities.push((**id).clone());
        }
    }
}

impl Extra {
    /// `host_id`, else the host name, else the capture file, else `fallback`.
    pub fn host_label<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.host_id.as_deref().or(self.host.as_deref()).or(self.capture.as_deref()).unwrap_or(fallback)
    }
}

/// One client that would break: how the `verdict` record shows it, and its aggregate entry.
pub struct Breaking<'a> {
    pub verdict: ClientVerdict,
    pub stats: &'a ClientStats<Extra>,
}

impl Breaking<'_> {
    pub fn extra(&self) -> &Extra {
        &self.stats.detail
    }

    /// IMDSv1 credential fetches that were served.
    pub fn credentials_v1(&self) -> u64 {
        self.stats.summary.credentials_v1
    }

    /// The host the finding is about (instance id, host name, capture file, or the client).
    pub fn host(&self) -> &str {
        self.extra().host_label(&self.verdict.client)
    }

    /// Stable text of the client (with [`Breaking::host`], the finding's identity).
    pub fn key_text(&self) -> String {
        key_text(&self.stats.key)
    }
}

/// The clients seen (the per-client aggregate with the findings' detail), and live what each
/// client's last finding said.
#[derive(Debug, Default)]
pub struct Findings {
    pub clients: Clients<Extra>,
    /// What each client's last finding said (verdict, IMDSv1 count): a finding is written
    /// again only when this changes. Bounded like the aggregate.
    written: HashMap<ClientKey, (Verdict, u64)>,
}

impl Findings {
    pub fn new(live: bool) -> Findings {
        Findings { clients: Clients::new(live), written: HashMap::new() }
    }

    pub fn add(&mut self, r: &RequestRecord) {
        self.clients.add(r);
    }

    /// The clients that would break and whose finding is new or changed (offline: all of
    /// them, once), in the `verdict` record's order. `host`: the driver's host verdict when it
    /// handed one (it knows when the input was incomplete).
    pub fn changed(&mut self, host: Option<&HostVerdict>) -> Vec<Breaking<'_>> {
        let safe = host.map_or_else(|| self.clients.host().safe_to_enforce, |h| h.safe_to_enforce);
        let mut out: Vec<Breaking<'_>> = Vec::new();
        for c in self.clients.values().filter(|c| c.verdict().would_break()) {
            let now = (c.verdict(), c.summary.v1_served);
            if self.written.get(&c.key) == Some(&now) {
                continue;
            }
            if self.written.len() < MAX_CLIENTS + 1 || self.written.contains_key(&c.key) {
                self.written.insert(c.key.clone(), now);
            }
            out.push(Breaking { verdict: c.client_verdict(safe), stats: c });
        }
        out.sort_by(|a, b| a.verdict.order(&b.verdict));
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
    Asff(AsffTarget),
    Ocsf,
}

/// The account and region findings are imported into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsffTarget {
    pub region: String,
    pub account: String,
}

impl AsffTarget {
    /// Checks `--aws-region` and `--aws-account`; `Err` says what is missing or wrong.
    pub fn new(region: Option<&str>, account: Option<&str>) -> Result<AsffTarget, String> {
        let (Some(region), Some(account)) = (region, account) else {
            return Err("--format asff needs --aws-region and --aws-account (the Security Hub it imports into)".into());
        };
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("--aws-account {}: an AWS account id is 12 digits", crate::text::sanitize(account)));
        }
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if region.is_empty() || region.len() > 32 || !region.chars().all(ok) {
            return Err(format!("--aws-region {}: not a region name (e.g. eu-west-1)", crate::text::sanitize(region)));
        }
        Ok(AsffTarget { region: region.into(), account: account.into() })
    }

    pub fn product_arn(&self) -> String {
        format!("arn:aws:securityhub:{}:{}:product/{}/default", self.region, self.account, self.account)
    }
}
