//! `imdswatch iac` for the other clouds' legacy metadata endpoints: Alibaba Cloud ECS
//! (`http_tokens`), OCI (`instance_options.are_legacy_imds_endpoints_disabled`), Google
//! (`metadata` `disable-legacy-endpoints`, GKE `node_config.metadata`), in Terraform and in
//! plan JSON: verdicts, lines, fixes and SARIF rule ids.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;
use serde_json::Value;

fn tf() -> String {
    format!("{FIX}/clouds_tf")
}

fn plan() -> String {
    format!("{FIX}/clouds_plan")
}

/// The record's fix as (`inside`, `text`), for `kind: set` fixes.
fn set_fix(doc: &Value, resource: &str) -> (Option<String>, String) {
    let r = record(doc, resource);
    assert_eq!(r["fix"]["kind"], "set", "{r}");
    (r["fix"]["inside"].as_str().map(str::to_string), r["fix"]["text"].as_str().unwrap_or_default().to_string())
}

fn reason(doc: &Value, resource: &str) -> String {
    record(doc, resource)["reason"].as_str().unwrap_or_default().to_string()
}

#[test]
fn terraform_alibaba_oci_google() {
    let doc = expect(
        &tf(),
        3,
        &[
            ("alicloud_instance.hardened", "pass", "alicloud.tf", 5),
            ("alicloud_instance.normal_mode", "fail", "alicloud.tf", 11),
            ("alicloud_instance.unset", "fail", "alicloud.tf", 14),
            ("alicloud_instance.from_variable", "pass", "alicloud.tf", 22),
            ("alicloud_instance.metadata_off", "pass", "alicloud.tf", 25),
            ("alicloud_instance.unknown", "unknown", "alicloud.tf", 34),
            ("alicloud_ecs_launch_template.required", "pass", "alicloud.tf", 39),
            ("alicloud_ecs_launch_template.unset", "fail", "alicloud.tf", 42),
            ("alicloud_instance.from_template", "pass", "alicloud.tf", 47),
            ("alicloud_instance.from_unset_template", "fail", "alicloud.tf", 51),
            // ESS: a scaling configuration cannot set http_tokens; a group with a template inherits.
            ("alicloud_ess_scaling_configuration.plain", "fail", "alicloud_ess.tf", 3),
            ("alicloud_ess_scaling_configuration.metadata_off", "pass", "alicloud_ess.tf", 9),
            ("alicloud_ess_scaling_group.from_template", "pass", "alicloud_ess.tf", 21),
            ("oci_core_instance.hardened", "pass", "oci.tf", 7),
            ("oci_core_instance.legacy_on", "fail", "oci.tf", 16),
            ("oci_core_instance.no_options", "fail", "oci.tf", 20),
            ("oci_core_instance.from_variable", "fail", "oci.tf", 31),
            ("oci_core_instance.unknown", "unknown", "oci.tf", 40),
            // Google shut the legacy endpoints down on 2020-09-30: whatever
            // disable-legacy-endpoints says (or does not say), every VM and node pool passes,
            // and project metadata is no control any more (no record).
            ("google_compute_instance.hardened", "pass", "google.tf", 8),
            ("google_compute_instance.legacy_on", "pass", "google.tf", 17),
            ("google_compute_instance.no_metadata", "pass", "google.tf", 21),
            ("google_compute_instance_template.from_local", "pass", "google.tf", 30),
            ("google_compute_instance_template.other_keys_only", "pass", "google.tf", 36),
            ("google_compute_instance_template.unknown", "pass", "google.tf", 45),
            ("google_container_node_pool.default_metadata", "pass", "google.tf", 50),
            ("google_container_node_pool.legacy_on", "pass", "google.tf", 63),
            ("google_container_cluster.inline_pools", "pass", "google.tf", 78),
            ("google_container_cluster.defaults", "pass", "google.tf", 94),
            ("module.pool.google_container_node_pool.from_module", "pass", "modules/pool/main.tf", 10),
            ("google_compute_instance.in_project_a", "pass", "gcp_project.tf", 15),
            ("google_compute_instance.explicit_false_in_a", "pass", "gcp_project.tf", 29),
            ("google_compute_instance_template.in_project_b", "pass", "gcp_project.tf", 40),
            ("google_compute_instance_from_template.from_hardened", "pass", "gcp_project.tf", 47),
            ("google_compute_instance_from_template.own_metadata", "pass", "gcp_project.tf", 55),
            // OCI instance configurations, and what launches from them.
            ("oci_core_instance_configuration.hardened", "pass", "oci_config.tf", 10),
            ("oci_core_instance_configuration.default", "fail", "oci_config.tf", 16),
            ("oci_core_instance_configuration.from_instance", "unknown", "oci_config.tf", 26),
            ("oci_core_instance.from_config", "pass", "oci_config.tf", 32),
            ("oci_core_instance_pool.pool", "fail", "oci_config.tf", 38),
            ("oci_core_instance.from_outside", "unknown", "oci_config.tf", 44),
        ],
    );
    // No compensating control is needed (or named) for an endpoint that no longer exists.
    assert_eq!(provenance(&doc, "google_compute_instance.in_project_a"), (None, None));
    for r in ["google_compute_instance.explicit_false_in_a", "google_container_node_pool.legacy_on"] {
        let why = reason(&doc, r);
        assert!(why.contains("has no effect") && why.contains("2020-09-30"), "{r}: {why}");
        assert!(record(&doc, r).get("fix").is_none(), "{r} has nothing to fix");
    }
    let unset = reason(&doc, "google_compute_instance.no_metadata");
    assert!(unset.contains("is not set, and need not be") && unset.contains("deprecations"), "{unset}");
    assert_eq!(
        provenance(&doc, "oci_core_instance_pool.pool"),
        (None, some("oci_core_instance_configuration.default"))
    );
    assert_eq!(
        provenance(&doc, "oci_core_instance.from_config"),
        (None, some("oci_core_instance_configuration.hardened"))
    );
    // Values through variables, locals and module inputs are named in the reason.
    assert!(reason(&doc, "alicloud_instance.from_variable").contains("var.ali_tokens → \"required\""));
    assert!(reason(&doc, "oci_core_instance.from_variable").contains("var.legacy_off → false"));
    assert!(reason(&doc, "google_compute_instance_template.from_local").contains("local.gce_metadata → \"TRUE\""));
    assert!(reason(&doc, "alicloud_instance.unknown").contains("`var.not_given` cannot be known"));
    // Alibaba instances inherit the launch template's verdict.
    assert_eq!(
        provenance(&doc, "alicloud_instance.from_unset_template"),
        (None, some("alicloud_ecs_launch_template.unset"))
    );
    assert_eq!(
        provenance(&doc, "alicloud_instance.from_template"),
        (None, some("alicloud_ecs_launch_template.required"))
    );
}

#[test]
fn terraform_fixes_are_the_line_to_add() {
    let (_, _, doc) = records(&tf());
    let line = |inside: Option<&str>, text: &str| (inside.map(str::to_string), text.to_string());
    assert_eq!(set_fix(&doc, "alicloud_instance.unset"), line(None, "http_tokens = \"required\""));
    assert_eq!(
        set_fix(&doc, "oci_core_instance.no_options"),
        line(None, "instance_options {\n  are_legacy_imds_endpoints_disabled = true\n}")
    );
    assert_eq!(
        set_fix(&doc, "oci_core_instance.legacy_on"),
        line(Some("instance_options"), "are_legacy_imds_endpoints_disabled = true")
    );
    let inherited = record(&doc, "alicloud_instance.from_unset_template");
    assert_eq!(inherited["fix"]["kind"], "template");
    assert_eq!(inherited["fix"]["address"], "alicloud_ecs_launch_template.unset");
    assert_eq!(record(&doc, "oci_core_instance.unknown")["fix"]["kind"], "make_known");
    assert_eq!(record(&doc, "alicloud_ess_scaling_configuration.plain")["fix"]["kind"], "use_launch_template");
    assert!(record(&doc, "alicloud_instance.hardened").get("fix").is_none());

    // The human format prints them as they are pasted.
    let (code, out) = run(&[&tf()]);
    assert_eq!(code, 3);
    assert!(
        out.contains(
            "oci.tf:20: oci_core_instance.no_options: FAIL — instance_options.are_legacy_imds_endpoints_disabled is not set"
        ),
        "{out}"
    );
    assert!(
        out.contains("    fix: in oci_core_instance.no_options set\n      instance_options {\n        are_legacy_imds_endpoints_disabled = true\n      }\n"),
        "{out}"
    );
    assert!(
        out.contains("    fix: in oci_core_instance.legacy_on, inside instance_options, set\n      are_legacy_imds_endpoints_disabled = true\n"),
        "{out}"
    );
    assert!(
        out.contains("    fix: in alicloud_ecs_launch_template.unset (the template it launches) set\n      http_tokens = \"required\"\n"),
        "{out}"
    );
    assert!(out.contains("a literal are_legacy_imds_endpoints_disabled = true)"), "{out}");
    assert!(
        out.contains("    fix: in oci_core_instance_configuration.default (the instance configuration it launches from), inside instance_details.launch_details, set\n      instance_options {\n"),
        "{out}"
    );
    assert!(out.contains("40 resources checked in 7 files: 10 fail, 4 unknown, 26 pass"), "{out}");
}

#[test]
fn plan_json_alibaba_oci_google() {
    let doc = expect(
        &plan(),
        3,
        &[
            ("alicloud_instance.hardened", "pass", "plan.json", 16),
            ("alicloud_instance.normal_mode", "fail", "plan.json", 34),
            // Not in the configuration, computed by the provider: the default holds.
            ("alicloud_instance.unset", "fail", "plan.json", 39),
            ("alicloud_instance.after_apply", "unknown", "plan.json", 57),
            ("alicloud_ecs_launch_template.lt", "pass", "plan.json", 82),
            ("alicloud_instance.from_template", "pass", "plan.json", 87),
            ("oci_core_instance.hardened", "pass", "plan.json", 114),
            ("oci_core_instance.legacy_on", "fail", "plan.json", 137),
            ("oci_core_instance.no_options", "fail", "plan.json", 148),
            ("oci_core_instance.after_apply", "unknown", "plan.json", 176),
            // Google: the legacy endpoints are gone (2020-09-30); every VM passes.
            ("google_compute_instance.hardened", "pass", "plan.json", 199),
            ("google_compute_instance.other_keys", "pass", "plan.json", 216),
            ("google_compute_instance_template.legacy_on", "pass", "plan.json", 247),
            ("google_compute_instance_template.after_apply", "pass", "plan.json", 253),
            ("google_container_node_pool.default_metadata", "pass", "plan.json", 268),
            ("google_container_node_pool.legacy_on", "pass", "plan.json", 306),
            ("google_container_cluster.pools", "pass", "plan.json", 331),
            ("google_compute_instance.in_p1", "pass", "plan.json", 390),
            ("google_compute_instance.in_p2", "pass", "plan.json", 408),
            ("oci_core_instance_configuration.cfg", "fail", "plan.json", 413),
            ("oci_core_instance_pool.pool", "fail", "plan.json", 448),
            ("oci_core_instance_configuration.options", "pass", "plan.json", 484),
            ("alicloud_ess_scaling_configuration.cfg", "fail", "plan.json", 497),
            ("alicloud_ess_scaling_group.from_template", "pass", "plan.json", 514),
            ("google_compute_instance_from_template.from_legacy", "pass", "plan.json", 531),
        ],
    );
    assert_eq!(provenance(&doc, "google_compute_instance.in_p1"), (None, None));
    assert_eq!(provenance(&doc, "oci_core_instance_pool.pool"), (None, some("oci_core_instance_configuration.cfg")));
    assert_eq!(
        provenance(&doc, "google_compute_instance_from_template.from_legacy"),
        (None, some("google_compute_instance_template.legacy_on"))
    );
    assert_eq!(provenance(&doc, "alicloud_instance.from_template"), (None, some("alicloud_ecs_launch_template.lt")));
    assert!(reason(&doc, "oci_core_instance.legacy_on").contains("are_legacy_imds_endpoints_disabled = false"));
    assert!(reason(&doc, "google_compute_instance_template.legacy_on").contains("= \"FALSE\" has no effect"));
    assert!(reason(&doc, "alicloud_instance.after_apply").contains("after_unknown"));
    assert_eq!(set_fix(&doc, "alicloud_instance.unset"), (None, "http_tokens = \"required\"".to_string()));
}

/// The SARIF document: every result names a rule of the driver by id and index, with a level,
/// a message, a location with a line, and a fingerprint.
fn sarif_results(path: &str) -> (Vec<Value>, Vec<String>) {
    let (code, out) = run(&["--format", "sarif", path]);
    assert_eq!(code, 3, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().is_some_and(|s| s.contains("sarif-2.1.0")));
    let run0 = &doc["runs"][0];
    let rules: Vec<String> = run0["tool"]["driver"]["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut unique = rules.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), rules.len(), "rule ids are unique: {rules:?}");
    for r in run0["tool"]["driver"]["rules"].as_array().cloned().unwrap_or_default() {
        for k in ["name", "shortDescription", "help"] {
            assert!(r.get(k).is_some(), "rule without {k}: {r}");
        }
    }
    let results = run0["results"].as_array().cloned().unwrap_or_default();
    for r in &results {
        let id = r["ruleId"].as_str().unwrap_or_default();
        let index = r["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
        assert_eq!(rules.get(index).map(String::as_str), Some(id), "ruleIndex points at the rule: {r}");
        assert!(matches!(r["level"].as_str(), Some("error" | "warning")), "{r}");
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
        assert!(r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().is_some_and(|l| l >= 1));
        assert!(r["partialFingerprints"]["imdswatch/v1"].as_str().is_some(), "{r}");
    }
    (results, rules)
}

/// (`ruleId`, file name, line) of each result, sorted.
fn ids(results: &[Value]) -> Vec<(String, String, u64)> {
    let mut v: Vec<(String, String, u64)> = results
        .iter()
        .map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            let uri = loc["artifactLocation"]["uri"].as_str().unwrap_or_default();
            (
                r["ruleId"].as_str().unwrap_or_default().to_string(),
                uri.rsplit('/').next().unwrap_or_default().to_string(),
                loc["region"]["startLine"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn sarif_rule_ids_per_cloud() {
    let (results, rules) = sarif_results(&tf());
    // The IaC tools' rules (tests/iac_tools.rs) follow the clouds'.
    assert_eq!(
        rules[..9],
        [
            "IMDS001",
            "IMDS002",
            "IMDS000",
            "IMDS-ALI-001",
            "IMDS-ALI-002",
            "IMDS-OCI-001",
            "IMDS-OCI-002",
            "IMDS-GCP-001",
            "IMDS-GCP-002"
        ]
    );
    let got = ids(&results);
    let want: Vec<(String, String, u64)> = [
        ("IMDS-ALI-001", "alicloud.tf", 11),
        ("IMDS-ALI-001", "alicloud.tf", 14),
        ("IMDS-ALI-001", "alicloud.tf", 42),
        ("IMDS-ALI-001", "alicloud.tf", 51),
        ("IMDS-ALI-002", "alicloud.tf", 34),
        ("IMDS-ALI-001", "alicloud_ess.tf", 3),
        ("IMDS-OCI-001", "oci.tf", 16),
        ("IMDS-OCI-001", "oci.tf", 20),
        ("IMDS-OCI-001", "oci.tf", 31),
        ("IMDS-OCI-002", "oci.tf", 40),
        ("IMDS-OCI-001", "oci_config.tf", 16),
        ("IMDS-OCI-001", "oci_config.tf", 38),
        ("IMDS-OCI-002", "oci_config.tf", 26),
        ("IMDS-OCI-002", "oci_config.tf", 44),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
    .collect();
    let mut want = want;
    want.sort();
    assert_eq!(got, want);
    let level = |id: &str| {
        results
            .iter()
            .filter(|r| r["ruleId"] == id)
            .map(|r| r["level"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert!(level("IMDS-OCI-001").iter().all(|l| *l == "error"));
    assert_eq!(level("IMDS-OCI-002"), ["warning"; 3]);
    assert!(level("IMDS-GCP-001").is_empty() && level("IMDS-GCP-002").is_empty(), "Google: nothing to report");
    // Passes are not results.
    assert!(!results.iter().any(|r| r["message"]["text"].as_str().is_some_and(|t| t.contains(".hardened:"))));
}

#[test]
fn sarif_for_plans_and_mixed_with_aws() {
    let (results, _) = sarif_results(&plan());
    let got = ids(&results);
    assert_eq!(got.iter().filter(|(id, ..)| id.starts_with("IMDS-GCP")).count(), 0, "{got:?}");
    assert!(got.contains(&("IMDS-OCI-002".into(), "plan.json".into(), 176)), "{got:?}");
    assert!(got.contains(&("IMDS-ALI-001".into(), "plan.json".into(), 39)), "{got:?}");
    assert!(got.contains(&("IMDS-ALI-001".into(), "plan.json".into(), 497)), "{got:?}");
    // AWS findings next to the other clouds keep IMDS001.
    let (code, out) = run(&["--format", "sarif", &tf(), &format!("{FIX}/seed_noncompliant")]);
    assert_eq!(code, 3);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let results = doc["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    let aws: Vec<&Value> = results.iter().filter(|r| r["ruleId"] == "IMDS001").collect();
    assert_eq!(aws.len(), 3, "{out}");
    assert!(aws.iter().all(|r| r["ruleIndex"] == 0));
}

#[test]
fn hcl_json_syntax_blocks() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let json = r#"{
  "resource": {
    "oci_core_instance": {
      "a": {
        "instance_options": { "are_legacy_imds_endpoints_disabled": true }
      }
    },
    "google_container_node_pool": {
      "p": {
        "node_config": { "metadata": { "disable-legacy-endpoints": "false" } }
      }
    }
  }
}
"#;
    std::fs::write(dir.path().join("main.tf.json"), json).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().to_string_lossy().to_string();
    let (code, got, _) = records(&path);
    assert_eq!(code, 0);
    assert_eq!(got.get("oci_core_instance.a").map(|v| (v.0.as_str(), v.2)), Some(("pass", 5)));
    assert_eq!(got.get("google_container_node_pool.p").map(|v| (v.0.as_str(), v.2)), Some(("pass", 10)));
}

#[test]
fn dynamic_blocks_expansion_and_odd_values() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let tf = r#"variable "legacy_off" {
  default = [true]
}

resource "oci_core_instance" "dyn" {
  dynamic "instance_options" {
    for_each = var.legacy_off
    content {
      are_legacy_imds_endpoints_disabled = instance_options.value
    }
  }
}

resource "alicloud_instance" "many" {
  for_each    = { a = "required", b = "optional" }
  http_tokens = each.value
}

resource "google_compute_instance" "not_a_map" {
  metadata = "disable-legacy-endpoints=true"
}

resource "google_container_node_pool" "dyn_unknown" {
  dynamic "node_config" {
    for_each = var.undefined_list
    content {
      metadata = {}
    }
  }
}
"#;
    std::fs::write(dir.path().join("main.tf"), tf).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().to_string_lossy().to_string();
    let (code, got, doc) = records(&path);
    assert_eq!(code, 3, "{got:#?}");
    let v = |r: &str| got.get(r).map(|v| (v.0.clone(), v.2)).unwrap_or_else(|| panic!("{r}: {got:#?}"));
    assert_eq!(v("oci_core_instance.dyn"), ("pass".into(), 9));
    assert_eq!(v("alicloud_instance.many[\"a\"]"), ("pass".into(), 16));
    assert_eq!(v("alicloud_instance.many[\"b\"]"), ("fail".into(), 16));
    // Not even a value that cannot be read makes a Google VM unsafe (the endpoints are gone).
    assert_eq!(v("google_compute_instance.not_a_map").0, "pass");
    assert!(reason(&doc, "google_compute_instance.not_a_map").contains("has no effect"));
    assert_eq!(v("google_container_node_pool.dyn_unknown").0, "pass");
    assert_eq!(got.len(), 5, "{got:#?}");
}

#[test]
fn standard_input_is_checked_the_same() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let tf = "resource \"oci_core_instance\" \"p\" {\n  instance_options {\n    are_legacy_imds_endpoints_disabled = false\n  }\n}\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .args(["iac", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(tf.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("<stdin>:3: oci_core_instance.p: FAIL"), "{text}");
}
