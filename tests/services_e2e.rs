//! Issue 17 end to end: the other clouds' metadata services and AWS's container credential
//! agents, each mocked on its own address in the test namespaces (captures/mock_services.py),
//! fetched from by real SDK clients (botocore's container provider for ECS and Pod Identity,
//! alibabacloud-credentials, google-auth, azure-identity) and curl for the legacy and refused
//! forms (captures/clients/services_scenario.sh). Every request must give the record the
//! schema asks for: service, provider, version, method, path (the ECS id redacted), status,
//! outcome, credentials, breaks_when_enforced; offline on the bundled capture and live.
//!
//! The live test needs root and `ip netns`, and runs under the shared lock
//! (`flock /tmp/imdswatch-e2e.lock cargo test --test services_e2e`); it skips with a printed
//! reason otherwise. The metadata addresses exist only inside the namespaces it creates.

#[path = "support/host.rs"]
mod host;
#[path = "support/services.rs"]
mod services;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use host::{root, sh};
use services::{Topology, WANT, assert_no_secret, assert_records, cannot_run, mock_total, requests};

fn analyze(args: &[&str]) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .arg("analyze")
        .args(args)
        .arg(root().join("captures/services.pcap"))
        .output()
        .expect("run imdswatch analyze");
    let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
    assert!(o.status.success(), "analyze {args:?}: {err}");
    (out, err)
}

/// captures/services.expected (derived from the capture with tshark, independent of
/// imdswatch) lists the same requests as the schema table here.
#[test]
fn the_services_expected_file_agrees_with_the_schema_table() {
    let text = std::fs::read_to_string(root().join("captures/services.expected")).expect("services.expected");
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let table: Vec<String> = WANT
        .iter()
        .map(|w| format!("{} {} {} {}", w.version.unwrap_or("other"), w.method(), w.path, w.status))
        .collect();
    assert_eq!(lines, table);
}

/// The bundled capture (made by the same scenario), with the default endpoints.
#[test]
fn services_capture_gives_the_schema_records() {
    let (out, err) = analyze(&["--format", "json"]);
    assert_records("analyze services.pcap", &requests(&out));
    assert_no_secret("analyze --format json", &out);
    assert_no_secret("analyze stderr", &err);
}

/// `--service` keeps only the records of the services named, in every output.
#[test]
fn services_capture_filtered_by_service() {
    let (out, _) = analyze(&["--format", "json", "--service", "ecs_task_credentials,eks_pod_identity"]);
    let recs = requests(&out);
    let want = WANT.iter().filter(|w| ["ecs_task_credentials", "eks_pod_identity"].contains(&w.service)).count();
    assert_eq!(recs.len(), want, "{out}");
    assert!(recs.iter().all(|r| r["imds"]["provider"] == "aws"), "{out}");
    let (table, _) = analyze(&["--format", "table", "--service", "alibaba_imds"]);
    assert!(!table.contains("azure-ok/1") && !table.contains("oci-legacy/1"), "{table}");
    assert!(table.contains("aliyun-v1/1"), "{table}");
}

/// The same scenario live: `imdswatch live --json --attribution auto` in the host namespace.
#[test]
fn live_services_give_the_schema_records() {
    let name = "live_services_give_the_schema_records";
    if let Some(why) = cannot_run("svc") {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let topo = Topology::up("svc");
    // Two monitors on the default endpoints: one sees everything, one only the AWS container
    // credential services (`--service`, counted as filtered out in its stats).
    let mon = Monitor::start(&topo, tmp.path(), "live", &[]);
    let filtered =
        Monitor::start(&topo, tmp.path(), "filtered", &["--service", "ecs_task_credentials,eks_pod_identity"]);

    let scenario = topo.scenario(tmp.path());
    std::thread::sleep(Duration::from_millis(500));
    let (text, err) = mon.stop();
    let (ftext, ferr) = filtered.stop();
    let recs = requests(&text);
    // First what does not depend on the classification: every answered request seen, in order.
    assert_eq!(recs.len() as u64, mock_total(tmp.path()), "the mock answered what the monitor saw:\n{text}");
    let status = |r: &serde_json::Value| r["imds"]["status"].as_u64().unwrap_or(0);
    let got: Vec<(String, u64)> = recs.iter().map(|r| (r["imds"]["method"].to_string(), status(r))).collect();
    let want: Vec<(String, u64)> = WANT.iter().map(|w| (format!("\"{}\"", w.method()), u64::from(w.status))).collect();
    assert_eq!(got, want, "methods and statuses");
    assert_records("live", &recs);
    assert_no_secret("live NDJSON", &text);
    assert_no_secret("live stderr", &err);
    assert_no_secret("scenario output", &String::from_utf8_lossy(&scenario.stderr));

    // Who: the SDK clients are python processes that live long enough for /proc to name them.
    let sdk = |r: &&serde_json::Value| {
        let ua = r["imds"]["user_agent"].as_str().unwrap_or("");
        // alibabacloud-credentials, google-auth (requests), azure-identity, botocore's
        // container provider (urllib3, no user agent of its own).
        ["AlibabaCloud", "python-requests/", "azsdk-python-identity", "python-urllib3/"].iter().any(|m| ua.contains(m))
    };
    let sdk_recs: Vec<&serde_json::Value> = recs.iter().filter(sdk).collect();
    assert!(sdk_recs.len() >= 14, "SDK requests: {}", sdk_recs.len());
    let unnamed: Vec<String> = sdk_recs
        .iter()
        .filter(|r| !r["process"]["file"]["name"].as_str().is_some_and(|n| n.starts_with("python")))
        // The container's fetch is judged below.
        .filter(|r| !r["network"]["client"].as_str().is_some_and(|c| c.starts_with("10.213.0.2:")))
        .map(|r| r.to_string())
        .collect();
    assert!(unnamed.len() <= 1, "SDK requests not named python: {unnamed:#?}");
    // The ECS fetch from the container namespace (a task one routed hop away): its own
    // address, the ECS service, named as the python process it is.
    let ctr: Vec<&serde_json::Value> =
        recs.iter().filter(|r| r["network"]["client"].as_str().is_some_and(|c| c.starts_with("10.213.0.2:"))).collect();
    assert_eq!(ctr.len(), 1, "container requests: {ctr:#?}");
    assert_eq!(ctr[0]["imds"]["service"], "ecs_task_credentials", "{}", ctr[0]);
    assert_eq!(ctr[0]["imds"]["path"], "/v2/credentials/[REDACTED]", "{}", ctr[0]);
    // It exits right after its one request: the kernel path (`--attribution auto` where perf
    // events work) names it; procfs alone may find it gone ("exited"), a stated limit.
    let kernel = recs.iter().any(|r| r["attribution_source"] == "kernel");
    let named = ctr[0]["process"]["file"]["name"].as_str().is_some_and(|n| n.starts_with("python"));
    assert!(named || (!kernel && ctr[0]["attribution"] == "exited"), "{}", ctr[0]);
    // Every record has the server it went to, and the Pod Identity agent was reached over IPv6 too.
    assert!(recs.iter().any(|r| r["network"]["server"] == "[fd00:ec2::23]:80"), "no IPv6 Pod Identity record");
    let stats = last_stats(&text);
    assert_eq!(stats["kernel_drops"], 0, "{stats}");
    assert_eq!(stats["queue_losses"], 0, "{stats}");

    // The filtered monitor: only those services' records, the rest counted.
    let kept = ["ecs_task_credentials", "eks_pod_identity"];
    let frecs = requests(&ftext);
    let want = WANT.iter().filter(|w| kept.contains(&w.service)).count();
    assert_eq!(frecs.len(), want, "--service records:\n{ftext}");
    assert!(frecs.iter().all(|r| kept.iter().any(|k| r["imds"]["service"] == *k)), "{ftext}");
    let fstats = last_stats(&ftext);
    assert_eq!(fstats["requests"]["filtered_out"], (WANT.len() - want) as u64, "{fstats}");
    assert_no_secret("filtered live NDJSON", &ftext);
    assert_no_secret("filtered live stderr", &ferr);
}

fn last_stats(text: &str) -> serde_json::Value {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|r| r["type"] == "stats")
        .expect("a stats record")
}

/// `imdswatch live --json --attribution auto` in the host namespace, on the default endpoints.
struct Monitor {
    child: std::process::Child,
    out: std::path::PathBuf,
    err: std::thread::JoinHandle<Vec<String>>,
}

impl Monitor {
    fn start(topo: &Topology, dir: &std::path::Path, name: &str, extra: &[&str]) -> Monitor {
        let out = dir.join(format!("{name}.ndjson"));
        let mut child = topo
            .exec("host")
            .arg(env!("CARGO_BIN_EXE_imdswatch"))
            .args(["live", "--json", "--stats-interval", "1", "--attribution", "auto"])
            .args(extra)
            .stdout(std::fs::File::create(&out).expect("output file"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imdswatch");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.contains("capturing on"), "imdswatch ({name}) did not start: {first}");
        let err = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<String>>());
        Monitor { child, out, err }
    }

    /// SIGTERM, then its NDJSON and stderr (it must exit 0).
    fn stop(mut self) -> (String, String) {
        let _ = sh(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let status = self.child.wait().expect("wait imdswatch");
        let err = self.err.join().expect("stderr").join("\n");
        assert_eq!(status.code(), Some(0), "{err}");
        (std::fs::read_to_string(&self.out).expect("output"), err)
    }
}
