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
    /// No session token: the request IMDSv2 enforcement would break.
    V1,
    /// Carries `X-aws-ec2-metadata-token`.
    V2,
    /// `PUT /latest/api/token`: asks for an IMDSv2 session token.
    TokenRequest,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::TokenRequest => "token_request",
        }
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
}

impl Outcome {
    pub fn from_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
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
        }
    }
}

/// The `imds` object of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imds {
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
}

/// The `network` object: addresses as `ip:port`, IPv6 in brackets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub client: String,
    pub server: String,
    /// IP TTL / hop limit of the client's packets as captured.
    pub client_ttl: u8,
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
}

impl Container {
    /// A container known by its id only (name and image not read yet).
    pub fn new(id: impl Into<String>, runtime: impl Into<String>) -> Container {
        Container { id: id.into(), runtime: runtime.into(), name: None, image: None }
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
    /// Live mode only (absent offline): the process, or null with `attribution` saying why.
    #[serde(flatten)]
    pub live: Option<LiveFields>,
    /// `analyze` of several files: the file the request was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureFile>,
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

/// Health of the monitor itself: the periodic `stats` record of live mode, the header of the
/// dashboard, and the closing summary. Counters are totals since start.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "type", rename = "stats")]
pub struct StatsRecord {
    pub timestamp: Timestamp,
    /// Seconds since the monitor (or the analysis) started.
    pub uptime_seconds: u64,
    /// Interfaces captured on (live) or files read (offline).
    pub sources: Vec<String>,
    /// Frames handed to the engine.
    pub packets: u64,
    /// Frames that belonged to IMDS connections.
    pub imds_packets: u64,
    pub requests: RequestCounts,
    /// Dropped by the kernel because imdswatch read too slowly (libpcap ps_drop).
    pub kernel_drops: u64,
    /// Dropped by the interface or driver (libpcap ps_ifdrop).
    pub interface_drops: u64,
    /// Lost inside imdswatch because a queue between stages was full.
    pub queue_losses: u64,
    pub flows_active: u64,
    /// Connections evicted because the flow table was full.
    pub flows_evicted: u64,
    /// Requests whose process could not be named.
    pub attribution_misses: u64,
    /// Malformed, truncated or hostile input, by kind (only non-zero kinds appear).
    pub anomalies: std::collections::BTreeMap<&'static str, u64>,
    /// Live only: `host_id` and `workload` (boxed: a stats record travels in small enums).
    #[serde(flatten)]
    pub node: Option<Box<NodeStats>>,
    /// Health of attribution and output (live); flattened into the record.
    #[serde(flatten)]
    pub live_health: Box<LiveHealth>,
}

/// The live monitor's node: its instance id and how container names were read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeStats {
    /// The EC2 instance id, when the machine states it (see `LiveFields::host_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Container names read from the node's files, and what could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadCounts>,
}

/// How container and pod names were looked up (one read per container, then cached).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WorkloadCounts {
    /// Containers whose files were read (cache misses).
    pub lookups: u64,
    /// Lookups that named the container (name, image or pod).
    pub named: u64,
    /// Files found but unreadable, oversized or malformed (their fields left absent).
    pub read_errors: u64,
    /// Cache entries evicted (least recently used) because the cache was full.
    pub evicted: u64,
}

/// Counters of attribution and output in a live `stats` record (boxed: the record travels in
/// a channel of UI events).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LiveHealth {
    /// Attribution lookups skipped because the attribution queue was full.
    pub attribution_overload: u64,
    /// Lines that could not be written (disk full, file gone).
    pub output_errors: u64,
    /// Attribution path in use: `kernel`, `procfs`, or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution_path: Option<&'static str>,
    /// Kernel events (connect, and exec/fork of the shadow table) lost because a perf ring
    /// was full (PERF_RECORD_LOST).
    pub perf_lost: u64,
    /// Connections whose client had exited before /proc was read and that the shadow process
    /// table (fed by exec/fork events) named.
    pub shadow_hits: u64,
    /// Shadow process table entries evicted (least recently used) because it was full.
    pub shadow_evicted: u64,
}

/// Requests seen, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    pub v1: u64,
    pub v2: u64,
    pub token_request: u64,
    pub rejected: u64,
    /// Token requests that got no answer (the hop-limit symptom).
    pub token_unanswered: u64,
    /// Credential fetches over IMDSv1.
    pub credentials_v1: u64,
}

impl RequestCounts {
    pub fn add(&mut self, r: &RequestRecord) {
        match r.imds.version {
            Version::V1 => {
                self.v1 += 1;
                if r.imds.credentials {
                    self.credentials_v1 += 1;
                }
            }
            Version::V2 => self.v2 += 1,
            Version::TokenRequest => {
                self.token_request += 1;
                if r.imds.outcome == Outcome::NoResponse {
                    self.token_unanswered += 1;
                }
            }
        }
        if r.imds.outcome == Outcome::Rejected {
            self.rejected += 1;
        }
    }
}
