//! The link-local part of live `stats` records: the engine's per-interface rates
//! (engine/rate.rs) named from /sys/class/net, joined with the increase of the ENA driver's
//! `linklocal_allowance_exceeded` since start (capture/iface.rs).
//!
//! Bound: at most [`MAX_ENA`] ENA interfaces are read.

use crate::capture::iface;
use crate::engine::rate::{LINK_LOCAL_PPS_LIMIT, LINK_LOCAL_WARN_PPS, LinkLocalRate};
use crate::event::{LinkLocalInterface, LinkLocalStats};

/// Most ENA interfaces whose counter is read.
pub const MAX_ENA: usize = 16;

/// The ENA interfaces and their counter now (the baseline the stats report increases from).
pub fn ena_baseline() -> Vec<(String, u64)> {
    iface::ena_interfaces(MAX_ENA)
        .into_iter()
        .filter_map(|i| iface::driver_stat(&i, iface::ENA_LINK_LOCAL_STAT).map(|v| (i, v)))
        .collect()
}

/// The `link_local` of a stats record: interface 0 is the one given with `-i` when /sys did
/// not name it (`sources`); frames of `-i any` name theirs.
pub fn stats(rate: &LinkLocalRate, sources: &[String], ena: &[(String, u64)]) -> Option<Box<LinkLocalStats>> {
    join(rate, sources, ena, &iface::name_of, &|i| iface::driver_stat(i, iface::ENA_LINK_LOCAL_STAT))
}

fn join(
    rate: &LinkLocalRate,
    sources: &[String],
    ena: &[(String, u64)],
    name_of: &dyn Fn(u32) -> Option<String>,
    read: &dyn Fn(&str) -> Option<u64>,
) -> Option<Box<LinkLocalStats>> {
    let name = |ifindex: u32| {
        if ifindex == 0 {
            return sources.join(",");
        }
        name_of(ifindex).unwrap_or_else(|| format!("ifindex {ifindex}"))
    };
    let mut st = rate.report(&name);
    for (ifc, base) in ena {
        let Some(now) = read(ifc) else { continue };
        let st = st.get_or_insert_with(|| LinkLocalStats {
            limit_pps: LINK_LOCAL_PPS_LIMIT,
            warn_pps: LINK_LOCAL_WARN_PPS,
            ..LinkLocalStats::default()
        });
        let increase = Some(now.saturating_sub(*base));
        match st.interfaces.iter_mut().find(|i| &i.interface == ifc) {
            Some(i) => i.allowance_exceeded = increase,
            None => st.interfaces.push(LinkLocalInterface {
                interface: ifc.clone(),
                allowance_exceeded: increase,
                ..LinkLocalInterface::default()
            }),
        }
    }
    st.map(Box::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn names(i: u32) -> Option<String> {
        [(2, "ens5"), (3, "ens6")].into_iter().find(|(n, _)| *n == i).map(|(_, s)| s.to_owned())
    }

    #[test]
    fn the_ena_counter_joins_its_interface_and_warns_on_an_increase() {
        let mut rate = LinkLocalRate::default();
        for k in 0..10 {
            rate.count(2, Timestamp(1_000_000 + k));
        }
        let ena = [("ens5".to_owned(), 100), ("ens6".to_owned(), 7)];
        let read = |i: &str| match i {
            "ens5" => Some(140),
            "ens6" => Some(7),
            _ => None,
        };
        let st = join(&rate, &["any".into()], &ena, &names, &read).expect("stats");
        let ens5 = st.interfaces.iter().find(|i| i.interface == "ens5").expect("ens5");
        assert_eq!((ens5.peak_pps, ens5.allowance_exceeded), (10, Some(40)), "rate and counter on one row");
        let ens6 = st.interfaces.iter().find(|i| i.interface == "ens6").expect("ens6");
        assert_eq!((ens6.peak_pps, ens6.allowance_exceeded), (0, Some(0)), "an ENA interface without IMDS traffic");
        let w = st.warning().expect("40 packets over the allowance warn");
        assert!(w.contains("ens5 peaked at 10 packets/s, 40 over the allowance (ENA)"), "{w}");
        assert!(!w.contains("ens6"), "{w}");
    }

    #[test]
    fn nothing_seen_and_no_ena_is_no_record() {
        assert_eq!(join(&LinkLocalRate::default(), &["eth0".into()], &[], &names, &|_| None), None);
        let mut rate = LinkLocalRate::default();
        rate.count(0, Timestamp(5));
        rate.count(9, Timestamp(6));
        let st = join(&rate, &["eth0".into()], &[], &names, &|_| None).expect("stats");
        let n: Vec<&str> = st.interfaces.iter().map(|i| i.interface.as_str()).collect();
        assert_eq!(n, ["eth0", "ifindex 9"], "the capture's own interface, an unknown index");
    }
}
