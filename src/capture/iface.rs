//! Network interfaces by index, from /sys/class/net (what `-i any` frames name), and the ENA
//! driver's link-local counter.
//!
//! EC2's ENA driver counts `linklocal_allowance_exceeded`: packets to the link-local services
//! (IMDS, DNS, NTP) queued or dropped because the interface went over 1,024 packets per second
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-network-performance-ena.html>).
//! It is a driver statistic (`ethtool -S`), read with the ETHTOOL_GSTATS ioctl through the
//! `below-ethtool` crate.

use std::path::Path;

use below_ethtool::EthtoolReadable;

/// The ENA statistic counting packets over the link-local allowance.
pub const ENA_LINK_LOCAL_STAT: &str = "linklocal_allowance_exceeded";

/// Interfaces driven by `ena` (at most `max`), by name.
pub fn ena_interfaces(max: usize) -> Vec<String> {
    ena_in(Path::new("/sys/class/net"), max)
}

fn ena_in(dir: &Path, max: usize) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path().join("device/driver")).is_ok_and(|d| d.file_name().is_some_and(|n| n == "ena"))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v.truncate(max);
    v
}

/// A driver statistic of `iface` by name (`ethtool -S`), if the driver has it.
pub fn driver_stat(iface: &str, stat: &str) -> Option<u64> {
    stat_of::<below_ethtool::Ethtool>(iface, stat)
}

fn stat_of<T: EthtoolReadable>(iface: &str, stat: &str) -> Option<u64> {
    T::new(iface).ok()?.stats().ok()?.into_iter().find(|(name, _)| name == stat).map(|(_, v)| v)
}

/// The name of the interface with index `ifindex`, if this host has one.
pub fn name_of(ifindex: u32) -> Option<String> {
    name_in(Path::new("/sys/class/net"), ifindex)
}

/// The index of interface `name`, if this host has one (`any` has none).
pub fn index_of(name: &str) -> Option<u32> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    std::fs::read_to_string(Path::new("/sys/class/net").join(name).join("ifindex")).ok()?.trim().parse().ok()
}

fn name_in(dir: &Path, ifindex: u32) -> Option<String> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let idx = std::fs::read_to_string(e.path().join("ifindex")).ok()?;
        (idx.trim().parse::<u32>().ok()? == ifindex).then(|| e.file_name().to_string_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver that reports the ENA statistic, as `ethtool -S` would show it.
    struct FakeEna;
    impl EthtoolReadable for FakeEna {
        fn new(_: &str) -> below_ethtool::Result<Self> {
            Ok(FakeEna)
        }
        fn stats(&self) -> below_ethtool::Result<Vec<(String, u64)>> {
            Ok(vec![("bw_in_allowance_exceeded".into(), 0), (ENA_LINK_LOCAL_STAT.into(), 41)])
        }
    }

    #[test]
    fn the_ena_statistic_is_found_by_name() {
        assert_eq!(stat_of::<FakeEna>("eth0", ENA_LINK_LOCAL_STAT), Some(41));
        assert_eq!(stat_of::<FakeEna>("eth0", "no_such_stat"), None);
    }

    #[test]
    fn a_real_driver_statistic_is_read() {
        // veth has driver statistics (`ethtool -S`: peer_ifindex); a container may not let
        // us create one, and loopback has none: then the read is simply None.
        let name = format!("imwv{}", std::process::id() % 100_000);
        let made = std::process::Command::new("ip")
            .args(["link", "add", &name, "type", "veth", "peer", "name", &format!("{name}p")])
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            eprintln!("SKIPPED a_real_driver_statistic_is_read: cannot create a veth pair (not root?)");
            return;
        }
        let peer = driver_stat(&name, "peer_ifindex");
        let _ = std::process::Command::new("ip").args(["link", "del", &name]).status();
        let want = name_of(peer.and_then(|p| u32::try_from(p).ok()).unwrap_or(0));
        assert_eq!(want, None, "the peer is deleted with its pair");
        assert!(peer.is_some_and(|p| p > 1), "peer_ifindex of a veth: {peer:?}");
        assert_eq!(driver_stat("lo", ENA_LINK_LOCAL_STAT), None);
    }

    #[test]
    fn loopback_is_named() {
        // Index 1 is the loopback interface on Linux.
        assert_eq!(name_of(1).as_deref(), Some("lo"));
        assert_eq!(name_of(u32::MAX), None);
        assert_eq!(index_of("lo"), Some(1));
        assert_eq!(index_of("any"), None);
        assert_eq!(index_of("../lo"), None);
    }
}
