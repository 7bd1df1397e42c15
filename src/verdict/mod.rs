//! The verdict you can enforce on: per client ([`ClientKey`]: offline address + user agent;
//! live executable + command line + user agent + container), what `http_tokens = required`
//! would do to it, and what to change. Computed once here from the request records, in the
//! one per-client aggregate [`Clients`]; the table, NDJSON, the metrics and the dashboard
//! only show it.
//!
//! Layer: after `engine` (it reads finished [`RequestRecord`]s), before `attribute`/`sink`.
//! Bounded: [`MAX_CLIENTS`] clients (one overflow entry past it); a [`ClientSummary`] is a
//! fixed set of counters plus at most [`MAX_USER_AGENTS`] user agents.

pub mod advice;
pub mod advice_kind;
pub mod client;
pub mod clients;
pub mod judge;
pub mod record;
pub mod remedy;

use serde::Serialize;

use crate::classify::catalogue::ProcessHint;
use crate::event::{Outcome, RequestRecord, Service, ServiceSet, Version};
use crate::time::Timestamp;

pub use advice::{Advice, AdviceKind, advise};
pub use client::ClientKey;
pub use clients::{ClientStats, Clients, Detail, MAX_CLIENTS};
pub use judge::Judge;
pub use record::{ClientVerdict, VerdictRecord};

/// Most distinct user agents kept per client (more are counted in `user_agents_dropped`).
pub const MAX_USER_AGENTS: usize = 8;

/// What enforcing IMDSv2 would do to one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Only IMDSv2 and token traffic: nothing breaks.
    Ready,
    /// IMDSv1 answered 2xx and no sign of IMDSv2 support (boto 2, a raw curl): breaks.
    Breaks,
    /// Its token request went unanswered (answer died at the hop limit), then it used IMDSv1.
    HopLimit,
    /// Its token request was refused with 403 (a proxy added `X-Forwarded-For`), then it used
    /// IMDSv1.
    ProxyRefused,
    /// Used both IMDSv1 (answered 2xx) and IMDSv2: probably fine after enforcement; verify.
    FallsBack,
    /// Only other clouds' probes or requests already refused: ignore.
    ProbeOnly,
}

impl Verdict {
    /// Every verdict, in the order above.
    pub const ALL: [Verdict; 6] = [
        Verdict::Ready,
        Verdict::Breaks,
        Verdict::HopLimit,
        Verdict::ProxyRefused,
        Verdict::FallsBack,
        Verdict::ProbeOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ready => "ready",
            Verdict::Breaks => "breaks",
            Verdict::HopLimit => "hop_limit",
            Verdict::ProxyRefused => "proxy_refused",
            Verdict::FallsBack => "falls_back",
            Verdict::ProbeOnly => "probe_only",
        }
    }

    /// The verdicts counted by "N clients would break" and by `--fail-on-v1`.
    pub fn would_break(self) -> bool {
        matches!(self, Verdict::Breaks | Verdict::HopLimit | Verdict::ProxyRefused | Verdict::FallsBack)
    }
}

/// What one client did, reduced to what the verdict and the advice need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSummary {
    /// AWS requests without a token that enforcement would break (answered, or answer lost
    /// by the capture).
    pub v1_served: u64,
    /// AWS requests without a token that were refused or failed already (4xx/5xx/no answer).
    pub v1_failed: u64,
    pub v2: u64,
    pub token_ok: u64,
    /// Token requests that got no (delivered) answer: the hop-limit symptom.
    pub token_unanswered: u64,
    /// Token requests refused with 403 (a proxy adding `X-Forwarded-For`).
    pub token_forbidden: u64,
    /// Token requests refused otherwise (401, 404, 405, 5xx).
    pub token_failed: u64,
    /// Requests without a legacy/hardened form (other clouds' probes, ECS and Pod Identity
    /// credentials, Azure, IBM), and requests of services without a token step (OCI, GCP)
    /// that were not answered 2xx/3xx.
    pub probes: u64,
    /// Every service this client spoke to.
    pub services: ServiceSet,
    /// The services that answered it 2xx/3xx: those present on this host (a probe of
    /// another cloud's service answered 404 does not make it one).
    pub served_services: ServiceSet,
    /// The services whose legacy form (`v1`) it used and was served: what enforcement breaks.
    pub legacy_services: ServiceSet,
    /// Requests sent after the server closed the connection: never processed, not judged.
    pub server_closed: u64,
    /// IMDSv1 credential fetches that were served.
    pub credentials_v1: u64,
    pub first_unanswered_token: Option<Timestamp>,
    pub first_forbidden_token: Option<Timestamp>,
    pub last_v1_served: Option<Timestamp>,
    /// Distinct user agents with their request counts (at most [`MAX_USER_AGENTS`]).
    pub user_agents: Vec<(String, u64)>,
    pub user_agents_dropped: u64,
    pub no_user_agent: u64,
    /// Live: the first process named for this client (executable and first arguments, for
    /// the catalogue: a generic user agent is named by its process).
    pub process: Option<ProcessHint>,
    /// The token requests this client sent without a User-Agent, when it sent none with one
    /// (the AWS SDK for JavaScript v2 from 2.722.0 does so, measured in
    /// tests/clients_real.rs): the key keeps them in a client of their own, so they are
    /// copied here from it ([`Clients::add`]), for the verdict and the advice.
    pub bare_tokens: BareTokens,
}

/// Token requests of the same process (or address) sent without a User-Agent (see
/// [`ClientSummary::bare_tokens`]): a copy of that client's, not counted twice anywhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BareTokens {
    pub first_unanswered: Option<Timestamp>,
    pub first_forbidden: Option<Timestamp>,
    /// Refused otherwise (401, 404, 405, 5xx).
    pub failed: u64,
    pub ok: u64,
}

impl BareTokens {
    /// Of the client that sent them.
    pub fn of(s: &ClientSummary) -> BareTokens {
        BareTokens {
            first_unanswered: s.first_unanswered_token,
            first_forbidden: s.first_forbidden_token,
            failed: s.token_failed,
            ok: s.token_ok,
        }
    }

    pub fn any(&self) -> bool {
        self.first_unanswered.is_some() || self.first_forbidden.is_some() || self.failed + self.ok > 0
    }
}

fn earliest(a: Option<Timestamp>, t: Timestamp) -> Option<Timestamp> {
    Some(a.map_or(t, |f| f.min(t)))
}

impl ClientSummary {
    /// Adds one finished request of this client.
    pub fn add(&mut self, r: &RequestRecord) {
        let i = &r.imds;
        if i.outcome == Outcome::ServerClosed {
            self.server_closed += 1;
            return;
        }
        self.services.insert(i.service);
        // OCI and GCP have no token step: a request of theirs that failed is a probe (an
        // Oracle or Google SDK's cloud detection on another cloud), whatever its form.
        let token_service = matches!(i.service, Service::Ec2Imds | Service::AlibabaImds);
        let answered = matches!(i.outcome, Outcome::Ok | Outcome::Redirect);
        if answered {
            self.served_services.insert(i.service);
        }
        match i.version {
            Version::Unversioned => self.probes += 1,
            Version::V1 => match i.outcome {
                Outcome::Ok | Outcome::Redirect | Outcome::Unmatched => {
                    self.v1_served += 1;
                    self.legacy_services.insert(i.service);
                    self.credentials_v1 += u64::from(i.credentials);
                    self.last_v1_served = self.last_v1_served.max(Some(r.timestamp));
                }
                _ if !token_service => self.probes += 1,
                _ => self.v1_failed += 1,
            },
            Version::V2 if !token_service && !answered => self.probes += 1,
            Version::V2 => self.v2 += 1,
            Version::TokenRequest => match (i.outcome, i.status) {
                (Outcome::Ok, _) => self.token_ok += 1,
                (Outcome::NoResponse, _) => {
                    self.token_unanswered += 1;
                    self.first_unanswered_token = earliest(self.first_unanswered_token, r.timestamp);
                }
                (_, Some(403)) => {
                    self.token_forbidden += 1;
                    self.first_forbidden_token = earliest(self.first_forbidden_token, r.timestamp);
                }
                _ => self.token_failed += 1,
            },
        }
        self.add_user_agent(i.user_agent.as_deref());
        if self.process.is_none()
            && let Some(p) = r.live.as_ref().and_then(|l| l.process.as_ref())
        {
            self.process = Some(ProcessHint::of(p));
        }
    }

    fn add_user_agent(&mut self, ua: Option<&str>) {
        let Some(ua) = ua else {
            self.no_user_agent += 1;
            return;
        };
        if let Some(e) = self.user_agents.iter_mut().find(|(u, _)| u == ua) {
            e.1 += 1;
        } else if self.user_agents.len() < MAX_USER_AGENTS {
            self.user_agents.push((ua.to_owned(), 1));
        } else {
            self.user_agents_dropped += 1;
        }
    }

    /// Token requests sent under this client's own user agent.
    pub fn token_requests(&self) -> u64 {
        self.token_ok + self.token_unanswered + self.token_forbidden + self.token_failed
    }

    /// A token request (its own, else one sent without a User-Agent by the same process)
    /// went unanswered before an IMDSv1 request that was served.
    pub fn hop_limit_suspect(&self) -> bool {
        let t = self.first_unanswered_token.or(self.bare_tokens.first_unanswered);
        matches!((t, self.last_v1_served), (Some(t), Some(v)) if t <= v)
    }

    /// A token request (as above) was refused with 403 before an IMDSv1 request that was
    /// served.
    pub fn proxy_suspect(&self) -> bool {
        let t = self.first_forbidden_token.or(self.bare_tokens.first_forbidden);
        matches!((t, self.last_v1_served), (Some(t), Some(v)) if t <= v)
    }

    /// Any sign that this client speaks IMDSv2.
    pub fn speaks_v2(&self) -> bool {
        self.v2 > 0 || self.token_ok > 0
    }
}

/// The verdict for one client. Rules, first match wins:
/// 1. no IMDSv1 request was served: `ready` if it sent any IMDSv2 or token request, else
///    `probe_only` (other clouds' probes, requests already refused);
/// 2. a token request went unanswered before a served IMDSv1 request: `hop_limit`;
/// 3. a token request was refused with 403 before a served IMDSv1 request: `proxy_refused`;
/// 4. it also used IMDSv2 (a token was granted or a token-bearing request made): `falls_back`;
/// 5. otherwise `breaks`.
pub fn verdict(s: &ClientSummary) -> Verdict {
    if s.v1_served == 0 {
        let aws_v2 = s.v2 + s.token_ok + s.token_unanswered + s.token_forbidden + s.token_failed;
        return if aws_v2 > 0 { Verdict::Ready } else { Verdict::ProbeOnly };
    }
    if s.hop_limit_suspect() {
        Verdict::HopLimit
    } else if s.proxy_suspect() {
        Verdict::ProxyRefused
    } else if s.speaks_v2() {
        Verdict::FallsBack
    } else {
        Verdict::Breaks
    }
}

pub use crate::event::HostVerdict;

/// The host-level line from every client's verdict: safe to enforce when none would break.
pub fn host_verdict(vs: impl IntoIterator<Item = Verdict>) -> HostVerdict {
    let mut h = HostVerdict::default();
    for v in vs {
        *h.clients_by_verdict.entry(v.as_str()).or_default() += 1;
        h.would_break += u64::from(v.would_break());
    }
    h.safe_to_enforce = h.would_break == 0;
    h
}

/// [`host_verdict`] over client summaries, naming the services whose enforcement would
/// break a client (`breaking_services`).
pub fn host_verdict_of<'a>(clients: impl IntoIterator<Item = &'a ClientSummary>) -> HostVerdict {
    let mut verdicts = Vec::new();
    let mut breaking = ServiceSet::default();
    for s in clients {
        let v = verdict(s);
        if v.would_break() {
            for svc in s.legacy_services.iter() {
                breaking.insert(svc);
            }
        }
        verdicts.push(v);
    }
    let mut h = host_verdict(verdicts);
    h.breaking_services = breaking;
    h
}

#[cfg(test)]
mod tests;
