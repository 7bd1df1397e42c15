//! The closing `verdict` record: every client of a [`Clients`] aggregate with its verdict and
//! advice, those that would break first.

use serde::Serialize;

use super::clients::{ClientStats, Clients};
use super::{HostVerdict, Verdict, advise};
use crate::time::Timestamp;

/// One client in the `verdict` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientVerdict {
    /// The client's address (the first seen, live), or `(other clients)`.
    pub client: String,
    pub user_agent: Option<String>,
    /// Live: the process judged (executable, command line's arguments, `@container`);
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

/// The closing `verdict` record (`analyze --format json`, and live NDJSON at shutdown).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "verdict")]
pub struct VerdictRecord {
    pub timestamp: Timestamp,
    #[serde(flatten)]
    pub host: HostVerdict,
    /// Requests sent after the server closed the connection (not judged).
    pub server_closed: u64,
    /// Every client, those that would break first.
    pub clients: Vec<ClientVerdict>,
}

impl<D> ClientStats<D> {
    /// This client as the `verdict` record shows it (`safe`: the host is safe to enforce, which
    /// some advice depends on).
    pub fn client_verdict(&self, safe: bool) -> ClientVerdict {
        let s = &self.summary;
        // `(other clients)` may hold many user agents: the most frequent is named.
        let ua =
            self.key.user_agent().or_else(|| s.user_agents.iter().max_by_key(|(_, n)| *n).map(|(u, _)| u.as_str()));
        let advice = advise(s, safe);
        let sw = super::remedy::software(s);
        ClientVerdict {
            client: self.client_label(),
            user_agent: ua.map(str::to_owned),
            process: self.key.process(),
            verdict: self.verdict(),
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
    }
}

impl ClientVerdict {
    /// The record's order: those that would break first, then by verdict, client, user agent
    /// and process.
    pub fn order(&self, b: &ClientVerdict) -> std::cmp::Ordering {
        let a = self;
        (!a.verdict.would_break(), a.verdict, &a.client, &a.user_agent, &a.process).cmp(&(
            !b.verdict.would_break(),
            b.verdict,
            &b.client,
            &b.user_agent,
            &b.process,
        ))
    }
}

impl<D> Clients<D> {
    /// The `verdict` record at `ts`.
    pub fn record(&self, ts: Timestamp) -> VerdictRecord {
        let host = self.host();
        let mut clients: Vec<ClientVerdict> = self.values().map(|c| c.client_verdict(host.safe_to_enforce)).collect();
        // In place: a stable sort's scratch copy was 2.4 MiB at 10,000 clients, and the
        // order's ties (if any) come from a hash table's order either way.
        clients.sort_unstable_by(ClientVerdict::order);
        VerdictRecord { timestamp: ts, host, server_closed: self.server_closed(), clients }
    }
}
