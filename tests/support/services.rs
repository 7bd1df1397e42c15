//! Issue 17: what the services tests share. The requests of captures/clients/services_scenario.sh
//! (the same in captures/services.pcap and in a live run), each with the record the schema
//! (issue 17) asks for; the topology with the services mock; and the secrets the mock hands
//! out. Included with `#[path = "support/services.rs"] mod services;` (after `mod host;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::host::{root, sh};

/// Every secret the scenario puts on the wire contains this: the ECS credential id, the Pod
/// Identity token, every Alibaba token the mock mints, every fake key, token and certificate.
pub const MARK: &str = "SVCSECRET";
/// The secrets by value (they contain [`MARK`], listed so a failure names which one leaked).
pub const SECRETS: [&str; 4] = [
    "SVCSECRET-ecs-credential-id-5f2c9a",
    "eyJhbGciOiJSUzI1NiJ9.SVCSECRET-pod-identity-token.sig",
    "ALIYUN-SVCSECRET-token-",
    "SVCSECRET-aliyun-security-token-",
];
/// Fake access key ids (not secret-marked, but credential values all the same).
pub const KEY_IDS: [&str; 3] = ["ASIASVCFAKEECS0000", "ASIASVCFAKEPOD0000", "STS.SVCFAKEALIYUN000"];

/// The key ids an output may show: those of AWS credentials (ECS, Pod Identity), which issue 28
/// shows (with the role) so that CloudTrail can be searched for them. Alibaba's stays hidden.
pub const SHOWN_KEY_IDS: [&str; 2] = ["ASIASVCFAKEECS0000", "ASIASVCFAKEPOD0000"];

/// Panics if `text` shows any secret or credential value (AWS key ids aside: see [`SHOWN_KEY_IDS`]).
pub fn assert_no_secret(what: &str, text: &str) {
    let hidden = KEY_IDS.iter().filter(|k| !SHOWN_KEY_IDS.contains(k));
    for s in SECRETS.iter().chain(hidden).chain(std::iter::once(&MARK)) {
        if let Some(line) = text.lines().find(|l| l.contains(s)) {
            let before = line[..line.find(s).unwrap_or(0)].chars().count();
            let excerpt: String = line.chars().skip(before.saturating_sub(300)).take(700).collect();
            panic!("{what} shows a secret ({s}), in:\n{excerpt}");
        }
    }
}

/// One request of the scenario and the record it must give.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub service: &'static str,
    pub version: Option<&'static str>,
    pub path: &'static str,
    pub status: u16,
    pub credentials: bool,
}

impl Want {
    /// The token requests are PUTs, the rest GETs.
    pub fn method(&self) -> &'static str {
        if self.version == Some("token_request") { "PUT" } else { "GET" }
    }

    pub fn provider(&self) -> &'static str {
        match self.service {
            "alibaba_imds" => "alibaba",
            "oci_imds" => "oracle",
            "gcp_metadata" => "gcp",
            "azure_imds" => "azure",
            _ => "aws",
        }
    }

    /// `Outcome::from_status`.
    pub fn outcome(&self) -> &'static str {
        match self.status {
            200..=299 => "ok",
            401 | 403 => "rejected",
            400..=499 => "client_error",
            _ => "server_error",
        }
    }

    /// A legacy (v1) request answered 2xx.
    pub fn breaks(&self) -> bool {
        self.version == Some("v1") && (200..300).contains(&self.status)
    }
}

const fn w(service: &'static str, version: Option<&'static str>, path: &'static str, status: u16, cred: bool) -> Want {
    Want { service, version, path, status, credentials: cred }
}

const ALI: &str = "alibaba_imds";
const OCI: &str = "oci_imds";
const GCP: &str = "gcp_metadata";
const AZ: &str = "azure_imds";
const ECS: &str = "ecs_task_credentials";
const POD: &str = "eks_pod_identity";
const V1: Option<&str> = Some("v1");
const V2: Option<&str> = Some("v2");
const TOK: Option<&str> = Some("token_request");
const ALI_LIST: &str = "/latest/meta-data/ram/security-credentials/";
const ALI_ROLE: &str = "/latest/meta-data/ram/security-credentials/imdswatch-ram-role";
const AZ_INST: &str = "/metadata/instance?api-version=[REDACTED]";
const PODS: &str = "/v1/credentials";

/// The scenario's requests in order (captures/services.expected lists the same, from tshark).
pub const WANT: [Want; 45] = [
    // Alibaba normal mode: the SDK (token, role, token, credentials), curl v1, refused forms.
    w(ALI, TOK, "/latest/api/token", 200, false),
    w(ALI, V2, ALI_LIST, 200, true),
    w(ALI, TOK, "/latest/api/token", 200, false),
    w(ALI, V2, ALI_ROLE, 200, true),
    w(ALI, V1, "/latest/meta-data/instance-id", 200, false),
    w(ALI, V1, ALI_ROLE, 200, true),
    w(ALI, TOK, "/latest/api/token", 400, false),
    w(ALI, TOK, "/latest/api/token", 403, false),
    w(ALI, V2, "/latest/meta-data/instance-id", 401, false),
    // Oracle: legacy, then v2 with and without `Authorization: Bearer Oracle`.
    w(OCI, V1, "/opc/v1/instance/", 200, false),
    w(OCI, V1, "/opc/v1/identity/cert.pem", 200, true),
    w(OCI, V1, "/openstack/latest/meta_data.json", 200, false),
    w(OCI, V2, "/opc/v2/instance/", 200, false),
    w(OCI, V2, "/opc/v2/identity/cert.pem", 200, true),
    w(OCI, V2, "/opc/v2/instance/", 401, false),
    // Google: google-auth, a header-less /computeMetadata/v1/ (403), the legacy endpoints.
    w(GCP, V2, "/computeMetadata/v1/instance/service-accounts/default/?recursive=[REDACTED]", 200, false),
    w(GCP, V2, "/computeMetadata/v1/instance/service-accounts/default/token?scopes=[REDACTED]", 200, true),
    w(GCP, None, "/computeMetadata/v1/instance/id", 403, false),
    w(GCP, V1, "/0.1/meta-data/service-accounts/default/acquire", 200, true),
    w(GCP, V1, "/computeMetadata/v1beta1/instance/id", 200, false),
    // Azure: azure-identity, then without `Metadata: true`, with X-Forwarded-For, served.
    w(AZ, None, "/metadata/identity/oauth2/token?api-version=[REDACTED]&resource=[REDACTED]", 200, true),
    w(AZ, None, AZ_INST, 400, false),
    w(AZ, None, AZ_INST, 400, false),
    w(AZ, None, AZ_INST, 200, false),
    // ECS: botocore (relative URI), the same from the container namespace, a wrong id.
    w(ECS, None, "/v2/credentials/[REDACTED]", 200, true),
    w(ECS, None, "/v2/credentials/[REDACTED]", 200, true),
    w(ECS, None, "/v2/credentials/[REDACTED]", 404, true),
    // Pod Identity: botocore over IPv4 and IPv6, no token, a wrong one, a burst.
    w(POD, None, PODS, 200, true),
    w(POD, None, PODS, 200, true),
    w(POD, None, PODS, 400, true),
    w(POD, None, PODS, 403, true),
    w(POD, None, PODS, 200, true),
    w(POD, None, PODS, 200, true),
    w(POD, None, PODS, 200, true),
    w(POD, None, PODS, 200, true),
    w(POD, None, PODS, 200, true),
    w(POD, None, PODS, 429, true),
    w(POD, None, PODS, 429, true),
    // Enforced: Alibaba hardened (the SDK, then curl v1 refused), OCI and GCP legacy off.
    w(ALI, TOK, "/latest/api/token", 200, false),
    w(ALI, V2, ALI_LIST, 200, true),
    w(ALI, TOK, "/latest/api/token", 200, false),
    w(ALI, V2, ALI_ROLE, 200, true),
    w(ALI, V1, "/latest/meta-data/instance-id", 401, false),
    w(OCI, V1, "/opc/v1/instance/", 404, false),
    w(GCP, V1, "/computeMetadata/v1beta1/instance/id", 404, false),
];

/// The request records of an NDJSON text, in request order.
pub fn requests(ndjson: &str) -> Vec<Value> {
    let mut v: Vec<Value> = ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "request")
        .collect();
    v.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    v
}

/// What a record says, in the terms of [`Want`] (for a readable diff).
fn got_line(r: &Value) -> String {
    let i = &r["imds"];
    format!(
        "{} {} {} {} {} {} {} credentials={} breaks={}",
        i["service"].as_str().unwrap_or("?"),
        i["provider"].as_str().unwrap_or("?"),
        i["version"].as_str().unwrap_or("null"),
        i["method"].as_str().unwrap_or("?"),
        i["path"].as_str().unwrap_or("?"),
        i["status"].as_u64().map_or("none".into(), |s| s.to_string()),
        i["outcome"].as_str().unwrap_or("?"),
        i["credentials"],
        i["breaks_when_enforced"],
    )
}

fn want_line(w: &Want) -> String {
    format!(
        "{} {} {} {} {} {} {} credentials={} breaks={}",
        w.service,
        w.provider(),
        w.version.unwrap_or("null"),
        w.method(),
        w.path,
        w.status,
        w.outcome(),
        w.credentials,
        w.breaks()
    )
}

/// Every record against [`WANT`], in order: one line per request, all at once.
pub fn assert_records(what: &str, recs: &[Value]) {
    let got: Vec<String> = recs.iter().map(got_line).collect();
    let want: Vec<String> = WANT.iter().map(want_line).collect();
    if got != want {
        let mut diff = String::new();
        for i in 0..got.len().max(want.len()) {
            let g = got.get(i).map_or("-", String::as_str);
            let w = want.get(i).map_or("-", String::as_str);
            let mark = if g == w { "  " } else { "!!" };
            diff.push_str(&format!("{mark} {i:2} want {w}\n{mark}    got  {g}\n"));
        }
        panic!("{what}: the records differ from the schema's ({} got, {} wanted):\n{diff}", got.len(), want.len());
    }
}

/// The namespaces (captures/netns.sh), removed on drop.
pub struct Topology {
    pub prefix: String,
}

impl Topology {
    pub fn up(tag: &str) -> Topology {
        let prefix = format!("imw-{tag}{}-", std::process::id() % 100_000);
        let st = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["up", &prefix]));
        assert!(st.status.success(), "netns up: {}", String::from_utf8_lossy(&st.stderr));
        Topology { prefix }
    }

    pub fn ns(&self, which: &str) -> String {
        format!("{}{which}", self.prefix)
    }

    pub fn exec(&self, which: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(which)]);
        c
    }

    /// captures/clients/services_scenario.sh: the mock and every client; its counts in `work`.
    pub fn scenario(&self, work: &Path) -> Output {
        let out = Command::new("bash")
            .arg(root().join("captures/clients/services_scenario.sh"))
            .arg(&self.prefix)
            .arg(work)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run the services scenario");
        assert!(out.status.success(), "services scenario: {}", String::from_utf8_lossy(&out.stderr));
        out
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["down", &self.prefix]));
    }
}

/// Why the live services tests cannot run here, if they cannot.
pub fn cannot_run(tag: &str) -> Option<String> {
    if super::host::euid() != 0 {
        return Some("not root".into());
    }
    if !super::host::netns_permitted(tag) {
        return Some("`ip netns add` is not permitted here".into());
    }
    let py = root().join("captures/.venv/bin/python");
    let have = Command::new(&py)
        .arg(root().join("captures/clients/have_requirements.py"))
        .arg(root().join("captures/clients/requirements-services.txt"))
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        return Some("the services' SDK clients are missing from captures/.venv: run scripts/setup.sh".into());
    }
    None
}

/// How many requests the mock answered, over both phases (its count files).
pub fn mock_total(work: &Path) -> u64 {
    (1..=2)
        .map(|n| {
            let p: PathBuf = work.join(format!("services-count-{n}.json"));
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).expect("mock counts")).expect("json");
            v["total"].as_u64().unwrap_or(0)
        })
        .sum()
}
