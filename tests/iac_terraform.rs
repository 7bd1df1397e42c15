//! `imdswatch iac` on Terraform configurations: values, modules, inheritance, controls, JSON syntax.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;

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
    let doc = expect(
        &format!("{FIX}/tf_modules"),
        3,
        &[
            ("module.app.aws_instance.web", "pass", "modules/web/main.tf", 9),
            ("module.legacy.aws_instance.web", "fail", "modules/web/main.tf", 9),
            ("module.fleet[0].aws_instance.web", "pass", "modules/web/main.tf", 9),
            ("module.fleet[1].aws_instance.web", "fail", "modules/web/main.tf", 9),
            ("module.loop.aws_launch_template.inner", "pass", "modules/loop/main.tf", 7),
            // A module that sources its own directory is that directory (issue 23): its
            // resources are checked once, and the call adds nothing.
        ],
    );
    // A registry module that is not installed is a note about coverage, not a record.
    assert_eq!(unresolved(&doc), [("module.remote".to_string(), "tf_modules/main.tf".to_string(), 23)]);
}

#[test]
fn remote_modules_are_coverage_notes_and_fail_only_with_strict() {
    let path = format!("{FIX}/tf_remote");
    let doc = expect(&path, 0, &[("module.wrapper.aws_instance.ok", "pass", "tf_remote/wrapper/main.tf", 7)]);
    assert_eq!(
        unresolved(&doc),
        [
            ("module.registry".to_string(), "tf_remote/main.tf".to_string(), 1),
            ("module.wrapper.module.inner".to_string(), "tf_remote/wrapper/main.tf".to_string(), 1),
        ]
    );
    assert_eq!(doc["summary"]["unresolved"], 2);
    let note = &doc["unresolved"][0];
    assert_eq!(note["source"], "\"terraform-aws-modules/ec2-instance/aws\" (version \"5.0.0\")");
    let reason = note["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("\"terraform-aws-modules/ec2-instance/aws\" is not local"), "{reason}");
    // --strict: a tree whose modules were not all followed is not called clean.
    assert_eq!(run(&["--strict", &path]).0, 3);
    let (_, human) = run(&[&path]);
    assert!(!human.contains("UNKNOWN"), "{human}");
    assert!(human.contains("coverage: 2 module calls not followed"), "{human}");
    assert!(human.contains("--show-unresolved lists them"), "{human}");
    let (_, listed) = run(&["--show-unresolved", &path]);
    assert!(
        listed.contains(
            "tf_remote/main.tf:1: module.registry: not followed — the module's source \"terraform-aws-modules"
        ),
        "{listed}"
    );
    // -q: findings only; here there are none, so nothing at all.
    let (code, quiet) = run(&["-q", &path]);
    assert_eq!((code, quiet.as_str()), (0, ""));
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
fn every_type_that_launches_instances() {
    let doc = expect(
        &format!("{FIX}/tf_types"),
        3,
        &[
            ("aws_launch_template.secure", "pass", "main.tf", 3),
            ("aws_launch_template.legacy", "fail", "main.tf", 7),
            ("aws_spot_instance_request.required", "pass", "main.tf", 13),
            ("aws_spot_instance_request.missing", "fail", "main.tf", 17),
            ("aws_spot_instance_request.from_template", "pass", "main.tf", 21),
            ("aws_spot_fleet_request.templates", "pass", "main.tf", 27),
            // A launch_specification cannot set metadata options.
            ("aws_spot_fleet_request.specification", "fail", "main.tf", 35),
            ("aws_ec2_fleet.legacy", "fail", "main.tf", 41),
            ("aws_ec2_fleet.unknown", "unknown", "main.tf", 49),
            ("aws_batch_compute_environment.with_template", "pass", "main.tf", 57),
            // No image type: ECS_AL2023 only for environments created since January 2026.
            ("aws_batch_compute_environment.default_ami", "unknown", "main.tf", 66),
            ("aws_batch_compute_environment.al2023", "pass", "main.tf", 72),
            // Fargate and unmanaged environments launch no instance: no record.
            ("aws_imagebuilder_infrastructure_configuration.optional", "fail", "main.tf", 93),
            ("aws_imagebuilder_infrastructure_configuration.required", "pass", "main.tf", 99),
            ("aws_imagebuilder_infrastructure_configuration.unset", "fail", "main.tf", 103),
            ("aws_autoscaling_group.from_lc", "pass", "main.tf", 106),
            ("aws_launch_configuration.lc", "pass", "main.tf", 112),
            ("aws_ami.v2", "pass", "main.tf", 118),
            ("aws_spot_fleet_request.specification_v2_ami", "pass", "main.tf", 123),
            ("aws_batch_compute_environment.al2_pinned", "fail", "main.tf", 130),
        ],
    );
    assert_eq!(provenance(&doc, "aws_ec2_fleet.legacy"), (None, some("aws_launch_template.legacy")));
    assert_eq!(provenance(&doc, "aws_autoscaling_group.from_lc"), (None, some("aws_launch_configuration.lc")));
    // The AMI control reaches a fleet's launch specification.
    assert_eq!(provenance(&doc, "aws_spot_fleet_request.specification_v2_ami"), (some("aws_ami.v2"), None));
    let spec = record(&doc, "aws_spot_fleet_request.specification");
    assert!(spec["reason"].as_str().is_some_and(|r| r.contains("cannot set metadata_options")), "{spec}");
    assert_eq!(spec["fix"]["kind"], "use_launch_template");
    let unset = record(&doc, "aws_imagebuilder_infrastructure_configuration.unset");
    assert!(unset["reason"].as_str().is_some_and(|r| r.starts_with("no instance_metadata_options block")), "{unset}");
}

#[test]
fn registry_modules_evaluated_as_terraform_does() {
    const EKS: &str = "module.eks.module.eks_managed_node_group";
    const TYPED: &str = "module.eks.module.typed_node_group";
    const NG: &str = ".terraform/modules/eks/modules/eks-managed-node-group/main.tf";
    const ASG: &str = ".terraform/modules/asg/main.tf";
    let lt = |m: &str, k: &str| format!("{m}[\"{k}\"].aws_launch_template.this[0]");
    let ng = |m: &str, k: &str| format!("{m}[\"{k}\"].aws_eks_node_group.this[0]");
    let want: Vec<(String, &str, &str, u64)> = vec![
        // null metadata_options → the nullable = false variable's default (required).
        (lt(EKS, "default"), "pass", NG, 46),
        (ng(EKS, "default"), "pass", NG, 51),
        // The dynamic launch_template block is empty only with use_custom_launch_template = false.
        (ng(EKS, "no_custom"), "fail", NG, 51),
        (lt(EKS, "legacy"), "fail", NG, 46),
        (ng(EKS, "legacy"), "fail", NG, 51),
        // optional(string, "required") fills attributes a typed input leaves out.
        (lt(TYPED, "typed_default"), "pass", NG, 46),
        (ng(TYPED, "typed_default"), "pass", NG, 51),
        (lt(TYPED, "typed_partial"), "pass", NG, 46),
        (ng(TYPED, "typed_partial"), "pass", NG, 51),
        ("module.asg_default.aws_launch_template.this[0]".into(), "fail", ASG, 28),
        ("module.asg_default.aws_autoscaling_group.this[0]".into(), "fail", ASG, 41),
        ("module.asg_required.aws_launch_template.this[0]".into(), "pass", ASG, 36),
        ("module.asg_required.aws_autoscaling_group.this[0]".into(), "pass", ASG, 41),
        ("module.asg_mixed.aws_launch_template.this[0]".into(), "pass", ASG, 36),
        ("module.asg_mixed.aws_autoscaling_group.this[0]".into(), "pass", ASG, 41),
        // The template is passed in by the calling module: followed back to its resource.
        ("module.asg_external.aws_autoscaling_group.this[0]".into(), "fail", ASG, 41),
        ("aws_launch_template.example".into(), "fail", "tf_module_patterns/main.tf", 40),
    ];
    let want: Vec<(&str, &str, &str, u64)> = want.iter().map(|(a, v, f, l)| (a.as_str(), *v, *f, *l)).collect();
    let doc = expect(&format!("{FIX}/tf_module_patterns"), 3, &want);
    // Not in modules.json: a coverage note, never a silent pass.
    assert_eq!(unresolved(&doc), [("module.not_installed".to_string(), "tf_module_patterns/main.tf".to_string(), 44)]);
    assert_eq!(provenance(&doc, &ng(EKS, "default")), (None, Some(lt(EKS, "default"))));
    assert_eq!(
        provenance(&doc, "module.asg_mixed.aws_autoscaling_group.this[0]"),
        (None, some("module.asg_mixed.aws_launch_template.this[0]"))
    );
    assert_eq!(record(&doc, &ng(EKS, "no_custom"))["fix"]["kind"], "eks_launch_template");
    assert_eq!(
        provenance(&doc, "module.asg_external.aws_autoscaling_group.this[0]"),
        (None, some("aws_launch_template.example"))
    );
}
