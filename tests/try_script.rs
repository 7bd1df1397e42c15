//! Issue 27, item 1: the README's "Try it without EC2" command. `scripts/try.sh` (as root:
//! the namespace topology, a mock IMDS at 169.254.169.254 there, real clients every second)
//! in a tmux window shows the curl client as `breaks` within a minute, the filter and Enter
//! show its advice, and q leaves nothing behind (namespaces, mock, clients).

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/host.rs"]
mod host;
#[path = "support/tmux.rs"]
mod tmux;
use tmux::{Session, keys, pane};

fn wait(s: &Session, what: &str, limit: Duration) -> String {
    let t = Instant::now();
    loop {
        let p = pane(s);
        if p.contains(what) {
            return p;
        }
        assert!(t.elapsed() < limit, "never saw {what:?} in {limit:?}; screen:\n{p}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `scripts/try.sh ARGS` in tmux until curl's row shows its verdict and advice, quits,
/// and returns the terminal's last screen (the script's own lines, after the dashboard).
fn try_script(name: &str, args: &str, title: &str, also: &[&str]) -> Option<String> {
    for tool in ["tmux", "curl", "python3", "ip"] {
        if Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| !o.status.success()) {
            eprintln!("SKIPPED {name}: {tool} is not installed");
            return None;
        }
    }
    if host::euid() != 0 {
        eprintln!("SKIPPED {name}: needs root (capture)");
        return None;
    }
    if args.is_empty() && !host::netns_permitted("try") {
        eprintln!("SKIPPED {name}: network namespaces are not permitted here");
        return None;
    }
    let script = format!(
        "IMDSWATCH={} TRY_SETUP=0 TRY_EVERY=1 {}/scripts/try.sh {args}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_imdswatch"),
        env!("CARGO_MANIFEST_DIR")
    );
    let s = Session(format!("imw-try-{}-{}", std::process::id(), args.trim_start_matches('-')));
    let start = Instant::now();
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "120", "-y", "32", "sh", "-c", &script])
        .env_remove("TMUX")
        .status()
        .expect("tmux");
    assert!(st.success());

    // curl's row with its verdict (rows are processes: executable first).
    let t = Instant::now();
    let screen = loop {
        let p = pane(&s);
        if p.lines().any(|l| l.contains("curl ") && l.contains("breaks")) {
            break p;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{name}: no curl row with its verdict in 60 s:\n{p}");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("{name}: curl's row and verdict on screen {:.1} s after the start", start.elapsed().as_secs_f64());
    assert!(screen.contains(title), "{screen}");
    // botocore with IMDSv2 is ready; `also`: the other verdicts this mode shows.
    let ready = wait(&s, "ready", Duration::from_secs(30));
    assert!(ready.contains("botocore"), "{ready}");
    for word in also {
        wait(&s, word, Duration::from_secs(30));
    }
    keys(&s, &["/", "c", "u", "r", "l", "Enter"]);
    wait(&s, "filter: \"curl\"", Duration::from_secs(10));
    keys(&s, &["Enter"]);
    let detail = wait(&s, "What to change", Duration::from_secs(10));
    assert!(detail.contains("get a token") && detail.contains("X-aws-ec2-metadata-token"), "{detail}");
    assert!(!detail.contains("SECRET"), "no token value on screen:\n{detail}");
    keys(&s, &["Escape"]);
    keys(&s, &["q"]);
    let after = wait(&s, "EXIT=", Duration::from_secs(20));
    assert!(after.contains("EXIT=0"), "{after}");
    Some(after)
}

#[test]
fn try_script_shows_a_v1_client_and_its_advice_then_cleans_up() {
    let name = "try_script_shows_a_v1_client_and_its_advice_then_cleans_up";
    let Some(after) = try_script(name, "", "live on any", &["hop_limit"]) else { return };
    // The namespaces it built (named in its first lines) are gone, and with them the mock
    // and the clients.
    let prefix = after
        .split("namespace topology ")
        .nth(1)
        .and_then(|r| r.split('{').next())
        .unwrap_or_else(|| panic!("the script names its namespaces:\n{after}"))
        .to_string();
    assert!(prefix.starts_with("imw-try"), "{prefix}");
    let list = String::from_utf8_lossy(&host::sh(Command::new("ip").args(["netns", "list"])).stdout).into_owned();
    assert!(!list.contains(&prefix), "namespaces left behind: {list}");
}

/// `--loopback`: the mock on 127.0.0.1, watched with `--endpoint`; the mock is stopped on exit.
#[test]
fn try_script_loopback_mode_shows_a_v1_client_and_stops_its_mock() {
    let name = "try_script_loopback_mode_shows_a_v1_client_and_stops_its_mock";
    let Some(after) = try_script(name, "--loopback", "live on lo", &[]) else { return };
    let port = after
        .split("mock IMDS on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap_or_else(|| panic!("the script names its port:\n{after}"))
        .to_string();
    let listening = String::from_utf8_lossy(&host::sh(Command::new("ss").args(["-Hltn"])).stdout).into_owned();
    assert!(!listening.contains(&format!("127.0.0.1:{port} ")), "the mock still listens on {port}:\n{listening}");
}
