//! The link-local limit in the Prometheus metrics (issue 28): per interface, the busiest
//! second's packets to EC2's link-local services, the seconds that came within 10% of the
//! 1,024 packets/s limit, and the ENA driver's `linklocal_allowance_exceeded` increase.
//!
//! Cardinality: one series per interface the engine tracks (at most
//! `engine::rate::MAX_RATE_INTERFACES`) plus the ENA interfaces read (at most as many).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::event::LinkLocalStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IfaceLabels {
    interface: String,
}

/// The link-local families; fed with the totals of each stats record.
#[derive(Default)]
pub struct LinkLocalMetrics {
    peak: Family<IfaceLabels, Gauge>,
    near: Family<IfaceLabels, Counter>,
    exceeded: Family<IfaceLabels, Counter>,
    warning: Gauge,
}

impl LinkLocalMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "imdswatch_link_local_peak_pps",
            "Busiest second's packets sent to EC2's link-local services (IMDS) on this interface (EC2 allows 1024 per second per interface)",
            self.peak.clone(),
        );
        r.register(
            "imdswatch_link_local_near_limit_seconds",
            "Seconds whose packets to EC2's link-local services on this interface came within 10% of the 1024 packets/s limit",
            self.near.clone(),
        );
        r.register(
            "imdswatch_link_local_allowance_exceeded",
            "Increase of the ENA driver's linklocal_allowance_exceeded counter since imdswatch started (packets over the limit)",
            self.exceeded.clone(),
        );
        r.register(
            "imdswatch_link_local_warning",
            "1 once an interface came within 10% of EC2's link-local limit or its driver counted packets over it, else 0",
            self.warning.clone(),
        );
    }

    /// The link-local part of a stats record (`now`), after `before` (totals: counters
    /// grow by the difference).
    pub fn on_stats(&self, now: Option<&LinkLocalStats>, before: Option<&LinkLocalStats>) {
        let Some(now) = now else { return };
        let prev = |name: &str| before.and_then(|b| b.interfaces.iter().find(|i| i.interface == name));
        for i in &now.interfaces {
            let labels = IfaceLabels { interface: super::metrics_label::clean(&i.interface) };
            let p = prev(&i.interface);
            self.peak.get_or_create(&labels).set(i64::from(i.peak_pps));
            let near_before = p.map_or(0, |p| p.near_limit_seconds);
            self.near.get_or_create(&labels).inc_by(i.near_limit_seconds.saturating_sub(near_before));
            if let Some(n) = i.allowance_exceeded {
                let seen = p.and_then(|p| p.allowance_exceeded).unwrap_or(0);
                self.exceeded.get_or_create(&labels).inc_by(n.saturating_sub(seen));
            }
        }
        self.warning.set(i64::from(now.warning().is_some()));
    }
}
