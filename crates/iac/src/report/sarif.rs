//! `--format sarif`: SARIF 2.1.0 for code-scanning UIs. Failures are errors, unknowns are
//! warnings, parse errors are errors of their own rule; passes are not reported.

use serde_json::{Value, json};

use crate::clouds::Cloud;
use crate::tools::Tool;
use crate::verdict::{Record, ResourceVerdict, Unresolved};

const RULES: &[(&str, &str, &str, &str)] = &[
    (
        "IMDS001",
        "imdsv1-allowed",
        "IMDSv1 is allowed",
        "Set metadata_options { http_tokens = \"required\" } (CloudFormation: MetadataOptions.HttpTokens: required) so that only IMDSv2 is accepted.",
    ),
    (
        "IMDS002",
        "imds-unknown",
        "Whether IMDSv1 is allowed cannot be known statically",
        "Make the value known before deploy, or set http_tokens = \"required\" literally.",
    ),
    ("IMDS000", "parse-error", "The file could not be checked", "Fix the syntax error so the file can be checked."),
    // The other clouds (`iac::clouds`): the same numbers mean the same (001 legacy path allowed,
    // 002 unknown); AWS keeps its ids so existing alerts keep theirs.
    (
        "IMDS-ALI-001",
        "alibaba-normal-mode-allowed",
        "Alibaba Cloud ECS metadata normal mode (no token) is allowed",
        "Set http_tokens = \"required\" on the alicloud_instance or alicloud_ecs_launch_template so that only the security hardening (token) mode is accepted.",
    ),
    (
        "IMDS-ALI-002",
        "alibaba-imds-unknown",
        "Whether Alibaba Cloud ECS metadata normal mode is allowed cannot be known statically",
        "Make the value known before deploy, or set http_tokens = \"required\" literally.",
    ),
    (
        "IMDS-OCI-001",
        "oci-legacy-imds-allowed",
        "OCI legacy instance metadata endpoints (/opc/v1, /openstack) are enabled",
        "Set instance_options { are_legacy_imds_endpoints_disabled = true } on the oci_core_instance.",
    ),
    (
        "IMDS-OCI-002",
        "oci-imds-unknown",
        "Whether OCI legacy instance metadata endpoints are enabled cannot be known statically",
        "Make the value known before deploy, or set are_legacy_imds_endpoints_disabled = true literally.",
    ),
    (
        "IMDS-GCP-001",
        "gcp-legacy-metadata-allowed",
        "Google Cloud legacy metadata endpoints (/0.1/, /computeMetadata/v1beta1/) are enabled",
        "Never raised since Google shut the legacy endpoints down on 2020-09-30 (Compute Engine deprecations); kept so that existing alerts keep their rule.",
    ),
    (
        "IMDS-GCP-002",
        "gcp-metadata-unknown",
        "Whether Google Cloud legacy metadata endpoints are enabled cannot be known statically",
        "Never raised since Google shut the legacy endpoints down on 2020-09-30 (Compute Engine deprecations).",
    ),
];

/// The rules of the other IaC tools (`iac::tools`): `IMDS-<TOOL>-001` IMDSv1 allowed,
/// `-002` unknown, in `Tool::ALL` order after the clouds'.
static TOOL_RULES: std::sync::LazyLock<Vec<(String, String, String, String)>> = std::sync::LazyLock::new(|| {
    Tool::ALL
        .iter()
        .flat_map(|t| {
            let id = t.sarif();
            let slug = id.to_ascii_lowercase();
            [
                (
                    format!("IMDS-{id}-001"),
                    format!("{slug}-imdsv1-allowed"),
                    format!("{}: IMDSv1 is allowed", t.name()),
                    format!(
                        "Require IMDSv2 in the {} configuration ({}); the default comes from {}.",
                        t.name(),
                        t.literal(),
                        t.source()
                    ),
                ),
                (
                    format!("IMDS-{id}-002"),
                    format!("{slug}-imds-unknown"),
                    format!("{}: whether IMDSv1 is allowed cannot be known statically", t.name()),
                    format!("Make the value known before deploy, or write {} literally.", t.literal()),
                ),
            ]
        })
        .collect()
});

/// Every rule: (id, name, short description, help).
fn all_rules() -> Vec<(String, String, String, String)> {
    let fixed = RULES.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()));
    fixed.chain(TOOL_RULES.iter().cloned()).collect()
}

/// The rule id of a failing or unknown record: AWS's, or its cloud's, or its tool's.
fn rule_id(r: &Record) -> String {
    let unknown = r.verdict == ResourceVerdict::Unknown;
    if let Some(t) = Tool::of(&r.rtype) {
        return format!("IMDS-{}-00{}", t.sarif(), if unknown { 2 } else { 1 });
    }
    let id = match (Cloud::of(&r.rtype), unknown) {
        (Cloud::Aws, false) => "IMDS001",
        (Cloud::Aws, true) => "IMDS002",
        (Cloud::Alibaba, false) => "IMDS-ALI-001",
        (Cloud::Alibaba, true) => "IMDS-ALI-002",
        (Cloud::Oci, false) => "IMDS-OCI-001",
        (Cloud::Oci, true) => "IMDS-OCI-002",
        (Cloud::Gcp, false) => "IMDS-GCP-001",
        (Cloud::Gcp, true) => "IMDS-GCP-002",
    };
    id.to_string()
}

pub fn render(records: &[Record], unresolved: &[Unresolved]) -> Result<String, serde_json::Error> {
    let all = all_rules();
    let rules: Vec<Value> = all
        .iter()
        .map(|(id, name, short, help)| {
            json!({"id": id, "name": name, "shortDescription": {"text": short}, "help": {"text": help}})
        })
        .collect();
    let results: Vec<Value> = records
        .iter()
        .filter_map(|r| {
            let (rule, level) = match r.verdict {
                ResourceVerdict::Fail => (rule_id(r), "error"),
                ResourceVerdict::Unknown => (rule_id(r), "warning"),
                ResourceVerdict::ParseError => ("IMDS000".to_string(), "error"),
                ResourceVerdict::Pass => return None,
            };
            let index = all.iter().position(|(id, ..)| *id == rule).unwrap_or_default();
            let text = if r.resource.is_empty() { r.reason.clone() } else { format!("{}: {}", r.resource, r.reason) };
            let fix = r.fix.as_ref().map(|f| super::fix::parts(r, f));
            let text = match &fix {
                Some((what, add)) if add.is_empty() => format!("{text}\nFix: {what}"),
                Some((what, add)) => format!("{text}\nFix: {what}\n{add}"),
                None => text,
            };
            let mut result = json!({
                "ruleId": rule,
                "ruleIndex": index,
                "level": level,
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": r.file},
                    "region": {"startLine": r.line.max(1)}
                }}],
                "partialFingerprints": {"imdswatch/v1": format!("{}:{}:{}", r.file, r.resource, rule)}
            });
            // The exact text to add, where code-scanning UIs look for it (not an
            // `artifactChanges` fix: the insertion point is a block, not a known line).
            if let (Some((what, add)), Some(obj)) = (fix, result.as_object_mut()) {
                obj.insert("properties".into(), json!({"fix": {"what": what, "text": add}}));
            }
            Some(result)
        })
        .collect();
    let notes: Vec<Value> = unresolved
        .iter()
        .map(|u| {
            json!({
                "level": "note",
                "message": {"text": format!("{}: not followed, its resources were not checked: {}", u.module, u.reason)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": u.file},
                    "region": {"startLine": u.line.max(1)}
                }}]
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "imdswatch",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "results": results,
            "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": notes}]
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}
