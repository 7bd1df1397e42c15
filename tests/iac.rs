//! `imdswatch iac` on the fixtures under tests/fixtures/iac: every resource's verdict and line,
//! exit codes, and the three output formats.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

const FIX: &str = "tests/fixtures/iac";

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .arg("iac")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("run imdswatch: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// resource → (verdict, file, line) from `--format json`.
fn records(path: &str) -> (i32, BTreeMap<String, (String, String, u64)>, Value) {
    let (code, out) = run(&["--format", "json", path]);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("json: {e}\n{out}"));
    let mut map = BTreeMap::new();
    for r in doc["records"].as_array().unwrap_or_else(|| panic!("records")) {
        let key = match r["resource"].as_str() {
            Some("") | None => format!("ERROR {}", r["file"].as_str().unwrap_or_default()),
            Some(s) => s.to_string(),
        };
        let v = (
            r["verdict"].as_str().unwrap_or_default().to_string(),
            r["file"].as_str().unwrap_or_default().to_string(),
            r["line"].as_u64().unwrap_or(0),
        );
        assert!(map.insert(key.clone(), v).is_none(), "duplicate record {key}");
    }
    (code, map, doc)
}

/// The JSON record of one resource.
fn record(doc: &Value, resource: &str) -> Value {
    doc["records"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == resource))
        .cloned()
        .unwrap_or_else(|| panic!("no record for {resource}"))
}

/// Asserts the exact set of records: (resource, verdict, file suffix, line).
fn expect(path: &str, code: i32, want: &[(&str, &str, &str, u64)]) -> Value {
    let (got_code, got, doc) = records(path);
    for (res, verdict, file, line) in want {
        let Some((v, f, l)) = got.get(*res) else { panic!("{res} not reported; got {got:#?}") };
        assert_eq!((v.as_str(), *l), (*verdict, *line), "{res} ({f})");
        assert!(f.ends_with(file), "{res}: file {f} does not end with {file}");
    }
    assert_eq!(got.len(), want.len(), "unexpected extra records: {got:#?}");
    assert_eq!(got_code, code, "exit code for {path}");
    doc
}

#[test]
fn seed_compliant_examples_pass() {
    expect(
        &format!("{FIX}/seed_compliant"),
        0,
        &[
            ("aws_launch_template.good_example", "pass", "launch_template.tf", 7),
            ("aws_instance.good_example", "pass", "instance.tf", 6),
        ],
    );
}

#[test]
fn seed_non_compliant_examples_fail() {
    expect(
        &format!("{FIX}/seed_noncompliant"),
        3,
        &[
            ("aws_instance.bad_example", "fail", "main.tf", 7),
            ("aws_launch_template.bad_example", "fail", "main.tf", 18),
            ("aws_launch_template.missing_metadata_options", "fail", "main.tf", 23),
            ("aws_launch_template.good_example", "pass", "main.tf", 35),
        ],
    );
}

#[test]
fn terraform_values() {
    expect(
        &format!("{FIX}/tf_values"),
        3,
        &[
            ("aws_instance.from_default", "pass", "main.tf", 8),
            ("aws_instance.from_tfvars", "fail", "main.tf", 14),
            ("aws_instance.from_auto_tfvars", "pass", "main.tf", 20),
            ("aws_instance.from_local_conditional", "pass", "main.tf", 26),
            ("aws_instance.interpolated", "pass", "main.tf", 32),
            ("aws_instance.no_default", "unknown", "main.tf", 38),
            ("aws_instance.from_data", "unknown", "main.tf", 48),
            ("aws_instance.capitalised", "fail", "main.tf", 54),
            ("aws_instance.empty_block", "fail", "main.tf", 58),
            ("aws_instance.no_tokens", "fail", "main.tf", 62),
            ("aws_instance.endpoint_disabled", "pass", "main.tf", 71),
            ("aws_instance.counted[0]", "pass", "main.tf", 82),
            ("aws_instance.counted[1]", "fail", "main.tf", 82),
            ("aws_instance.each[\"a\"]", "pass", "main.tf", 89),
            ("aws_instance.each[\"b\"]", "fail", "main.tf", 89),
            ("aws_launch_template.dynamic_known", "pass", "main.tf", 97),
            ("aws_launch_template.dynamic_empty", "fail", "main.tf", 102),
            ("aws_launch_template.dynamic_unknown", "unknown", "main.tf", 112),
            ("aws_launch_template.dynamic_iterator", "fail", "main.tf", 125),
            ("aws_instance.count_unknown[*]", "pass", "main.tf", 133),
            ("aws_instance.tokens_null", "fail", "main.tf", 139),
        ],
    );
}

#[test]
fn local_modules_with_inputs_per_call() {
    expect(
        &format!("{FIX}/tf_modules"),
        1,
        &[
            ("module.app.aws_instance.web", "pass", "modules/web/main.tf", 9),
            ("module.legacy.aws_instance.web", "fail", "modules/web/main.tf", 9),
            ("module.fleet[0].aws_instance.web", "pass", "modules/web/main.tf", 9),
            ("module.fleet[1].aws_instance.web", "fail", "modules/web/main.tf", 9),
            ("module.loop.aws_launch_template.inner", "pass", "modules/loop/main.tf", 7),
            // A registry module is not followed: unknown, never a silent pass.
            ("module.remote", "unknown", "tf_modules/main.tf", 23),
            // The self-calling module is a configuration error, reported and not followed.
            ("ERROR tests/fixtures/iac/tf_modules/modules/loop/main.tf", "parse_error", "modules/loop/main.tf", 1),
        ],
    );
}

#[test]
fn remote_modules_are_unknown_and_fail_only_with_strict() {
    let path = format!("{FIX}/tf_remote");
    let doc = expect(
        &path,
        0,
        &[
            ("module.registry", "unknown", "tf_remote/main.tf", 1),
            ("module.wrapper.module.inner", "unknown", "tf_remote/wrapper/main.tf", 1),
            ("module.wrapper.aws_instance.ok", "pass", "tf_remote/wrapper/main.tf", 7),
        ],
    );
    let rec = record(&doc, "module.registry");
    assert_eq!(rec["type"], "module");
    assert_eq!(rec["fix"]["kind"], "check_plan");
    let reason = rec["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("\"terraform-aws-modules/ec2-instance/aws\" is not local")
            && reason.contains("resources were not checked")
            && reason.contains("terraform show -json"),
        "{reason}"
    );
    assert_eq!(run(&["--strict", &path]).0, 3);
    let (_, human) = run(&[&path]);
    assert!(
        human.contains("tf_remote/main.tf:1: module.registry: UNKNOWN — the module's source \"terraform-aws-modules"),
        "{human}"
    );
    assert!(human.contains("terraform show -json tfplan > plan.json"), "{human}");
}

#[test]
fn launch_configurations_and_disabled_endpoint() {
    expect(
        &format!("{FIX}/tf_rules"),
        3,
        &[
            ("aws_launch_configuration.required", "pass", "main.tf", 5),
            ("aws_launch_configuration.missing", "fail", "main.tf", 9),
            ("aws_launch_configuration.endpoint_disabled", "pass", "main.tf", 14),
            // http_endpoint = "disabled" wins over http_tokens = "optional".
            ("aws_launch_template.endpoint_disabled", "pass", "main.tf", 25),
            ("aws_launch_template.endpoint_enabled", "fail", "main.tf", 29),
        ],
    );
}

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
fn inheritance_from_launch_templates() {
    let doc = expect(
        &format!("{FIX}/tf_inherit"),
        3,
        &[
            ("aws_launch_template.secure", "pass", "main.tf", 4),
            ("aws_launch_template.legacy", "fail", "main.tf", 8),
            ("aws_launch_configuration.old", "fail", "main.tf", 16),
            ("aws_instance.from_secure", "pass", "main.tf", 20),
            ("aws_instance.from_legacy_by_name", "fail", "main.tf", 26),
            ("aws_instance.own_overrides_template", "pass", "main.tf", 37),
            ("aws_instance.template_unknown", "unknown", "main.tf", 41),
            ("aws_autoscaling_group.simple", "pass", "main.tf", 49),
            ("aws_autoscaling_group.mixed", "fail", "main.tf", 58),
            ("aws_autoscaling_group.from_lc", "fail", "main.tf", 76),
            ("aws_eks_node_group.with_template", "pass", "main.tf", 82),
            ("aws_eks_node_group.default_template", "fail", "main.tf", 90),
        ],
    );
    assert_eq!(provenance(&doc, "aws_instance.from_secure"), (None, some("aws_launch_template.secure")));
    assert_eq!(provenance(&doc, "aws_instance.from_legacy_by_name"), (None, some("aws_launch_template.legacy")));
    assert_eq!(provenance(&doc, "aws_instance.own_overrides_template"), (None, None));
    // The worst of the templates a mixed instances policy launches.
    assert_eq!(provenance(&doc, "aws_autoscaling_group.mixed"), (None, some("aws_launch_template.legacy")));
    assert_eq!(provenance(&doc, "aws_autoscaling_group.from_lc"), (None, some("aws_launch_configuration.old")));
    assert_eq!(provenance(&doc, "aws_eks_node_group.with_template"), (None, some("aws_launch_template.secure")));
    assert_eq!(provenance(&doc, "aws_eks_node_group.default_template"), (None, None));
    // A node group has no metadata_options: the fix is a launch template.
    assert_eq!(record(&doc, "aws_eks_node_group.default_template")["fix"]["kind"], "eks_launch_template");
    let (_, human) = run(&[&format!("{FIX}/tf_inherit")]);
    assert!(
        human.contains("    fix: give aws_eks_node_group.default_template a launch_template { id, version } whose aws_launch_template sets\n      metadata_options {\n"),
        "{human}"
    );
}

/// (`compensated_by`, `inherited_from`) of one resource's JSON record.
fn provenance(doc: &Value, resource: &str) -> (Option<String>, Option<String>) {
    let r = record(doc, resource);
    let field = |k: &str| r.get(k).map(|v| v.as_str().unwrap_or_else(|| panic!("{resource}: {k} = {v}")).to_string());
    (field("compensated_by"), field("inherited_from"))
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn compensating_controls() {
    const DEFAULTS: &str = "aws_ec2_instance_metadata_defaults.account";
    let doc = expect(
        &format!("{FIX}/tf_controls/defaults_required"),
        3,
        &[
            ("aws_ec2_instance_metadata_defaults.account", "pass", "main.tf", 2),
            ("aws_instance.unset", "pass", "main.tf", 6),
            ("aws_instance.explicit_optional", "fail", "main.tf", 12),
            ("aws_launch_template.unset", "pass", "main.tf", 16),
            ("aws_autoscaling_group.from_unset", "pass", "main.tf", 20),
            ("aws_instance.from_unset_template", "pass", "main.tf", 28),
            ("aws_eks_node_group.default_template", "fail", "main.tf", 34),
            ("aws_launch_template.explicit_optional", "fail", "main.tf", 40),
            ("aws_autoscaling_group.from_explicit_optional", "fail", "main.tf", 44),
        ],
    );
    assert_eq!(provenance(&doc, "aws_ec2_instance_metadata_defaults.account"), (None, None));
    assert_eq!(provenance(&doc, "aws_instance.unset"), (some(DEFAULTS), None));
    assert_eq!(provenance(&doc, "aws_launch_template.unset"), (some(DEFAULTS), None));
    // Inherited verdicts keep the control that decided the template's verdict.
    assert_eq!(
        provenance(&doc, "aws_autoscaling_group.from_unset"),
        (some(DEFAULTS), some("aws_launch_template.unset"))
    );
    assert_eq!(
        provenance(&doc, "aws_instance.from_unset_template"),
        (some(DEFAULTS), some("aws_launch_template.unset"))
    );
    // EKS's own launch template sets its metadata options (IMDSv1 allowed): the account
    // default does not reach a node group without a launch template of its own.
    assert_eq!(provenance(&doc, "aws_eks_node_group.default_template"), (None, None));
    let eks = record(&doc, "aws_eks_node_group.default_template");
    assert!(eks["reason"].as_str().is_some_and(|r| r.contains("does not override")), "{eks}");
    assert_eq!(eks["fix"]["kind"], "eks_launch_template", "{eks}");
    // An explicit "optional" is not overridden by the account default.
    assert_eq!(provenance(&doc, "aws_instance.explicit_optional"), (None, None));
    assert_eq!(
        provenance(&doc, "aws_autoscaling_group.from_explicit_optional"),
        (None, some("aws_launch_template.explicit_optional"))
    );

    expect(
        &format!("{FIX}/tf_controls/defaults_optional"),
        3,
        &[
            ("aws_ec2_instance_metadata_defaults.optional", "fail", "main.tf", 2),
            ("aws_ec2_instance_metadata_defaults.no_preference", "fail", "main.tf", 6),
            ("aws_instance.unset", "fail", "main.tf", 9),
            // EKS's default launch template leaves http_tokens optional: fail without a control.
            ("aws_eks_node_group.default_template", "fail", "main.tf", 13),
        ],
    );

    let doc = expect(
        &format!("{FIX}/tf_controls/ami"),
        3,
        &[
            ("aws_ami.v2", "pass", "main.tf", 1),
            ("aws_instance.from_v2_ami", "pass", "main.tf", 10),
            ("aws_instance.from_plain_ami", "fail", "main.tf", 14),
            ("aws_instance.v2_ami_but_optional", "fail", "main.tf", 21),
            ("aws_launch_template.from_v2_ami", "pass", "main.tf", 25),
            ("aws_autoscaling_group.from_v2_template", "pass", "main.tf", 29),
        ],
    );
    assert_eq!(provenance(&doc, "aws_instance.from_v2_ami"), (some("aws_ami.v2"), None));
    assert_eq!(provenance(&doc, "aws_launch_template.from_v2_ami"), (some("aws_ami.v2"), None));
    assert_eq!(
        provenance(&doc, "aws_autoscaling_group.from_v2_template"),
        (some("aws_ami.v2"), some("aws_launch_template.from_v2_ami"))
    );
    assert_eq!(provenance(&doc, "aws_instance.from_plain_ami"), (None, None));
    assert_eq!(provenance(&doc, "aws_instance.v2_ami_but_optional"), (None, None));
}

#[test]
fn terraform_json_syntax() {
    expect(
        &format!("{FIX}/tf_json"),
        3,
        &[
            ("aws_instance.json_required", "pass", "main.tf.json", 12),
            ("aws_instance.json_from_var", "fail", "main.tf.json", 17),
            ("aws_instance.json_missing", "fail", "main.tf.json", 20),
            ("aws_instance.json_null", "fail", "main.tf.json", 25),
        ],
    );
}

#[test]
fn cloudformation_yaml_and_json() {
    expect(
        &format!("{FIX}/cfn"),
        3,
        &[
            ("Required", "pass", "template.yaml", 23),
            ("Optional", "fail", "template.yaml", 28),
            ("Missing", "fail", "template.yaml", 29),
            ("RefDefault", "pass", "template.yaml", 37),
            ("RefLegacy", "fail", "template.yaml", 42),
            ("RefNoDefault", "unknown", "template.yaml", 47),
            ("Conditional", "pass", "template.yaml", 52),
            ("Substituted", "pass", "template.yaml", 57),
            ("Disabled", "pass", "template.yaml", 58),
            ("CaseWrong", "fail", "template.yaml", 67),
            ("Template", "pass", "template.yaml", 74),
            ("LegacyTemplate", "fail", "template.yaml", 75),
            ("FromTemplate", "fail", "template.yaml", 80),
            ("LaunchConfig", "fail", "template.yaml", 92),
            ("NamedTemplate", "pass", "template.yaml", 106),
            ("NamedLegacyTemplate", "fail", "template.yaml", 107),
            // LaunchTemplateName is matched against the templates' own (resolved) names.
            ("FromTemplateName", "pass", "template.yaml", 113),
            ("FromLegacyTemplateName", "fail", "template.yaml", 119),
            ("FromOtherStackName", "unknown", "template.yaml", 125),
            ("JsonRequired", "pass", "template.json", 15),
            ("JsonRef", "fail", "template.json", 22),
            ("JsonTemplateEmpty", "fail", "template.json", 26),
            // Long forms: Fn::If over Conditions (Fn::Equals, Fn::Not, Condition), Fn::Sub.
            ("JsonIfProd", "pass", "template.json", 36),
            ("JsonIfDev", "fail", "template.json", 44),
            ("JsonSub", "fail", "template.json", 52),
            ("JsonSubVars", "pass", "template.json", 61),
        ],
    );
}

#[test]
fn cloudformation_inheritance() {
    let (_, _, doc) = records(&format!("{FIX}/cfn/template.yaml"));
    assert_eq!(provenance(&doc, "FromTemplate"), (None, some("LegacyTemplate")));
    assert_eq!(provenance(&doc, "FromTemplateName"), (None, some("NamedTemplate")));
    assert_eq!(provenance(&doc, "FromLegacyTemplateName"), (None, some("NamedLegacyTemplate")));
    assert_eq!(provenance(&doc, "FromOtherStackName"), (None, None));
    let other = record(&doc, "FromOtherStackName");
    assert!(other["reason"].as_str().is_some_and(|r| r.contains("\"defined-elsewhere\"")), "{other}");
    let legacy = record(&doc, "FromLegacyTemplateName");
    assert_eq!(legacy["fix"], serde_json::json!({"kind": "template", "address": "NamedLegacyTemplate"}));
}

#[test]
fn terraform_plan_json() {
    expect(
        &format!("{FIX}/plan"),
        3,
        &[
            ("aws_instance.known_required", "pass", "plan.json", 18),
            ("aws_instance.known_optional", "fail", "plan.json", 36),
            ("aws_instance.after_apply", "unknown", "plan.json", 43),
            ("aws_instance.not_configured", "fail", "plan.json", 54),
            ("module.app.aws_launch_template.lt[0]", "fail", "plan.json", 65),
            ("module.app.aws_autoscaling_group.asg", "fail", "plan.json", 78),
        ],
    );
}

#[test]
fn terraform_plan_json_account_default() {
    const DEFAULTS: &str = "aws_ec2_instance_metadata_defaults.account";
    let doc = expect(
        &format!("{FIX}/plan_controls"),
        3,
        &[
            (DEFAULTS, "pass", "plan.json", 6),
            ("aws_instance.not_configured", "pass", "plan.json", 17),
            ("aws_instance.explicit_optional", "fail", "plan.json", 35),
            ("aws_launch_template.unset", "pass", "plan.json", 39),
            ("aws_autoscaling_group.asg", "pass", "plan.json", 50),
            ("aws_eks_node_group.default_template", "fail", "plan.json", 61),
        ],
    );
    assert_eq!(provenance(&doc, "aws_instance.not_configured"), (some(DEFAULTS), None));
    assert_eq!(provenance(&doc, "aws_instance.explicit_optional"), (None, None));
    assert_eq!(provenance(&doc, "aws_launch_template.unset"), (some(DEFAULTS), None));
    assert_eq!(provenance(&doc, "aws_autoscaling_group.asg"), (some(DEFAULTS), some("aws_launch_template.unset")));
    assert_eq!(provenance(&doc, "aws_eks_node_group.default_template"), (None, None));
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
    let unknown = find("IMDS002", "tf_remote/main.tf", 1).unwrap_or_else(|| panic!("no IMDS002: {out}"));
    assert_eq!(unknown["level"], "warning");
    assert_eq!(unknown["ruleIndex"], 1);
    let parse = find("IMDS000", "broken/tf/bad.tf", 4).unwrap_or_else(|| panic!("no IMDS000 for bad.tf: {out}"));
    assert_eq!(parse["level"], "error");
    assert_eq!(parse["ruleIndex"], 2);
    assert!(find("IMDS000", "broken/cfn/bad.yaml", 6).is_some(), "no IMDS000 for bad.yaml: {out}");
    assert!(find("IMDS001", "broken/tf/good.tf", 3).is_some(), "{out}");
    let rules: Vec<&str> = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(rules, vec!["IMDS001", "IMDS002", "IMDS000"]);
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
