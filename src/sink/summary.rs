//! The summary table: per client address and user agent, what it asked, what it got and
//! its verdict (`crate::verdict`), then the closing lines: which clients would break and
//! whether it is safe to enforce IMDSv2 on this host.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::event::{Outcome, RequestRecord, Service, ServiceSet, Version};
use crate::text::{clip_right, pad, sanitize, width};
use crate::verdict::{ClientSummary, Verdict, advise, host_verdict_of, verdict};

/// Rows kept; further clients are folded into one "(other clients)" row.
pub const MAX_ROWS: usize = 10_000;
/// Widest user agent shown in the table.
const UA_WIDTH: usize = 48;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub v1: u64,
    pub v2: u64,
    pub token: u64,
    pub credentials_v1: u64,
    pub rejected: u64,
    pub unanswered: u64,
}

#[derive(Debug, Default)]
pub struct Summary {
    rows: HashMap<(String, String), (Counts, ClientSummary)>,
    other: Box<(Counts, ClientSummary)>,
    folded: u64,
    server_closed: u64,
}

impl Summary {
    pub fn add(&mut self, r: &RequestRecord) {
        let client = r
            .network
            .client
            .parse::<SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| r.network.client.clone());
        let ua = r.imds.user_agent.clone().unwrap_or_else(|| "-".to_owned());
        let key = (client, ua);
        let (c, cs) = if self.rows.contains_key(&key) || self.rows.len() < MAX_ROWS {
            self.rows.entry(key).or_default()
        } else {
            self.folded += 1;
            &mut *self.other
        };
        cs.add(r);
        // V2 as the verdict record counts it: another cloud's hardened-form probe (an OCI
        // `/opc/v2` answered 404) is a probe, not IMDSv2 (issue 27).
        c.v2 = cs.v2;
        if r.imds.outcome == Outcome::ServerClosed {
            self.server_closed += 1;
            return;
        }
        match r.imds.version {
            Version::Unversioned => {}
            Version::V1 => {
                c.v1 += 1;
                if r.imds.credentials {
                    c.credentials_v1 += 1;
                }
            }
            Version::V2 => {}
            Version::TokenRequest => c.token += 1,
        }
        match r.imds.outcome {
            Outcome::Rejected => c.rejected += 1,
            Outcome::NoResponse => c.unanswered += 1,
            _ => {}
        }
    }

    /// Clients (address + user agent) that made at least one IMDSv1 request.
    pub fn v1_clients(&self) -> usize {
        self.rows.values().filter(|c| c.0.v1 > 0).count() + usize::from(self.other.0.v1 > 0)
    }

    /// Every row: client, user agent, counts and verdict.
    /// The summary of one row of [`Summary::all_rows`].
    fn summary_of(&self, client: &str, ua: &str) -> &ClientSummary {
        match self.rows.get(&(client.to_owned(), ua.to_owned())) {
            Some((_, s)) => s,
            None => &self.other.1,
        }
    }

    fn all_rows(&self) -> Vec<(&str, &str, Counts, Verdict)> {
        let mut rows: Vec<(&str, &str, Counts, Verdict)> =
            self.rows.iter().map(|((c, u), (n, s))| (c.as_str(), u.as_str(), *n, verdict(s))).collect();
        if self.folded > 0 {
            rows.push(("(other clients)", "-", self.other.0, verdict(&self.other.1)));
        }
        rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.folded == 0
    }

    /// The table and its verdict, as printed by `analyze --format table`.
    pub fn render(&self) -> String {
        let mut rows = self.all_rows();
        rows.sort_by(|a, b| {
            b.3.would_break().cmp(&a.3.would_break()).then(b.2.v1.cmp(&a.2.v1)).then(a.0.cmp(b.0)).then(a.1.cmp(b.1))
        });
        // Sanitized and clipped first, so that columns are measured on what is printed, in
        // display columns (a wide or zero-width character must not shift the counts).
        let rows: Vec<(String, String, Counts, Verdict, ServiceSet)> = rows
            .into_iter()
            .map(|(c, u, n, v)| (sanitize(c), clip_right(&sanitize(u), UA_WIDTH), n, v, self.summary_of(c, u).services))
            .collect();
        // The SERVICES column appears once the capture holds more than the EC2 IMDS.
        let show_services = rows.iter().any(|r| r.4.iter().any(|s| s != Service::Ec2Imds));
        let cw = rows.iter().map(|r| width(&r.0)).max().unwrap_or(0).max("CLIENT".len());
        let uw = rows.iter().map(|r| width(&r.1)).max().unwrap_or(0).max("USER AGENT".len());
        let mut s = String::new();
        if rows.is_empty() {
            s.push_str("No IMDS requests found.\n");
            return s;
        }
        let services_head = if show_services { format!("{:13}  SERVICES", "VERDICT") } else { "VERDICT".into() };
        let _ = writeln!(
            s,
            "{:cw$}  {:uw$}  {:>5}  {:>5}  {:>5}  {:>8}  {:>8}  {:>10}  {services_head}",
            "CLIENT", "USER AGENT", "V1", "V2", "TOKEN", "CREDS-V1", "REJECTED", "UNANSWERED"
        );
        for (client, ua, c, v, services) in &rows {
            let (client, ua) = (pad(client, cw), pad(ua, uw));
            let verdict = if show_services {
                let names: Vec<&str> = services.iter().map(Service::as_str).collect();
                format!("{:13}  {}", v.as_str(), names.join(","))
            } else {
                v.as_str().to_owned()
            };
            let _ = writeln!(
                s,
                "{client}  {ua}  {:>5}  {:>5}  {:>5}  {:>8}  {:>8}  {:>10}  {verdict}",
                c.v1, c.v2, c.token, c.credentials_v1, c.rejected, c.unanswered,
            );
        }
        s.push('\n');
        s.push_str(&self.verdict());
        s
    }

    /// The enforcement command of every service with a legacy form that answered a client
    /// (the EC2 one when none other did), once no client would break.
    fn enforcement_commands(&self, s: &mut String) {
        let mut all = ClientSummary::default();
        for (_, c) in self.rows.values().chain(std::iter::once(&*self.other)) {
            for x in c.served_services.iter() {
                all.served_services.insert(x);
            }
        }
        let others = all.served_services.iter().any(|x| x != Service::Ec2Imds && x.has_legacy_form());
        for a in advise(&all, true).into_iter().filter(|a| a.kind == crate::verdict::AdviceKind::Enforce) {
            if others {
                let _ = writeln!(s, "  {}:", a.title);
            }
            for line in &a.lines {
                let _ = writeln!(s, "  {line}");
            }
        }
    }

    /// The closing lines: the clients that would break (by verdict), whether it is safe to
    /// enforce on this host, and requests the server never processed.
    pub fn verdict(&self) -> String {
        let mut rows = self.all_rows();
        rows.retain(|r| r.3.would_break());
        rows.sort_by(|a, b| a.3.cmp(&b.3).then(a.0.cmp(b.0)).then(a.1.cmp(b.1)));
        let host = host_verdict_of(self.rows.values().map(|r| &r.1).chain((self.folded > 0).then_some(&self.other.1)));
        let mut s = String::new();
        if rows.is_empty() {
            s.push_str("No client would break when IMDSv2 is enforced.\n");
        } else {
            let n = rows.len();
            let shown: Vec<String> = rows
                .iter()
                .take(5)
                .map(|(c, u, _, v)| format!("{} {} ({})", sanitize(c), clip_right(&sanitize(u), 24), v.as_str()))
                .collect();
            let more = if n > 5 { format!(", and {} more", n - 5) } else { String::new() };
            let clients = if n == 1 { "client would" } else { "clients would" };
            let _ = writeln!(s, "{n} {clients} break: {}{more}.", shown.join(", "));
            // What to change, per client shown: the most specific advice (the same the
            // dashboard's detail view gives).
            let mut said: Vec<Vec<String>> = Vec::new();
            for (c, u, _, _) in rows.iter().take(5) {
                if let Some(a) = advise(self.summary_of(c, u), false).into_iter().next() {
                    // Advice names the SDK from the user agent: wire text, sanitised.
                    let _ = writeln!(s, "  {} {}: {}", sanitize(c), clip_right(&sanitize(u), 24), sanitize(&a.title));
                    if said.contains(&a.lines) {
                        s.push_str("      (as above)\n");
                        continue;
                    }
                    for line in &a.lines {
                        let _ = writeln!(s, "      {}", sanitize(line));
                    }
                    said.push(a.lines);
                }
            }
        }
        if host.safe_to_enforce {
            s.push_str("Safe to enforce IMDSv2 (http_tokens = required) on this host, as far as this capture shows.\n");
            self.enforcement_commands(&mut s);
        } else if host.breaking_services.iter().all(|x| x == Service::Ec2Imds) {
            s.push_str("Not safe to enforce IMDSv2 on this host yet: fix the clients above first.\n");
        } else {
            let names: Vec<&str> = host.breaking_services.iter().map(Service::as_str).collect();
            let _ = writeln!(
                s,
                "Not safe to enforce on this host yet: the switches of {} would break clients; fix the clients above first.",
                names.join(", ")
            );
        }
        if self.server_closed > 0 {
            let _ = writeln!(
                s,
                "{} request(s) sent after the server closed the connection (never processed; not counted).",
                self.server_closed
            );
        }
        s
    }
}
