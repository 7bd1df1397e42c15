//! `--format asff` (issue 28): one AWS Security Finding Format finding per client whose
//! verdict would break under IMDSv2 enforcement, for Security Hub's `BatchImportFindings`
//! (SchemaVersion 2018-10-08, a custom integration's ProductArn in the caller's account and
//! region). `analyze` writes one JSON array (the `--findings` value, up to 100 findings per
//! call); `live` writes one finding per line, again with the same `Id` and a later
//! `UpdatedAt` whenever the client's verdict or IMDSv1 count changes (Security Hub updates,
//! not duplicates, a finding with a known Id).
//!
//! Bounded: the clients of the findings' aggregate ([`super::findings::Findings`]). No secret: records carry none;
//! the credential identity shown is the role and the AccessKeyId.

use std::io::{self, Write};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Sink;
pub use super::findings::AsffTarget;
use super::findings::{Breaking, Findings, LineOut, advice_text, stable_id, truncate, who};
use crate::event::HostVerdict;
use crate::event::{RequestRecord, StatsRecord};
use crate::time::Timestamp;
use crate::verdict::Clients;

pub const SCHEMA_VERSION: &str = "2018-10-08";
pub const GENERATOR_ID: &str = "imdswatch/imdsv1-caller";

/// Where findings go.
pub enum AsffOut<W: Write, L: LineOut> {
    /// `analyze`: one JSON array at the end.
    Array(W),
    /// `live`: one finding per line as they change.
    Lines(L),
}

pub struct AsffSink<W: Write, L: LineOut> {
    target: AsffTarget,
    clients: Findings,
    out: AsffOut<W, L>,
    /// `analyze`: the findings of the array.
    array: Vec<Value>,
    stats_every: Option<Duration>,
}

impl<W: Write, L: LineOut> AsffSink<W, L> {
    /// `analyze`: every breaking client's finding, in one array, at the end.
    pub fn array(target: AsffTarget, w: W) -> AsffSink<W, L> {
        AsffSink { target, clients: Findings::new(false), out: AsffOut::Array(w), array: Vec::new(), stats_every: None }
    }

    /// `live`: findings as lines, checked for changes every `every`.
    pub fn lines(target: AsffTarget, out: L, every: Option<Duration>) -> AsffSink<W, L> {
        AsffSink {
            target,
            clients: Findings::new(true),
            out: AsffOut::Lines(out),
            array: Vec::new(),
            stats_every: every,
        }
    }

    fn emit(&mut self, host: Option<&HostVerdict>) -> io::Result<()> {
        let found: Vec<Value> = self.clients.changed(host).iter().map(|b| finding(&self.target, b)).collect();
        match &mut self.out {
            AsffOut::Array(_) => self.array.extend(found),
            AsffOut::Lines(l) => {
                for f in &found {
                    l.line(f)?;
                }
            }
        }
        Ok(())
    }
}

impl<W: Write, L: LineOut> Sink for AsffSink<W, L> {
    fn stats_interval(&self) -> Option<Duration> {
        self.stats_every
    }

    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.clients.add(r);
        Ok(())
    }

    /// Live: findings of clients whose verdict changed since the last ones.
    fn stats(&mut self, _s: &StatsRecord) -> io::Result<()> {
        match self.out {
            AsffOut::Lines(_) => self.emit(None),
            AsffOut::Array(_) => Ok(()),
        }
    }

    /// The closing findings (the driver's aggregate says whether the input was complete).
    fn verdict(&mut self, clients: &Clients) -> io::Result<()> {
        self.emit(Some(&clients.host()))
    }

    fn tick(&mut self) {
        if let AsffOut::Lines(l) = &mut self.out {
            l.tick();
        }
    }

    fn finish(&mut self, _s: &StatsRecord) -> io::Result<()> {
        match &mut self.out {
            AsffOut::Array(w) => {
                super::ndjson::to_writer(&mut *w, &self.array).map_err(io::Error::other)?;
                w.write_all(b"\n")?;
                w.flush()
            }
            AsffOut::Lines(l) => l.flush(),
        }
    }
}

fn put(m: &mut Map<String, Value>, k: &str, v: impl Into<String>) {
    let mut v: String = v.into();
    truncate(&mut v, 2048); // ProductFields values: at most 2048 characters
    m.insert(format!("imdswatch/{k}"), Value::String(v));
}

/// One ASFF finding for a client that would break.
pub fn finding(t: &AsffTarget, b: &Breaking<'_>) -> Value {
    let (c, e) = (&b.verdict, b.extra());
    let host = b.host().to_owned();
    let id = format!("imdswatch/{}/{}", stable_id(&[&host]), stable_id(&[&host, &b.key_text()]));
    let (first, last) = (b.stats.first_seen, b.stats.last_seen);
    let (created, updated) = if first.0 > 0 { (first, last) } else { (Timestamp::now(), Timestamp::now()) };
    let high = b.credentials_v1() > 0;
    let mut title = format!("IMDSv1 caller would break under IMDSv2 enforcement: {}", who(c));
    truncate(&mut title, 256);
    let mut desc = format!(
        "{} made {} IMDSv1 request(s) that the instance metadata service answered (verdict {}); \
         enforcing http_tokens=required would refuse them with 401.{}",
        who(c),
        c.v1_served,
        c.verdict.as_str(),
        if high { " It fetched instance role credentials over IMDSv1." } else { "" }
    );
    for id in &e.identities {
        desc.push_str(&format!(
            " Credentials handed out: role {}, AccessKeyId {}.",
            id.role.as_deref().unwrap_or("?"),
            id.access_key_id.as_deref().unwrap_or("?")
        ));
    }
    truncate(&mut desc, 1024);

    let mut resources = Vec::new();
    match &e.host_id {
        Some(i) => resources.push(json!({
            "Type": "AwsEc2Instance",
            "Id": format!("arn:aws:ec2:{}:{}:instance/{i}", t.region, t.account),
            "Partition": "aws",
            "Region": t.region,
        })),
        None => resources.push(json!({ "Type": "Other", "Id": host, "Partition": "aws", "Region": t.region })),
    }
    if let Some(ct) = &e.container {
        let mut d = Map::new();
        d.insert("ContainerRuntime".into(), ct.runtime.clone().into());
        if let Some(n) = &ct.name {
            d.insert("Name".into(), n.clone().into());
        }
        if let Some(i) = &ct.image {
            d.insert("ImageName".into(), i.clone().into());
        }
        resources.push(json!({ "Type": "Container", "Id": ct.id, "Details": { "Container": d } }));
    }
    for id in &e.identities {
        let Some(key) = &id.access_key_id else { continue };
        let mut d = Map::new();
        d.insert("AccessKeyId".into(), key.clone().into());
        d.insert("AccountId".into(), t.account.clone().into());
        if let Some(r) = &id.role {
            d.insert("PrincipalName".into(), r.clone().into());
            d.insert("PrincipalType".into(), "AssumedRole".into());
        }
        resources.push(json!({ "Type": "AwsIamAccessKey", "Id": key, "Details": { "AwsIamAccessKey": d } }));
    }

    let mut fields = Map::new();
    put(&mut fields, "verdict", c.verdict.as_str());
    put(&mut fields, "client", c.client.clone());
    put(&mut fields, "imdsv1_served", c.v1_served.to_string());
    if let Some(server) = e.server {
        put(&mut fields, "server", server.to_string());
    }
    if let Some(ua) = &c.user_agent {
        put(&mut fields, "user_agent", ua.clone());
    }
    if let Some(p) = &c.process {
        put(&mut fields, "process", p.clone());
    }
    if let Some(p) = &e.process {
        put(&mut fields, "process.cmdline", p.cmdline.clone());
        put(&mut fields, "process.uid", p.uid.to_string());
    }
    if let Some(k) = &e.k8s {
        for (name, v) in [("k8s.namespace", &k.namespace), ("k8s.pod", &k.pod), ("k8s.container", &k.container)] {
            if let Some(v) = v {
                put(&mut fields, name, v.clone());
            }
        }
    }
    if let Some(f) = &e.capture {
        put(&mut fields, "capture", f.clone());
    }
    for (i, id) in e.identities.iter().enumerate() {
        if let Some(r) = &id.role {
            put(&mut fields, &format!("credentials.{i}.role"), r.clone());
        }
        if let Some(k) = &id.access_key_id {
            put(&mut fields, &format!("credentials.{i}.access_key_id"), k.clone());
        }
    }

    let mut f = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": id,
        "ProductArn": t.product_arn(),
        "ProductName": "imdswatch",
        "CompanyName": "imdswatch",
        "GeneratorId": GENERATOR_ID,
        "AwsAccountId": t.account,
        "Region": t.region,
        "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
        "CreatedAt": created.to_string(),
        "UpdatedAt": updated.to_string(),
        "FirstObservedAt": created.to_string(),
        "LastObservedAt": updated.to_string(),
        "Severity": { "Label": if high { "HIGH" } else { "MEDIUM" }, "Original": c.verdict.as_str() },
        "Title": title,
        "Description": desc,
        "Remediation": { "Recommendation": { "Text": advice_text(c, 512) } },
        "ProductFields": fields,
        "Resources": resources,
        "RecordState": "ACTIVE",
        "Workflow": { "Status": "NEW" },
    });
    if let Some(p) = &e.process {
        let mut pm = Map::new();
        let mut name = p.file.name.clone();
        truncate(&mut name, 128);
        pm.insert("Name".into(), name.into());
        if let Some(path) = &p.file.path {
            let mut path = path.clone();
            truncate(&mut path, 512);
            pm.insert("Path".into(), path.into());
        }
        pm.insert("Pid".into(), p.pid.into());
        if let Some(parent) = p.ancestors.first() {
            pm.insert("ParentPid".into(), parent.pid.into());
        }
        f["Process"] = Value::Object(pm);
    }
    f
}

#[cfg(test)]
mod tests;
