//! The dashboard with workload names: rows keyed by namespace/pod/container, the container
//! column and the detail view naming pod and image, `/` matching namespace or image.

mod tui_fixtures;

use imdswatch::event::{Container, K8s, RequestRecord};
use imdswatch::ui::{Action, App, UiMode, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tui_fixtures::*;

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| render(app, f)).expect("draw");
    terminal.backend().to_string()
}

/// `r` from a java process in container `id` of pod `pod` in namespace `ns`.
fn in_pod(r: RequestRecord, pid: u32, id: &str, ns: &str, pod: &str) -> RequestRecord {
    let mut r = by(r, pid, "/usr/lib/jvm/bin/java", "java -jar /app/api.jar", None);
    if let Some(l) = r.live.as_mut() {
        l.container = Some(Container {
            name: Some("api".into()),
            image: Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing/api:v1.42.0".into()),
            ..Container::new(id, "containerd")
        });
        l.k8s = Some(K8s {
            namespace: Some(ns.into()),
            pod: Some(pod.into()),
            pod_uid: Some("0a1b2c3d-4e5f-6789-abcd-ef0123456789".into()),
            container: Some("api".into()),
        });
    }
    r
}

fn app() -> App {
    let mut app = App::new(UiMode::Live, "live");
    let a = "a".repeat(64);
    let b = "b".repeat(64);
    app.on_event(ev(in_pod(v1(0, CREDS, Some(OLD_BOTO)), 100, &a, "billing", "api-7d4b9c8f6d-x2x9q")));
    // The same pod's container restarted (new id): the same row.
    app.on_event(ev(in_pod(v1(1, CREDS, Some(OLD_BOTO)), 200, &b, "billing", "api-7d4b9c8f6d-x2x9q")));
    // Another replica: its own row.
    app.on_event(ev(in_pod(v2(2, CREDS, Some(GO_V2)), 300, &b, "billing", "api-7d4b9c8f6d-q8r7z")));
    // A plain docker container by id only, and a host process.
    app.on_event(ev(by(v1(3, CREDS, Some(OLD_BOTO)), 400, "/usr/bin/python3", "python3 /opt/s.py", Some(CONTAINER))));
    app.on_event(ev(by(v2(4, CREDS, Some(GO_V2)), 500, "/usr/bin/aws", "aws s3 ls", None)));
    app
}

#[test]
fn tui_rows_and_columns_name_the_pod() {
    let app = app();
    assert_eq!(app.visible_rows().len(), 4);
    let pod_row = app
        .visible_rows()
        .into_iter()
        .find(|r| r.workload.as_ref().and_then(|w| w.pod.as_deref()) == Some("api-7d4b9c8f6d-x2x9q"))
        .map(|r| (r.counts.v1, r.pid_count));
    assert_eq!(pod_row, Some((2, 2)), "both containers of the pod in one row");
    let wide = screen(&app, 160, 30);
    assert!(wide.contains("billing/api-7d4b9c8f6d-x2x9q/api"), "{wide}");
    assert!(wide.contains("billing/api-7d4b9c8f6d-q8r7z/api"), "{wide}");
    assert!(wide.contains(&CONTAINER[..12]), "unnamed containers keep their short id: {wide}");
    let narrow = screen(&app, 80, 24);
    assert!(narrow.contains("x2x9q/api"), "{narrow}");
}

#[test]
fn tui_filter_matches_namespace_and_image() {
    for needle in ["billing", "dkr.ecr", "Q8R7Z"] {
        let mut app = app();
        app.update(Action::StartFilter);
        for c in needle.chars() {
            app.update(Action::FilterChar(c));
        }
        let rows = app.visible_rows();
        assert!(!rows.is_empty() && rows.iter().all(|r| r.workload.is_some()), "{needle}: {}", rows.len());
    }
}

#[test]
fn tui_detail_shows_pod_name_and_image() {
    let mut app = app();
    // Select the v1 pod row (v1 rows sort first), open its detail.
    app.update(Action::StartFilter);
    for c in "x2x9q".chars() {
        app.update(Action::FilterChar(c));
    }
    app.update(Action::FilterAccept);
    app.update(Action::OpenDetail);
    let s = screen(&app, 120, 40);
    assert!(s.contains("billing/api-7d4b9c8f6d-x2x9q (uid 0a1b2c3d-4e5f-6789-abcd-ef0123456789)"), "{s}");
    assert!(s.contains("123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing/api:v1.42.0"), "{s}");
    assert!(s.contains("Image"), "{s}");
}
