//! Output records: plain `Serialize` structs, kept apart from the parsers that fill them.
//!
//! One `RequestRecord` per IMDS HTTP request, written as one NDJSON line. The schema is
//! documented in README.md ("NDJSON schema"); fields are only ever added, never renamed.
//! No field ever holds a token value or a response body.

use serde::Serialize;

use crate::time::Timestamp;

/// What kind of IMDS request this was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Version {
    /// No session token: the request IMDSv2 enforcement would break. For the other
    /// services with a legacy form, that form (Alibaba normal mode, OCI `/opc/v1`, GCP
    /// `/0.1/` and `v1beta1`).
    V1,
    /// Carries `X-aws-ec2-metadata-token` (Alibaba: its token header); OCI `/opc/v2`, GCP
    /// `/computeMetadata/v1` with `Metadata-Flavor: Google`.
    V2,
    /// `PUT /latest/api/token`: asks for an IMDSv2 session token.
    TokenRequest,
    /// A protocol without the v1/v2 distinction (another cloud's metadata service): written
    /// as `null`, never counted as IMDSv1.
    Unversioned,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::TokenRequest => "token_request",
            Version::Unversioned => "-",
        }
    }
}

/// Whose metadata protocol a request speaks (`imds.provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Aws,
    /// `Metadata-Flavor: Google`, `/computeMetadata/`, `/0.1/`, `/v1beta1/`.
    Gcp,
    /// `Metadata: true`, `/metadata/`.
    Azure,
    /// `Authorization: Bearer Oracle`, `/opc/`, `/openstack`.
    Oracle,
    /// `Metadata-Flavor: ibm`, `/instance_identity/`.
    Ibm,
    /// `X-aliyun-ecs-metadata-token*` headers.
    Alibaba,
    /// Marks of more than one provider.
    Unknown,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Gcp => "gcp",
            Provider::Azure => "azure",
            Provider::Oracle => "oracle",
            Provider::Ibm => "ibm",
            Provider::Alibaba => "alibaba",
            Provider::Unknown => "unknown",
        }
    }
}

/// `imds.version`: `null` for protocols without the v1/v2 distinction.
fn version_or_null<S: serde::Serializer>(v: &Version, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Version::Unversioned => s.serialize_none(),
        v => v.serialize(s),
    }
}

/// What enforcing IMDSv2 (`http_tokens = required`) would do to one request: `Some(true)`
/// for an AWS request without a token that was answered 2xx/3xx (it will get 401);
/// `Some(false)` for IMDSv2, token requests, other providers' probes, and tokenless requests
/// that failed already (4xx, 5xx); `None` when no answer was seen (no_response, unmatched,
/// server_closed).
pub fn breaks_when_enforced(version: Version, outcome: Outcome) -> Option<bool> {
    match (version, outcome) {
        (_, Outcome::NoResponse | Outcome::Unmatched | Outcome::ServerClosed) => None,
        (Version::V1, Outcome::Ok | Outcome::Redirect) => Some(true),
        _ => Some(false),
    }
}

/// What became of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx.
    Ok,
    /// 3xx.
    Redirect,
    /// 401 or 403: refused (token missing/invalid when required, IMDS off, forwarded token PUT).
    Rejected,
    /// Any other 4xx (400 bad token TTL, 404 no such path, 405 ...).
    ClientError,
    /// 5xx.
    ServerError,
    /// The connection ended or idled out with no answer (e.g. a token PUT lost to the hop limit).
    NoResponse,
    /// The answer could not be matched: the capture lost part of the server's byte stream.
    Unmatched,
    /// Sent after the server had closed its side of the connection (its FIN came first): the
    /// server never processed it. Kept out of the counts and the verdicts; counted apart.
    ServerClosed,
}

impl Outcome {
    pub fn from_status(status: u16) -> Outcome {
        match status {
            // 1xx reaches here only as a final answer: 101 Switching Protocols.
            100..=299 => Outcome::Ok,
            300..=399 => Outcome::Redirect,
            401 | 403 => Outcome::Rejected,
            400..=499 => Outcome::ClientError,
            _ => Outcome::ServerError,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Redirect => "redirect",
            Outcome::Rejected => "rejected",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::NoResponse => "no_response",
            Outcome::Unmatched => "unmatched",
            Outcome::ServerClosed => "server_closed",
        }
    }
}

/// The `imds` object of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imds {
    #[serde(serialize_with = "version_or_null")]
    pub version: Version,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub outcome: Outcome,
    /// The request reads the instance role's credentials.
    pub credentials: bool,
    /// `X-aws-ec2-metadata-token-ttl-seconds` of a token request, when it is a number.
    pub token_ttl_seconds: Option<u32>,
    pub user_agent: Option<String>,
    /// The request carried `X-Forwarded-For` (IMDS refuses such token requests with 403).
    pub forwarded: bool,
    /// Milliseconds from the request to the start of its answer.
    pub response_ms: Option<f64>,
    /// IP TTL / hop limit of the answer as captured. An answer captured with TTL 1 that the
    /// client never acknowledged died at a router: the hop-limit symptom.
    pub answer_ttl: Option<u8>,
    /// Whose metadata protocol this is.
    pub provider: Provider,
    /// Which metadata or credential service (see [`Service`]).
    pub service: Service,
    /// See [`breaks_when_enforced`]: true = this request would get 401 under enforcement.
    pub breaks_when_enforced: Option<bool>,
    /// The head did not parse as HTTP (too many headers, a control byte, odd spacing, no
    /// version ...): a server may still have answered it, so it is reported from a raw scan
    /// of its request line and header names. Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parse_error: bool,
    /// The capture showed two different versions of this request's bytes (a segment re-sent
    /// with other contents): which one the server read is not certain. Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conflict: bool,
}

/// The `network` object: addresses as `ip:port`, IPv6 in brackets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// Serialised as `ip:port` (IPv6 in brackets): the address's `Display`.
    #[serde(serialize_with = "socket_addr")]
    pub client: std::net::SocketAddr,
    #[serde(serialize_with = "socket_addr")]
    pub server: std::net::SocketAddr,
    /// IP TTL / hop limit of the client's packets as captured.
    pub client_ttl: u8,
}

/// A socket address as its `Display` writes it; IPv4 without `core::fmt` (two per record:
/// 3% of `analyze` on a dense capture through `Display`, issue 29).
fn socket_addr<S: serde::Serializer>(a: &std::net::SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    let std::net::SocketAddr::V4(v4) = a else { return s.collect_str(a) };
    let mut buf = [0u8; 21]; // 255.255.255.255:65535
    let mut n = 0;
    for (i, o) in v4.ip().octets().into_iter().enumerate() {
        n = decimal(&mut buf, n, u16::from(o));
        buf[n] = if i < 3 { b'.' } else { b':' };
        n += 1;
    }
    n = decimal(&mut buf, n, v4.port());
    // Digits, dots and a colon only: ASCII.
    s.serialize_str(std::str::from_utf8(&buf[..n]).unwrap_or_default())
}

/// Writes `v` in decimal at `buf[at..]`; returns the end.
fn decimal(buf: &mut [u8; 21], at: usize, v: u16) -> usize {
    let mut digits = [0u8; 5];
    let (mut d, mut v) = (0, v);
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for (i, &c) in digits[..d].iter().rev().enumerate() {
        buf[at + i] = c;
    }
    at + d
}

/// One executable in a process's ancestry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ancestor {
    pub pid: u32,
    pub name: String,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessFile {
    /// Executable name (`comm`, or the file name of `exe`).
    pub name: String,
    /// Path of the executable, when readable.
    pub path: Option<String>,
}

/// The `process` object (live mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub file: ProcessFile,
    /// Command line, arguments joined by spaces; token values are redacted.
    pub cmdline: String,
    pub uid: u32,
    pub user: Option<String>,
    /// Parent first, up to PID 1.
    pub ancestors: Vec<Ancestor>,
}

/// The `container` object (live mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    /// Full container id (64 hex digits for docker/containerd/CRI-O/podman).
    pub id: String,
    /// `docker`, `containerd`, `cri-o`, `podman`, `kubernetes` (pod cgroup, runtime unknown).
    pub runtime: String,
    /// The container's name as its runtime knows it (`docker ps`, `podman ps`), when readable
    /// from the node's files; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The image it was started from, as given (name and tag or digest); absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The cgroup path that named the container (`/proc/PID/cgroup`), never written: the
    /// runtime's own state must agree with it before the container is named (issue 23).
    #[serde(skip)]
    pub cgroup: Option<String>,
}

impl Container {
    /// A container known by its id only (name and image not read yet).
    pub fn new(id: impl Into<String>, runtime: impl Into<String>) -> Container {
        Container { id: id.into(), runtime: runtime.into(), name: None, image: None, cgroup: None }
    }
}

/// The `k8s` object (live mode): the Kubernetes pod a container belongs to, read from the
/// node's own files (runtime state, kubelet log directories), never from the API server.
/// Each field is absent when it could not be read; nothing is guessed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct K8s {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The pod's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The container's name in the pod spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

impl K8s {
    pub fn is_empty(&self) -> bool {
        self == &K8s::default()
    }
}

/// Why a request has no process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionMiss {
    /// The socket was found but its owner had exited before it could be read.
    Exited,
    /// No socket with these addresses in any network namespace's TCP table.
    NoSocket,
    /// /proc entries of the owner could not be read (missing CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH).
    Permission,
    /// The lookup queue was full; the lookup was skipped (counted in `stats`).
    Overloaded,
    /// The client is not on this host (e.g. traffic routed through it).
    Remote,
    /// Attribution was turned off (`--no-attribution`).
    Disabled,
}

/// How a request's process was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionSource {
    /// A kernel connect event named the pid in the client's `connect()`; details read from
    /// /proc at that moment.
    Kernel,
    /// Socket tables (sock_diag, /proc/net/tcp) and the fds in /proc/PID/fd.
    Procfs,
}

/// Who made a request: filled by `attribute`, attached to records in live mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attribution {
    pub process: Option<Process>,
    pub container: Option<Container>,
    pub miss: Option<AttributionMiss>,
    /// The pod of `container`, when it is a Kubernetes container and its files say so.
    pub k8s: Option<K8s>,
    /// How `process` (or `pid`) was found; `None` when nothing was.
    pub source: Option<AttributionSource>,
    /// The pid, when known although `process` is not (it exited before /proc was read).
    pub pid: Option<u32>,
    /// What could not be learnt about a known pid (e.g. `exe`, `cmdline`).
    pub missing: Vec<&'static str>,
}

/// One IMDS HTTP request and its answer. Serialized with `"type": "request"` first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "request")]
pub struct RequestRecord {
    /// RFC 3339 UTC with microseconds, from the packet that completed the request head.
    pub timestamp: Timestamp,
    pub imds: Imds,
    pub network: Network,
    /// Whose credentials a credential fetch answered 200 handed out (issue 28): role and key
    /// id, never the secret key or the session token. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Box<CredentialIdentity>>,
    /// Live mode only (absent offline): the process, or null with `attribution` saying why.
    #[serde(flatten)]
    pub live: Option<LiveFields>,
    /// `analyze` of several files: the file the request was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureFile>,
}

/// The identity of credentials handed out by the EC2 IMDS, ECS or EKS Pod Identity: what a
/// responder joins with CloudTrail (`userIdentity.accessKeyId`). Read from the answer's JSON
/// (`http::credential`); `SecretAccessKey` and `Token` are never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CredentialIdentity {
    /// The role: the last segment of the EC2 credentials path, or of the answer's `RoleArn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `AccessKeyId` (`ASIA...`): public, and the key CloudTrail records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// `Expiration`, as the service wrote it (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// `Type` (`AWS-HMAC` from the EC2 IMDS).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Where an offline record was read (`analyze` with several files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureFile {
    pub file: std::sync::Arc<str>,
}

/// The fields only live mode fills. Offline records leave them out entirely.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LiveFields {
    pub process: Option<Process>,
    pub container: Option<Container>,
    /// Why `process` is null; absent when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<AttributionMiss>,
    pub host: Option<String>,
    /// The pod of the container (absent outside Kubernetes or when unreadable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s: Option<K8s>,
    /// The EC2 instance id, when the machine states it without asking IMDS (DMI
    /// `board_asset_tag` on Nitro); absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// How the process was found (`kernel`, `procfs`); absent when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution_source: Option<AttributionSource>,
    /// The client's pid when `process` is null but the kernel named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution_pid: Option<u32>,
    /// What is missing about a known pid (`exe`, `cmdline`, ...); absent when nothing is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attribution_missing: Vec<&'static str>,
}

impl LiveFields {
    pub fn from_attribution(a: Attribution, host: Option<String>) -> LiveFields {
        LiveFields {
            process: a.process,
            container: a.container,
            attribution: a.miss,
            host,
            k8s: a.k8s,
            host_id: None,
            attribution_source: a.source,
            attribution_pid: a.pid,
            attribution_missing: a.missing,
        }
    }

    /// With the EC2 instance id of this machine, when known.
    pub fn with_host_id(self, host_id: Option<String>) -> LiveFields {
        LiveFields { host_id, ..self }
    }
}

mod service;
pub use service::{Service, ServiceSet, service_names};
mod stats;
pub use stats::{
    HostVerdict, LinkLocalInterface, LinkLocalStats, LiveHealth, NodeStats, RequestCounts, StatsRecord, WorkloadCounts,
};

/// What the live pipeline's attribution stage hands the outputs (`sink::Driver::run`).
#[derive(Debug)]
pub enum OutMsg {
    /// A finished request (attributed).
    Record(Box<RequestRecord>),
    /// A token request still waiting for its answer (attributed, no status): shown by the
    /// dashboard until the [`OutMsg::Record`] with the same client and timestamp settles it;
    /// not counted, not judged, not written as NDJSON.
    TokenPending(Box<RequestRecord>),
}

impl From<Box<RequestRecord>> for OutMsg {
    fn from(r: Box<RequestRecord>) -> OutMsg {
        OutMsg::Record(r)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for a in ["0.0.0.0:0", "255.255.255.255:65535", "10.0.15.203:37947", "169.254.169.254:80", "[fd00:ec2::254]:80"]
        {
            let a: std::net::SocketAddr = a.parse().expect("address");
            let net = super::Network { client: a, server: a, client_ttl: 1 };
            let v = serde_json::to_value(&net).expect("json");
            assert_eq!(v["client"], a.to_string());
        }
    }
}
