//! What an engineer reads in CI: one line per finding, the fix to paste, a summary.

use std::fmt::Write as _;

use super::Summary;
use crate::clouds::{self, Cloud};
use crate::verdict::{Fix, Record, Verdict};

pub fn render(records: &[Record], show_pass: bool, strict: bool, quiet: bool) -> String {
    let mut out = String::new();
    for r in records {
        if r.verdict == Verdict::Pass && !show_pass {
            continue;
        }
        let label = match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Unknown => "UNKNOWN",
            Verdict::ParseError => "ERROR",
        };
        if r.verdict == Verdict::ParseError {
            let _ = writeln!(out, "{}:{}: {label} — {}", r.file, r.line, r.reason);
            continue;
        }
        let _ = writeln!(out, "{}:{}: {}: {label} — {}", r.file, r.line, r.resource, r.reason);
        if let Some(fix) = &r.fix {
            out.push_str(&fix_text(r, fix));
        }
    }
    if quiet {
        return out;
    }
    let s = Summary::of(records);
    let _ = write!(
        out,
        "\nimdswatch iac: {} resource{} checked in {} file{}: {} fail, {} unknown, {} pass",
        s.checked,
        plural(s.checked),
        s.files,
        plural(s.files),
        s.fail,
        s.unknown,
        s.pass
    );
    if s.parse_error > 0 {
        let _ = write!(out, ", {} error{}", s.parse_error, plural(s.parse_error));
    }
    out.push('\n');
    if s.unknown > 0 && !strict {
        out.push_str("(unknown verdicts do not fail the check; use --strict to make them fail)\n");
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      {l}\n")).collect()
}

fn fix_text(r: &Record, fix: &Fix) -> String {
    let block = "metadata_options {\n  http_tokens = \"required\"\n}";
    match fix {
        Fix::TerraformBlock if r.rtype == "aws_imagebuilder_infrastructure_configuration" => format!(
            "    fix: in {} set\n{}",
            r.resource,
            indent("instance_metadata_options {\n  http_tokens = \"required\"\n}")
        ),
        Fix::TerraformBlock => format!("    fix: in {} set\n{}", r.resource, indent(block)),
        Fix::TerraformDefaults => format!("    fix: in {} set\n{}", r.resource, indent("http_tokens = \"required\"")),
        Fix::EksLaunchTemplate => format!(
            "    fix: give {} a launch_template {{ id, version }} whose aws_launch_template sets\n{}",
            r.resource,
            indent(block)
        ),
        Fix::UseLaunchTemplate if r.rtype.starts_with("AWS::") => format!(
            "    fix: make {} launch a launch template whose LaunchTemplateData sets\n{}",
            r.resource,
            indent("MetadataOptions:\n  HttpTokens: required")
        ),
        Fix::UseLaunchTemplate if Cloud::of(&r.rtype) == Cloud::Alibaba => format!(
            "    fix: launch the scaling group of {} from an alicloud_ecs_launch_template (launch_template_id) that sets\n{}",
            r.resource,
            indent("http_tokens = \"required\"")
        ),
        Fix::UseLaunchTemplate => {
            format!("    fix: make {} launch an aws_launch_template that sets\n{}", r.resource, indent(block))
        }
        Fix::Template { address } if r.rtype.starts_with("AWS::") => format!(
            "    fix: in {address} set Properties.LaunchTemplateData.MetadataOptions\n{}",
            indent("MetadataOptions:\n  HttpTokens: required")
        ),
        Fix::Template { address } if Cloud::of(&r.rtype) == Cloud::Alibaba => {
            format!("    fix: in {address} (the template it launches) set\n{}", indent("http_tokens = \"required\""))
        }
        Fix::Template { address } if Cloud::of(&r.rtype) == Cloud::Gcp => format!(
            "    fix: in {address} (the template it launches) set\n{}",
            indent("metadata = {\n  disable-legacy-endpoints = \"true\"\n}")
        ),
        Fix::Template { address } if Cloud::of(&r.rtype) == Cloud::Oci => format!(
            "    fix: in {address} (the instance configuration it launches from), inside instance_details.launch_details, set\n{}",
            indent("instance_options {\n  are_legacy_imds_endpoints_disabled = true\n}")
        ),
        Fix::Template { address } => format!("    fix: in {address} (the template it launches) set\n{}", indent(block)),
        Fix::Set { inside: Some(inside), text } => {
            format!("    fix: in {}, inside {inside}, set\n{}", r.resource, indent(text))
        }
        Fix::Set { inside: None, text } => format!("    fix: in {} set\n{}", r.resource, indent(text)),
        Fix::MakeKnown if clouds::rule(&r.rtype).is_some() => format!(
            "    fix: make the value known before deploy (a default, tfvars, or a literal {})\n",
            clouds::rule(&r.rtype).map_or("", |c| c.fix_line)
        ),
        Fix::CloudFormation { path } => {
            format!("    fix: in {} set {path}\n{}", r.resource, indent("MetadataOptions:\n  HttpTokens: required"))
        }
        Fix::Karpenter => format!(
            "    fix: in {} set (or remove metadataOptions: Karpenter's default is required)\n{}",
            r.resource,
            indent("spec:\n  metadataOptions:\n    httpTokens: required")
        ),
        Fix::CheckPlan => "    fix: check the plan, which includes the module's resources:\n      \
             terraform plan -out=tfplan && terraform show -json tfplan > plan.json && imdswatch iac plan.json\n"
            .to_string(),
        Fix::MakeKnown => {
            "    fix: make the value known before deploy (a default, tfvars, or a literal http_tokens = \"required\")\n"
                .to_string()
        }
    }
}
