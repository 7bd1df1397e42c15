//! What the end-to-end tests that run the real binary on this host share: the repository
//! root, running a command, the effective uid, and whether network namespaces can be made.
//! Included with `#[path = "support/host.rs"] mod host;` (no other support code comes along).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sh(cmd: &mut Command) -> Output {
    cmd.output().expect("run a command")
}

/// The effective uid, from /proc (no unsafe code).
pub fn euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(u32::MAX)
}

/// Whether `ip netns add` works here (a probe namespace named after `tag`, removed at once).
pub fn netns_permitted(tag: &str) -> bool {
    let probe = format!("imw-probe-{tag}-{}", std::process::id());
    let ok = sh(Command::new("ip").args(["netns", "add", &probe])).status.success();
    let _ = sh(Command::new("ip").args(["netns", "del", &probe]));
    ok
}
