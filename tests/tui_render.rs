//! Dashboard rendering on ratatui's TestBackend, compared with committed insta snapshots.

mod tui_fixtures;

use imdswatch::event::{Outcome, RequestCounts};
use imdswatch::ui::{Action, App, UiMode, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use tui_fixtures::*;

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| render(app, f)).expect("draw");
    terminal
}

fn screen(app: &App, w: u16, h: u16) -> String {
    draw(app, w, h).backend().to_string()
}

fn one_offender() -> App {
    let mut app = App::new(UiMode::Live, "live");
    let cmd = "/usr/bin/python3.8 /opt/jobs/sync.py --all";
    app.on_event(ev(by(
        v1(0, "/latest/meta-data/iam/security-credentials/", Some(OLD_BOTO)),
        4242,
        "/usr/bin/python3.8",
        cmd,
        Some(CONTAINER),
    )));
    app.on_event(ev(by(v1(1, CREDS, Some(OLD_BOTO)), 4242, "/usr/bin/python3.8", cmd, Some(CONTAINER))));
    let counts = RequestCounts { v1: 2, credentials_v1: 2, ..RequestCounts::default() };
    app.on_event(stats(3, counts));
    app
}

/// The hop-limit case: a Go v2 SDK in a bridged container whose token answers never arrive.
fn hop_limit() -> App {
    let mut app = App::new(UiMode::Live, "live");
    let exe = "/usr/local/bin/metrics-exporter";
    let cmd = "/usr/local/bin/metrics-exporter --listen :9100";
    for i in 0..3 {
        let t = 20 * i;
        app.on_event(ev(by(token(t, Outcome::NoResponse, Some(GO_V2)), 31, exe, cmd, Some(CONTAINER))));
        app.on_event(ev(by(v1(t + 1, CREDS, Some(GO_V2)), 31, exe, cmd, Some(CONTAINER))));
    }
    app.on_event(ev(by(
        v2(50, "/latest/meta-data/instance-id", Some(GO_V2)),
        900,
        "/usr/bin/amazon-ssm-agent",
        "/usr/bin/amazon-ssm-agent",
        None,
    )));
    let counts = RequestCounts {
        v1: 3,
        v2: 1,
        token_request: 3,
        token_unanswered: 3,
        credentials_v1: 3,
        ..RequestCounts::default()
    };
    app.on_event(stats(55, counts));
    app
}

/// Several rows: a cron job with churning pids, curl, an agent that uses v2, an unattributed one.
fn busy() -> App {
    let mut app = hop_limit();
    for (i, pid) in [4242u32, 4300, 4377].into_iter().enumerate() {
        let t = 5 + 15 * i as u64;
        app.on_event(ev(by(
            v1(t, CREDS, Some(OLD_BOTO)),
            pid,
            "/usr/bin/python3.8",
            "/usr/bin/python3.8 /opt/jobs/sync.py --all",
            None,
        )));
    }
    let curl = "curl -s http://169.254.169.254/latest/meta-data/placement/availability-zone";
    app.on_event(ev(by(
        v1(52, "/latest/meta-data/placement/availability-zone", Some("curl/8.5.0")),
        7001,
        "/usr/bin/curl",
        curl,
        None,
    )));
    let mut remote = v1(53, "/latest/user-data", Some("python-requests/2.31.0"));
    remote.network.client = "10.0.3.44:53122".parse().expect("address");
    remote.live = Some(imdswatch::event::LiveFields {
        attribution: Some(imdswatch::event::AttributionMiss::Remote),
        ..Default::default()
    });
    app.on_event(ev(remote));
    app
}

fn offline() -> App {
    let mut app = App::new(UiMode::Offline, "capture.pcap");
    let mut rs = vec![
        v1(0, CREDS, Some(OLD_BOTO)),
        v1(2, "/latest/meta-data/instance-id", Some("curl/7.88.1")),
        token(3, Outcome::Ok, Some(GO_V2)),
        v2(3, CREDS, Some(GO_V2)),
    ];
    for (i, r) in rs.iter_mut().enumerate() {
        r.network.client = format!("10.0.1.{}:4000{i}", 10 + i / 2).parse().expect("address");
    }
    rs.into_iter().for_each(|r| app.on_event(ev(r)));
    app.set_ended();
    app
}

#[test]
fn empty_80x24() {
    insta::assert_snapshot!(screen(&App::new(UiMode::Live, "live"), 80, 24));
}

#[test]
fn one_v1_offender_80x24() {
    let app = one_offender();
    let t = draw(&app, 80, 24);
    insta::assert_snapshot!(t.backend().to_string());
    // The v1 count of the offender is drawn in red.
    let buf = t.backend().buffer();
    let red = (0..buf.area.width).any(|x| buf[(x, 6)].fg == Color::Red);
    assert!(red, "row 6 has a red cell");
}

#[test]
fn one_v1_offender_detail_80x24() {
    let mut app = one_offender();
    app.update(Action::OpenDetail);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn detail_hop_limit_80x24() {
    let mut app = hop_limit();
    app.update(Action::OpenDetail);
    let s = screen(&app, 80, 24);
    assert!(s.contains("http_put_response_hop_limit = 2"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn detail_hop_limit_160x48() {
    let mut app = hop_limit();
    app.update(Action::OpenDetail);
    insta::assert_snapshot!(screen(&app, 160, 48));
}

#[test]
fn busy_80x24() {
    insta::assert_snapshot!(screen(&busy(), 80, 24));
}

#[test]
fn busy_160x48() {
    insta::assert_snapshot!(screen(&busy(), 160, 48));
}

#[test]
fn no_v1_detail_shows_enforcement_80x24() {
    let mut app = App::new(UiMode::Live, "live");
    let agent = "/usr/bin/amazon-ssm-agent";
    app.on_event(ev(by(token(0, Outcome::Ok, Some(GO_V2)), 900, agent, agent, None)));
    app.on_event(ev(by(v2(0, CREDS, Some(GO_V2)), 900, agent, agent, None)));
    app.update(Action::OpenDetail);
    let s = screen(&app, 80, 24);
    assert!(s.contains("--http-tokens required --http-endpoint enabled"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn offline_80x24() {
    insta::assert_snapshot!(screen(&offline(), 80, 24));
}

#[test]
fn offline_160x48() {
    insta::assert_snapshot!(screen(&offline(), 160, 48));
}

#[test]
fn help_filter_and_pause_80x24() {
    let mut app = busy();
    app.update(Action::ToggleHelp);
    insta::assert_snapshot!("help_80x24", screen(&app, 80, 24));
    app.update(Action::Close);
    app.update(Action::TogglePause);
    app.update(Action::StartFilter);
    "curl".chars().for_each(|c| app.update(Action::FilterChar(c)));
    insta::assert_snapshot!("filter_paused_80x24", screen(&app, 80, 24));
}

#[test]
fn odd_sizes_and_hostile_strings_do_not_panic() {
    let mut app = busy();
    let mut r =
        by(v1(60, "/latest/\x1b[2J\u{202e}日本語/👨‍👩‍👧‍👦", Some("curl\r\n/1 日本語")), 1, "/tmp/\x1bx", "x\x00y", None);
    r.imds.method = "G\tET".into();
    app.on_event(ev(r));
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 12), (80, 24), (300, 100)] {
        let s = screen(&app, w, h);
        assert!(!s.contains('\x1b'));
        app.update(Action::OpenDetail);
        let _ = screen(&app, w, h);
        app.update(Action::Close);
        app.update(Action::ToggleHelp);
        let _ = screen(&app, w, h);
        app.update(Action::Close);
    }
}

#[test]
fn offline_detail_80x24() {
    let mut app = offline();
    app.update(Action::Down); // the old boto3 client
    app.update(Action::OpenDetail);
    let s = screen(&app, 80, 24);
    assert!(s.contains("IMDSv2 from 1.12.6"), "{s}");
    insta::assert_snapshot!(s);
}

/// Issue 13: a token request waiting for its answer shows on its row (narrow and wide) and in
/// the detail view; once settled, the row shows its verdict again.
#[test]
fn a_pending_token_request_is_shown_until_settled() {
    let mut app = App::new(UiMode::Live, "live");
    let (exe, cmd) = ("/usr/bin/python3", "/usr/bin/python3 sdk.py boto3");
    let put = by(token(10, Outcome::NoResponse, None), 77, exe, cmd, None);
    app.on_event(imdswatch::ui::UiEvent::TokenPending(Box::new(put.clone())));
    app.on_event(stats(11, RequestCounts::default()));
    let row_of = |s: &str| s.lines().find(|l| l.contains("python3 sdk")).unwrap_or_default().to_owned();
    assert!(row_of(&screen(&app, 160, 20)).contains("pending 1.0s"), "{}", screen(&app, 160, 20));
    assert!(row_of(&screen(&app, 80, 20)).contains("pend 1.0s"), "{}", screen(&app, 80, 20));
    app.update(Action::OpenDetail);
    let detail = screen(&app, 120, 30);
    assert!(detail.contains("waits for its answer (1.0 s)"), "{detail}");
    app.update(Action::Close);
    let mut done = put;
    done.imds.outcome = Outcome::Ok;
    done.imds.status = Some(200);
    app.on_event(ev(done));
    let row = row_of(&screen(&app, 160, 20));
    assert!(row.contains("ready") && !row.contains("pend"), "{row}");
}

/// Issue 27, item 9: `live on lo` is not followed by `· lo` (the interface once).
#[test]
fn live_title_names_the_interface_once() {
    let mut app = App::new(UiMode::Live, "live on ens5");
    app.on_event(stats(3, RequestCounts::default()));
    let top = screen(&app, 80, 24).lines().next().unwrap_or_default().to_string();
    assert!(top.contains("live on ens5 · up 8s"), "{top}");
    assert_eq!(top.matches("ens5").count(), 1, "{top}");
    // A title that does not name it (analyze, or a bare `live`) still gets the sources.
    let mut app = App::new(UiMode::Live, "live");
    app.on_event(stats(3, RequestCounts::default()));
    assert!(screen(&app, 80, 24).contains("live · ens5 · up 8s"));
}

/// Issue 27, item 1: an empty live dashboard says, after a few seconds, how to try imdswatch
/// (before, it waited forever with "none seen yet"); not before, and not once a row is seen.
#[test]
fn empty_live_dashboard_says_how_to_try_it() {
    let mut app = App::new(UiMode::Live, "live on any");
    let early = screen(&app, 100, 24); // no stats record yet: up 0 s
    assert!(early.contains("none seen yet") && !early.contains("scripts/try.sh"), "{early}");
    app.on_event(stats(0, RequestCounts { v1: 0, ..RequestCounts::default() }));
    let mut s = app.view().stats.clone().expect("stats");
    s.uptime_seconds = 4;
    app.on_event(imdswatch::ui::UiEvent::Stats(s)); // up 4 s: not yet
    let early = screen(&app, 100, 24);
    assert!(early.contains("none seen yet") && !early.contains("scripts/try.sh"), "{early}");
    app.on_event(stats(2, RequestCounts::default())); // up 7 s
    let later = screen(&app, 100, 24);
    assert!(later.contains("none seen in 7 s"), "{later}");
    assert!(later.contains("scripts/try.sh"), "{later}");
    assert!(later.contains("imdswatch live -i lo --endpoint 127.0.0.1:1338"), "{later}");
    app.on_event(ev(v1(3, CREDS, Some("curl/8.5.0"))));
    assert!(!screen(&app, 100, 24).contains("scripts/try.sh"), "the hint goes once a request is seen");
    let mut offline = App::new(UiMode::Offline, "capture.pcap");
    offline.on_event(stats(10, RequestCounts::default()));
    assert!(!screen(&offline, 100, 24).contains("scripts/try.sh"), "offline: no hint");
}

/// Issue 27, item 9: the `/` filter narrows "Latest requests" to the rows it shows.
#[test]
fn the_text_filter_narrows_the_latest_requests() {
    let mut app = busy();
    let all = screen(&app, 160, 48);
    let events =
        |s: &str| s.lines().skip_while(|l| !l.contains("Latest requests")).skip(1).collect::<Vec<_>>().join("\n");
    assert!(events(&all).contains("metrics-exporter"), "{all}");
    app.update(Action::StartFilter);
    "curl".chars().for_each(|c| app.update(Action::FilterChar(c)));
    app.update(Action::FilterAccept);
    let narrowed = events(&screen(&app, 160, 48));
    let lines: Vec<&str> = narrowed.lines().filter(|l| l.contains("GET") || l.contains("PUT")).collect();
    assert_eq!(lines.len(), 1, "only curl's request:\n{narrowed}");
    assert!(lines[0].contains("availability-zone") && lines[0].contains("curl"), "{narrowed}");
}

/// Issue 27, item 9: the V2 column counts IMDSv2 as the JSON verdict's `v2` does: another
/// cloud's hardened-form probe answered 404 (OCI `/opc/v2`) is a probe, not v2.
#[test]
fn the_v2_column_does_not_count_other_clouds_probes() {
    let mut app = App::new(UiMode::Offline, "capture.pcap");
    for i in 0..2 {
        let mut r =
            request(i, imdswatch::event::Version::V2, "/opc/v2/instance/", Outcome::ClientError, Some("cloud-probe/1"));
        r.imds.status = Some(404);
        r.imds.provider = imdswatch::event::Provider::Oracle;
        r.imds.service = imdswatch::event::Service::OciImds;
        app.on_event(ev(r));
    }
    app.set_ended();
    let s = screen(&app, 160, 24);
    let row = s.lines().find(|l| l.contains("cloud-probe/1")).unwrap_or_default();
    let cols: Vec<&str> = row.split_whitespace().collect();
    let i = cols.iter().position(|c| *c == "cloud-probe/1").expect("user agent cell");
    assert_eq!(&cols[i + 1..i + 3], ["0", "0"], "V1 and V2 of a probe-only client:\n{s}");
    assert!(row.contains("probe_only"), "{row}");
}
