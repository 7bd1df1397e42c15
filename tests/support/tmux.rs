//! A tmux session for the dashboard tests: the real binary on a real terminal. Included with
//! `#[path = "support/tmux.rs"] mod tmux;`.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session, killed on drop.
pub struct Session(pub String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).output();
    }
}

/// The screen as text.
pub fn pane(s: &Session) -> String {
    let o = Command::new("tmux").args(["capture-pane", "-p", "-t", &s.0]).output().expect("capture-pane");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Types `k` (tmux key names).
pub fn keys(s: &Session, k: &[&str]) {
    let st = Command::new("tmux").args(["send-keys", "-t", &s.0]).args(k).status().expect("send-keys");
    assert!(st.success());
}

/// Waits (at most 15 s) until the screen shows `what`; returns the screen.
pub fn wait_for(s: &Session, what: &str) -> String {
    let t = Instant::now();
    loop {
        let p = pane(s);
        if p.contains(what) {
            return p;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "{}: never saw {what:?}; screen:\n{p}", s.0);
        std::thread::sleep(Duration::from_millis(100));
    }
}
