//! The summary table as a sink: requests are folded into a [`Summary`], printed at the end
//! (`analyze --format table`).

use std::io::{self, Write};

use super::Sink;
use super::summary::Summary;
use crate::event::{CredentialIdentity, RequestRecord, StatsRecord, Version};

/// Distinct credential identities listed under the table (issue 28); more are counted.
pub const MAX_CREDENTIALS: usize = 32;

pub struct TableSink<W: Write> {
    summary: Summary,
    out: W,
    /// Client IP, IMDSv1 or not, and the identity it was handed (role and key, no secret).
    credentials: Vec<(String, bool, CredentialIdentity)>,
    credentials_dropped: u64,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W) -> TableSink<W> {
        TableSink { summary: Summary::default(), out, credentials: Vec::new(), credentials_dropped: 0 }
    }

    fn add_credentials(&mut self, r: &RequestRecord) {
        let Some(id) = &r.credentials else { return };
        let (ip, _) = crate::verdict::tracker::client_key(r);
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
        use std::fmt::Write as _;
        let mut s = String::new();
        if self.credentials.is_empty() {
            return s;
        }
        s.push_str("\nCredentials handed out (search CloudTrail for the AccessKeyId: docs/findings.md):\n");
        for (ip, v1, id) in &self.credentials {
            let _ = writeln!(
                s,
                "  {:<16} role {:<24} AccessKeyId {}  expires {}{}",
                crate::text::sanitize(ip),
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
        self.summary.add(r);
        self.add_credentials(r);
        Ok(())
    }

    fn finish(&mut self, _: &StatsRecord) -> io::Result<()> {
        self.out.write_all(self.summary.render().as_bytes())?;
        self.out.write_all(self.credentials_text().as_bytes())?;
        self.out.flush()
    }
}
