//! The engine's counters. Every packet the engine does not turn into a request lands in one.

use std::collections::BTreeMap;

use crate::decode::Skip;
use crate::decode::frag::FragStats;
use crate::flow::accept::AcceptStats;
use crate::flow::reassembly::ReasmStats;
use crate::http::HttpStats;

#[derive(Debug, Default, Clone)]
pub struct EngineStats {
    pub packets: u64,
    pub imds_packets: u64,
    pub requests: u64,
    pub not_ip: u64,
    pub not_watched: u64,
    pub not_tcp: u64,
    /// IP fragments of watched addresses (reassembled when they complete a datagram).
    pub fragments: u64,
    pub frag: FragStats,
    pub truncated: u64,
    pub malformed: u64,
    /// Segments dropped for a wrong IPv4 header or TCP checksum (the server drops them too).
    pub bad_checksum: u64,
    /// Segments kept although their TCP checksum could not be verified (checksum offload).
    pub checksum_unverified: u64,
    /// RSTs ignored because their sequence number was not the expected one (Linux answers
    /// those with a challenge ACK and keeps the connection).
    pub rst_ignored: u64,
    /// Requests whose bytes the capture showed in two different versions (`imds.conflict`).
    pub conflicts: u64,
    /// Segments Linux's acceptance checks discard (flow/accept.rs), by reason.
    pub accept: AcceptStats,
    pub reasm: ReasmStats,
    pub http: HttpStats,
    pub flows_opened: u64,
    /// Evicted because the table was full (their waiting requests reported `unmatched`).
    pub flows_evicted: u64,
    /// Closed after `flow_timeout` without traffic.
    pub flows_idle: u64,
    /// Data segments for a connection already closed (late copies), ignored.
    pub after_close: u64,
    /// Closed connections forgotten early because the tombstone set was full (flow/tombstones.rs).
    pub tombstones_evicted: u64,
    pub duplicates_suppressed: u64,
    pub pipeline_overflow: u64,
    pub unsolicited_responses: u64,
    /// Holes in a client's stream that were skipped: bytes the server may have read (a
    /// served IMDSv1 request among them) that the capture never showed. The host verdict
    /// is then incomplete, never safe.
    pub request_gaps: u64,
    /// Frames of a watched address cut short (of `truncated`): what they carried, a served
    /// IMDSv1 request perhaps, was never seen. The host verdict is then incomplete.
    pub cut_watched: u64,
    /// Answers captured with TTL <= 1 that the client never acknowledged (hop limit).
    pub answers_not_delivered: u64,
    /// Token and IMDSv2 requests still waiting when the client closed its side: settled
    /// `no_response` at once (IMDSv1 requests wait on: issue 23, class 2).
    pub abandoned: u64,
    /// Packets per second to EC2's link-local services, per interface (the 1,024 limit).
    pub link_local: super::rate::LinkLocalRate,
}

impl EngineStats {
    pub fn skipped(&mut self, why: Skip) {
        match why {
            Skip::NotIp => self.not_ip += 1,
            Skip::NotWatched => self.not_watched += 1,
            Skip::NotTcp => self.not_tcp += 1,
            Skip::Fragment => self.fragments += 1,
            Skip::Truncated => self.truncated += 1,
            Skip::Cut => {
                self.truncated += 1;
                self.cut_watched += 1;
            }
            Skip::Malformed => self.malformed += 1,
            Skip::BadChecksum => self.bad_checksum += 1,
        }
    }

    /// Anomalies by name, non-zero only: what a user should know was skipped or cut.
    pub fn anomalies(&self) -> BTreeMap<&'static str, u64> {
        let r = &self.reasm;
        let h = &self.http;
        let a = &self.accept;
        [
            ("ip_fragments", self.fragments),
            ("ip_fragments_dropped", self.frag.dropped),
            ("ip_fragments_expired", self.frag.expired),
            ("ip_fragments_duplicate", self.frag.duplicates),
            ("truncated_frames", self.truncated),
            ("malformed_frames", self.malformed),
            ("tcp_bad_checksums", self.bad_checksum),
            ("tcp_rst_out_of_window", self.rst_ignored),
            ("tcp_conflicting_copies", self.conflicts),
            ("tcp_rejected_md5_option", a.md5),
            ("tcp_rejected_paws", a.paws),
            ("tcp_rejected_no_ack", a.no_ack),
            ("tcp_rejected_ack_unsent", a.ack_unsent),
            ("tcp_ack_unsent_replayed", a.replayed),
            ("tcp_rejected_ack_too_old", a.ack_too_old),
            ("tcp_syn_data_ignored", a.syn_data),
            ("duplicates_suppressed", self.duplicates_suppressed),
            ("tcp_gaps", r.gaps),
            ("tcp_request_gaps", self.request_gaps),
            ("truncated_imds_frames", self.cut_watched),
            ("tcp_forced_skips", r.forced_skips),
            ("tcp_overlaps", r.overlaps),
            ("http_oversize_heads", h.oversize_heads),
            ("http_parse_errors", h.parse_errors),
            ("http_desync_segments", h.desync_chunks),
            ("http_unfinished_messages", h.unfinished),
            ("http_credential_bodies_over_cap", h.credential_bodies_over_cap),
            ("http_heads_evicted", h.heads_evicted),
            ("flows_evicted", self.flows_evicted),
            ("pipeline_overflow", self.pipeline_overflow),
            ("unsolicited_responses", self.unsolicited_responses),
            ("late_segments_after_close", self.after_close),
            ("tombstones_evicted", self.tombstones_evicted),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}
