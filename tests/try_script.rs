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

#[test]
fn try_script_shows_a_v1_client_and_its_advice_then_cleans_up() {
    let name = "try_script_shows_a_v1_client_and_its_advice_then_cleans_up";
    for tool in ["tmux", "curl", "python3", "ip"] {
        if Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| !o.status.success()) {
            eprintln!("SKIPPED {name}: {tool} is not installed");
            return;
        }
    }
    if host::euid() != 0 || !host::netns_permitted("try") {
        eprintln!("SKIPPED {name}: needs root and network namespaces (the script's namespace mode)");
        return;
    }
    let script = format!(
        "IMDSWATCH={} TRY_SETUP=0 TRY_EVERY=1 {}/scripts/try.sh; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_imdswatch"),
        env!("CARGO_MANIFEST_DIR")
    );
    let s = Session(format!("imw-try-{}", std::process::id()));
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
        assert!(t.elapsed() < Duration::from_secs(60), "no curl row with its verdict in 60 s:\n{p}");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("try.sh: curl's row and verdict on screen {:.1} s after the start", start.elapsed().as_secs_f64());
    assert!(screen.contains("live on any"), "{screen}");
    // botocore with IMDSv2 in the host namespace is ready; in the container one hop away,
    // its token answer dies at the hop limit (checked once both rounds were seen).
    let both = wait(&s, "hop_limit", Duration::from_secs(30));
    assert!(both.contains("ready"), "{both}");
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
    // The namespaces it built (named in its first lines) are gone, and with them the mock.
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
