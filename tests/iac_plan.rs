//! `imdswatch iac` on Terraform plan JSON (`terraform show -json`).

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;

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
fn plan_new_types_ami_control_and_case_hint() {
    let doc = expect(
        &format!("{FIX}/plan_types"),
        3,
        &[
            ("aws_ami.v2", "pass", "plan.json", 6),
            // The AMI control works in plans: the instance's `ami` references aws_ami.v2.
            ("aws_instance.from_v2_ami", "pass", "plan.json", 10),
            ("aws_instance.capitalised", "fail", "plan.json", 16),
            ("aws_launch_template.from_v2_ami", "pass", "plan.json", 18),
            ("aws_spot_fleet_request.spec", "fail", "plan.json", 22),
            ("aws_ec2_fleet.fleet", "pass", "plan.json", 26),
            // The plan creates it: new environments get ECS_AL2023 (January 2026 on).
            ("aws_batch_compute_environment.default_ami", "pass", "plan.json", 30),
            ("aws_imagebuilder_infrastructure_configuration.optional", "fail", "plan.json", 40),
            ("aws_spot_instance_request.required", "pass", "plan.json", 44),
            // Not created by this plan: it may predate the new default.
            ("aws_batch_compute_environment.existing", "unknown", "plan.json", 46),
            ("aws_batch_compute_environment.al2_pinned", "fail", "plan.json", 50),
        ],
    );
    assert_eq!(provenance(&doc, "aws_instance.from_v2_ami"), (some("aws_ami.v2"), None));
    assert_eq!(provenance(&doc, "aws_ec2_fleet.fleet"), (some("aws_ami.v2"), some("aws_launch_template.from_v2_ami")));
    let caps = record(&doc, "aws_instance.capitalised");
    assert!(caps["reason"].as_str().is_some_and(|r| r.contains("case-sensitive")), "{caps}");
}
