//! The summary table: per client address and user agent, what it asked and what it got.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::event::{Outcome, RequestRecord, Version};
use crate::text::{clip_right, pad, sanitize, width};

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
    rows: HashMap<(String, String), Counts>,
    other: Counts,
    folded: u64,
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
        let c = if self.rows.contains_key(&key) || self.rows.len() < MAX_ROWS {
            self.rows.entry(key).or_default()
        } else {
            self.folded += 1;
            &mut self.other
        };
        match r.imds.version {
            Version::V1 => {
                c.v1 += 1;
                if r.imds.credentials {
                    c.credentials_v1 += 1;
                }
            }
            Version::V2 => c.v2 += 1,
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
        self.rows.values().filter(|c| c.v1 > 0).count() + usize::from(self.other.v1 > 0)
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.folded == 0
    }

    /// The table and its verdict, as printed by `analyze --format table`.
    pub fn render(&self) -> String {
        let mut rows: Vec<(&str, &str, Counts)> =
            self.rows.iter().map(|((c, u), n)| (c.as_str(), u.as_str(), *n)).collect();
        if self.folded > 0 {
            rows.push(("(other clients)", "-", self.other));
        }
        rows.sort_by(|a, b| b.2.v1.cmp(&a.2.v1).then(a.0.cmp(b.0)).then(a.1.cmp(b.1)));
        // Sanitized and clipped first, so that columns are measured on what is printed, in
        // display columns (a wide or zero-width character must not shift the counts).
        let rows: Vec<(String, String, Counts)> =
            rows.into_iter().map(|(c, u, n)| (sanitize(c), clip_right(&sanitize(u), UA_WIDTH), n)).collect();
        let cw = rows.iter().map(|r| width(&r.0)).max().unwrap_or(0).max("CLIENT".len());
        let uw = rows.iter().map(|r| width(&r.1)).max().unwrap_or(0).max("USER AGENT".len());
        let mut s = String::new();
        if rows.is_empty() {
            s.push_str("No IMDS requests found.\n");
            return s;
        }
        let _ = writeln!(
            s,
            "{:cw$}  {:uw$}  {:>5}  {:>5}  {:>5}  {:>8}  {:>8}  {:>10}",
            "CLIENT", "USER AGENT", "V1", "V2", "TOKEN", "CREDS-V1", "REJECTED", "UNANSWERED"
        );
        for (client, ua, c) in &rows {
            let (client, ua) = (pad(client, cw), pad(ua, uw));
            let _ = writeln!(
                s,
                "{client}  {ua}  {:>5}  {:>5}  {:>5}  {:>8}  {:>8}  {:>10}",
                c.v1, c.v2, c.token, c.credentials_v1, c.rejected, c.unanswered
            );
        }
        s.push('\n');
        s.push_str(&self.verdict());
        s.push('\n');
        s
    }

    /// One line: how many clients still use IMDSv1.
    pub fn verdict(&self) -> String {
        match self.v1_clients() {
            0 => "No client uses IMDSv1 in this capture.".to_owned(),
            1 => "1 client still uses IMDSv1.".to_owned(),
            n => format!("{n} clients still use IMDSv1."),
        }
    }
}
