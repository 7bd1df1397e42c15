//! Issue 28, item 4, live: a client in the container namespace sends more than a thousand
//! IMDSv1 requests within a second (one keep-alive connection, request after answer) to the mock
//! IMDS; `imdswatch live` on `any` (Linux cooked v2: each frame names its interface) reports
//! the peak per interface in its `stats` record, names the interfaces the burst crossed, and
//! warns on its closing line. A quiet client afterwards in a second run: no warning. Network
//! namespaces; needs root (SKIPPED otherwise).

#[path = "support/host.rs"]
mod host;
#[path = "support/live.rs"]
mod live;

use std::process::Command;
use std::time::Duration;

use host::sh;
use live::{Monitor, Topology, cannot_run, run_client, serial};
use serde_json::Value;

/// `n` IMDSv1 requests on one keep-alive connection, each sent once the previous answer came
/// (an SDK in a hot loop; one packet each with Nagle off), as fast as the mock answers.
const BURST: &str = r#"
import socket, sys, time
n = int(sys.argv[1])
s = socket.create_connection(("169.254.169.254", 80))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.settimeout(2.0)
req = b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: hot-loop/1\r\n\r\n"
t = time.monotonic()
answers = 0
buf = b""
for _ in range(n):
    s.sendall(req)
    while True:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(rest) >= length:
                buf = rest[length:]
                answers += 1
                break
        d = s.recv(65536)
        if not d:
            raise SystemExit("closed")
        buf += d
took = time.monotonic() - t
s.close()
print(f"{n} requests in {took:.3f} s, {answers} answers")
"#;

fn burst(topo: &Topology, n: usize) -> String {
    let mut c = topo.exec("ctr");
    c.args(["python3", "-c", BURST, &n.to_string()]);
    let (_, out) = run_client(c);
    assert!(out.status.success(), "burst: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `imdswatch live` on `any` until `client` is done; its records and closing line.
fn monitor(topo: &Topology, dir: &std::path::Path, name: &str, client: impl FnOnce()) -> (Vec<Value>, String) {
    let out = dir.join(format!("{name}.ndjson"));
    let out_arg = out.display().to_string();
    let (mut mon, lines) =
        Monitor::spawn(topo, &["live", "--json", "--stats-interval", "1", "--output", &out_arg], &out);
    client();
    std::thread::sleep(Duration::from_millis(1500)); // a stats record after the burst
    let _ = sh(Command::new("kill").args(["-TERM", &mon.child.id().to_string()]));
    let code = mon.child.wait().expect("wait").code();
    let err: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(code, Some(0), "{err:?}");
    let closing = err.iter().find(|l| l.contains("stopped after")).cloned().unwrap_or_default();
    let text = std::fs::read_to_string(&out).expect("output");
    (text.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect(), closing)
}

fn peak(recs: &[Value], iface: &str) -> u64 {
    let last = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    let ifs = last["link_local"]["interfaces"].as_array().cloned().unwrap_or_default();
    ifs.iter().find(|i| i["interface"] == iface).and_then(|i| i["peak_pps"].as_u64()).unwrap_or(0)
}

#[test]
fn a_burst_of_imds_packets_is_reported_per_interface_and_warned() {
    let test = "a_burst_of_imds_packets_is_reported_per_interface_and_warned";
    let _serial = serial();
    if let Some(why) = cannot_run("llr") {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("llr");
    topo.start_mock(&tmp.path().join("counts.json"), &[]);

    let mut said = String::new();
    let (recs, closing) = monitor(&topo, tmp.path(), "burst", || said = burst(&topo, 1500));
    eprintln!("client: {said}; closing line: {closing}");
    // The burst leaves the container on ctr0, enters the host on h-ctr and leaves on h-imds:
    // imdswatch in the host sees it on both of its interfaces, each counted apart.
    let (h_ctr, h_imds) = (peak(&recs, "h-ctr"), peak(&recs, "h-imds"));
    eprintln!("peak packets/s: h-ctr {h_ctr}, h-imds {h_imds}");
    assert!(h_imds > 1000 && h_ctr > 1000, "h-ctr {h_ctr}, h-imds {h_imds}; client: {said}");
    assert!(closing.contains("WARNING: near EC2's link-local limit"), "{closing}");
    assert!(closing.contains("h-imds peaked at") && closing.contains("h-ctr peaked at"), "{closing}");
    let served = recs.iter().filter(|r| r["type"] == "request" && r["imds"]["version"] == "v1").count();
    assert!(served >= 1000, "the requests themselves are reported: {served}");

    // A handful of requests: the peak is reported, no warning.
    let (recs, closing) = monitor(&topo, tmp.path(), "quiet", || {
        said = burst(&topo, 20);
    });
    let quiet = peak(&recs, "h-imds");
    assert!((20..=30).contains(&quiet), "peak {quiet}; client: {said}");
    assert!(!closing.contains("link-local"), "{closing}");
}
