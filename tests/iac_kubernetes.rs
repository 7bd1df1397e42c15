//! `imdswatch iac` on Kubernetes manifests: Karpenter EC2NodeClass (v1, v1beta1) in
//! multi-document YAML; other kinds and unrelated YAML are ignored quietly.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;
use serde_json::Value;

#[test]
fn karpenter_node_classes() {
    let doc = expect(
        &format!("{FIX}/karpenter"),
        3,
        &[
            // Karpenter's default is httpTokens: required.
            ("EC2NodeClass/default", "pass", "nodeclasses.yaml", 2),
            ("EC2NodeClass/legacy", "fail", "nodeclasses.yaml", 16),
            ("EC2NodeClass/beta-required", "pass", "nodeclasses.yaml", 24),
            ("EC2NodeClass/beta-disabled", "pass", "nodeclasses.yaml", 33),
        ],
    );
    let default = record(&doc, "EC2NodeClass/default");
    assert!(
        default["reason"].as_str().is_some_and(|r| r.contains("Karpenter defaults httpTokens to required")),
        "{default}"
    );
    assert_eq!(default["type"], "karpenter.k8s.aws/v1/EC2NodeClass");
    assert_eq!(record(&doc, "EC2NodeClass/beta-required")["type"], "karpenter.k8s.aws/v1beta1/EC2NodeClass");
    assert_eq!(record(&doc, "EC2NodeClass/legacy")["fix"]["kind"], "karpenter");
}

#[test]
fn mixed_directory_judges_only_the_right_files() {
    let doc = expect(
        &format!("{FIX}/mixed"),
        3,
        &[
            ("aws_instance.web", "fail", "terraform/main.tf", 3),
            ("Nodes", "fail", "cfn/stack.yaml", 3),
            ("EC2NodeClass/legacy", "fail", "k8s/nodeclass.yaml", 7),
        ],
    );
    // A Deployment, a ConfigMap that mentions httpTokens and a Helm values file: not judged.
    let files: Vec<&str> =
        doc["records"].as_array().map(|r| r.iter().filter_map(|r| r["file"].as_str()).collect()).unwrap_or_default();
    assert!(files.iter().all(|f| !f.contains("deployment") && !f.contains("values")), "{files:?}");
    assert_eq!(doc["summary"]["files"], 3, "{doc}");
}

#[test]
fn sarif_for_a_karpenter_finding() {
    let (code, out) = run(&["--format", "sarif", &format!("{FIX}/mixed/k8s")]);
    assert_eq!(code, 3, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let results = doc["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1, "{out}");
    let r = &results[0];
    assert_eq!(r["ruleId"], "IMDS001");
    assert_eq!(r["level"], "error");
    let loc = &r["locations"][0]["physicalLocation"];
    assert!(loc["artifactLocation"]["uri"].as_str().is_some_and(|u| u.ends_with("k8s/nodeclass.yaml")), "{out}");
    assert_eq!(loc["region"]["startLine"], 7);
    assert!(
        r["message"]["text"].as_str().is_some_and(|t| t.starts_with("EC2NodeClass/legacy: httpTokens: optional")),
        "{out}"
    );
}
