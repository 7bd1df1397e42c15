//! Issue 23, class 8, the dashboard's face: `analyze --tui` on a capture cut mid-record says
//! the capture is incomplete and never gives the "safe to enforce" advice (the table and the
//! JSON verdict already did: `Clients::mark_incomplete`). Before, the dashboard read only the
//! records, so a cut capture whose readable part was IMDSv2 only showed "No client would break
//! this session: enforce IMDSv2" with the `--http-tokens required` command.
//!
//! The analysis is the one `analyze --tui` runs (`analyze::analyze_to_dashboard`), its events
//! applied to the dashboard's state and drawn on ratatui's TestBackend.

mod support;

use std::path::{Path, PathBuf};

use imdswatch::analyze::{AnalyzeConfig, Output, analyze_to_dashboard};
use imdswatch::engine::EngineConfig;
use imdswatch::exit::Exit;
use imdswatch::ui::{Action, App, UiMode, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::pcapfile::{DLT_EN10MB, pcap};
use support::*;

const ENFORCE: &str = "--http-tokens required";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

/// `analyze --tui FILE` as far as the terminal: the dashboard's state after every event, the
/// exit status and what was said on standard error.
fn dashboard(file: &Path) -> (App, Exit, String) {
    let cfg = AnalyzeConfig {
        files: vec![file.to_path_buf()],
        output: Output::Tui,
        fail_on_v1: false,
        quiet: false,
        progress: false,
        engine: EngineConfig::default(),
        findings: None,
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut err = Vec::new();
    let code = analyze_to_dashboard(&cfg, tx, &mut err).expect("analysis");
    let mut app = App::new(UiMode::Offline, "analyze");
    for ev in rx.try_iter() {
        app.on_event(ev);
    }
    app.set_ended();
    (app, code, String::from_utf8_lossy(&err).into_owned())
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| render(app, f)).expect("draw");
    terminal.backend().to_string()
}

/// One connection: IMDSv2, then IMDSv1, both answered. Returns the capture and where the v1
/// request starts in it.
fn v2_then_v1() -> (Vec<u8>, usize) {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V2);
    c.server(OK_10);
    c.client(GET_V1);
    c.server(OK_10);
    let mut frames: Vec<(u64, Vec<u8>)> = c.frames.iter().map(|f| (f.ts.0, f.data.clone())).collect();
    frames.sort_by_key(|(ts, _)| *ts);
    let bytes = pcap(DLT_EN10MB, &frames, false);
    let v1_at = bytes.windows(GET_V1.len()).position(|w| w == GET_V1).expect("v1 in file");
    (bytes, v1_at)
}

#[test]
fn tui_cut_capture_says_incomplete_and_never_safe() {
    let (bytes, v1_at) = v2_then_v1();
    let dir = tempfile::tempdir().expect("tempdir");

    // Cut inside the v1 request: what was read is IMDSv2 only.
    let cut = write(dir.path(), "cut.pcap", &bytes[..v1_at + 10]);
    let (mut app, code, err) = dashboard(&cut);
    assert_eq!(code, Exit::Error, "a cut capture is never a clean exit: {err}");
    assert!(err.contains("middle of a record"), "{err}");
    let host = app.view().rows.host();
    assert!(host.incomplete && !host.safe_to_enforce, "{host:?}");
    assert_eq!(app.visible_rows().len(), 1, "the v2 client read before the cut is shown");
    for (w, h) in [(80, 24), (160, 48)] {
        let s = screen(&app, w, h);
        assert!(s.contains("capture incomplete"), "{w}x{h}:\n{s}");
    }
    app.update(Action::OpenDetail);
    assert!(!app.advice().is_empty(), "the row has advice");
    let s = screen(&app, 160, 48);
    assert!(!s.contains(ENFORCE) && !s.contains("would break this session"), "never 'safe':\n{s}");
    assert!(s.contains("capture incomplete"), "{s}");

    // The same traffic up to the end of the v2 exchange, file not cut: safe, the dashboard
    // gives the enforcement advice and says nothing of an incomplete capture.
    let whole = write(dir.path(), "whole-v2.pcap", &bytes[..v1_at - 54 - 16]);
    let (mut app, code, err) = dashboard(&whole);
    assert_eq!(code, Exit::Ok, "{err}");
    assert!(app.view().rows.host().safe_to_enforce);
    app.update(Action::OpenDetail);
    let s = screen(&app, 160, 48);
    assert!(s.contains(ENFORCE), "{s}");
    assert!(!s.contains("capture incomplete"), "{s}");
}
