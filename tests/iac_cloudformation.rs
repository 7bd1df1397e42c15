//! `imdswatch iac` on CloudFormation templates.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;
use serde_json::Value;

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
    assert_eq!(
        legacy["fix"],
        serde_json::json!({
            "kind": "template",
            "address": "NamedLegacyTemplate",
            "what": "in NamedLegacyTemplate set Properties.LaunchTemplateData.MetadataOptions",
            "text": "MetadataOptions:\n  HttpTokens: required"
        })
    );
}

/// Issue 27 item 6: JSON and SARIF carry the exact text a human report prints, and a JSON
/// template gets it in JSON (a YAML snippet pasted into JSON breaks the template).
#[test]
fn fixes_carry_their_text_in_the_template_syntax() {
    let (_, _, doc) = records(&format!("{FIX}/cfn/template.json"));
    let failing: Vec<&Value> =
        doc["records"].as_array().map(|r| r.iter().filter(|r| r["verdict"] == "fail").collect()).unwrap_or_default();
    assert!(!failing.is_empty(), "{doc}");
    for r in failing {
        let text = r["fix"]["text"].as_str().unwrap_or_else(|| panic!("no fix text: {r}"));
        let wrapped: Value = serde_json::from_str(&format!("{{{text}}}")).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(wrapped["MetadataOptions"]["HttpTokens"], "required", "{text}");
        assert!(r["fix"]["what"].as_str().is_some_and(|w| !w.is_empty()), "{r}");
    }
    let (_, _, yaml) = records(&format!("{FIX}/cfn/template.yaml"));
    let r = record(&yaml, "FromLegacyTemplateName");
    assert_eq!(r["fix"]["text"], "MetadataOptions:\n  HttpTokens: required");
    // SARIF: the same words and text in the message and in the result's properties.
    let (_, out) = run(&["--format", "sarif", &format!("{FIX}/cfn/template.json")]);
    let sarif: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let results = sarif["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    let errors: Vec<&Value> = results.iter().filter(|r| r["level"] == "error").collect();
    assert!(!errors.is_empty(), "{out}");
    for r in errors {
        let text = r["properties"]["fix"]["text"].as_str().unwrap_or_default();
        assert!(text.contains("\"HttpTokens\": \"required\""), "{r}");
        assert!(r["message"]["text"].as_str().is_some_and(|m| m.contains("Fix: ") && m.contains(text)), "{r}");
    }
}

#[test]
fn cloudformation_types_that_launch_instances() {
    let doc = expect(
        &format!("{FIX}/cfn_types/stack.yaml"),
        3,
        &[
            ("Secure", "pass", "stack.yaml", 11),
            ("Legacy", "fail", "stack.yaml", 12),
            ("Config", "fail", "stack.yaml", 17),
            ("GroupSecure", "pass", "stack.yaml", 21),
            // The worst of the mixed instances policy's templates.
            ("GroupMixed", "fail", "stack.yaml", 27),
            ("GroupConfig", "fail", "stack.yaml", 37),
            ("GroupExternal", "unknown", "stack.yaml", 41),
            ("SpotFleetTemplate", "pass", "stack.yaml", 46),
            // Reported at the launch specification.
            ("SpotFleetSpecification", "fail", "stack.yaml", 58),
            ("Fleet", "fail", "stack.yaml", 59),
            ("NodesWithTemplate", "pass", "stack.yaml", 65),
            ("NodesDefault", "fail", "stack.yaml", 70),
            ("BatchTemplate", "pass", "stack.yaml", 74),
            // No image type: Batch's default is ECS_AL2023 only for environments created since
            // January 2026, and a template does not say when the environment was created.
            ("BatchDefault", "unknown", "stack.yaml", 82),
            ("BatchAl2023", "pass", "stack.yaml", 88),
            // BatchFargate launches no EC2 instance: no record.
            ("BuilderOptional", "fail", "stack.yaml", 106),
            ("BuilderRequired", "pass", "stack.yaml", 111),
            ("BuilderUnset", "fail", "stack.yaml", 112),
            ("BatchAl2Pinned", "fail", "stack.yaml", 116),
        ],
    );
    assert_eq!(provenance(&doc, "GroupMixed"), (None, some("Legacy")));
    assert_eq!(provenance(&doc, "GroupConfig"), (None, some("Config")));
    assert_eq!(provenance(&doc, "NodesDefault"), (None, None));
    assert_eq!(record(&doc, "BuilderOptional")["fix"]["path"], "Properties.InstanceMetadataOptions");
    let batch = record(&doc, "BatchDefault");
    assert!(batch["reason"].as_str().is_some_and(|r| r.contains("January 2026")), "{batch}");
    assert_eq!(batch["fix"]["text"], "Ec2Configuration:\n  - ImageType: ECS_AL2023", "{batch}");
    let pinned = record(&doc, "BatchAl2Pinned");
    assert!(pinned["reason"].as_str().is_some_and(|r| r.contains("ECS_AL2 boots Amazon Linux 2")), "{pinned}");
}
