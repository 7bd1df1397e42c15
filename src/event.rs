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

/// Who made a request: filled by `attribute`, attached to records in live mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attribution {
    pub process: Option<Process>,
    pub container: Option<Container>,
    pub miss: Option<AttributionMiss>,
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
}

impl LiveFields {
    pub fn from_attribution(a: Attribution, host: Option<String>) -> LiveFields {
        LiveFields { process: a.process, container: a.container, attribution: a.miss, host }
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
