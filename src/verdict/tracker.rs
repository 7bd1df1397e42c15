//! Per-client verdicts over a whole run, for the closing `verdict` record and the exit code.
//! A client is the client IP + user agent (offline), the same key as the summary table; live,
//! a request whose process was named belongs to its process group (executable + script and
//! arguments + container, the dashboard's row: [`Tracker::add_process`]), so two programs
//! behind one address and user agent get their own verdicts; an unnamed one falls back to
//! IP + user agent. Bounded: [`MAX_CLIENTS`] clients (both kinds together); further clients
//! are folded into one "(other clients)".

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;

use super::{ClientSummary, HostVerdict, Verdict, advise, host_verdict_of, verdict};
use crate::event::RequestRecord;
use crate::time::Timestamp;

/// Clients tracked; more are folded into one.
pub const MAX_CLIENTS: usize = 10_000;

/// The client key of a record: IP without port, and the user agent (`-` when absent).
pub fn client_key(r: &RequestRecord) -> (String, String) {
    let ip =
        r.network.client.parse::<SocketAddr>().map(|a| a.ip().to_string()).unwrap_or_else(|_| r.network.client.clone());
    (ip, r.imds.user_agent.clone().unwrap_or_else(|| "-".to_owned()))
}

/// The IP of an `ip:port` or `[ip]:port` client address, as a slice (no allocation).
fn client_ip(addr: &str) -> &str {
    match addr.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => addr.rsplit_once(':').map_or(addr, |(ip, _)| ip),
    }
}

#[derive(Debug, Default)]
pub struct Tracker {
    /// By client IP, then user agent: looked up by borrowed slices, so a record of a known
    /// client costs no allocation (this runs for every request).
    clients: HashMap<String, HashMap<String, ClientSummary>>,
    /// Live: by process group, with the client IP first seen for it.
    processes: HashMap<String, (String, ClientSummary)>,
    /// Clients in `clients` and `processes` (bounded by [`MAX_CLIENTS`]).
    count: usize,
    other: ClientSummary,
    folded: u64,
}

/// One client in the `verdict` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientVerdict {
    pub client: String,
    pub user_agent: Option<String>,
    /// Live: the process group judged (executable, script and arguments, `@container`);
    /// absent for a client keyed by address + user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    pub verdict: Verdict,
    /// IMDSv1 requests enforcement would break.
    pub v1_served: u64,
    pub v2: u64,
    pub token_requests: u64,
    pub token_unanswered: u64,
    pub other_providers: u64,
    /// Titles of the advice that fits (what to change).
    pub advice: Vec<String>,
    /// The client software from the catalogue (issue 24): its id, name, the version seen
    /// and the first version with IMDSv2; absent when not recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<&'static str>,
    /// The advice in full: kind, title and lines (the same as every face shows).
    pub advice_details: Vec<AdviceDetail>,
}

/// One piece of advice in the `verdict` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdviceDetail {
    pub kind: &'static str,
    pub title: String,
    pub lines: Vec<String>,
}

/// The closing `verdict` record of `analyze --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "verdict")]
pub struct VerdictRecord {
    pub timestamp: Timestamp,
    #[serde(flatten)]
    pub host: HostVerdict,
    /// Requests sent after the server closed the connection (not judged).
    pub server_closed: u64,
    /// Clients folded into "(other clients)" past the bound.
    pub clients_folded: u64,
    /// Every client, those that would break first.
    pub clients: Vec<ClientVerdict>,
}

impl Tracker {
    pub fn add(&mut self, r: &RequestRecord) {
        let ip = client_ip(&r.network.client);
        let ua = r.imds.user_agent.as_deref().unwrap_or("-");
        if let Some(s) = self.clients.get_mut(ip).and_then(|m| m.get_mut(ua)) {
            s.add(r);
        } else if self.count < MAX_CLIENTS {
            self.count += 1;
            self.clients.entry(ip.to_owned()).or_default().entry(ua.to_owned()).or_default().add(r);
        } else {
            self.folded += 1;
            self.other.add(r);
        }
    }

    /// Live: adds a request of the process group `group` (see the module's note).
    pub fn add_process(&mut self, group: String, r: &RequestRecord) {
        if let Some((_, s)) = self.processes.get_mut(&group) {
            s.add(r);
        } else if self.count < MAX_CLIENTS {
            self.count += 1;
            let mut s = ClientSummary::default();
            s.add(r);
            self.processes.insert(group, (client_ip(&r.network.client).to_owned(), s));
        } else {
            self.folded += 1;
            self.other.add(r);
        }
    }

    /// Every client: `(client, user agent or "-", process group)` and its summary.
    fn all(&self) -> impl Iterator<Item = ((&str, &str, Option<&str>), &ClientSummary)> {
        let other = (self.folded > 0).then_some((("(other clients)", "-", None), &self.other));
        let processes = self.processes.iter().map(|(g, (ip, s))| {
            let ua = s.user_agents.iter().max_by_key(|(_, n)| *n).map_or("-", |(u, _)| u.as_str());
            ((ip.as_str(), ua, Some(g.as_str())), s)
        });
        self.clients
            .iter()
            .flat_map(|(c, m)| m.iter().map(move |(u, s)| ((c.as_str(), u.as_str(), None), s)))
            .chain(processes)
            .chain(other)
    }

    pub fn host(&self) -> HostVerdict {
        host_verdict_of(self.all().map(|(_, s)| s))
    }

    /// The `verdict` record at `ts`.
    pub fn record(&self, ts: Timestamp) -> VerdictRecord {
        let host = self.host();
        let mut clients: Vec<ClientVerdict> = self
            .all()
            .map(|((client, ua, process), s)| {
                let v = verdict(s);
                let advice = advise(s, host.safe_to_enforce);
                let sw = super::remedy::software(s);
                ClientVerdict {
                    client: client.to_owned(),
                    user_agent: (ua != "-").then(|| ua.to_owned()),
                    process: process.map(str::to_owned),
                    verdict: v,
                    v1_served: s.v1_served,
                    v2: s.v2,
                    token_requests: s.token_ok + s.token_unanswered + s.token_forbidden + s.token_failed,
                    token_unanswered: s.token_unanswered,
                    other_providers: s.probes,
                    advice: advice.iter().map(|a| a.title.clone()).collect(),
                    product_id: sw.as_ref().map(|w| w.product_id),
                    product: sw.as_ref().map(|w| w.product),
                    version: sw.as_ref().and_then(|w| w.version.clone()),
                    fixed_in: sw.as_ref().and_then(|w| w.fixed_in),
                    advice_details: advice
                        .into_iter()
                        .map(|a| AdviceDetail { kind: a.kind.as_str(), title: a.title, lines: a.lines })
                        .collect(),
                }
            })
            .collect();
        clients.sort_by(|a, b| {
            (!a.verdict.would_break(), a.verdict, &a.client, &a.user_agent, &a.process).cmp(&(
                !b.verdict.would_break(),
                b.verdict,
                &b.client,
                &b.user_agent,
                &b.process,
            ))
        });
        let server_closed = self.all().map(|(_, s)| s.server_closed).sum();
        VerdictRecord { timestamp: ts, host, server_closed, clients_folded: self.folded, clients }
    }
}
