//! Issue 28: `--format asff` and `--format ocsf` on the bundled captures, validated offline
//! by the services' own models: botocore's securityhub `BatchImportFindings` input shape for
//! ASFF, py-ocsf-models' DetectionFinding and the compiled OCSF 1.5.0 HTTP Activity class
//! (tests/fixtures/ocsf/) for OCSF (tests/fixtures/validate_findings.py). And a credential
//! fetch shows its role and AccessKeyId in both, never its secret.

#[path = "support/host.rs"]
mod host;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use host::root;
use serde_json::Value;
use support::cli::analyze;
use support::pcapfile::*;
use support::*;

const ASFF: [&str; 6] = ["--format", "asff", "--aws-region", "eu-west-1", "--aws-account", "111122223333"];

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("captures"))
        .expect("captures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "{v:?}");
    v
}

/// The validator's interpreter, or why the test cannot run.
fn python(test: &str) -> Option<PathBuf> {
    let py = root().join("captures/.venv/bin/python");
    let ok = Command::new(&py).args(["-c", "import botocore, py_ocsf_models"]).status().is_ok_and(|s| s.success());
    if !ok {
        println!("SKIPPED {test}: captures/.venv lacks botocore or py-ocsf-models (run scripts/setup.sh)");
        return None;
    }
    Some(py)
}

/// Runs the validator on `text`; panics with its findings when it refuses.
fn validate(py: &Path, mode: &str, text: &str, what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out.json");
    std::fs::write(&file, text).expect("write");
    let o = Command::new(py)
        .arg(root().join("tests/fixtures/validate_findings.py"))
        .arg(mode)
        .arg(&file)
        .output()
        .expect("validator runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{what}: {mode} refused:\n{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("checked "), "{out}");
}

/// The clients of the `verdict` record (`--format json`) that would break.
fn breaking(file: &Path) -> BTreeSet<(String, Option<String>)> {
    let run = analyze(&["--format", "json"], file);
    let v = run.all_json().into_iter().find(|v| v["type"] == "verdict");
    let Some(v) = v else { return BTreeSet::new() };
    v["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .filter(|c| matches!(c["verdict"].as_str(), Some("breaks" | "hop_limit" | "proxy_refused" | "falls_back")))
        .map(|c| (c["client"].as_str().unwrap_or("").to_owned(), c["user_agent"].as_str().map(str::to_owned)))
        .collect()
}

#[test]
fn asff_validates_against_botocore_and_has_one_finding_per_breaking_client() {
    let Some(py) = python("asff_validates_against_botocore_and_has_one_finding_per_breaking_client") else { return };
    let mut total = 0;
    for file in captures() {
        let run = analyze(&ASFF, &file);
        assert_eq!(run.code, Some(0), "{}: {}", file.display(), run.stderr);
        let findings: Vec<Value> = serde_json::from_str(&run.stdout).expect("one JSON array");
        validate(&py, "asff", &run.stdout, &file.display().to_string());
        let want = breaking(&file);
        let got: BTreeSet<(String, Option<String>)> = findings
            .iter()
            .map(|f| {
                let p = &f["ProductFields"];
                (
                    p["imdswatch/client"].as_str().unwrap_or("").to_owned(),
                    p["imdswatch/user_agent"].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(got, want, "{}", file.display());
        assert_eq!(got.len(), findings.len(), "one finding per client");
        // Ids are stable: a second run gives the same ones.
        let again: Vec<Value> = serde_json::from_str(&analyze(&ASFF, &file).stdout).expect("array");
        let ids = |v: &[Value]| v.iter().map(|f| f["Id"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>();
        assert_eq!(ids(&findings), ids(&again), "{}", file.display());
        for f in &findings {
            assert!(!f["Remediation"]["Recommendation"]["Text"].as_str().unwrap_or("").is_empty(), "{f}");
        }
        total += findings.len();
    }
    assert!(total >= 5, "the bundled captures hold breaking clients: {total}");
}

#[test]
fn ocsf_validates_with_one_http_activity_per_request_and_a_finding_per_breaking_client() {
    let Some(py) = python("ocsf_validates_with_one_http_activity_per_request_and_a_finding_per_breaking_client") else {
        return;
    };
    for file in captures() {
        let run = analyze(&["--format", "ocsf"], &file);
        assert_eq!(run.code, Some(0), "{}: {}", file.display(), run.stderr);
        validate(&py, "ocsf", &run.stdout, &file.display().to_string());
        let events = run.all_json();
        let requests = analyze(&["--format", "json"], &file).json().len();
        let http = events.iter().filter(|e| e["class_uid"] == 4002).count();
        let found = events.iter().filter(|e| e["class_uid"] == 2004).count();
        assert_eq!(http, requests, "{}", file.display());
        assert_eq!(found, breaking(&file).len(), "{}", file.display());
        for e in &events {
            assert_eq!(e["metadata"]["version"], "1.5.0");
            let t = e["time"].as_u64().expect("time");
            assert!(t > 1_000_000_000_000 && t < 10_000_000_000_000, "time in ms: {t}");
        }
    }
}

#[test]
fn asff_without_its_account_is_a_usage_error() {
    let file = root().join("captures/curl-v1.pcap");
    for args in [
        &["--format", "asff"][..],
        &["--format", "asff", "--aws-region", "eu-west-1"],
        &["--format", "asff", "--aws-region", "eu-west-1", "--aws-account", "12345"],
        &["--format", "asff", "--aws-region", "EU WEST", "--aws-account", "111122223333"],
    ] {
        let run = analyze(args, &file);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("--aws-"), "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

fn credentials_capture(dir: &Path) -> PathBuf {
    let body = "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAFINDINGS00000001\",\
                \"SecretAccessKey\":\"FINDSECRET-abc/def\",\"Token\":\"FINDTOKEN-xyz==\",\
                \"Expiration\":\"2026-12-05T11:00:00Z\"}";
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_CREDS_V1);
    c.server(answer.as_bytes());
    c.client_fin();
    c.server_fin();
    let frames: Vec<(u64, Vec<u8>)> = c.frames.iter().map(|f| (f.ts.0, f.data.clone())).collect();
    let file = dir.join("creds.pcap");
    std::fs::write(&file, pcap(DLT_EN10MB, &frames, false)).expect("write");
    file
}

#[test]
fn a_credential_fetch_shows_role_and_key_in_asff_and_ocsf_never_the_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = credentials_capture(dir.path());
    let asff = analyze(&ASFF, &file);
    assert_eq!(asff.code, Some(0), "{}", asff.stderr);
    let findings: Vec<Value> = serde_json::from_str(&asff.stdout).expect("array");
    assert_eq!(findings.len(), 1, "{}", asff.stdout);
    let f = &findings[0];
    assert_eq!(f["Severity"]["Label"], "HIGH", "credentials over IMDSv1");
    let key = f["Resources"].as_array().expect("resources").iter().find(|r| r["Type"] == "AwsIamAccessKey");
    let key = key.expect("an AwsIamAccessKey resource");
    assert_eq!(key["Id"], "ASIAFINDINGS00000001");
    assert_eq!(key["Details"]["AwsIamAccessKey"]["PrincipalName"], "role");
    assert_eq!(f["ProductFields"]["imdswatch/credentials.0.access_key_id"], "ASIAFINDINGS00000001");

    let ocsf = analyze(&["--format", "ocsf"], &file);
    let events = ocsf.all_json();
    let http = events.iter().find(|e| e["class_uid"] == 4002).expect("http activity");
    assert_eq!(http["unmapped"]["imdswatch"]["credential_identity"]["access_key_id"], "ASIAFINDINGS00000001");
    assert_eq!(http["unmapped"]["imdswatch"]["credential_identity"]["role"], "role");
    let finding = events.iter().find(|e| e["class_uid"] == 2004).expect("detection finding");
    assert_eq!(finding["resources"][0]["uid"], "ASIAFINDINGS00000001");
    for (what, text) in [("asff", &asff.stdout), ("ocsf", &ocsf.stdout), ("stderr", &asff.stderr)] {
        assert!(!text.contains("FINDSECRET") && !text.contains("FINDTOKEN"), "{what} shows a secret: {text}");
    }
    if let Some(py) = python("a_credential_fetch_shows_role_and_key_in_asff_and_ocsf_never_the_secret") {
        validate(&py, "asff", &asff.stdout, "credentials");
        validate(&py, "ocsf", &ocsf.stdout, "credentials");
    }
}

/// A credential answer past the 8 KiB cap is not read (no identity) and is counted; the
/// request is still reported, answered, and judged.
#[test]
fn a_credential_answer_past_the_cap_is_counted_not_read() {
    let long = "A".repeat(9 * 1024);
    let body = format!("{{\"AccessKeyId\":\"ASIAOVERCAP000000001\",\"Token\":\"{long}\"}}");
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_CREDS_V1);
    for piece in answer.as_bytes().chunks(1400) {
        c.server(piece);
    }
    c.client_fin();
    c.server_fin();
    let frames: Vec<(u64, Vec<u8>)> = c.frames.iter().map(|f| (f.ts.0, f.data.clone())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("overcap.pcap");
    std::fs::write(&file, pcap(DLT_EN10MB, &frames, false)).expect("write");
    let run = analyze(&["--format", "json"], &file);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let recs = run.json();
    assert_eq!(recs.len(), 1, "{}", run.stdout);
    assert_eq!(recs[0]["imds"]["status"], 200);
    assert!(recs[0].get("credentials").is_none(), "{}", run.stdout);
    assert!(!run.stdout.contains("ASIAOVERCAP"), "{}", run.stdout);
    assert_eq!(run.anomaly("http_credential_bodies_over_cap"), 1, "{}", run.stderr);
}

/// A credential answer whose body lost a segment in the capture: the request is reported,
/// answered 200, without an identity (nothing is read across a hole), and nothing hangs.
#[test]
fn a_credential_answer_with_a_hole_is_reported_without_identity() {
    let body = "{\"AccessKeyId\":\"ASIAHOLE000000000001\",\"SecretAccessKey\":\"HOLESECRET\",\"Token\":\"HOLETOKEN\"}";
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_CREDS_V1);
    let cut = answer.len() - 30;
    c.server(&answer.as_bytes()[..cut - 20]);
    let lost = c.frames.len();
    c.server(&answer.as_bytes()[cut - 20..cut]);
    c.server(&answer.as_bytes()[cut..]);
    c.client(GET_CREDS_V1);
    c.server(answer.as_bytes());
    c.client_fin();
    c.server_fin();
    let frames: Vec<(u64, Vec<u8>)> =
        c.frames.iter().enumerate().filter(|(i, _)| *i != lost).map(|(_, f)| (f.ts.0, f.data.clone())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hole.pcap");
    std::fs::write(&file, pcap(DLT_EN10MB, &frames, false)).expect("write");
    let run = analyze(&["--format", "json"], &file);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let recs = run.json();
    assert!(!recs.is_empty(), "{}", run.stdout);
    assert_eq!(recs[0]["imds"]["credentials"], true);
    assert!(recs[0].get("credentials").is_none(), "no identity read across a hole: {}", run.stdout);
    assert!(!run.stdout.contains("HOLESECRET") && !run.stdout.contains("HOLETOKEN"));
}
