//! End-to-end, issue 13: the live verdicts in the namespace topology — a token answer lost at
//! the hop limit reported within 2 s, verdicts per process, a pod behind a DNAT proxy, and the
//! dashboard's pending state. Needs root and `ip netns`; skips with a printed reason otherwise.

#[path = "support/host.rs"]
mod host;
#[path = "support/live.rs"]
mod live;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use host::{root, sh};
use live::{Monitor, Topology, by_pid, cannot_run, requests, run_client, serial, summary_of};
use serde_json::Value;

/// Seconds since midnight UTC of an RFC 3339 `...THH:MM:SS.ffffffZ` timestamp.
fn secs_of_day(ts: &str) -> Option<f64> {
    let t = ts.split('T').nth(1)?.trim_end_matches('Z');
    let mut p = t.split(':');
    let h: f64 = p.next()?.parse().ok()?;
    let m: f64 = p.next()?.parse().ok()?;
    let s: f64 = p.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Issue 13: a container's token PUT lost to the hop limit is reported when the client gives
/// up (closes the connection, ~1 s after the request), not at the idle timeout: the record
/// must be in the output file within 2 s of that, before the client's IMDSv1 fallback is
/// judged. The delay is printed (`MEASURED`); the bound here is generous.
#[test]
fn live_hop_limit_token_loss_is_reported_within_2s_of_the_client_giving_up() {
    let _serial = serial();
    if let Some(why) = cannot_run("e2e") {
        eprintln!("SKIPPED live_hop_limit_token_loss_is_reported_within_2s_of_the_client_giving_up: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("e2e");
    let counts = tmp.path().join("mock-counts.json");
    topo.start_mock(&counts, &["--hop-limit", "1"]);
    let out = tmp.path().join("live.ndjson");
    let mut mon = Monitor::start(&topo, &out, &[]);
    let py = root().join("captures/.venv/bin/python");
    let boto = root().join("captures/clients/botocore_imds.py");
    let mut c = topo.exec("ctr");
    c.arg(&py).arg(&boto);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    // Watch the output file: when does the unanswered token request appear?
    let started = std::time::Instant::now();
    let mut seen_at: Option<f64> = None;
    let mut token_ts: Option<String> = None;
    while started.elapsed() < Duration::from_secs(20) && seen_at.is_none() {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(r) = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|r| r["imds"]["version"] == "token_request" && r["imds"]["outcome"] == "no_response")
        {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
            seen_at = Some((now.as_secs_f64()) % 86_400.0);
            token_ts = r["timestamp"].as_str().map(str::to_owned);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().expect("client");
    assert!(status.success(), "container botocore failed");
    let (recs, _) = mon.stop();
    topo.stop_mock();
    let (Some(seen), Some(sent)) = (seen_at, token_ts.as_deref().and_then(secs_of_day)) else {
        panic!("no unanswered token request in time: {recs:#?}");
    };
    let mut delay = seen - sent;
    if delay < -43_200.0 {
        delay += 86_400.0; // midnight between the two
    }
    // botocore gives up after its 1 s timeout; the record must follow within 2 s of that.
    eprintln!("MEASURED live no_response delay: {delay:.3} s after the token request (client timeout 1 s)");
    assert!(delay < 1.0 + 2.0, "token loss reported {delay:.3} s after the request");
    // And the fallback is judged hop_limit: the token record comes before the v1 requests.
    let order: Vec<String> = requests(&recs).iter().map(|r| summary_of(r)).collect();
    let tok = order.iter().position(|s| s.starts_with("token_request")).expect("token");
    let v1 = order.iter().position(|s| s.starts_with("v1")).expect("v1");
    assert!(tok < v1, "{order:#?}");
    // The stats records carry the host-level verdict.
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["verdict"]["clients_by_verdict"]["hop_limit"], 1, "{stats}");
    assert_eq!(stats["verdict"]["safe_to_enforce"], false, "{stats}");
}

/// `python3 captures/clients/sdk.py MODE` in namespace `which`; its pid, once it succeeded.
fn sdk_client(topo: &Topology, which: &str, mode: &str) -> u32 {
    let mut c = topo.exec(which);
    c.arg("python3").arg(root().join("captures/clients/sdk.py")).arg(mode);
    let (pid, out) = run_client(c);
    assert!(out.status.success(), "sdk.py {mode}: {}", String::from_utf8_lossy(&out.stderr));
    pid
}

/// The closing `verdict` record's client whose process group contains `needle`.
fn verdict_of_process<'a>(recs: &'a [Value], needle: &str) -> Option<&'a Value> {
    let v = recs.iter().rev().find(|r| r["type"] == "verdict")?;
    v["clients"].as_array()?.iter().find(|c| c["process"].as_str().is_some_and(|p| p.contains(needle)))
}

/// Issue 13: live verdicts are per process group (executable + script and arguments +
/// container, the dashboard's row), not per address + user agent: `sdk.py boto3` (IMDSv2) and
/// `sdk.py boto2` (IMDSv1), same address, same user agent, get their own verdicts.
#[test]
fn live_verdicts_are_per_process_not_per_address_and_user_agent() {
    let name = "live_verdicts_are_per_process_not_per_address_and_user_agent";
    let _serial = serial();
    if let Some(why) = cannot_run("vpp") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("vpp");
    topo.start_mock(&tmp.path().join("mock-counts.json"), &[]);
    let mut mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &[]);
    let v2_pid = sdk_client(&topo, "host", "boto3");
    let v1_pid = sdk_client(&topo, "host", "boto2");
    let (recs, code) = mon.stop();
    topo.stop_mock();
    assert_eq!(code, 0);
    assert_eq!(by_pid(&recs, v2_pid), ["token_request /latest/api/token 200", "v2 /latest/meta-data/instance-id 200"]);
    assert_eq!(by_pid(&recs, v1_pid), ["v1 /latest/meta-data/instance-id 200"]);
    let uas: Vec<&Value> = requests(&recs).iter().map(|r| &r["imds"]["user_agent"]).collect();
    assert!(uas.iter().all(|u| *u == "sdk-test/1.0"), "one user agent: {uas:?}");
    // Per address + user agent this would be one `falls_back` client.
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["verdict"]["clients_by_verdict"], serde_json::json!({"ready": 1, "breaks": 1}), "{stats}");
    assert_eq!(stats["verdict"]["would_break"], 1);
    let ready = verdict_of_process(&recs, "sdk.py boto3").expect("boto3's verdict");
    let breaks = verdict_of_process(&recs, "sdk.py boto2").expect("boto2's verdict");
    assert_eq!(ready["verdict"], "ready", "{ready}");
    assert_eq!(breaks["verdict"], "breaks", "{breaks}");
    assert_eq!(ready["client"], breaks["client"], "same address");
    assert_eq!(breaks["user_agent"], "sdk-test/1.0");
}

/// Issue 13, `proxy_refused` with a DNAT proxy as kube2iam runs it: the pod (ctr namespace)
/// talks to 169.254.169.254; a DNAT rule on the node (host namespace) sends that to a proxy
/// there, which forwards with `X-Forwarded-For`; IMDS refuses its token request (403) and the
/// pod's botocore falls back to IMDSv1 through the proxy. The capture holds both sides: the
/// pod's own requests on its veth (attributed to the pod's process, `forwarded: false`) and
/// the proxy's copies (`forwarded: true`, attributed to the proxy). Both are judged
/// `proxy_refused`: the pod because its token request was refused before it used IMDSv1, the
/// proxy because its relayed copies are the same story (and the only one a capture of the
/// IMDS side alone would hold); the fix for both is the proxy.
#[test]
fn live_pod_behind_a_dnat_proxy_is_proxy_refused() {
    let name = "live_pod_behind_a_dnat_proxy_is_proxy_refused";
    let _serial = serial();
    if let Some(why) = cannot_run("pxy") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    if sh(Command::new("nft").arg("--version")).status.code().is_none() {
        eprintln!("SKIPPED {name}: nft (nftables) is not installed: run scripts/setup.sh");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("pxy");
    // nft installed but a kernel without nf_tables: an environment limit, not a failure.
    let probe = sh(topo.exec("host").args(["nft", "list", "ruleset"]));
    if !probe.status.success() {
        eprintln!("SKIPPED {name}: nftables does not work here: {}", String::from_utf8_lossy(&probe.stderr).trim());
        return;
    }
    let dnat =
        sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["dnat-proxy", &topo.prefix, "8181"]));
    assert!(dnat.status.success(), "DNAT rule: {}", String::from_utf8_lossy(&dnat.stderr));
    topo.start_mock(&tmp.path().join("mock-counts.json"), &[]);
    let mut proxy = topo
        .exec("host")
        .arg("python3")
        .arg(root().join("captures/clients/xff_proxy.py"))
        .args(["8181", "10.213.0.1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the proxy");
    let t = Instant::now();
    while sh(topo.exec("host").args(["ss", "-Hltn", "sport = :8181"])).stdout.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "the proxy did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &[]);
    let py = root().join("captures/.venv/bin/python");
    let mut pod = topo.exec("ctr");
    pod.arg(&py).arg(root().join("captures/clients/botocore_imds.py"));
    let (pod_pid, out) = run_client(pod);
    let (recs, code) = mon.stop();
    let _ = proxy.kill();
    let _ = proxy.wait();
    topo.stop_mock();
    assert!(out.status.success(), "pod's botocore: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(code, 0);
    let creds = "/latest/meta-data/iam/security-credentials/";
    let want = [
        "token_request /latest/api/token 403".to_owned(),
        format!("v1 {creds} 200"),
        format!("v1 {creds}imdswatch-test-role 200"),
    ];
    assert_eq!(by_pid(&recs, pod_pid), want);
    let reqs = requests(&recs);
    let pod_side: Vec<&&Value> = reqs.iter().filter(|r| r["process"]["pid"] == pod_pid).collect();
    assert!(pod_side.iter().all(|r| r["imds"]["forwarded"] == false), "{pod_side:#?}");
    assert!(pod_side.iter().all(|r| r["network"]["client"].as_str().is_some_and(|c| c.starts_with("10.213.0.2:"))));
    let copies: Vec<&&Value> = reqs.iter().filter(|r| r["imds"]["forwarded"] == true).collect();
    let mut copy_lines: Vec<String> = copies.iter().map(|r| summary_of(r)).collect();
    copy_lines.sort();
    let mut sorted = want.to_vec();
    sorted.sort();
    assert_eq!(copy_lines, sorted, "the proxy's forwarded copies");
    for c in &copies {
        assert!(c["network"]["client"].as_str().is_some_and(|a| a.starts_with("10.213.1.1:")), "{c}");
        assert!(c["process"]["cmdline"].as_str().is_some_and(|l| l.contains("xff_proxy.py")), "{c}");
    }
    let pod_verdict = verdict_of_process(&recs, "botocore_imds.py").expect("the pod's verdict");
    assert_eq!(pod_verdict["verdict"], "proxy_refused", "{pod_verdict}");
    assert_eq!(pod_verdict["client"], "10.213.0.2");
    let proxy_verdict = verdict_of_process(&recs, "xff_proxy.py").expect("the proxy's verdict");
    assert_eq!(proxy_verdict["verdict"], "proxy_refused", "{proxy_verdict}");
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["verdict"]["clients_by_verdict"]["proxy_refused"], 2, "{stats}");
}

#[path = "support/tmux.rs"]
mod tmux;

/// Issue 13, part 5: the live dashboard shows a token request still waiting for its answer
/// as "pending" on its process's row, then the row's verdict once the answer came (the mock
/// answers token requests after 3 s here).
#[test]
fn live_dashboard_shows_a_pending_token_request_then_the_verdict() {
    let name = "live_dashboard_shows_a_pending_token_request_then_the_verdict";
    let _serial = serial();
    if let Some(why) = cannot_run("pnd") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED {name}: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("pnd");
    topo.start_mock(&tmp.path().join("mock-counts.json"), &["--token-delay-ms", "3000"]);
    let script =
        format!("ip netns exec {} {} live; echo EXIT=$?; sleep 60", topo.ns("host"), env!("CARGO_BIN_EXE_imdswatch"));
    let s = tmux::Session(format!("imw-pnd-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "160", "-y", "30", "sh", "-c", &script])
        .status()
        .expect("tmux");
    assert!(st.success());
    tmux::wait_for(&s, "Waiting for IMDS requests");
    let mut c = topo.exec("host");
    c.arg("python3").arg(root().join("captures/clients/sdk.py")).arg("boto3");
    let spawned = Instant::now();
    let client = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("sdk.py");
    // The client's row, once it shows `what`.
    let row_with = |what: &str| {
        let t = Instant::now();
        loop {
            let screen = tmux::pane(&s);
            if let Some(l) = screen.lines().find(|l| l.contains("sdk.py boto3") && l.contains(what)) {
                return l.to_owned();
            }
            assert!(t.elapsed() < Duration::from_secs(15), "never saw {what:?} on the row:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let pending = row_with("pending ");
    // An upper bound: from starting the client (interpreter start-up included) to the screen.
    eprintln!("MEASURED pending shown {:.3} s after the client started", spawned.elapsed().as_secs_f64());
    eprintln!("pending row: {}", pending.trim());
    let done = row_with("ready");
    assert!(!done.contains("pending"), "settled: {done}");
    let out = client.wait_with_output().expect("client");
    assert!(out.status.success());
    tmux::keys(&s, &["q"]);
    let after = tmux::wait_for(&s, "EXIT=");
    assert!(after.contains("EXIT=0"), "{after}");
    drop(topo);
}

/// The closing `verdict` record's clients whose user agent is `ua`: their verdicts.
fn verdicts_of_agent(recs: &[Value], ua: &str) -> Vec<String> {
    let Some(v) = recs.iter().rev().find(|r| r["type"] == "verdict") else { return Vec::new() };
    let clients = v["clients"].as_array().map(Vec::as_slice).unwrap_or_default();
    clients.iter().filter(|c| c["user_agent"] == ua).map(|c| c["verdict"].as_str().unwrap_or("?").to_owned()).collect()
}

/// Issue 22, the scenario as a new user tries it: from one shell, two `curl -A legacy-cron/1`
/// runs that only use IMDSv1, then a `curl -A good-app/2` pair that takes a token and uses
/// IMDSv2. Live, a client is executable + command line + user agent + container, so
/// legacy-cron is one client that `breaks` and good-app's are `ready` — in the closing
/// `verdict` record with `--stats-interval 1` and with `--stats-interval 0` (no stats, the
/// record still written), and as their own rows on the dashboard.
#[test]
fn live_legacy_cron_breaks_and_good_app_is_ready_in_the_record_and_on_the_dashboard() {
    let name = "live_legacy_cron_breaks_and_good_app_is_ready_in_the_record_and_on_the_dashboard";
    let _serial = serial();
    if let Some(why) = cannot_run("one") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED {name}: tmux is not installed");
        return;
    }
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED {name}: curl is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("one");
    topo.start_mock(&tmp.path().join("mock-counts.json"), &[]);
    let (with_stats, without) = (tmp.path().join("stats1.ndjson"), tmp.path().join("stats0.ndjson"));
    let mut mon1 = Monitor::start(&topo, &with_stats, &[]);
    let mut mon0 = Monitor::start_args(&topo, &without, &["live", "--json", "--stats-interval", "0"]);
    let script =
        format!("ip netns exec {} {} live; echo EXIT=$?; sleep 60", topo.ns("host"), env!("CARGO_BIN_EXE_imdswatch"));
    let s = tmux::Session(format!("imw-one-{}", std::process::id()));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", "220", "-y", "30", "sh", "-c", &script])
        .status()
        .expect("tmux");
    assert!(st.success());
    tmux::wait_for(&s, "Waiting for IMDS requests");
    let url = "http://169.254.169.254/latest/meta-data/instance-id";
    let shell = format!(
        "curl -sf -A legacy-cron/1 {url} >/dev/null && curl -sf -A legacy-cron/1 {url} >/dev/null && \
         T=$(curl -sf -A good-app/2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
         http://169.254.169.254/latest/api/token) && \
         curl -sf -A good-app/2 -H \"X-aws-ec2-metadata-token: $T\" {url} >/dev/null"
    );
    let out = sh(topo.exec("host").args(["sh", "-c", &shell]));
    assert!(out.status.success(), "the shell's curls: {}", String::from_utf8_lossy(&out.stderr));
    // The dashboard: legacy-cron's row says breaks, good-app's say ready.
    let row = |needle: &str, verdict: &str| {
        let t = Instant::now();
        loop {
            let screen = tmux::pane(&s);
            let rows: Vec<&str> = screen.lines().filter(|l| l.contains(needle)).collect();
            if !rows.is_empty() && rows.iter().all(|l| l.contains(verdict)) {
                return rows.len();
            }
            assert!(t.elapsed() < Duration::from_secs(15), "no {needle} row saying {verdict}:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The two runs are one client when both command lines were read; a run that exited
    // before /proc was read has none, which makes it a client of its own (also `breaks`).
    assert!(row("legacy-cron/1", "breaks") >= 1);
    assert!(row("good-app/2", "ready") >= 1);
    let screen = tmux::pane(&s);
    assert!(!screen.contains("falls_back"), "{screen}");
    tmux::keys(&s, &["q"]);
    let after = tmux::wait_for(&s, "EXIT=");
    assert!(after.contains("EXIT=0"), "{after}");
    let (recs1, code1) = mon1.stop();
    let (recs0, code0) = mon0.stop();
    topo.stop_mock();
    assert_eq!((code1, code0), (0, 0));
    for (recs, what) in [(&recs1, "--stats-interval 1"), (&recs0, "--stats-interval 0")] {
        let legacy = verdicts_of_agent(recs, "legacy-cron/1");
        assert!(!legacy.is_empty() && legacy.iter().all(|v| v == "breaks"), "{what}: {recs:#?}");
        let good = verdicts_of_agent(recs, "good-app/2");
        assert!(!good.is_empty() && good.iter().all(|v| v == "ready"), "{what}: {good:?}");
        let v = recs.iter().rev().find(|r| r["type"] == "verdict").expect("verdict record");
        assert_eq!(v["would_break"].as_u64(), Some(legacy.len() as u64), "{what}: {v}");
        assert_eq!(v["clients_by_verdict"].get("falls_back"), None, "{what}: {v}");
    }
    assert!(recs1.iter().any(|r| r["type"] == "stats"));
    assert!(!recs0.iter().any(|r| r["type"] == "stats"), "no stats with --stats-interval 0");
    drop(topo);
}
