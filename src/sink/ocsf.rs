//! `--format ocsf` (issue 28): OCSF 1.5.0 events, one per line, for Amazon Security Lake and
//! SIEMs: an HTTP Activity (class 4002) event per request, and a Detection Finding (class
//! 2004) per client whose verdict would break under IMDSv2 enforcement (offline once, at the
//! end; live again, `activity_id` 2 Update with the same `finding_info.uid`, whenever its
//! verdict or IMDSv1 count changes).
//!
//! Bounded: the clients of the findings' aggregate ([`super::findings::Findings`]); requests are written as they come.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Sink;
use super::findings::{Breaking, Findings, LineOut, advice_text, millis, stable_id, who};
use crate::event::{HostVerdict, Outcome, RequestRecord, StatsRecord, Version};
use crate::time::Timestamp;
use crate::verdict::Clients;

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.5.0";

const HTTP_ACTIVITY: u32 = 4002;
const DETECTION_FINDING: u32 = 2004;

pub struct OcsfSink<L: LineOut> {
    out: L,
    clients: Findings,
    live: bool,
    stats_every: Option<Duration>,
    /// Finding uids already written (their next event is an Update).
    created: std::collections::HashSet<String>,
}

impl<L: LineOut> OcsfSink<L> {
    /// `live`: findings are checked for changes every `every` (with the stats records).
    pub fn new(out: L, live: bool, every: Option<Duration>) -> OcsfSink<L> {
        OcsfSink { out, clients: Findings::new(live), live, stats_every: every, created: Default::default() }
    }

    fn emit(&mut self, host: Option<&HostVerdict>) -> io::Result<()> {
        let now = self.clients.clients.newest();
        for b in self.clients.changed(host) {
            let uid = finding_uid(&b);
            let update = !self.created.insert(uid.clone());
            let f = detection_finding(&b, &uid, update, now);
            self.out.line(&f)?;
        }
        Ok(())
    }
}

impl<L: LineOut> Sink for OcsfSink<L> {
    fn stats_interval(&self) -> Option<Duration> {
        self.stats_every
    }

    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.clients.add(r);
        self.out.line(&http_activity(r))
    }

    fn stats(&mut self, _s: &StatsRecord) -> io::Result<()> {
        if self.live { self.emit(None) } else { Ok(()) }
    }

    /// The closing findings (the driver's aggregate says whether the input was complete).
    fn verdict(&mut self, clients: &Clients) -> io::Result<()> {
        self.emit(Some(&clients.host()))
    }

    fn tick(&mut self) {
        self.out.tick();
    }

    fn finish(&mut self, _s: &StatsRecord) -> io::Result<()> {
        self.out.flush()
    }
}

fn metadata(uid: Option<String>) -> Value {
    let mut m = json!({
        "version": OCSF_VERSION,
        "product": { "name": "imdswatch", "vendor_name": "imdswatch", "version": env!("CARGO_PKG_VERSION") },
    });
    if let Some(u) = uid {
        m["uid"] = u.into();
    }
    m
}

fn endpoint(a: SocketAddr) -> Value {
    json!({ "ip": a.ip().to_string(), "port": a.port() })
}

/// HTTP Activity's activity_id for a method (OCSF 1.5.0: 1..8; others 99).
fn activity(method: &str) -> u32 {
    match method {
        "CONNECT" => 1,
        "DELETE" => 2,
        "GET" => 3,
        "HEAD" => 4,
        "OPTIONS" => 5,
        "POST" => 6,
        "PUT" => 7,
        "TRACE" => 8,
        _ => 99,
    }
}

fn process(r: &RequestRecord) -> Option<Value> {
    let p = r.live.as_ref()?.process.as_ref()?;
    let mut file = json!({ "name": p.file.name, "type_id": 1 });
    if let Some(path) = &p.file.path {
        file["path"] = path.clone().into();
    }
    let mut v = json!({ "pid": p.pid, "name": p.file.name, "cmd_line": p.cmdline, "file": file,
        "user": { "uid": p.uid.to_string() } });
    if let Some(u) = &p.user {
        v["user"]["name"] = u.clone().into();
    }
    if let Some(parent) = p.ancestors.first() {
        v["parent_process"] = json!({ "pid": parent.pid, "name": parent.name });
    }
    Some(v)
}

fn device(host: Option<&str>, host_id: Option<&str>, fallback: &str) -> Value {
    // type_id 6: Virtual (an EC2 instance); 0: unknown (a capture).
    let mut d = json!({ "hostname": host.unwrap_or(fallback), "type_id": if host_id.is_some() { 6 } else { 0 } });
    if let Some(i) = host_id {
        d["instance_uid"] = i.into();
    }
    d
}

/// One HTTP Activity event for a request.
pub fn http_activity(r: &RequestRecord) -> Value {
    let i = &r.imds;
    let a = activity(&i.method);
    let breaks = i.breaks_when_enforced == Some(true);
    let (status_id, status) = match i.outcome {
        Outcome::Ok | Outcome::Redirect => (1, "Success"),
        Outcome::NoResponse | Outcome::Unmatched | Outcome::ServerClosed => (0, "Unknown"),
        _ => (2, "Failure"),
    };
    let server = r.network.server;
    let url = json!({ "path": i.path, "hostname": server.ip().to_string(), "port": server.port() });
    let mut req = json!({ "http_method": i.method, "url": url, "version": "1.1" });
    if let Some(ua) = &i.user_agent {
        req["user_agent"] = ua.clone().into();
    }
    let mut ev = json!({
        "class_uid": HTTP_ACTIVITY,
        "class_name": "HTTP Activity",
        "category_uid": 4,
        "category_name": "Network Activity",
        "activity_id": a,
        "activity_name": if a == 99 { i.method.clone() } else { caption(&i.method) },
        "type_uid": HTTP_ACTIVITY * 100 + a,
        "severity_id": if breaks { 3 } else { 1 },
        "severity": if breaks { "Medium" } else { "Informational" },
        "status_id": status_id,
        "status": status,
        "time": millis(r.timestamp),
        "metadata": metadata(None),
        "src_endpoint": endpoint(r.network.client),
        "dst_endpoint": endpoint(server),
        "http_request": req,
    });
    if let Some(code) = i.status {
        ev["http_response"] = json!({ "code": code });
        ev["http_status"] = code.into();
    }
    if let Some(p) = process(r) {
        ev["actor"] = json!({ "process": p });
    }
    let live = r.live.as_ref();
    let file = r.capture.as_ref().map(|c| c.file.to_string());
    ev["device"] = device(
        live.and_then(|l| l.host.as_deref()),
        live.and_then(|l| l.host_id.as_deref()),
        file.as_deref().unwrap_or("capture"),
    );
    let mut un = Map::new();
    un.insert(
        "version".into(),
        if i.version == Version::Unversioned { Value::Null } else { i.version.as_str().into() },
    );
    un.insert("service".into(), serde_json::to_value(i.service).unwrap_or(Value::Null));
    un.insert("outcome".into(), i.outcome.as_str().into());
    un.insert("breaks_when_enforced".into(), serde_json::to_value(i.breaks_when_enforced).unwrap_or(Value::Null));
    un.insert("credentials".into(), i.credentials.into());
    if let Some(id) = &r.credentials {
        un.insert("credential_identity".into(), serde_json::to_value(id).unwrap_or(Value::Null));
    }
    if let Some(c) = live.and_then(|l| l.container.as_ref()) {
        un.insert("container".into(), serde_json::to_value(c).unwrap_or(Value::Null));
    }
    if let Some(k) = live.and_then(|l| l.k8s.as_ref()) {
        un.insert("k8s".into(), serde_json::to_value(k).unwrap_or(Value::Null));
    }
    ev["unmapped"] = json!({ "imdswatch": un });
    ev
}

fn caption(method: &str) -> String {
    let mut s = method.to_ascii_lowercase();
    if let Some(f) = s.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    s
}

fn finding_uid(b: &Breaking<'_>) -> String {
    format!("imdswatch-{}", stable_id(&[b.host(), &b.key_text()]))
}

/// One Detection Finding for a client that would break (`update`: it was written before).
pub fn detection_finding(b: &Breaking<'_>, uid: &str, update: bool, now: Timestamp) -> Value {
    let (c, e) = (&b.verdict, b.extra());
    let a = if update { 2 } else { 1 };
    let high = b.credentials_v1() > 0;
    let (first, last) = (b.stats.first_seen, b.stats.last_seen);
    let (first, last) = if first.0 > 0 { (first, last) } else { (now, now) };
    let mut resources = Vec::new();
    if let Some(i) = &e.host_id {
        resources.push(json!({ "type": "AWS::EC2::Instance", "uid": i }));
    }
    for id in &e.identities {
        let mut r = json!({ "type": "AWS::IAM::AccessKey", "uid": id.access_key_id });
        if let Some(role) = &id.role {
            r["name"] = role.clone().into();
        }
        resources.push(r);
    }
    let mut evidence = json!({ "src_endpoint": { "ip": c.client } });
    if let Some(s) = e.server {
        evidence["dst_endpoint"] = endpoint(s);
    }
    if let Some(p) = &e.process {
        evidence["process"] = json!({ "pid": p.pid, "name": p.file.name, "cmd_line": p.cmdline });
    }
    let mut ev = json!({
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": a,
        "activity_name": if update { "Update" } else { "Create" },
        "type_uid": DETECTION_FINDING * 100 + a,
        "severity_id": if high { 4 } else { 3 },
        "severity": if high { "High" } else { "Medium" },
        "status_id": 1,
        "status": "New",
        "time": millis(last),
        "metadata": metadata(Some(uid.to_owned())),
        "finding_info": {
            "uid": uid,
            "title": format!("IMDSv1 caller would break under IMDSv2 enforcement: {}", who(c)),
            "desc": format!("{} made {} IMDSv1 request(s) that were answered (verdict {}).", who(c), c.v1_served, c.verdict.as_str()),
            "types": ["IMDSv1 caller"],
            "created_time": millis(first),
            "first_seen_time": millis(first),
            "last_seen_time": millis(last),
            "analytic": { "name": "imdswatch verdict", "type_id": 1, "uid": crate::sink::asff::GENERATOR_ID },
        },
        "remediation": { "desc": advice_text(c, 2048) },
        "evidences": [evidence],
        "device": device(e.host.as_deref(), e.host_id.as_deref(), e.capture.as_deref().unwrap_or(&c.client)),
        "unmapped": { "imdswatch": { "verdict": c.verdict.as_str(), "client": c.client, "process": c.process,
            "user_agent": c.user_agent, "imdsv1_served": c.v1_served, "credential_identities": e.identities } },
    });
    if !resources.is_empty() {
        ev["resources"] = Value::Array(resources);
    }
    if let Some(p) = &e.process {
        ev["actor"] = json!({ "process": { "pid": p.pid, "name": p.file.name, "cmd_line": p.cmdline } });
    }
    ev
}
