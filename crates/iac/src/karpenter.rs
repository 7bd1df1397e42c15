//! Karpenter `EC2NodeClass` manifests (`karpenter.k8s.aws/v1` and `v1beta1`): the node class's
//! `spec.metadataOptions`, judged by the one rule. Karpenter's own default is
//! `httpTokens: required`, so a class without `metadataOptions` passes. Other Kubernetes kinds
//! are not judged.

use std::path::Path;

use crate::rules::{self, Fact, FactKind, Options, Own, Syntax, Val};
use crate::tree::Node;
use crate::verdict::{Fix, Record, display_path};

/// API versions whose `EC2NodeClass` carries `spec.metadataOptions` with these defaults.
const API_VERSIONS: &[&str] = &["karpenter.k8s.aws/v1", "karpenter.k8s.aws/v1beta1"];

pub fn is_node_class(doc: &Node) -> bool {
    doc.get("kind").and_then(Node::as_str) == Some("EC2NodeClass")
        && doc.get("apiVersion").and_then(Node::as_str).is_some_and(|v| API_VERSIONS.contains(&v))
}

/// Judges the node classes of one file (documents of a multi-document YAML).
pub fn check(file: &Path, classes: &[&Node]) -> Vec<Record> {
    let display = display_path(file);
    let facts: Vec<Fact> = classes.iter().map(|d| fact(d, &display)).collect();
    facts
        .iter()
        .zip(classes)
        .zip(rules::judge(&facts))
        .filter_map(|((f, d), o)| {
            let o = o?;
            Some(Record {
                file: display.clone(),
                line: o.line,
                resource: f.address.clone(),
                rtype: format!("{}/EC2NodeClass", d.get("apiVersion").and_then(Node::as_str).unwrap_or_default()),
                verdict: o.verdict,
                reason: o.reason,
                compensated_by: None,
                inherited_from: None,
                fix: o.fix,
                json_source: false,
            })
        })
        .collect()
}

fn fact(doc: &Node, file: &str) -> Fact {
    let name = doc.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str).unwrap_or("(unnamed)");
    let line = doc.get_entry("kind").map_or(doc.line, |(k, _)| k.line);
    let own = match doc.get("spec").and_then(|s| s.get("metadataOptions")) {
        None => Own::NoBlock,
        Some(m) if m.is_null() => Own::NoBlock,
        Some(m) if m.as_map().is_none() => {
            Own::Unknown { why: "metadataOptions is not a mapping".into(), line: m.line }
        }
        Some(m) => {
            let get = |k: &str| match m.get(k) {
                None => Val::Absent,
                Some(n) if n.is_null() => Val::Null,
                Some(n) => n.as_str().map_or_else(|| Val::Other("a collection".into()), |s| Val::Str(s.to_string())),
            };
            Own::Block(Options {
                endpoint: get("httpEndpoint"),
                tokens: get("httpTokens"),
                via: None,
                line: m.get_entry("httpTokens").map_or(m.line, |(k, _)| k.line),
                empty: m.as_map().is_some_and(<[_]>::is_empty),
            })
        }
    };
    Fact {
        address: format!("EC2NodeClass/{name}"),
        file: file.to_string(),
        line,
        syntax: Syntax::Karpenter,
        block: None,
        default_required: true,
        fix: Fix::Karpenter,
        kind: FactKind::Launcher { own, image: vec![], templates: vec![] },
    }
}
