//! The run loop on a real terminal. Needs a tty, so it is ignored by default; run it with
//! `script -qec "cargo test --test tui_run -- --ignored --test-threads 1" /dev/null`.

mod tui_fixtures;

use std::time::{Duration, Instant};

use imdswatch::signals::Signals;
use imdswatch::ui::{UiMode, run};
use tui_fixtures::*;

#[test]
#[ignore = "needs a terminal"]
fn sigterm_ends_the_dashboard_and_restores_the_terminal() {
    let (tx, rx) = crossbeam_channel::bounded(1024);
    let feeder = std::thread::spawn(move || {
        for i in 0..200 {
            let r = by(v1(i, CREDS, Some(OLD_BOTO)), 42, "/usr/bin/python3", "python3 job.py", None);
            if tx.send(ev(r)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(300));
        // The channel closes (capture ended) and the dashboard stays up until the signal.
        drop(tx);
        std::thread::sleep(Duration::from_millis(300));
        signal_hook::low_level::raise(signal_hook::consts::SIGTERM).expect("raise");
    });
    let signals = Signals::register().expect("signal handlers");
    let start = Instant::now();
    run(rx, UiMode::Live, "test".into(), &signals).expect("run");
    assert!(start.elapsed() >= Duration::from_millis(600));
    feeder.join().expect("feeder");
    // Raw mode is off again.
    assert!(!crossterm::terminal::is_raw_mode_enabled().expect("tty state"));
}
