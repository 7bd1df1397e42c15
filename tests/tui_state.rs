//! Dashboard state, without rendering: feed records, assert the model and the view state.

mod tui_fixtures;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use imdswatch::event::{Outcome, RequestCounts};
use imdswatch::ui::model::{ClientKey, MAX_CLIENTS, MAX_EVENTS};
use imdswatch::ui::{Action, App, Mode, SortKey, UiMode, keys};
use imdswatch::verdict::AdviceKind;
use imdswatch::verdict::MAX_USER_AGENTS;
use tui_fixtures::*;

fn labels(app: &App) -> Vec<String> {
    app.visible_rows().iter().map(|r| r.label.clone()).collect()
}

/// A host with a v2-only agent, a v1 cron job in a container and a v1 curl on the host.
fn busy() -> App {
    let mut app = App::new(UiMode::Live, "live on ens5");
    for i in 0..5 {
        app.on_event(ev(by(
            v2(i, "/latest/meta-data/instance-id", Some(GO_V2)),
            900,
            "/usr/bin/amazon-ssm-agent",
            "amazon-ssm-agent",
            None,
        )));
    }
    for (i, pid) in [4242u32, 4300, 4377].into_iter().enumerate() {
        let t = 10 + 60 * i as u64;
        app.on_event(ev(by(
            v1(t, CREDS, Some(OLD_BOTO)),
            pid,
            "/usr/bin/python3.8",
            "/usr/bin/python3.8 /opt/jobs/sync.py --all",
            Some(CONTAINER),
        )));
    }
    app.on_event(ev(by(
        v1(50, "/latest/meta-data/placement/region", Some("curl/8.5.0")),
        777,
        "/usr/bin/curl",
        "curl -s http://169.254.169.254/latest/meta-data/placement/region",
        None,
    )));
    app
}

#[test]
fn empty_state() {
    let app = App::new(UiMode::Live, "t");
    assert!(app.visible_rows().is_empty());
    assert_eq!(app.selected_row().map(|r| r.label.clone()), None);
    assert_eq!(app.view().totals(), RequestCounts::default());
    assert!(app.advice().is_empty());
}

#[test]
fn rows_group_churning_pids_and_put_v1_first() {
    let app = busy();
    assert_eq!(labels(&app), ["python3.8 sync.py --all", "curl", "amazon-ssm-agent"]);
    let rows = app.visible_rows();
    let cron = rows[0];
    assert_eq!(cron.counts.v1, 3);
    assert_eq!(cron.pid_count, 3);
    assert_eq!(cron.pids.iter().copied().collect::<Vec<_>>(), [4242, 4300, 4377]);
    assert_eq!(cron.container.as_ref().map(|c| c.0.as_str()), Some(CONTAINER));
    assert_eq!(cron.last_path, CREDS);
    assert_eq!(cron.counts.credentials_v1, 3);
    assert_eq!(rows[2].counts.v2, 5);
    let t = app.view().totals();
    assert_eq!((t.v1, t.v2, t.credentials_v1), (4, 5, 3));
}

#[test]
fn same_executable_in_another_container_is_another_row() {
    let mut app = busy();
    app.on_event(ev(by(
        v1(200, CREDS, Some(OLD_BOTO)),
        5000,
        "/usr/bin/python3.8",
        "/usr/bin/python3.8 /opt/jobs/sync.py",
        None,
    )));
    let rows = app.visible_rows();
    let sync: Vec<_> = rows.iter().filter(|r| r.label.starts_with("python3.8 sync.py")).collect();
    assert_eq!(sync.len(), 2);
}

#[test]
fn sort_cycles_and_keeps_offenders_first() {
    let mut app = busy();
    assert_eq!(app.sort, SortKey::V1);
    app.update(Action::CycleSort);
    assert_eq!(app.sort, SortKey::LastSeen);
    assert_eq!(labels(&app), ["python3.8 sync.py --all", "curl", "amazon-ssm-agent"]);
    app.update(Action::CycleSort);
    assert_eq!(app.sort, SortKey::Name);
    assert_eq!(labels(&app), ["curl", "python3.8 sync.py --all", "amazon-ssm-agent"]);
    app.update(Action::CycleSort);
    app.update(Action::CycleSort);
    assert_eq!(app.sort, SortKey::V1);
}

#[test]
fn filter_and_v1_only() {
    let mut app = busy();
    app.update(Action::StartFilter);
    assert_eq!(app.mode(), Mode::Filter);
    for c in "CURL".chars() {
        app.update(Action::FilterChar(c));
    }
    assert_eq!(labels(&app), ["curl"]);
    app.update(Action::FilterCancel);
    assert_eq!(app.filter, "");
    assert_eq!(labels(&app).len(), 3);

    // The filter matches container ids and user agents too.
    app.update(Action::StartFilter);
    "3f2a1b".chars().for_each(|c| app.update(Action::FilterChar(c)));
    app.update(Action::FilterAccept);
    assert_eq!(app.mode(), Mode::Normal);
    assert_eq!(labels(&app), ["python3.8 sync.py --all"]);
    app.update(Action::ClearFilter);

    app.update(Action::ToggleV1Only);
    assert_eq!(labels(&app), ["python3.8 sync.py --all", "curl"]);
}

#[test]
fn selection_moves_and_follows_the_row() {
    let mut app = busy();
    let sel = |a: &App| a.selected_row().map(|r| r.label.clone()).unwrap_or_default();
    assert_eq!(sel(&app), "python3.8 sync.py --all");
    app.update(Action::Down);
    assert_eq!(sel(&app), "curl");
    app.update(Action::Down);
    app.update(Action::Down);
    assert_eq!(sel(&app), "amazon-ssm-agent");
    app.update(Action::Up);
    assert_eq!(sel(&app), "curl");
    // curl overtakes the cron job in v1 count: the selection stays on curl.
    for i in 0..5 {
        app.on_event(ev(by(v1(300 + i, "/latest/meta-data/", Some("curl/8.5.0")), 778, "/usr/bin/curl", "curl", None)));
    }
    assert_eq!(labels(&app)[0], "curl");
    assert_eq!(sel(&app), "curl");
    app.update(Action::End);
    assert_eq!(sel(&app), "amazon-ssm-agent");
    app.update(Action::Home);
    assert_eq!(sel(&app), "curl");
}

#[test]
fn keys_map_to_actions_per_mode() {
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    assert_eq!(keys::action_for(Mode::Normal, key(KeyCode::Char('q'))), Some(Action::Quit));
    assert_eq!(keys::action_for(Mode::Normal, key(KeyCode::Char('j'))), Some(Action::Down));
    assert_eq!(keys::action_for(Mode::Normal, key(KeyCode::Enter)), Some(Action::OpenDetail));
    assert_eq!(keys::action_for(Mode::Detail, key(KeyCode::Esc)), Some(Action::Close));
    assert_eq!(keys::action_for(Mode::Filter, key(KeyCode::Char('q'))), Some(Action::FilterChar('q')));
    assert_eq!(keys::action_for(Mode::Filter, key(KeyCode::Enter)), Some(Action::FilterAccept));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    for mode in [Mode::Normal, Mode::Detail, Mode::Filter, Mode::Help] {
        assert_eq!(keys::action_for(mode, ctrl_c), Some(Action::Quit));
    }
    assert_eq!(keys::action_for(Mode::Help, key(KeyCode::Char('?'))), Some(Action::ToggleHelp));
}

#[test]
fn detail_and_help_modes() {
    let mut app = busy();
    app.update(Action::OpenDetail);
    assert_eq!(app.mode(), Mode::Detail);
    app.update(Action::Down); // scrolls, does not move the selection
    assert_eq!(app.detail_scroll, 1);
    assert_eq!(app.selected_row().map(|r| r.label.as_str()), Some("python3.8 sync.py --all"));
    app.update(Action::ToggleHelp);
    assert_eq!(app.mode(), Mode::Help);
    app.update(Action::Close);
    assert_eq!(app.mode(), Mode::Detail);
    app.update(Action::Close);
    assert_eq!(app.mode(), Mode::Normal);
    app.update(Action::Quit);
    assert!(app.should_quit());
}

#[test]
fn pause_freezes_the_view_but_keeps_counting() {
    let mut app = busy();
    app.update(Action::TogglePause);
    app.on_event(ev(by(v1(400, CREDS, None), 1, "/usr/bin/wget", "wget", None)));
    assert!(app.paused());
    assert_eq!(app.pending, 1);
    assert_eq!(app.visible_rows().len(), 3);
    assert_eq!(app.live().rows.len(), 4);
    app.update(Action::TogglePause);
    assert_eq!(app.visible_rows().len(), 4);
}

#[test]
fn hop_limit_advice_when_unanswered_token_then_v1() {
    let mut app = App::new(UiMode::Live, "t");
    let exe = "/usr/local/bin/exporter";
    app.on_event(ev(by(token(0, Outcome::NoResponse, Some(GO_V2)), 31, exe, "exporter", Some(CONTAINER))));
    app.on_event(ev(by(v1(1, CREDS, Some(GO_V2)), 31, exe, "exporter", Some(CONTAINER))));
    let row = app.selected_row().expect("a row");
    assert!(row.hop_limit_suspect());
    let kinds: Vec<AdviceKind> = app.advice().iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AdviceKind::HopLimit]);
    let text: String = app.advice().iter().flat_map(|a| a.lines.clone()).collect();
    assert!(text.contains("http_put_response_hop_limit = 2"));
}

#[test]
fn no_hop_limit_advice_when_v1_came_first_or_token_answered() {
    let mut app = App::new(UiMode::Live, "t");
    let exe = "/usr/local/bin/exporter";
    app.on_event(ev(by(v1(0, CREDS, Some(GO_V2)), 31, exe, "exporter", None)));
    app.on_event(ev(by(token(5, Outcome::NoResponse, Some(GO_V2)), 31, exe, "exporter", None)));
    let kinds: Vec<AdviceKind> = app.advice().iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AdviceKind::Fallback]);
}

#[test]
fn sdk_and_raw_http_advice() {
    let mut app = busy();
    let first = app.advice();
    assert_eq!(first[0].kind, AdviceKind::SdkUpgrade);
    assert!(first[0].title.contains("IMDSv2 from 1.12.6"), "{first:?}");
    app.update(Action::Down);
    let curl = app.advice();
    assert_eq!(curl[0].kind, AdviceKind::RawHttp);
    assert!(curl[0].lines.iter().any(|l| l.contains("PUT http://169.254.169.254/latest/api/token")));
    app.update(Action::Down);
    let agent = app.advice();
    assert_eq!(agent.iter().map(|a| a.kind).collect::<Vec<_>>(), [AdviceKind::NoV1]);
}

#[test]
fn enforcement_advice_only_when_the_session_saw_no_v1() {
    let mut app = App::new(UiMode::Live, "t");
    app.on_event(ev(by(token(0, Outcome::Ok, Some(GO_V2)), 9, "/bin/agent", "agent", None)));
    app.on_event(ev(by(v2(0, CREDS, Some(GO_V2)), 9, "/bin/agent", "agent", None)));
    let kinds: Vec<AdviceKind> = app.advice().iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AdviceKind::NoV1, AdviceKind::Enforce]);
    assert!(app.advice()[1].lines.concat().contains("--http-tokens required --http-endpoint enabled"));
    app.on_event(ev(by(v1(2, "/", None), 10, "/bin/other", "other", None)));
    assert!(app.advice().iter().all(|a| a.kind != AdviceKind::Enforce));
}

#[test]
fn offline_rows_are_client_ip_and_user_agent() {
    let mut app = App::new(UiMode::Offline, "capture.pcap");
    let mut a = v1(0, CREDS, Some(OLD_BOTO));
    a.network.client = "10.0.0.5:50000".parse().expect("address");
    let mut b = v1(1, CREDS, Some(OLD_BOTO));
    b.network.client = "10.0.0.5:50001".parse().expect("address");
    let mut c = v2(2, CREDS, Some(GO_V2));
    c.network.client = "10.0.0.5:50002".parse().expect("address");
    [a, b, c].into_iter().for_each(|r| app.on_event(ev(r)));
    let rows = app.visible_rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].key,
        ClientKey::Address { ip: "10.0.0.5".parse().expect("ip"), user_agent: Some(OLD_BOTO.into()) }
    );
    assert_eq!(rows[0].counts.v1, 2);
}

#[test]
fn stats_are_merged_into_the_totals() {
    let mut app = busy();
    let counts = RequestCounts { v1: 100, token_unanswered: 2, ..RequestCounts::default() };
    app.on_event(stats(500, counts));
    let t = app.view().totals();
    assert_eq!((t.v1, t.v2, t.token_unanswered), (100, 5, 2));
    assert_eq!(app.view().newest, at(500));
}

#[test]
fn tables_are_bounded() {
    let mut app = App::new(UiMode::Offline, "t");
    for i in 0..(MAX_CLIENTS as u64 + 10) {
        let mut r = v2(i, "/", None);
        r.network.client = format!("10.{}.{}.{}:1", i >> 16 & 255, i >> 8 & 255, i & 255).parse().expect("address");
        app.on_event(ev(r));
    }
    let m = app.view();
    // The clients past the bound are folded into one row, their requests counted.
    assert_eq!(m.rows.len(), MAX_CLIENTS + 1);
    assert_eq!(m.rows.requests_folded(), 10);
    let other = m.rows.get(&ClientKey::Other).expect("(other clients)");
    assert_eq!((other.label.as_str(), other.counts.v2), ("(other clients)", 10));
    assert_eq!(m.events.len(), MAX_EVENTS);
    // Nothing is evicted: the first client keeps its row.
    assert!(m.rows.values().any(|r| r.label == "10.0.0.0"));
    assert_eq!(m.rate_series(500).len(), 120);

    // A process with 20 user agents is 20 clients.
    let mut app = App::new(UiMode::Live, "t");
    for i in 0..20 {
        let ua = format!("agent-{i}");
        app.on_event(ev(by(v1(i, "/", Some(&ua)), 5, "/bin/x", "x", None)));
    }
    assert_eq!(app.visible_rows().len(), 20);
    assert!(app.visible_rows().iter().all(|r| r.summary.user_agents.len() == 1 && r.summary.user_agents_dropped == 0));
    // The folded row keeps at most MAX_USER_AGENTS of its agents, counting the others.
    let mut app = App::new(UiMode::Offline, "t");
    for i in 0..(MAX_CLIENTS as u64 + 20) {
        let mut r = v2(i, "/", Some(&format!("agent-{i}")));
        r.network.client = "10.9.9.9:1".parse().expect("address");
        app.on_event(ev(r));
    }
    let other = app.view().rows.get(&ClientKey::Other).expect("(other clients)");
    assert_eq!(other.summary.user_agents.len(), MAX_USER_AGENTS);
    assert_eq!(other.summary.user_agents_dropped, 20 - MAX_USER_AGENTS as u64);
}

#[test]
fn v1_rows_are_never_evicted() {
    let mut app = App::new(UiMode::Offline, "t");
    let mut r = v1(0, CREDS, None);
    r.network.client = "192.168.0.1:1".parse().expect("address");
    app.on_event(ev(r));
    for i in 0..(MAX_CLIENTS as u64 + 5) {
        let mut r = v2(1 + i, "/", None);
        r.network.client = format!("10.{}.{}.{}:1", i >> 16 & 255, i >> 8 & 255, i & 255).parse().expect("address");
        app.on_event(ev(r));
    }
    assert!(app.view().rows.values().any(|r| r.label == "192.168.0.1" && r.counts.v1 == 1));
}

#[test]
fn hostile_strings_are_sanitized() {
    let mut app = App::new(UiMode::Live, "t\x1b]0;x\x07");
    let mut r = by(v1(0, "/latest/\x1b[2J\u{202e}evil", Some("curl\r\n/1 日本語")), 1, "/tmp/\x1bx", "x\x00y", None);
    r.imds.method = "G\tET".into();
    app.on_event(ev(r));
    let row = app.selected_row().expect("row");
    assert!(!row.last_path.chars().any(char::is_control));
    assert!(!row.label.chars().any(char::is_control));
    assert!(row.summary.user_agents.iter().all(|(ua, _)| ua.contains('\r')), "kept as sent, escaped when shown");
    assert!(!row.cmdline.as_deref().unwrap_or("").chars().any(char::is_control));
    assert!(!app.title.chars().any(char::is_control));
    assert!(!app.view().events[0].method.chars().any(char::is_control));
}

#[test]
fn two_commands_of_one_script_are_two_rows_with_their_own_verdicts() {
    use imdswatch::verdict::Verdict;
    let mut app = App::new(UiMode::Live, "t");
    let boto3 = "/usr/bin/python3 sdk.py boto3";
    let boto2 = "/usr/bin/python3 sdk.py boto2";
    app.on_event(ev(by(token(10, Outcome::Ok, None), 10, "/usr/bin/python3", boto3, None)));
    app.on_event(ev(by(v2(11, CREDS, None), 10, "/usr/bin/python3", boto3, None)));
    app.on_event(ev(by(v1(12, CREDS, Some("Boto/2.49.0 Python/3.11")), 11, "/usr/bin/python3", boto2, None)));
    let rows = app.visible_rows();
    let verdict_of = |label: &str| rows.iter().find(|r| r.label == label).map(|r| r.verdict());
    assert_eq!(verdict_of("python3 sdk.py boto3"), Some(Verdict::Ready));
    assert_eq!(verdict_of("python3 sdk.py boto2"), Some(Verdict::Breaks));
}

/// Issue 17: `c` cycles a service filter over the services the rows spoke to, shown in the
/// table's title; a row of another service names it before its path.
#[test]
fn service_filter_cycles_through_the_services_seen() {
    use imdswatch::event::{Provider, Service};
    let mut app = App::new(UiMode::Offline, "t");
    app.on_event(ev(v1(1, "/latest/meta-data/", Some("curl/8.5.0"))));
    let mut oci = v1(2, "/opc/v1/instance/", Some("oci-legacy/1"));
    (oci.imds.service, oci.imds.provider) = (Service::OciImds, Provider::Oracle);
    app.on_event(ev(oci));
    let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
    assert_eq!(keys::action_for(Mode::Normal, c), Some(Action::CycleService));
    assert_eq!(app.visible_rows().len(), 2);
    let uas = |app: &App| -> Vec<String> {
        app.visible_rows().iter().flat_map(|r| r.summary.user_agents.iter().map(|(u, _)| u.clone())).collect()
    };
    app.update(Action::CycleService);
    assert_eq!((app.service, uas(&app)), (Some(Service::Ec2Imds), vec!["curl/8.5.0".to_string()]));
    app.update(Action::CycleService);
    assert_eq!((app.service, uas(&app)), (Some(Service::OciImds), vec!["oci-legacy/1".to_string()]));
    app.update(Action::CycleService);
    assert_eq!((app.service, app.visible_rows().len()), (None, 2));
    // The text filter finds a row by its service too.
    app.update(Action::StartFilter);
    for c in "oci_imds".chars() {
        app.update(Action::FilterChar(c));
    }
    app.update(Action::FilterAccept);
    assert_eq!(uas(&app), ["oci-legacy/1"]);
}

/// Issue 13: a token request waiting for its answer shows its row as pending (a process
/// seen first through it gets its row at once); the finished record settles it.
#[test]
fn a_pending_token_request_shows_until_its_record_settles_it() {
    use imdswatch::verdict::Verdict;
    let mut app = App::new(UiMode::Live, "t");
    let (exe, cmd) = ("/usr/bin/python3", "/usr/bin/python3 sdk.py boto3");
    let pending = by(token(10, Outcome::NoResponse, Some(OLD_BOTO)), 10, exe, cmd, None);
    app.on_event(imdswatch::ui::UiEvent::TokenPending(Box::new(pending.clone())));
    let row = app.selected_row().expect("a row from the pending request alone");
    assert_eq!(row.label, "python3 sdk.py boto3");
    assert_eq!(row.pending_since, Some(at(10)));
    assert_eq!(row.requests(), 0, "a pending request is not counted");
    assert_eq!(app.view().totals(), RequestCounts::default());
    // Another client's record at the same time settles nothing.
    let mut other = token(10, Outcome::Ok, None);
    other.network.client = "10.0.0.9:1".parse().expect("address");
    app.on_event(ev(by(other, 11, "/usr/bin/curl", "curl", None)));
    app.on_event(stats(11, RequestCounts::default()));
    let row = app.visible_rows().into_iter().find(|r| r.label.starts_with("python3")).expect("row");
    assert_eq!(row.pending_since, Some(at(10)), "still pending one second later");
    // The answer: the same request, finished.
    let mut done = pending;
    done.imds.outcome = Outcome::Ok;
    done.imds.status = Some(200);
    app.on_event(ev(done));
    let row = app.visible_rows().into_iter().find(|r| r.label.starts_with("python3")).expect("row");
    assert_eq!(row.pending_since, None);
    assert_eq!(row.verdict(), Verdict::Ready);
    assert!(app.view().pending.is_empty());
}

/// The dashboard is never stuck in pending: a settlement that never arrives (a lost UI
/// message) is forgotten after the age bound; a full table evicts nothing.
#[test]
fn a_pending_token_request_without_settlement_is_forgotten() {
    use imdswatch::ui::pending::MAX_AGE_US;
    let mut app = App::new(UiMode::Live, "t");
    let pending = by(token(10, Outcome::NoResponse, None), 10, "/usr/bin/python3", "python3 a.py", None);
    app.on_event(imdswatch::ui::UiEvent::TokenPending(Box::new(pending)));
    app.on_event(stats(10 + MAX_AGE_US / 1_000_000 - 1, RequestCounts::default()));
    assert!(app.selected_row().is_some_and(|r| r.pending_since.is_some()));
    app.on_event(stats(10 + MAX_AGE_US / 1_000_000, RequestCounts::default()));
    assert!(app.selected_row().is_none(), "a row with nothing but the forgotten request goes away");
    assert!(app.view().pending.is_empty());
    assert_eq!(app.view().pending.dropped, 1);
    // A row that has requests keeps them, without the pending state.
    let exe = "/usr/bin/python3";
    app.on_event(ev(by(v1(100, CREDS, None), 10, exe, "python3 a.py", None)));
    let later = by(token(101, Outcome::NoResponse, None), 10, exe, "python3 a.py", None);
    app.on_event(imdswatch::ui::UiEvent::TokenPending(Box::new(later)));
    assert!(app.selected_row().is_some_and(|r| r.pending_since == Some(at(101))));
    app.on_event(stats(101 + MAX_AGE_US / 1_000_000, RequestCounts::default()));
    assert!(app.selected_row().is_some_and(|r| r.pending_since.is_none() && r.counts.v1 == 1));

    let mut app = App::new(UiMode::Offline, "t");
    let mut first = token(0, Outcome::NoResponse, None);
    first.network.client = "192.168.9.9:1".parse().expect("address");
    app.on_event(imdswatch::ui::UiEvent::TokenPending(Box::new(first)));
    for i in 0..MAX_CLIENTS as u64 {
        let mut r = v2(1 + i, "/", None);
        r.network.client = format!("10.{}.{}.{}:1", i >> 16 & 255, i >> 8 & 255, i & 255).parse().expect("address");
        app.on_event(ev(r));
    }
    // Nothing is evicted: the pending row stays, the last client was folded.
    assert!(app.view().rows.values().any(|r| r.label == "192.168.9.9" && r.pending_since == Some(at(0))));
    assert_eq!(app.view().rows.requests_folded(), 1);
    assert_eq!(app.view().pending.len(), 1);
}
