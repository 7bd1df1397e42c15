//! The link-local limit: EC2 drops traffic to its link-local services (the IMDS, the Route 53
//! Resolver, NTP) above 1,024 packets per second per network interface, and throttled IMDS
//! calls look like timeouts that push SDKs into their fallbacks. This counts, per interface
//! and per second of capture time, the packets sent to those services, keeps each interface's
//! peak, and counts the seconds that came within 10% of the limit.
//!
//! Source: "Instance metadata service limits" / "Packet per second (PPS) limits" in the EC2
//! user guide (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html>,
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-network-performance-ena.html>).

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

/// One interface's packets per second.
#[derive(Debug, Clone, Default)]
pub struct IfaceRate {
    pub ifindex: u32,
    /// The capture second being counted, and its packets so far.
    second: u64,
    count: u32,
    pub peak_pps: u32,
    /// Start of the peak second, seconds since the epoch.
    pub peak_at: u64,
    /// Seconds with at least [`LINK_LOCAL_WARN_PPS`] packets.
    pub near_limit_seconds: u64,
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
        let second = ts.0 / 1_000_000;
        let i = match self.ifaces.iter().position(|r| r.ifindex == ifindex) {
            Some(i) => i,
            None if self.ifaces.len() < MAX_RATE_INTERFACES => {
                self.ifaces.push(IfaceRate { ifindex, second, ..IfaceRate::default() });
                self.ifaces.len() - 1
            }
            None => {
                self.untracked += 1;
                return;
            }
        };
        let r = &mut self.ifaces[i];
        if r.second != second {
            r.second = second;
            r.count = 0;
        }
        r.count = r.count.saturating_add(1);
        if r.count == LINK_LOCAL_WARN_PPS {
            r.near_limit_seconds += 1; // counted once, the moment the second reaches it
        }
        if r.count > r.peak_pps {
            r.peak_pps = r.count;
            r.peak_at = second;
        }
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
                peak_at: Timestamp(r.peak_at.saturating_mul(1_000_000)),
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
            r.count(3, at(11_000_000 + i)); // the next second: 10
        }
        let s = &r.ifaces[0];
        assert_eq!((s.peak_pps, s.peak_at, s.near_limit_seconds), (1000, 10, 1));
        assert_eq!(r.near_limit_seconds(), 1);
    }

    #[test]
    fn seconds_below_the_warning_are_not_counted() {
        let mut r = LinkLocalRate::default();
        for s in 0..5 {
            for i in 0..u64::from(LINK_LOCAL_WARN_PPS - 1) {
                r.count(0, at(s * 1_000_000 + i));
            }
        }
        assert_eq!((r.ifaces[0].peak_pps, r.near_limit_seconds()), (LINK_LOCAL_WARN_PPS - 1, 0));
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
