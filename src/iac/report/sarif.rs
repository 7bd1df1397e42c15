//! `--format sarif`: SARIF 2.1.0 for code-scanning UIs. Failures are errors, unknowns are
//! warnings, parse errors are errors of their own rule; passes are not reported.

use serde_json::{Value, json};

use crate::iac::verdict::{Record, Verdict};

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
];

pub fn render(records: &[Record]) -> Result<String, serde_json::Error> {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, name, short, help)| {
            json!({"id": id, "name": name, "shortDescription": {"text": short}, "help": {"text": help}})
        })
        .collect();
    let results: Vec<Value> = records
        .iter()
        .filter_map(|r| {
            let (rule, index, level) = match r.verdict {
                Verdict::Fail => ("IMDS001", 0, "error"),
                Verdict::Unknown => ("IMDS002", 1, "warning"),
                Verdict::ParseError => ("IMDS000", 2, "error"),
                Verdict::Pass => return None,
            };
            let text = if r.resource.is_empty() { r.reason.clone() } else { format!("{}: {}", r.resource, r.reason) };
            Some(json!({
                "ruleId": rule,
                "ruleIndex": index,
                "level": level,
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": r.file},
                    "region": {"startLine": r.line.max(1)}
                }}],
                "partialFingerprints": {"imdswatch/v1": format!("{}:{}:{}", r.file, r.resource, rule)}
            }))
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
            "results": results
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}
