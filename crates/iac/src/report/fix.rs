//! The fix of a finding, as every format prints it: what to do, and the exact text to add.

use crate::clouds::{self, Cloud};
use crate::verdict::{Fix, Record};

const BLOCK: &str = "metadata_options {\n  http_tokens = \"required\"\n}";

/// The fix for a record: what to do (one line, e.g. `in aws_instance.web set`) and the exact
/// text to add (empty when there is nothing to paste). A CloudFormation template written in
/// JSON gets JSON.
pub fn parts(r: &Record, fix: &Fix) -> (String, String) {
    let mo = if r.json_source {
        "\"MetadataOptions\": {\n  \"HttpTokens\": \"required\"\n}"
    } else {
        "MetadataOptions:\n  HttpTokens: required"
    };
    let res = &r.resource;
    if let Some(parts) = crate::tools::Tool::of(&r.rtype).and_then(|t| crate::tools::fix_parts(t, res, fix)) {
        return parts;
    }
    let cloud = Cloud::of(&r.rtype);
    let cfn = r.rtype.starts_with("AWS::");
    let (what, text): (String, &str) = match fix {
        Fix::TerraformBlock if r.rtype == "aws_imagebuilder_infrastructure_configuration" => {
            (format!("in {res} set"), "instance_metadata_options {\n  http_tokens = \"required\"\n}")
        }
        Fix::TerraformBlock => (format!("in {res} set"), BLOCK),
        Fix::TerraformDefaults => (format!("in {res} set"), "http_tokens = \"required\""),
        Fix::EksLaunchTemplate => {
            (format!("give {res} a launch_template {{ id, version }} whose aws_launch_template sets"), BLOCK)
        }
        Fix::UseLaunchTemplate if cfn => {
            (format!("make {res} launch a launch template whose LaunchTemplateData sets"), mo)
        }
        Fix::UseLaunchTemplate if cloud == Cloud::Alibaba => (
            format!(
                "launch the scaling group of {res} from an alicloud_ecs_launch_template (launch_template_id) that sets"
            ),
            "http_tokens = \"required\"",
        ),
        Fix::UseLaunchTemplate => (format!("make {res} launch an aws_launch_template that sets"), BLOCK),
        Fix::Template { address } if cfn => {
            (format!("in {address} set Properties.LaunchTemplateData.MetadataOptions"), mo)
        }
        Fix::Template { address } if cloud == Cloud::Alibaba => {
            (format!("in {address} (the template it launches) set"), "http_tokens = \"required\"")
        }
        Fix::Template { address } if cloud == Cloud::Oci => (
            format!(
                "in {address} (the instance configuration it launches from), inside instance_details.launch_details, set"
            ),
            "instance_options {\n  are_legacy_imds_endpoints_disabled = true\n}",
        ),
        Fix::Template { address } => (format!("in {address} (the template it launches) set"), BLOCK),
        Fix::Set { inside: Some(inside), text } => (format!("in {res}, inside {inside}, set"), text.as_str()),
        Fix::Set { inside: None, text } => (format!("in {res} set"), text.as_str()),
        Fix::CloudFormation { path } => (format!("in {res} set {path}"), mo),
        Fix::Karpenter => (
            format!("in {res} set (or remove metadataOptions: Karpenter's default is required)"),
            "spec:\n  metadataOptions:\n    httpTokens: required",
        ),
        Fix::CheckPlan => (
            "check the plan, which includes the module's resources:".to_string(),
            "terraform plan -out=tfplan && terraform show -json tfplan > plan.json && imdswatch iac plan.json",
        ),
        Fix::MakeKnown => {
            let line = clouds::rule(&r.rtype).map_or("http_tokens = \"required\"", |c| c.fix_line);
            (format!("make the value known before deploy (a default, tfvars, or a literal {line})"), "")
        }
    };
    (what, text.to_string())
}
