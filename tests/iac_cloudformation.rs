//! `imdswatch iac` on CloudFormation templates.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;

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
            ("BatchDefault", "fail", "stack.yaml", 82),
            ("BatchAl2023", "pass", "stack.yaml", 88),
            // BatchFargate launches no EC2 instance: no record.
            ("BuilderOptional", "fail", "stack.yaml", 106),
            ("BuilderRequired", "pass", "stack.yaml", 111),
            ("BuilderUnset", "fail", "stack.yaml", 112),
        ],
    );
    assert_eq!(provenance(&doc, "GroupMixed"), (None, some("Legacy")));
    assert_eq!(provenance(&doc, "GroupConfig"), (None, some("Config")));
    assert_eq!(provenance(&doc, "NodesDefault"), (None, None));
    assert_eq!(record(&doc, "BuilderOptional")["fix"]["path"], "Properties.InstanceMetadataOptions");
    let batch = record(&doc, "BatchDefault");
    assert!(batch["reason"].as_str().is_some_and(|r| r.contains("Amazon Linux 2023")), "{batch}");
}
