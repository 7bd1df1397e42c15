//! Prometheus metrics of live mode (`imdswatch live --metrics ADDR:PORT`).
//!
//! A sink like the others: it consumes request records (`on_record`) and the monitor's
//! counters (`on_stats`, `on_output_errors`), and keeps them in a `prometheus-client`
//! registry. [`super::metrics_http`] serves the registry's text exposition; an encoding is
//! cached for [`SNAPSHOT_TTL`], so a scraper never holds a lock the pipeline waits on and a
//! flood of scrapes costs one encoding per interval.
//!
//! Cardinality is bounded: the request family has fixed label values; the per-workload
//! family keeps at most [`MAX_CLIENT_SERIES`] label sets (executable basename, container
//! image, Kubernetes namespace and container, version, catalogue product: never a pid, a command line, a port, a
//! pod uid or a path). Requests of further label sets go to one overflow series
//! (`exe="_overflow"`) and are counted in `imdswatch_client_series_overflow_total`.
//! Metric names are documented in README.md ("Prometheus metrics").

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::event::{AttributionMiss, HostVerdict, RequestRecord, StatsRecord, Version};
use crate::verdict::Verdict;

use super::metrics_label::clean;

/// Most label sets of `imdswatch_client_requests_total` (plus the overflow series).
pub const MAX_CLIENT_SERIES: usize = 1000;
/// Most label sets of `imdswatch_anomalies_total` (kinds are a fixed set in the engine).
const MAX_ANOMALY_KINDS: usize = 64;
/// How long an encoded exposition is served before it is encoded again.
pub const SNAPSHOT_TTL: Duration = Duration::from_millis(500);
/// `exe` of the series that collects the requests of label sets beyond the cap.
pub const OVERFLOW_EXE: &str = "_overflow";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    provider: &'static str,
    version: &'static str,
    outcome: &'static str,
    credentials: &'static str,
    /// "true" when this request would fail once IMDSv2 is enforced.
    breaks_when_enforced: &'static str,
    /// `imds.service` (a fixed set of nine values).
    service: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabels {
    exe: String,
    container_image: String,
    k8s_namespace: String,
    k8s_container: String,
    version: &'static str,
    /// The client software from the catalogue (`classify::catalogue` row id, or `unknown`):
    /// a fixed set of values.
    product: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Totals of the monitor's health, as exported counters (they only grow: fed by deltas).
#[derive(Default)]
struct Health {
    packets: Counter,
    imds_packets: Counter,
    kernel_drops: Counter,
    interface_drops: Counter,
    queue_losses: Counter,
    flows_evicted: Counter,
    output_errors: Counter,
    flows_active: Gauge,
    anomalies: Family<KindLabels, Counter>,
    attribution_overload: Counter,
    perf_lost: Counter,
    shadow_hits: Counter,
    shadow_evicted: Counter,
}

/// The last totals seen, to turn totals into increments.
#[derive(Default)]
struct Seen {
    stats: StatsRecord,
    output_errors: u64,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    clients: Family<ClientLabels, Counter>,
    client_sets: Mutex<HashSet<ClientLabels>>,
    client_overflow: Counter,
    breaking: Counter,
    /// From the host verdict of the per-client aggregate (`stats.verdict`).
    ready: Gauge,
    clients_by_verdict: Family<VerdictLabels, Gauge>,
    clients_folded: Gauge,
    last_v1: Gauge<f64, AtomicU64>,
    attribution_misses: Family<ReasonLabels, Counter>,
    health: Health,
    link_local: super::metrics_link::LinkLocalMetrics,
    refused: Counter,
    seen: Mutex<Seen>,
    snapshot: Mutex<Option<(Instant, Arc<String>)>>,
}

/// The readiness rule, per request: the core's `imds.breaks_when_enforced` (README, NDJSON
/// schema): an AWS request without a token that was answered would fail once IMDSv2 is
/// required. Unknown (no answer seen) does not count.
pub fn breaks_when_enforced(r: &RequestRecord) -> bool {
    r.imds.breaks_when_enforced == Some(true)
}

/// The cloud whose metadata protocol the request spoke (`imds.provider`).
fn provider(r: &RequestRecord) -> &'static str {
    r.imds.provider.as_str()
}

fn bool_label(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn miss_label(m: AttributionMiss) -> &'static str {
    match m {
        AttributionMiss::Exited => "exited",
        AttributionMiss::NoSocket => "no_socket",
        AttributionMiss::Permission => "permission",
        AttributionMiss::Overloaded => "overloaded",
        AttributionMiss::Remote => "remote",
        AttributionMiss::Disabled => "disabled",
    }
}

/// The `product` label: the catalogue row naming the request's user agent and process.
fn product(r: &RequestRecord) -> &'static str {
    let process = r.live.as_ref().and_then(|l| l.process.as_ref()).map(crate::classify::catalogue::ProcessHint::of);
    crate::classify::catalogue::identify(r.imds.user_agent.as_deref(), process.as_ref())
        .map_or("unknown", |i| i.row.id.as_str())
}

/// A workload label from the live fields (container image, pod namespace, container name:
/// bounded sets on a node, never pod uids or pids); empty when unknown.
fn live_label(r: &RequestRecord, get: impl Fn(&crate::event::LiveFields) -> Option<&str>) -> String {
    r.live.as_ref().and_then(get).map(clean).unwrap_or_default()
}

/// The executable's basename: the file name of its path, else its name; empty when the
/// process is unknown.
fn exe_basename(r: &RequestRecord) -> String {
    let Some(p) = r.live.as_ref().and_then(|l| l.process.as_ref()) else { return String::new() };
    let name = p.file.path.as_deref().and_then(|path| path.rsplit('/').next()).filter(|n| !n.is_empty());
    clean(name.unwrap_or(&p.file.name))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            clients: Family::default(),
            client_sets: Mutex::new(HashSet::new()),
            client_overflow: Counter::default(),
            breaking: Counter::default(),
            ready: Gauge::default(),
            clients_by_verdict: Family::default(),
            clients_folded: Gauge::default(),
            last_v1: Gauge::default(),
            attribution_misses: Family::default(),
            health: Health::default(),
            link_local: Default::default(),
            refused: Counter::default(),
            seen: Mutex::new(Seen::default()),
            snapshot: Mutex::new(None),
        };
        m.ready.set(1);
        m.register();
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "imdswatch_requests",
            "IMDS requests seen, by provider, version, outcome, credential read, whether IMDSv2 enforcement would break them, and service",
            self.requests.clone(),
        );
        r.register(
            "imdswatch_client_requests",
            "IMDS requests per workload (executable basename, container image, Kubernetes namespace and container) and version; label sets capped, see imdswatch_client_series_overflow",
            self.clients.clone(),
        );
        r.register(
            "imdswatch_client_series_overflow",
            "Requests counted in the exe=\"_overflow\" series because imdswatch_client_requests had reached its cap of label sets",
            self.client_overflow.clone(),
        );
        r.register(
            "imdswatch_breaking_requests",
            "Requests that would fail once IMDSv2 is enforced (no token, answered 2xx)",
            self.breaking.clone(),
        );
        r.register(
            "imdswatch_enforcement_ready",
            "1 while no client would break once IMDSv2 is enforced (the host verdict of stats.verdict), else 0; 0 for good after the first frame lost (kernel_drops, queue_losses) or hole in a client's stream",
            self.ready.clone(),
        );
        r.register(
            "imdswatch_clients",
            "Clients (process + command line + user agent + container, or address + user agent) by verdict, as in the verdict record",
            self.clients_by_verdict.clone(),
        );
        r.register(
            "imdswatch_clients_folded",
            "Requests of clients first seen past the bound on clients, judged together as (other clients)",
            self.clients_folded.clone(),
        );
        r.register(
            "imdswatch_last_v1_timestamp_seconds",
            "Unix time of the last IMDSv1 request seen (0: none)",
            self.last_v1.clone(),
        );
        r.register(
            "imdswatch_attribution_misses",
            "Requests whose process could not be named, by reason",
            self.attribution_misses.clone(),
        );
        self.register_health();
        self.link_local.register(&mut self.registry);
    }

    fn register_health(&mut self) {
        let (r, h) = (&mut self.registry, &self.health);
        r.register("imdswatch_packets", "Frames read from the capture", h.packets.clone());
        r.register("imdswatch_imds_packets", "Frames that belonged to IMDS connections", h.imds_packets.clone());
        r.register(
            "imdswatch_kernel_drops",
            "Frames dropped by the kernel (imdswatch read too slowly)",
            h.kernel_drops.clone(),
        );
        r.register("imdswatch_interface_drops", "Frames dropped by the interface or driver", h.interface_drops.clone());
        r.register(
            "imdswatch_queue_losses",
            "Frames or records lost because a queue between stages was full",
            h.queue_losses.clone(),
        );
        r.register(
            "imdswatch_flows_evicted",
            "Connections evicted because the flow table was full",
            h.flows_evicted.clone(),
        );
        r.register("imdswatch_output_errors", "NDJSON lines that could not be written", h.output_errors.clone());
        r.register("imdswatch_flows_active", "Connections tracked now", h.flows_active.clone());
        r.register("imdswatch_anomalies", "Malformed, truncated or hostile input, by kind", h.anomalies.clone());
        r.register(
            "imdswatch_attribution_overload",
            "Attribution lookups skipped because the attribution queue was full",
            h.attribution_overload.clone(),
        );
        r.register("imdswatch_perf_lost", "Kernel events lost because a perf ring was full", h.perf_lost.clone());
        r.register(
            "imdswatch_shadow_hits",
            "Connections of exited clients named by the shadow process table",
            h.shadow_hits.clone(),
        );
        r.register(
            "imdswatch_shadow_evicted",
            "Shadow process table entries evicted because it was full",
            h.shadow_evicted.clone(),
        );
        r.register(
            "imdswatch_metrics_refused",
            "Scrape connections closed unanswered because every metrics worker was busy",
            self.refused.clone(),
        );
        r.register(
            "imdswatch_build",
            "Version of the running imdswatch",
            Info::new(vec![("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]),
        );
    }

    /// One finished request.
    pub fn on_record(&self, r: &RequestRecord) {
        let breaks = breaks_when_enforced(r);
        let version = r.imds.version.as_str();
        self.requests
            .get_or_create(&RequestLabels {
                provider: provider(r),
                version,
                outcome: r.imds.outcome.as_str(),
                credentials: bool_label(r.imds.credentials),
                breaks_when_enforced: bool_label(breaks),
                service: r.imds.service.as_str(),
            })
            .inc();
        if breaks {
            self.breaking.inc();
        }
        if r.imds.version == Version::V1 {
            let t = r.timestamp.0 as f64 / 1e6;
            if t > self.last_v1.get() {
                self.last_v1.set(t);
            }
        }
        if let Some(miss) = r.live.as_ref().and_then(|l| l.attribution) {
            self.attribution_misses.get_or_create(&ReasonLabels { reason: miss_label(miss) }).inc();
        }
        self.count_client(r, version);
    }

    fn count_client(&self, r: &RequestRecord, version: &'static str) {
        let product = product(r);
        let mut labels = ClientLabels {
            exe: exe_basename(r),
            container_image: live_label(r, |l| l.container.as_ref()?.image.as_deref()),
            k8s_namespace: live_label(r, |l| l.k8s.as_ref()?.namespace.as_deref()),
            k8s_container: live_label(r, |l| l.k8s.as_ref()?.container.as_deref()),
            version,
            product,
        };
        let Ok(mut sets) = self.client_sets.lock() else { return };
        if !sets.contains(&labels) {
            if sets.len() >= MAX_CLIENT_SERIES {
                self.client_overflow.inc();
                labels = ClientLabels {
                    exe: OVERFLOW_EXE.to_owned(),
                    container_image: String::new(),
                    k8s_namespace: String::new(),
                    k8s_container: String::new(),
                    version,
                    product,
                };
            } else {
                sets.insert(labels.clone());
            }
        }
        drop(sets);
        self.clients.get_or_create(&labels).inc();
    }

    /// The monitor's counters (totals since start), and the host verdict they carry.
    pub fn on_stats(&self, s: &StatsRecord) {
        if let Some(v) = &s.verdict {
            self.on_verdict(v);
        }
        let Ok(mut seen) = self.seen.lock() else { return };
        let h = &self.health;
        let p = &seen.stats;
        h.packets.inc_by(s.packets.saturating_sub(p.packets));
        h.imds_packets.inc_by(s.imds_packets.saturating_sub(p.imds_packets));
        h.kernel_drops.inc_by(s.kernel_drops.saturating_sub(p.kernel_drops));
        h.interface_drops.inc_by(s.interface_drops.saturating_sub(p.interface_drops));
        h.queue_losses.inc_by(s.queue_losses.saturating_sub(p.queue_losses));
        h.flows_evicted.inc_by(s.flows_evicted.saturating_sub(p.flows_evicted));
        h.flows_active.set(i64::try_from(s.flows_active).unwrap_or(i64::MAX));
        let (l, pl) = (&s.live_health, &p.live_health);
        h.attribution_overload.inc_by(l.attribution_overload.saturating_sub(pl.attribution_overload));
        h.perf_lost.inc_by(l.perf_lost.saturating_sub(pl.perf_lost));
        h.shadow_hits.inc_by(l.shadow_hits.saturating_sub(pl.shadow_hits));
        h.shadow_evicted.inc_by(l.shadow_evicted.saturating_sub(pl.shadow_evicted));
        for (kind, n) in &s.anomalies {
            let before = p.anomalies.get(kind).copied().unwrap_or(0);
            if p.anomalies.contains_key(kind) || p.anomalies.len() < MAX_ANOMALY_KINDS {
                h.anomalies.get_or_create(&KindLabels { kind }).inc_by(n.saturating_sub(before));
            }
        }
        self.link_local.on_stats(s.link_local.as_deref(), p.link_local.as_deref());
        seen.stats = s.clone();
    }

    /// The host verdict over every client (the per-client aggregate's).
    pub fn on_verdict(&self, v: &HostVerdict) {
        self.ready.set(i64::from(v.safe_to_enforce));
        for verdict in Verdict::ALL {
            let n = v.clients_by_verdict.get(verdict.as_str()).copied().unwrap_or(0);
            self.clients_by_verdict
                .get_or_create(&VerdictLabels { verdict: verdict.as_str() })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.clients_folded.set(i64::try_from(v.clients_folded).unwrap_or(i64::MAX));
    }

    /// NDJSON lines that could not be written (total since start).
    pub fn on_output_errors(&self, total: u64) {
        let Ok(mut seen) = self.seen.lock() else { return };
        self.health.output_errors.inc_by(total.saturating_sub(seen.output_errors));
        seen.output_errors = seen.output_errors.max(total);
    }

    /// A scrape connection was closed unanswered (every worker busy).
    pub fn connection_refused(&self) {
        self.refused.inc();
    }

    /// The Prometheus text exposition (format 0.0.4), from a snapshot at most
    /// [`SNAPSHOT_TTL`] old.
    pub fn exposition(&self) -> Arc<String> {
        let Ok(mut snap) = self.snapshot.lock() else { return Arc::new(String::new()) };
        if let Some((at, text)) = snap.as_ref()
            && at.elapsed() < SNAPSHOT_TTL
        {
            return text.clone();
        }
        let mut text = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        let text = Arc::new(text);
        *snap = Some((Instant::now(), text.clone()));
        text
    }
}

/// The metrics as a [`Sink`](super::Sink): fed by the live driver beside NDJSON or the
/// dashboard (`Fan`), served by `metrics_http` from a snapshot.
pub struct MetricsSink {
    m: Arc<Metrics>,
}

impl MetricsSink {
    pub fn new(m: Arc<Metrics>) -> MetricsSink {
        MetricsSink { m }
    }
}

impl super::Sink for MetricsSink {
    fn stats_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    fn record(&mut self, r: &RequestRecord) -> std::io::Result<()> {
        self.m.on_record(r);
        Ok(())
    }

    fn stats(&mut self, s: &StatsRecord) -> std::io::Result<()> {
        self.m.on_stats(s);
        self.m.on_output_errors(s.live_health.output_errors);
        Ok(())
    }

    fn verdict(&mut self, clients: &crate::verdict::Clients) -> std::io::Result<()> {
        self.m.on_verdict(&clients.host());
        Ok(())
    }

    fn finish(&mut self, s: &StatsRecord) -> std::io::Result<()> {
        self.stats(s)
    }
}
