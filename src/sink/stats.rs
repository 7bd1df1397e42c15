//! One snapshot of a run's counters: the source of the `stats` record (NDJSON, dashboard)
//! and of the closing line on standard error, for `analyze` and `live` alike.

use std::time::Duration;

use crate::engine::EngineStats;
use crate::event::{LinkLocalStats, LiveHealth, NodeStats, RequestCounts, StatsRecord};
use crate::time::Timestamp;

/// What a run has counted so far. Built by `analyze` from its engine and file reader, by
/// `live` from the pipeline's shared counters.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// Interfaces captured on (live) or files read (offline).
    pub sources: Vec<String>,
    /// Offline: how many of `sources` could be read.
    pub files_read: usize,
    pub elapsed: Duration,
    /// Wall-clock time of the snapshot in live mode; `None` offline, where the only clock
    /// is the capture's.
    pub now: Option<Timestamp>,
    pub engine: EngineStats,
    pub flows_active: usize,
    /// Requests as the outputs saw them.
    pub requests: RequestCounts,
    /// Frames read (live: from libpcap; offline: handed to the engine).
    pub packets: u64,
    pub kernel_drops: u64,
    pub interface_drops: u64,
    pub queue_losses: u64,
    pub attribution_misses: u64,
    pub output_errors: u64,
    /// What the file reader skipped, by description (offline only), for the closing line.
    pub reader_skips: Vec<(&'static str, u64)>,
    /// The live monitor's node (instance id, container-name lookups); `None` offline.
    pub node: Option<Box<NodeStats>>,
    /// Attribution and output health (live; zero offline).
    pub live_health: Box<LiveHealth>,
    /// Packets per second to EC2's link-local services per interface, named (from
    /// `engine.link_local`; live adds the ENA driver's counter).
    pub link_local: Option<Box<LinkLocalStats>>,
}

impl RunStats {
    /// Frames that passed the capture filter and were lost before the engine read them:
    /// the packet socket's drops and the capture queue's losses. (An interface's own drops
    /// are not among them: the host's stack never got those frames either, so no server
    /// answered them.)
    pub fn frames_lost(&self) -> u64 {
        self.kernel_drops.saturating_add(self.queue_losses)
    }

    /// Traffic the server may have read went unseen: frames lost, holes skipped in a
    /// client's stream (`tcp_request_gaps`), frames of a metadata exchange cut short
    /// (`truncated_imds_frames`). A verdict made without it is incomplete.
    pub fn missed_client_bytes(&self) -> bool {
        self.frames_lost() > 0 || self.engine.request_gaps > 0 || self.engine.cut_watched > 0
    }

    /// The `stats` record.
    pub fn record(&self) -> StatsRecord {
        StatsRecord {
            timestamp: self.now.unwrap_or_default(),
            uptime_seconds: self.elapsed.as_secs(),
            sources: self.sources.clone(),
            packets: self.packets,
            imds_packets: self.engine.imds_packets,
            requests: self.requests,
            kernel_drops: self.kernel_drops,
            interface_drops: self.interface_drops,
            queue_losses: self.queue_losses,
            flows_active: self.flows_active as u64,
            flows_evicted: self.engine.flows_evicted,
            attribution_misses: self.attribution_misses,
            anomalies: self.engine.anomalies(),
            node: self.node.clone(),
            live_health: self.live_health.clone(),
            link_local: self.link_local.clone(),
            verdict: None,
        }
    }

    /// The closing line of `analyze` (without the `imdswatch: ` prefix).
    pub fn files_line(&self) -> String {
        let (st, counts) = (&self.engine, &self.requests);
        let mut line = format!(
            "{}, {} packets, {} IMDS packets, {} (v1 {}, v2 {}, token {}) in {:.2} s",
            files_read_text(self.files_read, self.sources.len()),
            st.packets,
            st.imds_packets,
            plural(st.requests, "request"),
            counts.v1,
            counts.v2,
            counts.token_request,
            self.elapsed.as_secs_f64()
        );
        let anomalies = st.anomalies();
        if !anomalies.is_empty() {
            line.push_str("; skipped: ");
            let parts: Vec<String> = anomalies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&parts.join(", "));
        }
        for (what, n) in &self.reader_skips {
            if *n > 0 {
                line.push_str(&format!("; {what}: {n}"));
            }
        }
        if counts.filtered_out > 0 {
            line.push_str(&format!("; {} left out by --service", plural(counts.filtered_out, "request")));
        }
        self.push_link_local_warning(&mut line);
        line
    }

    /// Appends the link-local limit warning, if any, to a closing line.
    fn push_link_local_warning(&self, line: &mut String) {
        if let Some(w) = self.link_local.as_ref().and_then(|l| l.warning()) {
            line.push_str("; WARNING: ");
            line.push_str(&w);
        }
    }

    /// The closing line of `live` (without the `imdswatch: ` prefix).
    pub fn live_line(&self) -> String {
        let c = &self.requests;
        let mut line = format!(
            "stopped after {} s: {} packets, {} requests (v1 {}, v2 {}, token {}, rejected {}, unanswered tokens {}{}); kernel drops {}, queue losses {}, attribution misses {}, output errors {}",
            self.elapsed.as_secs(),
            self.packets,
            self.engine.requests,
            c.v1,
            c.v2,
            c.token_request,
            c.rejected,
            c.token_unanswered,
            if c.filtered_out > 0 { format!(", {} left out by --service", c.filtered_out) } else { String::new() },
            self.kernel_drops,
            self.queue_losses,
            self.attribution_misses,
            self.output_errors,
        );
        self.push_link_local_warning(&mut line);
        line
    }
}

/// "1 request", "2 requests".
fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// "1 file", "3 files", or "2 of 3 files" when some could not be read.
fn files_read_text(read: usize, given: usize) -> String {
    let files = if given == 1 { "file" } else { "files" };
    if read == given { format!("{given} {files}") } else { format!("{read} of {given} {files}") }
}
