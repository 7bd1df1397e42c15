//! Issue 28 item 5, boot-time callers: the systemd unit starts imdswatch before cloud-init and
//! the node agents, and `Type=notify` makes them wait until its capture is open.
//!
//! - `systemd-analyze verify` loads `dist/imdswatch.service` beside Debian's real cloud-init
//!   units (downloaded by scripts/setup.sh) and finds no error and no ordering cycle; a unit
//!   that closes a cycle is refused by the same check (so the check can fail).
//! - In the namespace topology, a "boot-time client" started the moment imdswatch sends
//!   `READY=1` to `$NOTIFY_SOCKET` is captured: readiness means the capture is open.

#[path = "support/host.rs"]
mod host;
#[path = "support/live.rs"]
mod live;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use host::{root, sh};
use live::{Topology, cannot_run, requests, serial};
use serde_json::Value;

/// Debian's cloud-init unit files, extracted by scripts/setup.sh.
fn cloud_init_units() -> Option<PathBuf> {
    let dir = root().join("target/debs/cloud-init/lib/systemd/system");
    dir.join("cloud-init-local.service").exists().then_some(dir)
}

/// Copies the repository's unit with its ExecStart pointing at the built binary, and the given
/// cloud-init units, into `dir`; runs `systemd-analyze verify` on them.
fn verify(dir: &Path, units: &Path, extra: Option<(&str, &str)>) -> (bool, String) {
    let unit = std::fs::read_to_string(root().join("dist/imdswatch.service")).expect("unit");
    let unit = unit.replace("/usr/local/bin/imdswatch", env!("CARGO_BIN_EXE_imdswatch"));
    std::fs::write(dir.join("imdswatch.service"), unit).expect("write unit");
    let mut files = vec![dir.join("imdswatch.service")];
    for name in ["cloud-init-local.service", "cloud-init.service", "cloud-config.service", "cloud-final.service"] {
        let text = std::fs::read_to_string(units.join(name)).expect("cloud-init unit");
        // The units' programs are not installed here; `true` keeps verify about ordering.
        let text: String = text
            .lines()
            .map(|l| if l.starts_with("ExecStart=") { "ExecStart=/bin/true".to_owned() } else { l.to_owned() })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.join(name), text).expect("write");
        files.push(dir.join(name));
    }
    if let Some((name, text)) = extra {
        std::fs::write(dir.join(name), text).expect("write");
        files.push(dir.join(name));
    }
    let out = sh(Command::new("systemd-analyze").arg("verify").args(&files));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // verify warns about the host's own units too (this is a container): keep our units' lines.
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("imdswatch") || l.contains("cloud-") || l.contains("ordering cycle"))
        .collect();
    (out.status.success() && ours.is_empty(), ours.join("\n"))
}

#[test]
fn the_unit_starts_before_cloud_init_without_an_ordering_cycle() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED the_unit_starts_before_cloud_init_without_an_ordering_cycle: no systemd-analyze (run scripts/setup.sh)"
        );
        return;
    }
    let Some(units) = cloud_init_units() else {
        eprintln!(
            "SKIPPED the_unit_starts_before_cloud_init_without_an_ordering_cycle: Debian's cloud-init units not extracted (run scripts/setup.sh)"
        );
        return;
    };
    let unit = std::fs::read_to_string(root().join("dist/imdswatch.service")).expect("unit");
    for want in ["Type=notify", "DefaultDependencies=no", "Before=cloud-init-local.service"] {
        assert!(unit.lines().any(|l| l.starts_with(want)), "dist/imdswatch.service lacks {want}");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, lines) = verify(tmp.path(), &units, None);
    assert!(ok, "systemd-analyze verify: {lines}");

    // The same check refuses a unit that closes a cycle through imdswatch: cloud-init-local is
    // ordered after imdswatch, so imdswatch after a unit that follows cloud-init-local loops.
    let cyc = tempfile::tempdir().expect("tempdir");
    let looped = "[Unit]\nDescription=closes a cycle\nDefaultDependencies=no\nAfter=cloud-init-local.service\nBefore=imdswatch.service\n[Service]\nType=oneshot\nExecStart=/bin/true\n";
    let (ok, lines) = verify(cyc.path(), &units, Some(("loop.service", looped)));
    assert!(!ok && lines.contains("cycle"), "a cycle through imdswatch went unnoticed: {lines}");
}

#[test]
fn a_client_started_at_ready_is_captured() {
    let _serial = serial();
    if let Some(why) = cannot_run("boot") {
        eprintln!("SKIPPED a_client_started_at_ready_is_captured: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("boot");
    topo.start_mock(&tmp.path().join("mock-counts.json"), &[]);
    let sock_path = tmp.path().join("notify.sock");
    let notify = UnixDatagram::bind(&sock_path).expect("notify socket");
    notify.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let out = tmp.path().join("live.ndjson");
    let mut mon = topo
        .exec("host")
        .arg(env!("CARGO_BIN_EXE_imdswatch"))
        .args(["live", "--json", "--stats-interval", "0"])
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(std::fs::File::create(&out).expect("output"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start imdswatch");
    // As systemd does: the followers start when READY=1 arrives, not before.
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 within 30 s");
    assert!(String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "READY=1"), "notification: {:?}", &buf[..n]);
    let client = topo
        .exec("host")
        .args(["curl", "-s", "-m", "5", "-A", "boot-time-agent/1"])
        .arg("http://169.254.169.254/latest/meta-data/instance-id")
        .output()
        .expect("curl");
    assert!(client.status.success(), "curl: {}", String::from_utf8_lossy(&client.stderr));
    std::thread::sleep(Duration::from_millis(500));
    let _ = sh(Command::new("kill").args(["-TERM", &mon.id().to_string()]));
    let _ = mon.wait();
    topo.stop_mock();
    let text = std::fs::read_to_string(&out).expect("output");
    let recs: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let seen = requests(&recs).into_iter().any(|r| {
        r["imds"]["user_agent"] == "boot-time-agent/1"
            && r["imds"]["version"] == "v1"
            && r["imds"]["path"] == "/latest/meta-data/instance-id"
    });
    assert!(seen, "the request made at READY=1 was not captured: {recs:#?}");
}
