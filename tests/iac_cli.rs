//! `imdswatch iac` as a command: walking, exit codes, output formats, hostile input.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;
use serde_json::Value;

#[test]
fn directory_walk_skips_terraform_and_git_dirs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = "resource \"aws_instance\" \"hidden\" {\n  metadata_options {\n    http_tokens = \"optional\"\n  }\n}\n";
    let good =
        "resource \"aws_instance\" \"visible\" {\n  metadata_options {\n    http_tokens = \"required\"\n  }\n}\n";
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap_or_else(|| panic!("{rel}"))).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
    };
    write("main.tf", good);
    write(".terraform/modules/vpc/main.tf", bad);
    write(".git/hooks/main.tf", bad);
    write("nested/.terraform/main.tf", bad);
    write("nested/.git/template.yaml", "AWSTemplateFormatVersion: x\nResources:\n  I:\n    Type: AWS::EC2::Instance\n");
    let root = dir.path().to_string_lossy().to_string();
    let (code, out) = run(&["--format", "json", &root]);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("json: {e}\n{out}"));
    let found: Vec<&str> = doc["records"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["resource"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(found, vec!["aws_instance.visible"], "{out}");
    assert_eq!(code, 0, "{out}");
    // The same files are checked when named directly, so the skip is the walk's doing.
    let hidden = dir.path().join(".terraform/modules/vpc/main.tf").to_string_lossy().to_string();
    assert_eq!(run(&[&hidden]).0, 3);
}

#[test]
fn parse_errors_name_file_and_line_and_the_rest_is_checked() {
    expect(
        &format!("{FIX}/broken"),
        1,
        &[
            ("ERROR tests/fixtures/iac/broken/tf/bad.tf", "parse_error", "bad.tf", 4),
            ("aws_instance.still_checked", "fail", "good.tf", 3),
            ("ERROR tests/fixtures/iac/broken/cfn/bad.yaml", "parse_error", "bad.yaml", 6),
            ("Fine", "pass", "good.yaml", 7),
        ],
    );
}

#[test]
fn unknowns_fail_only_with_strict() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = dir.path().join("main.tf");
    std::fs::write(&f, "resource \"aws_instance\" \"x\" {\n  metadata_options {\n    http_tokens = var.t\n  }\n}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let p = f.to_string_lossy().to_string();
    assert_eq!(run(&[&p]).0, 0);
    assert_eq!(run(&["--strict", &p]).0, 3);
}

#[test]
fn json_is_sorted_by_file_then_line() {
    let (_, out) = run(&["--format", "json", FIX]);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("json: {e}"));
    let recs = doc["records"].as_array().cloned().unwrap_or_default();
    assert!(recs.len() > 80, "all fixtures checked: {}", recs.len());
    let keys: Vec<(String, u64)> = recs
        .iter()
        .map(|r| (r["file"].as_str().unwrap_or_default().to_string(), r["line"].as_u64().unwrap_or(0)))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(doc["schema"], "imdswatch.iac/v1");
    for r in &recs {
        for field in ["file", "line", "resource", "verdict", "reason"] {
            assert!(r.get(field).is_some(), "missing {field} in {r}");
        }
    }
}

#[test]
fn human_output_has_finding_fix_and_summary() {
    let (code, out) = run(&[&format!("{FIX}/seed_noncompliant")]);
    assert_eq!(code, 3);
    assert!(out.contains("tests/fixtures/iac/seed_noncompliant/main.tf:7: aws_instance.bad_example: FAIL — http_tokens = \"optional\" allows IMDSv1"), "{out}");
    assert!(out.contains("    fix: in aws_launch_template.missing_metadata_options set\n      metadata_options {\n        http_tokens = \"required\"\n      }\n"), "{out}");
    assert!(out.contains("imdswatch iac: 4 resources checked in 1 file: 3 fail, 0 unknown, 1 pass"), "{out}");
    assert!(!out.contains("good_example"), "passes are hidden by default: {out}");
    let (_, cfn) = run(&[&format!("{FIX}/cfn/template.yaml")]);
    assert!(
        cfn.contains("template.yaml:75: LegacyTemplate: FAIL")
            && cfn.contains("MetadataOptions:\n        HttpTokens: required"),
        "{cfn}"
    );
}

#[test]
fn sarif_output() {
    let (code, out) = run(&["--format", "sarif", &format!("{FIX}/seed_noncompliant")]);
    assert_eq!(code, 3);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc["version"], "2.1.0");
    let results = doc["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["ruleId"], "IMDS001");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 7);
}

#[test]
fn sarif_reports_unknowns_and_parse_errors() {
    let (code, out) = run(&["--format", "sarif", &format!("{FIX}/broken"), &format!("{FIX}/tf_remote")]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let results = doc["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    let find = |rule: &str, uri_end: &str, line: u64| {
        results.iter().find(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            r["ruleId"] == rule
                && loc["artifactLocation"]["uri"].as_str().is_some_and(|u| u.ends_with(uri_end))
                && loc["region"]["startLine"] == line
        })
    };
    // A module not followed is a notification about coverage, not a result.
    assert!(find("IMDS002", "tf_remote/main.tf", 1).is_none(), "{out}");
    let notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"].as_array().cloned().unwrap_or_default();
    let note = notes
        .iter()
        .find(|n| {
            n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|u| u.ends_with("tf_remote/main.tf"))
        })
        .unwrap_or_else(|| panic!("no notification for the registry module: {out}"));
    assert_eq!(note["level"], "note");
    assert!(note["message"]["text"].as_str().is_some_and(|t| t.starts_with("module.registry: not followed")), "{note}");
    let parse = find("IMDS000", "broken/tf/bad.tf", 4).unwrap_or_else(|| panic!("no IMDS000 for bad.tf: {out}"));
    assert_eq!(parse["level"], "error");
    assert_eq!(parse["ruleIndex"], 2);
    assert!(find("IMDS000", "broken/cfn/bad.yaml", 6).is_some(), "no IMDS000 for bad.yaml: {out}");
    assert!(find("IMDS001", "broken/tf/good.tf", 3).is_some(), "{out}");
    let rules: Vec<&str> = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    // AWS's rules keep their ids and indices; the other clouds' follow (tests/iac_clouds.rs).
    assert_eq!(rules[..3], ["IMDS001", "IMDS002", "IMDS000"]);
    assert_eq!(rules.len(), 25, "{rules:?}");
    // Passes are not SARIF results.
    assert!(!out.contains("module.wrapper.aws_instance.ok"), "{out}");
}

#[test]
fn show_pass_lists_passes_in_human_output() {
    let path = format!("{FIX}/seed_noncompliant");
    let (code, out) = run(&["--show-pass", &path]);
    assert_eq!(code, 3);
    assert!(
        out.contains("tests/fixtures/iac/seed_noncompliant/main.tf:35: aws_launch_template.good_example: pass — http_tokens = \"required\""),
        "{out}"
    );
    assert!(out.contains("main.tf:7: aws_instance.bad_example: FAIL"), "failures are still listed: {out}");
    let (_, hidden) = run(&[&path]);
    assert!(!hidden.contains(": pass — "), "{hidden}");
}

#[test]
fn missing_path_is_an_error() {
    assert_eq!(run(&["tests/fixtures/iac/does-not-exist"]).0, 1);
}

#[test]
fn hostile_inputs_do_not_panic() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let deep_hcl = format!("locals {{\n  x = {}1{}\n}}\n", "(".repeat(50_000), ")".repeat(50_000));
    std::fs::write(dir.path().join("deep.tf"), deep_hcl).unwrap_or_else(|e| panic!("{e}"));
    let deep_yaml = format!("AWSTemplateFormatVersion: x\nResources: {}\n", "[".repeat(50_000));
    std::fs::write(dir.path().join("deep.yaml"), deep_yaml).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("cycle.tf"), "locals {\n  a = local.b\n  b = local.a\n}\nresource \"aws_instance\" \"c\" {\n  metadata_options {\n    http_tokens = local.a\n  }\n}\n").unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path().to_string_lossy().to_string();
    let (code, out) = run(&["--format", "json", &p]);
    assert_eq!(code, 1, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let recs = doc["records"].as_array().cloned().unwrap_or_default();
    assert!(recs.iter().any(|r| r["resource"] == "aws_instance.c" && r["verdict"] == "unknown"), "{out}");
    assert_eq!(recs.iter().filter(|r| r["verdict"] == "parse_error").count(), 2, "{out}");
}

/// Runs `imdswatch iac ARGS` with `input` on standard input: (status, stdout, stderr).
fn run_stdin(args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .arg("iac")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run imdswatch: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), s(&out.stdout), s(&out.stderr))
}

#[test]
fn stdin_is_read_with_dash() {
    let tf = "resource \"aws_instance\" \"x\" {\n  metadata_options {\n    http_tokens = \"optional\"\n  }\n}\n";
    let (code, out, _) = run_stdin(&["-"], tf);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("<stdin>:3: aws_instance.x: FAIL"), "{out}");
    let cfn = std::fs::read_to_string(format!("{}/{FIX}/cfn/template.yaml", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, out, _) = run_stdin(&["-f", "json", "-"], &cfn);
    assert_eq!(code, 3, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(record(&doc, "LegacyTemplate")["file"], "<stdin>");
    let (code, _, err) = run_stdin(&["-", "-"], "");
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = run_stdin(&["-"], "\n");
    assert_eq!(code, 1, "empty standard input is nothing to check: {out}{err}");
    assert!(err.contains("nothing to check"), "{err}");
}

#[test]
fn nothing_to_check_is_an_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("README.md"), "# notes\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("values.yaml"), "replicas: 2\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, out, err) = run_stdin(&[&dir.path().to_string_lossy()], "");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("nothing to check") && err.lines().count() == 1, "{err}");
}

#[test]
fn missing_path_is_one_line_on_stderr() {
    let (code, out, err) = run_stdin(&["nosuch/"], "");
    assert_eq!(code, 1);
    assert!(out.is_empty(), "not counted as a checked file: {out}");
    assert_eq!(err.trim(), "imdswatch iac: nosuch/: no such file or directory");
}

#[test]
fn short_format_and_quiet_flags() {
    let path = format!("{FIX}/seed_noncompliant");
    let (code, out) = run(&["-f", "json", &path]);
    assert_eq!(code, 3);
    assert!(serde_json::from_str::<Value>(&out).is_ok(), "{out}");
    let (code, quiet) = run(&["-q", &path]);
    assert_eq!(code, 3);
    assert!(quiet.contains("aws_instance.bad_example: FAIL"), "{quiet}");
    assert!(!quiet.contains("resources checked"), "no summary with -q: {quiet}");
}
