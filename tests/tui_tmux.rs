//! The dashboard end to end: the real binary in tmux on a bundled capture. It opens, a v1
//! row is selected and its details shown (with the hop-limit advice this capture calls for),
//! it quits, and the terminal is left sane (cooked mode, main screen).

use std::process::Command;

#[path = "support/tmux.rs"]
mod tmux;
use tmux::{Session, keys, wait_for};

#[test]
fn dashboard_in_tmux_select_details_quit() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED dashboard_in_tmux_select_details_quit: tmux is not installed");
        return;
    }
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/container-hop-limit.pcap");
    let script = format!(
        "{} analyze --tui {capture}; echo \"EXIT=$?\"; stty -a | tr '\\n' ' '; echo; sleep 60",
        env!("CARGO_BIN_EXE_imdswatch")
    );
    let s = Session(format!("imw-tui-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "100", "-y", "30", "sh", "-c", &script])
        .status()
        .expect("tmux");
    assert!(st.success());

    let screen = wait_for(&s, "all loaded");
    assert!(screen.contains("10.213.0.2"), "the container's row:\n{screen}");
    // Only v1 rows, select the first, open its details.
    keys(&s, &["v"]);
    wait_for(&s, "v1 only");
    keys(&s, &["Enter"]);
    let detail = wait_for(&s, "What to change");
    assert!(detail.contains("Raise the hop limit to 2"), "hop-limit advice:\n{detail}");
    assert!(!detail.contains("SECRET"), "no secret on screen");
    keys(&s, &["Escape"]);
    keys(&s, &["q"]);
    let after = wait_for(&s, "icanon");
    assert!(after.contains("EXIT=0"), "{after}");
    // Cooked mode again: canonical input and echo are on.
    assert!(after.contains(" icanon ") && after.contains(" echo "), "terminal left raw:\n{after}");
    // Back on the main screen: the dashboard's frame is gone.
    assert!(!after.contains("all loaded"), "alternate screen not left:\n{after}");
}
