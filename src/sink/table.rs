//! The summary table as a sink (`analyze --format table`): per client (address and user
//! agent), what it asked, what it got and its verdict, then the closing lines: which clients
//! would break and whether it is safe to enforce IMDSv2 on this host. Rendered at the end
//! from the driver's per-client aggregate ([`Clients`]), the one the `verdict` record reads.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::Sink;
use crate::event::{CredentialIdentity, RequestRecord, Service, StatsRecord, Version};
use crate::text::{clip_right, pad, sanitize, width};
use crate::verdict::{AdviceKind, ClientKey, ClientStats, ClientSummary, Clients, Verdict, advise};

/// Widest user agent shown in the table.
const UA_WIDTH: usize = 48;

/// Distinct credential identities listed under the table (issue 28); more are counted.
pub const MAX_CREDENTIALS: usize = 32;

pub struct TableSink<W: Write> {
    /// The table, once the driver handed over the verdicts.
    text: Option<String>,
    out: W,
    /// Client IP, IMDSv1 or not, and the identity it was handed (role and key, no secret).
    credentials: Vec<(String, bool, CredentialIdentity)>,
    credentials_dropped: u64,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W) -> TableSink<W> {
        TableSink { text: None, out, credentials: Vec::new(), credentials_dropped: 0 }
    }

    fn add_credentials(&mut self, r: &RequestRecord) {
        let Some(id) = &r.credentials else { return };
        let ip = r.network.client.ip().to_string();
        if self.credentials.iter().any(|(c, _, i)| *c == ip && i.access_key_id == id.access_key_id) {
            return;
        }
        if self.credentials.len() < MAX_CREDENTIALS {
            self.credentials.push((ip, r.imds.version == Version::V1, (**id).clone()));
        } else {
            self.credentials_dropped += 1;
        }
    }

    /// The credentials handed out, one line each: what to search CloudTrail for.
    fn credentials_text(&self) -> String {
        let mut s = String::new();
        if self.credentials.is_empty() {
            return s;
        }
        s.push_str("\nCredentials handed out (search CloudTrail for the AccessKeyId: docs/findings.md):\n");
        for (ip, v1, id) in &self.credentials {
            let _ = writeln!(
                s,
                "  {:<16} role {:<24} AccessKeyId {}  expires {}{}",
                sanitize(ip),
                id.role.as_deref().unwrap_or("?"),
                id.access_key_id.as_deref().unwrap_or("?"),
                id.expiration.as_deref().unwrap_or("?"),
                if *v1 { "  (over IMDSv1)" } else { "" }
            );
        }
        if self.credentials_dropped > 0 {
            let _ = writeln!(s, "  ... and {} more not listed", self.credentials_dropped);
        }
        s
    }
}

impl<W: Write> Sink for TableSink<W> {
    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.add_credentials(r);
        Ok(())
    }

    fn verdict(&mut self, clients: &Clients) -> io::Result<()> {
        self.text = Some(render(clients));
        Ok(())
    }

    fn finish(&mut self, _: &StatsRecord) -> io::Result<()> {
        let text = self.text.take().unwrap_or_else(|| render(&Clients::<()>::default()));
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(self.credentials_text().as_bytes())?;
        self.out.flush()
    }
}

/// One row: the client's column text and user agent (`-` when absent), sanitised, and the
/// client.
struct Row<'a, D> {
    client: String,
    ua: String,
    verdict: Verdict,
    c: &'a ClientStats<D>,
}

/// The CLIENT column: the address; live clients (not shown by `analyze`, but the table
/// reads any aggregate) their process.
fn client_column<D>(c: &ClientStats<D>) -> String {
    match &c.key {
        ClientKey::Process { .. } => c.key.process().unwrap_or_default(),
        ClientKey::Unattributed { reason, ip, .. } => format!("{ip} ({reason})"),
        _ => c.client_label(),
    }
}

fn rows<D>(clients: &Clients<D>) -> Vec<Row<'_, D>> {
    clients
        .values()
        .map(|c| Row {
            client: sanitize(&client_column(c)),
            ua: sanitize(c.key.user_agent().unwrap_or("-")),
            verdict: c.verdict(),
            c,
        })
        .collect()
}

/// The table and its verdict, as printed by `analyze --format table`.
/// The closing line on a capture cut short.
pub const INCOMPLETE: &str = "Incomplete capture: part of the traffic was never seen (a file that ends in the middle of a record, frames lost, or bytes of a client's stream the capture never showed) and may hold a served IMDSv1 request; it cannot say that enforcing IMDSv2 on this host is safe.\n";

pub fn render<D>(clients: &Clients<D>) -> String {
    let mut rows = rows(clients);
    rows.sort_by(|a, b| {
        b.verdict
            .would_break()
            .cmp(&a.verdict.would_break())
            .then(b.c.counts.v1.cmp(&a.c.counts.v1))
            .then(a.client.cmp(&b.client))
            .then(a.ua.cmp(&b.ua))
    });
    let mut s = String::new();
    if rows.is_empty() {
        s.push_str("No IMDS requests found.\n");
        if clients.host().incomplete {
            s.push_str(INCOMPLETE);
        }
        return s;
    }
    // Clipped first, so that columns are measured on what is printed, in display columns
    // (a wide or zero-width character must not shift the counts).
    let shown: Vec<(String, String)> = rows.iter().map(|r| (r.client.clone(), clip_right(&r.ua, UA_WIDTH))).collect();
    // The SERVICES column appears once the capture holds more than the EC2 IMDS.
    let show_services = rows.iter().any(|r| r.c.summary.services.iter().any(|s| s != Service::Ec2Imds));
    let cw = shown.iter().map(|r| width(&r.0)).max().unwrap_or(0).max("CLIENT".len());
    let uw = shown.iter().map(|r| width(&r.1)).max().unwrap_or(0).max("USER AGENT".len());
    let services_head = if show_services { format!("{:13}  SERVICES", "VERDICT") } else { "VERDICT".into() };
    let _ = writeln!(
        s,
        "{:cw$}  {:uw$}  {:>5}  {:>5}  {:>5}  {:>8}  {:>8}  {:>10}  {services_head}",
        "CLIENT", "USER AGENT", "V1", "V2", "TOKEN", "CREDS-V1", "REJECTED", "UNANSWERED"
    );
    for (r, (client, ua)) in rows.iter().zip(&shown) {
        let (client, ua) = (pad(client, cw), pad(ua, uw));
        let verdict = if show_services {
            let names: Vec<&str> = r.c.summary.services.iter().map(Service::as_str).collect();
            format!("{:13}  {}", r.verdict.as_str(), names.join(","))
        } else {
            r.verdict.as_str().to_owned()
        };
        let n = &r.c.counts;
        let _ = writeln!(
            s,
            "{client}  {ua}  {:>5}  {:>5}  {:>5}  {:>8}  {:>8}  {:>10}  {verdict}",
            // V2 as the verdict record counts it: other clouds' hardened probes are not IMDSv2.
            n.v1,
            r.c.summary.v2,
            n.token_request,
            n.credentials_v1,
            n.rejected,
            r.c.unanswered,
        );
    }
    s.push('\n');
    s.push_str(&closing(clients));
    s
}

/// The enforcement command of every service with a legacy form that answered a client
/// (the EC2 one when none other did), once no client would break.
fn enforcement_commands<D>(clients: &Clients<D>, s: &mut String) {
    let mut all = ClientSummary::default();
    for c in clients.values() {
        for x in c.summary.served_services.iter() {
            all.served_services.insert(x);
        }
    }
    let others = all.served_services.iter().any(|x| x != Service::Ec2Imds && x.has_legacy_form());
    for a in advise(&all, true).into_iter().filter(|a| a.kind == AdviceKind::Enforce) {
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
pub fn closing<D>(clients: &Clients<D>) -> String {
    let mut rows = rows(clients);
    rows.retain(|r| r.verdict.would_break());
    rows.sort_by(|a, b| a.verdict.cmp(&b.verdict).then(a.client.cmp(&b.client)).then(a.ua.cmp(&b.ua)));
    let host = clients.host();
    let mut s = String::new();
    if rows.is_empty() {
        s.push_str("No client would break when IMDSv2 is enforced.\n");
    } else {
        let n = rows.len();
        let shown: Vec<String> = rows
            .iter()
            .take(5)
            .map(|r| format!("{} {} ({})", r.client, clip_right(&r.ua, 24), r.verdict.as_str()))
            .collect();
        let more = if n > 5 { format!(", and {} more", n - 5) } else { String::new() };
        let word = if n == 1 { "client would" } else { "clients would" };
        let _ = writeln!(s, "{n} {word} break: {}{more}.", shown.join(", "));
        // What to change, per client shown: the most specific advice (the same the
        // dashboard's detail view gives).
        let mut said: Vec<Vec<String>> = Vec::new();
        for r in rows.iter().take(5) {
            if let Some(a) = advise(&r.c.summary, false).into_iter().next() {
                // Advice names the SDK from the user agent: wire text, sanitised.
                let _ = writeln!(s, "  {} {}: {}", r.client, clip_right(&r.ua, 24), sanitize(&a.title));
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
    if host.incomplete {
        // Nothing is called safe on a capture cut short.
        s.push_str(INCOMPLETE);
    }
    if host.incomplete && host.would_break == 0 {
        // Said above: nothing is called safe on a capture cut short.
    } else if host.safe_to_enforce {
        s.push_str("Safe to enforce IMDSv2 (http_tokens = required) on this host, as far as this capture shows.\n");
        enforcement_commands(clients, &mut s);
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
    let closed = clients.server_closed();
    if closed > 0 {
        let _ = writeln!(
            s,
            "{closed} request(s) sent after the server closed the connection (never processed; not counted)."
        );
    }
    s
}
