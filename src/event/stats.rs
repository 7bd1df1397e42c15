//! The `stats` record and the counters it carries (part of the public NDJSON schema: see
//! README.md). Split from `event` to keep files short; re-exported there.

use serde::Serialize;

use super::{Outcome, RequestRecord, Version};
use crate::time::Timestamp;

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
    /// Packets per second sent to EC2's link-local services, per interface, against their
    /// limit (1,024 per second per interface; engine/rate.rs); absent when none were seen and
    /// no ENA interface was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_local: Option<Box<LinkLocalStats>>,
    /// Live: the host-level verdict so far, over clients (IP + user agent); see README
    /// "Verdicts". Absent where not computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Box<HostVerdict>>,
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
    /// Lookups left unnamed because the runtime's state did not agree with the process's
    /// cgroup (a cgroup merely named like a container's). Written only when not 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub unverified: u64,
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

/// The host-level verdict: clients by verdict, and whether it is safe to enforce IMDSv2.
/// Built by `crate::verdict`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostVerdict {
    /// Clients by verdict (verdicts with no client are absent).
    pub clients_by_verdict: std::collections::BTreeMap<&'static str, u64>,
    /// Clients whose verdict would break under enforcement.
    pub would_break: u64,
    pub safe_to_enforce: bool,
    /// The services whose enforcement switch would break a client (their legacy form was
    /// served: `ec2_imds`, `alibaba_imds`, `oci_imds`, `gcp_metadata`). Written only when
    /// not empty.
    #[serde(skip_serializing_if = "super::ServiceSet::is_empty_ref")]
    pub breaking_services: super::ServiceSet,
    /// The input was incomplete (a capture file cut mid-record; holes skipped in a client's
    /// stream, `tcp_request_gaps`; live: frames lost before the engine read them,
    /// `kernel_drops` or `queue_losses`): what was not read may hold a served IMDSv1
    /// request, so the host is never called safe (`safe_to_enforce` false).
    /// Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// Requests of clients first seen past the bound on clients (10,000), judged together
    /// as `(other clients)` (the name is kept from when it lived in the `verdict` record).
    pub clients_folded: u64,
}

impl HostVerdict {
    /// Marks the verdict as made on incomplete input: never safe.
    pub fn mark_incomplete(&mut self) {
        self.incomplete = true;
        self.safe_to_enforce = false;
    }
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
    /// Requests without a v1/v2 form (`imds.version` null: Azure, IBM, ECS task
    /// credentials, EKS Pod Identity, GCP without its header; not counted as v1).
    pub other_providers: u64,
    /// Requests sent after the server closed the connection (not counted anywhere else).
    pub server_closed: u64,
    /// Requests left out by `--service` (not counted anywhere else). Written only when not 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub filtered_out: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RequestCounts {
    pub fn add(&mut self, r: &RequestRecord) {
        if r.imds.outcome == Outcome::ServerClosed {
            self.server_closed += 1;
            return;
        }
        match r.imds.version {
            Version::Unversioned => self.other_providers += 1,
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

/// The link-local limit: EC2 drops packets to its link-local services (IMDS, DNS, NTP) above
/// `limit_pps` per second per network interface; throttled IMDS calls look like timeouts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkLocalStats {
    pub limit_pps: u32,
    /// A one-second window with at least this many packets is "near the limit" (within 10%).
    pub warn_pps: u32,
    pub interfaces: Vec<LinkLocalInterface>,
    /// Packets of interfaces beyond the tracked number (16).
    pub untracked_packets: u64,
}

/// One interface's busiest one-second window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkLocalInterface {
    pub interface: String,
    pub peak_pps: u32,
    /// When the busiest window ended.
    pub peak_at: Timestamp,
    /// Clock seconds in which a window held at least `warn_pps` packets.
    pub near_limit_seconds: u64,
    /// ENA driver only (live): the increase of its `linklocal_allowance_exceeded` counter
    /// since imdswatch started (packets the limit queued or dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowance_exceeded: Option<u64>,
}

impl LinkLocalStats {
    /// The warning to show, when an interface came within 10% of the limit or its driver
    /// counted packets over it.
    pub fn warning(&self) -> Option<String> {
        let hot: Vec<String> = self
            .interfaces
            .iter()
            .filter(|i| i.near_limit_seconds > 0 || i.allowance_exceeded.unwrap_or(0) > 0)
            .map(|i| {
                let mut s = format!("{} peaked at {} packets/s", crate::text::sanitize(&i.interface), i.peak_pps);
                if let Some(n) = i.allowance_exceeded.filter(|n| *n > 0) {
                    s.push_str(&format!(", {n} over the allowance (ENA)"));
                }
                s
            })
            .collect();
        (!hot.is_empty()).then(|| {
            format!(
                "near EC2's link-local limit ({} packets/s per interface): {}; throttled IMDS calls time out and SDKs fall back",
                self.limit_pps,
                hot.join(", ")
            )
        })
    }
}
