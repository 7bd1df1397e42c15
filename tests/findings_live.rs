//! Issue 28, live: `imdswatch live --format asff` writes a breaking client's finding into the
//! NDJSON stream and writes it again with the same Id and a later UpdatedAt when its IMDSv1
//! count grows (updated, not duplicated); `--format ocsf` writes an HTTP Activity per request
//! and a Detection Finding. Both validated offline (tests/fixtures/validate_findings.py), with
//! the credential identity shown and no secret. Network namespaces with the mock IMDS; needs
//! root (SKIPPED otherwise).

#[path = "support/host.rs"]
mod host;
#[path = "support/live.rs"]
mod live;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use live::{Monitor, Topology, cannot_run, run_client, serial};
use serde_json::Value;

const CREDS: &str = "/latest/meta-data/iam/security-credentials/imdswatch-test-role";

fn curl(topo: &Topology, path: &str) {
    let mut c = topo.exec("host");
    c.args(["curl", "-s", "-o", "/dev/null", &format!("http://169.254.169.254{path}")]);
    let (_, out) = run_client(c);
    assert!(out.status.success(), "curl {path}");
}

fn validate(mode: &str, text: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out.ndjson");
    std::fs::write(&file, text).expect("write");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(root.join("captures/.venv/bin/python"))
        .arg(root.join("tests/fixtures/validate_findings.py"))
        .arg(mode)
        .arg(&file)
        .output()
        .expect("validator");
    assert!(o.status.success(), "{mode}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}

fn no_secret(what: &str, text: &str) {
    for m in ["SECRET-TOKEN-", "SECRET-ACCESS-KEY-", "SECRET-SESSION-TOKEN-"] {
        assert!(!text.contains(m), "{what} shows {m}");
    }
}

#[test]
fn live_asff_and_ocsf_findings_are_updated_not_duplicated() {
    let test = "live_asff_and_ocsf_findings_are_updated_not_duplicated";
    let _serial = serial();
    if let Some(why) = cannot_run("fnd") {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("fnd");
    topo.start_mock(&tmp.path().join("counts.json"), &[]);

    let asff_out = tmp.path().join("asff.ndjson");
    let asff = ["--format", "asff", "--aws-region", "eu-west-1", "--aws-account", "111122223333"];
    let mut mon = Monitor::start(&topo, &asff_out, &asff);
    curl(&topo, CREDS);
    std::thread::sleep(Duration::from_millis(2500)); // a stats tick: the first finding
    // The same command again: the same client (executable + command line: verdict::ClientKey).
    curl(&topo, CREDS);
    std::thread::sleep(Duration::from_millis(2500)); // the next: the update
    let (lines, code) = mon.stop();
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&asff_out).expect("output");
    no_secret("live asff", &text);
    validate("asff", &text);
    let curl_findings: Vec<&Value> = lines
        .iter()
        .filter(|f| f["ProductFields"]["imdswatch/process"].as_str().is_some_and(|g| g.contains("curl")))
        .collect();
    assert!(curl_findings.len() >= 2, "a finding and its update:\n{text}");
    assert!(curl_findings.iter().all(|f| f["Id"] == curl_findings[0]["Id"]), "one Id:\n{text}");
    let served: Vec<&str> =
        curl_findings.iter().filter_map(|f| f["ProductFields"]["imdswatch/imdsv1_served"].as_str()).collect();
    assert_eq!(&served[..2], ["1", "2"], "written again when the count grows, not before:\n{text}");
    assert!(curl_findings[1]["UpdatedAt"].as_str() > curl_findings[0]["UpdatedAt"].as_str(), "UpdatedAt moves");
    assert_eq!(curl_findings[0]["Severity"]["Label"], "HIGH", "credentials over IMDSv1");
    let key = curl_findings[0]["Resources"].as_array().and_then(|r| r.iter().find(|r| r["Type"] == "AwsIamAccessKey"));
    assert_eq!(key.map(|k| &k["Id"]), Some(&Value::from("ASIAFAKEIMDSWATCH000")), "{text}");
    assert_eq!(curl_findings[0]["Process"]["Name"], "curl");
    assert!(lines.iter().all(|l| l["type"].is_null()), "only findings in the stream (no request/stats records)");

    let ocsf_out = tmp.path().join("ocsf.ndjson");
    let mut mon = Monitor::start(&topo, &ocsf_out, &["--format", "ocsf"]);
    curl(&topo, CREDS);
    std::thread::sleep(Duration::from_millis(1500));
    let (events, code) = mon.stop();
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&ocsf_out).expect("output");
    no_secret("live ocsf", &text);
    validate("ocsf", &text);
    let http = events.iter().find(|e| e["class_uid"] == 4002).expect("an HTTP Activity");
    assert_eq!(http["actor"]["process"]["name"], "curl", "{http}");
    assert_eq!(http["unmapped"]["imdswatch"]["credential_identity"]["role"], "imdswatch-test-role");
    assert_eq!(http["unmapped"]["imdswatch"]["credential_identity"]["access_key_id"], "ASIAFAKEIMDSWATCH000");
    assert!(events.iter().any(|e| e["class_uid"] == 2004), "a Detection Finding:\n{text}");
}
