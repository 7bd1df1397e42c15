//! The link-local limit: EC2 drops traffic to its link-local services (the IMDS, the Route 53
//! Resolver, NTP) above 1,024 packets per second per network interface, and throttled IMDS
//! calls look like timeouts that push SDKs into their fallbacks. This counts, per interface,
//! the packets sent to those services that imdswatch captures (its filter takes the metadata
//! services: DNS and NTP are not seen, so the interface's real total can only be higher) over
//! a sliding one-second window of capture time, keeps each interface's peak, and counts the
//! clock seconds in which the window came within 10% of the limit.
//!
//! Sources: the 1,024 packets per second per network interface to the Amazon-provided DNS
//! server ("Hybrid Cloud DNS Options for Amazon VPC", Constraints:
//! <https://docs.aws.amazon.com/whitepapers/latest/hybrid-cloud-dns-options-for-vpc/constraints.html>;
//! AWS re:Post knowledge center "vpc-find-cause-of-failed-dns-queries"), and the ENA driver's
//! `linklocal_allowance_exceeded`: packets dropped because the traffic to the local proxy
//! services (DNS, the Instance Metadata Service, the Amazon Time Sync Service) exceeded the
//! interface's maximum
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-network-performance-ena.html>).

use std::net::IpAddr;

use crate::capture::LinkType;
use crate::event::{LinkLocalInterface, LinkLocalStats};
use crate::time::Timestamp;

/// Packets per second per network interface that EC2 allows to its link-local services.
pub const LINK_LOCAL_PPS_LIMIT: u32 = 1024;
/// A second with at least this many packets came within 10% of the limit (0.9 × 1024, up).
pub const LINK_LOCAL_WARN_PPS: u32 = 922;
/// Interfaces tracked; packets of further interfaces are counted in `untracked`.
pub const MAX_RATE_INTERFACES: usize = 16;

/// Whether `ip` is one of EC2's link-local services (169.254.169.0/24, fd00:ec2::/32), the
/// traffic the limit applies to. The ECS and EKS agents' addresses (169.254.170.x) are served
/// on the instance itself and are not counted.
pub fn is_ec2_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => matches!(a.octets(), [169, 254, 169, _]),
        IpAddr::V6(a) => matches!(a.segments(), [0xfd00, 0x0ec2, ..]),
    }
}

/// The interface a frame was captured on, when the link header names it (Linux cooked v2:
/// `-i any`); 0 is "the capture's own interface".
pub fn frame_ifindex(link: LinkType, frame: &[u8]) -> u32 {
    match (link, frame.get(4..8)) {
        (LinkType::LinuxSll2, Some(b)) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        _ => 0,
    }
}

/// Width of one bucket of the sliding one-second window (microseconds).
const BUCKET_US: u64 = 10_000;
/// Buckets in the window: one second.
const BUCKETS: usize = 100;

/// One interface's packets per second: a sliding one-second window (100 buckets of 10 ms), so
/// a burst is seen whole wherever it falls across the clock's second boundaries.
#[derive(Debug, Clone)]
pub struct IfaceRate {
    pub ifindex: u32,
    buckets: Box<[u32; BUCKETS]>,
    /// The bucket (capture time / [`BUCKET_US`]) of the newest packet.
    head: u64,
    /// Packets in the window ending at `head`.
    sum: u32,
    pub peak_pps: u32,
    /// When the busiest window ended.
    pub peak_at: Timestamp,
    /// Clock seconds in which the window held at least [`LINK_LOCAL_WARN_PPS`] packets.
    pub near_limit_seconds: u64,
    last_near_second: Option<u64>,
}

impl IfaceRate {
    fn new(ifindex: u32, ts: Timestamp) -> IfaceRate {
        IfaceRate {
            ifindex,
            buckets: Box::new([0; BUCKETS]),
            head: ts.0 / BUCKET_US,
            sum: 0,
            peak_pps: 0,
            peak_at: ts,
            near_limit_seconds: 0,
            last_near_second: None,
        }
    }

    fn count(&mut self, ts: Timestamp) {
        let slot = ts.0 / BUCKET_US;
        let span = BUCKETS as u64;
        if slot > self.head {
            // The window moves on: the buckets it leaves are emptied.
            for s in (self.head + 1)..=slot.min(self.head + span) {
                let b = &mut self.buckets[(s % span) as usize];
                self.sum -= *b;
                *b = 0;
            }
            self.head = slot;
        } else if slot + span <= self.head {
            // Time went back by more than the window (the next capture file, a clock step):
            // counting starts again.
            self.buckets.fill(0);
            self.sum = 0;
            self.head = slot;
        }
        // A packet a little late (within the window) counts where it belongs.
        self.buckets[(slot % span) as usize] += 1;
        self.sum += 1;
        if self.sum > self.peak_pps {
            self.peak_pps = self.sum;
            self.peak_at = ts;
        }
        let second = ts.0 / 1_000_000;
        if self.sum >= LINK_LOCAL_WARN_PPS && self.last_near_second != Some(second) {
            self.last_near_second = Some(second);
            self.near_limit_seconds += 1;
        }
    }
}

/// Per-interface rates, bounded by [`MAX_RATE_INTERFACES`].
#[derive(Debug, Clone, Default)]
pub struct LinkLocalRate {
    pub ifaces: Vec<IfaceRate>,
    /// Packets of interfaces beyond the bound.
    pub untracked: u64,
}

impl LinkLocalRate {
    /// One packet sent to a link-local service on `ifindex` at `ts`.
    pub fn count(&mut self, ifindex: u32, ts: Timestamp) {
        let i = match self.ifaces.iter().position(|r| r.ifindex == ifindex) {
            Some(i) => i,
            None if self.ifaces.len() < MAX_RATE_INTERFACES => {
                self.ifaces.push(IfaceRate::new(ifindex, ts));
                self.ifaces.len() - 1
            }
            None => {
                self.untracked += 1;
                return;
            }
        };
        self.ifaces[i].count(ts);
    }

    /// Seconds near the limit over every interface.
    pub fn near_limit_seconds(&self) -> u64 {
        self.ifaces.iter().map(|r| r.near_limit_seconds).sum()
    }

    /// The `link_local` part of the stats record; `name` names an interface index (0: the
    /// capture's own interface). `None` when no packet went to a link-local service.
    pub fn report(&self, name: &dyn Fn(u32) -> String) -> Option<LinkLocalStats> {
        if self.ifaces.is_empty() {
            return None;
        }
        let interfaces = self
            .ifaces
            .iter()
            .map(|r| LinkLocalInterface {
                interface: name(r.ifindex),
                peak_pps: r.peak_pps,
                peak_at: r.peak_at,
                near_limit_seconds: r.near_limit_seconds,
                allowance_exceeded: None,
            })
            .collect();
        Some(LinkLocalStats {
            limit_pps: LINK_LOCAL_PPS_LIMIT,
            warn_pps: LINK_LOCAL_WARN_PPS,
            interfaces,
            untracked_packets: self.untracked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(us: u64) -> Timestamp {
        Timestamp(us)
    }

    #[test]
    fn a_second_near_the_limit_is_counted_once_and_the_peak_kept() {
        let mut r = LinkLocalRate::default();
        for i in 0..1000 {
            r.count(3, at(10_000_000 + i * 900)); // 1000 packets within 0.9 s
        }
        for i in 0..10 {
            r.count(3, at(12_000_000 + i)); // two seconds later: 10
        }
        let s = &r.ifaces[0];
        assert_eq!((s.peak_pps, s.peak_at, s.near_limit_seconds), (1000, at(10_000_000 + 999 * 900), 1));
        assert_eq!(r.near_limit_seconds(), 1);
    }

    #[test]
    fn a_burst_across_a_second_boundary_is_seen_whole() {
        let mut r = LinkLocalRate::default();
        for i in 0..1000 {
            r.count(0, at(10_600_000 + i * 700)); // 10.6 s to 11.3 s
        }
        assert_eq!(r.ifaces[0].peak_pps, 1000);
        assert_eq!(r.near_limit_seconds(), 1, "the window reached 922 in one clock second");
    }

    #[test]
    fn a_steady_rate_below_the_warning_is_not_counted() {
        let mut r = LinkLocalRate::default();
        for i in 0..4500 {
            r.count(0, at(i * 1_111)); // 900 a second for 5 s
        }
        let peak = r.ifaces[0].peak_pps;
        assert!((899..=901).contains(&peak), "{peak}");
        assert_eq!(r.near_limit_seconds(), 0);
    }

    #[test]
    fn old_packets_leave_the_window_and_time_going_back_starts_again() {
        let mut r = LinkLocalRate::default();
        for i in 0..500 {
            r.count(0, at(5_000_000 + i));
        }
        for i in 0..500 {
            r.count(0, at(6_500_000 + i)); // 1.5 s later: the first 500 have left
        }
        assert_eq!(r.ifaces[0].peak_pps, 500);
        for i in 0..600 {
            r.count(0, at(1_000_000 + i)); // an earlier capture file
        }
        assert_eq!(r.ifaces[0].peak_pps, 600);
        for i in 0..10 {
            r.count(0, at(1_980_000 + i)); // then 0.98 s later: still in the window
        }
        assert_eq!(r.ifaces[0].peak_pps, 610);
        for i in 0..10 {
            r.count(0, at(1_970_000 + i)); // a little late, within the window: counted
        }
        assert_eq!(r.ifaces[0].peak_pps, 620);
    }

    #[test]
    fn interfaces_are_bounded_and_the_rest_counted() {
        let mut r = LinkLocalRate::default();
        for ifindex in 0..(MAX_RATE_INTERFACES as u32 + 5) {
            r.count(ifindex, at(0));
        }
        assert_eq!((r.ifaces.len(), r.untracked), (MAX_RATE_INTERFACES, 5));
    }

    #[test]
    fn only_ec2_link_local_services_count() {
        for (ip, want) in [
            ("169.254.169.254", true),
            ("169.254.169.123", true),
            ("fd00:ec2::254", true),
            ("169.254.170.2", false),
            ("169.254.170.23", false),
            ("100.100.100.200", false),
            ("127.0.0.1", false),
        ] {
            assert_eq!(is_ec2_link_local(ip.parse().expect("ip")), want, "{ip}");
        }
    }

    #[test]
    fn sll2_names_its_interface() {
        let mut f = vec![0u8; 20];
        f[4..8].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(frame_ifindex(LinkType::LinuxSll2, &f), 7);
        assert_eq!(frame_ifindex(LinkType::Ethernet, &f), 0);
        assert_eq!(frame_ifindex(LinkType::LinuxSll2, &f[..5]), 0);
    }
}
