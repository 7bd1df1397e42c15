//! The `--help` text of every command, as reviewed snapshots: a change to the command line's
//! text shows up in review (`cargo insta review`) instead of slipping through.

use std::process::Command;

/// `imdswatch ARGS... --help` at a fixed width (clap wraps to the terminal, or to $COLUMNS).
fn help(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .args(args)
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .expect("run imdswatch");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("help is UTF-8")
}

#[test]
fn help_top_level() {
    insta::assert_snapshot!(help(&[]));
}

#[test]
fn help_analyze() {
    insta::assert_snapshot!(help(&["analyze"]));
}

#[test]
fn help_live() {
    insta::assert_snapshot!(help(&["live"]));
}

#[test]
fn help_iac() {
    insta::assert_snapshot!(help(&["iac"]));
}
