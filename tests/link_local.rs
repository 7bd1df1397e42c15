//! The link-local limit (issue 28, item 4): EC2 allows 1,024 packets per second per network
//! interface to its link-local services. `analyze` warns on its closing line when a second of
//! IMDS packets on one interface came within 10% of the limit (922 packets or more), naming
//! the interface and its busiest second. Runs the real binary on captures written here (live
//! mode's `stats` record: tests/link_local_live.rs).

mod support;

use std::path::{Path, PathBuf};

use support::cli::analyze;
use support::pcapfile::*;
use support::*;

const WARNING: &str = "WARNING: near EC2's link-local limit";
const GET_KEEPALIVE: &[u8] =
    b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: hot-loop/1\r\n\r\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

/// One keep-alive connection sending `n` IMDSv1 requests, one packet each, `gap_us` apart
/// (the server answers each; its packets do not count towards the limit).
fn hot_loop(client: &str, n: usize, gap_us: u64) -> Conv {
    let mut c = Conv::new(client, IMDS, 1000, 9000);
    c.handshake();
    for _ in 0..n {
        c.wait(gap_us.saturating_sub(200));
        c.client(GET_KEEPALIVE);
        c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    c.client_fin();
    c.server_fin();
    c
}

fn eth_pcap(frames: &[Frame]) -> Vec<u8> {
    let v: Vec<(u64, Vec<u8>)> = frames.iter().map(|f| (f.ts.0, f.data.clone())).collect();
    pcap(DLT_EN10MB, &v, false)
}

/// The frames as Linux cooked v2 (`tcpdump -i any`) captured on interface `ifindex`.
fn sll2(frames: &[Frame], ifindex: u32) -> Vec<(u64, Vec<u8>)> {
    frames
        .iter()
        .map(|f| {
            let ip = &f.data[14..];
            let mut v = Vec::with_capacity(20 + ip.len());
            v.extend(&f.data[12..14]); // protocol (EtherType)
            v.extend([0, 0]);
            v.extend(ifindex.to_be_bytes());
            v.extend([0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            v.extend(ip);
            (f.ts.0, v)
        })
        .collect()
}

/// The busiest second the closing line's warning gives for `iface`.
fn peak_in(line: &str, iface: &str) -> Option<u64> {
    let at = line.find(&format!("{iface} peaked at "))? + iface.len() + " peaked at ".len();
    line[at..].split(' ').next()?.parse().ok()
}

#[test]
fn a_burst_over_a_thousand_imds_packets_in_one_second_warns_and_names_the_interface() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 1,100 requests 300 µs apart: 0.33 s, every one a packet to the IMDS.
    let c = hot_loop(CLIENT, 1100, 300);
    let p = write(dir.path(), "burst.pcap", &eth_pcap(&c.frames));
    let o = analyze(&["--format", "json"], &p);
    assert!(o.success(), "{}", o.stderr);
    let line = o.summary_line();
    assert!(line.contains(WARNING), "{line}");
    assert!(line.contains("(1024 packets/s per interface)"), "{line}");
    // SYN, 1,100 requests and the FIN, on the capture's own interface (named after the file).
    assert_eq!(peak_in(line, &p.display().to_string()), Some(1102), "{line}");
    assert_eq!(o.json().len(), 1100, "every request is still reported");
}

#[test]
fn the_same_requests_spread_below_the_warning_say_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 1,100 requests 2 ms apart: 2.2 s, at most about 500 a second.
    let c = hot_loop(CLIENT, 1100, 2000);
    let p = write(dir.path(), "spread.pcap", &eth_pcap(&c.frames));
    let o = analyze(&["--format", "json"], &p);
    assert!(o.success(), "{}", o.stderr);
    assert!(!o.summary_line().contains("link-local"), "{}", o.summary_line());
    assert_eq!(o.json().len(), 1100);
    // The table's closing line too.
    let o = analyze(&["--format", "table"], &p);
    assert!(!o.stderr.contains(WARNING), "{}", o.stderr);
}

#[test]
fn just_under_the_warning_threshold_is_quiet_and_at_it_warns() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 921 and 922 packets inside one second (SYN, the requests, FIN: 0.92 s).
    for (n, warns) in [(919usize, false), (920, true)] {
        let c = hot_loop(CLIENT, n, 1000);
        let p = write(dir.path(), &format!("n{n}.pcap"), &eth_pcap(&c.frames));
        let o = analyze(&["--format", "table"], &p);
        assert_eq!(o.summary_line().contains(WARNING), warns, "{n}: {}", o.summary_line());
    }
}

#[test]
fn any_captures_count_each_interface_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    // ifindex 3 carries the hot loop; ifindex 2 a quiet client in the same second.
    let hot = hot_loop(CLIENT, 1000, 500);
    let quiet = hot_loop("10.0.0.9:41000", 50, 500);
    let mut frames = sll2(&hot.frames, 3);
    frames.extend(sll2(&quiet.frames, 2));
    frames.sort_by_key(|(ts, _)| *ts);
    let p = write(dir.path(), "any.pcap", &pcap(DLT_LINUX_SLL2, &frames, false));
    let o = analyze(&["--format", "json"], &p);
    assert!(o.success(), "{}", o.stderr);
    let line = o.summary_line();
    assert_eq!(peak_in(line, "ifindex 3"), Some(1002), "{line}");
    assert!(!line.contains("ifindex 2"), "the quiet interface is not in the warning: {line}");
    assert_eq!(o.json().len(), 1050);
}

#[test]
fn only_packets_to_ec2_link_local_services_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The same burst to the ECS agent's address (served on the instance itself).
    let mut c = Conv::new(CLIENT, "169.254.170.2:80", 1000, 9000);
    c.handshake();
    for _ in 0..1100 {
        c.client(b"GET /v2/metadata HTTP/1.1\r\nHost: 169.254.170.2\r\n\r\n");
    }
    let p = write(dir.path(), "ecs.pcap", &eth_pcap(&c.frames));
    let o = analyze(&["--format", "json"], &p);
    assert!(o.success(), "{}", o.stderr);
    assert!(!o.summary_line().contains("link-local"), "{}", o.summary_line());
    assert_eq!(o.json().len(), 1100);
}

fn link_stats(peak: u32, near: u64, exceeded: Option<u64>) -> imdswatch::event::StatsRecord {
    use imdswatch::event::{LinkLocalInterface, LinkLocalStats, StatsRecord};
    StatsRecord {
        sources: vec!["any".into()],
        link_local: Some(Box::new(LinkLocalStats {
            limit_pps: 1024,
            warn_pps: 922,
            interfaces: vec![LinkLocalInterface {
                interface: "ens5".into(),
                peak_pps: peak,
                peak_at: imdswatch::time::Timestamp(1_700_000_000_000_000),
                near_limit_seconds: near,
                allowance_exceeded: exceeded,
            }],
            untracked_packets: 0,
        })),
        ..StatsRecord::default()
    }
}

#[test]
fn the_metrics_carry_the_peak_the_seconds_near_the_limit_and_the_ena_counter() {
    let m = imdswatch::sink::metrics::Metrics::new();
    m.on_stats(&link_stats(300, 0, Some(0)));
    let text = m.exposition();
    assert!(text.contains("imdswatch_link_local_peak_pps{interface=\"ens5\"} 300"), "{text}");
    assert!(text.contains("imdswatch_link_local_warning 0"), "{text}");
    std::thread::sleep(imdswatch::sink::metrics::SNAPSHOT_TTL);
    m.on_stats(&link_stats(1001, 2, Some(17)));
    let text = m.exposition();
    assert!(text.contains("imdswatch_link_local_peak_pps{interface=\"ens5\"} 1001"), "{text}");
    assert!(text.contains("imdswatch_link_local_near_limit_seconds_total{interface=\"ens5\"} 2"), "{text}");
    assert!(text.contains("imdswatch_link_local_allowance_exceeded_total{interface=\"ens5\"} 17"), "{text}");
    assert!(text.contains("imdswatch_link_local_warning 1"), "{text}");
}

#[test]
fn the_dashboard_shows_the_warning_with_the_interface() {
    use imdswatch::ui::{App, UiEvent, UiMode, render};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let screen = |s| {
        let mut app = App::new(UiMode::Live, "live on any");
        app.on_event(UiEvent::Stats(s));
        let mut t = Terminal::new(TestBackend::new(140, 20)).expect("terminal");
        t.draw(|f| render(&app, f)).expect("draw");
        t.backend().to_string()
    };
    let hot = screen(link_stats(1001, 1, None));
    assert!(hot.contains("LINK-LOCAL LIMIT ens5 1,001 pkt/s"), "{hot}");
    let over = screen(link_stats(700, 0, Some(40)));
    assert!(over.contains("LINK-LOCAL LIMIT ens5 700 pkt/s, 40 over"), "the ENA counter alone warns: {over}");
    let calm = screen(link_stats(500, 0, Some(0)));
    assert!(!calm.contains("LINK-LOCAL"), "{calm}");
}
