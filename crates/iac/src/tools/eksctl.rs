//! eksctl `ClusterConfig` (`eksctl.io/v1alpha5`): each of `nodeGroups[]` and
//! `managedNodeGroups[]` launches from a launch template that eksctl writes, with
//! `MetadataOptions.HttpTokens` from `disableIMDSv1` / `disablePodIMDS`:
//! - `disableIMDSv1` defaults to `true` (`pkg/apis/eksctl.io/v1alpha5/defaults.go`,
//!   `setNodeGroupBaseDefaults`: `if ng.DisableIMDSv1 == nil { ng.DisableIMDSv1 = Enabled() }`;
//!   `types.go`: "DisableIMDSv1 requires requests to the metadata service to use IMDSv2 tokens.
//!   Defaults to `true`"; since eksctl 0.143.0, PR #6631);
//! - `makeMetadataOptions` (`pkg/cfn/builder/nodegroup.go`) writes `HttpTokens: required` when
//!   `disableIMDSv1` or `disablePodIMDS` is true, else `optional`;
//! - a managed node group with `launchTemplate` (an existing template) gets no metadata
//!   options from eksctl (`pkg/cfn/builder/managed_nodegroup.go` passes the template by id as
//!   it is): that template decides, and it is not in the ClusterConfig (unknown).

use super::{Item, Tool, launcher, set, template_expr, val};
use crate::fact::{FactKind, Options, Own, Val, Without};
use crate::tree::Node;

pub(crate) fn read(file: &str, doc: &Node, api: &str, kind: &str, items: &mut Vec<Item>) -> bool {
    if !api.starts_with("eksctl.io/") || kind != "ClusterConfig" {
        return false;
    }
    let cluster = super::object_name(doc);
    for list in ["nodeGroups", "managedNodeGroups"] {
        let Some(groups) = doc.get(list).and_then(Node::as_seq) else { continue };
        for (i, ng) in groups.iter().enumerate().filter(|(_, ng)| ng.as_map().is_some()) {
            let name = ng.get("name").and_then(Node::as_str).map_or_else(|| format!("[{i}]"), str::to_string);
            let address = format!("ClusterConfig/{cluster}/{list}/{name}");
            let rtype = format!("{api}/ClusterConfig.{list}");
            let own = own(ng);
            let fix = set("", "disableIMDSv1: true");
            let mut fact = launcher(Tool::Eksctl, address, file, ng.line, own.clone(), fix);
            fact.default_required = true;
            if let Some((k, lt)) = ng.get_entry("launchTemplate").filter(|(_, v)| !v.is_null()) {
                let id = ["id", "name"]
                    .iter()
                    .find_map(|f| lt.get(f).and_then(Node::as_str))
                    .unwrap_or("(no id)")
                    .to_string();
                let why = format!(
                    "launchTemplate {id}: eksctl writes no metadata options for a user-supplied launch template; the template decides, and it is not in this file"
                );
                let fix = set(
                    "the launch template's LaunchTemplateData (eksctl cannot set it here)",
                    "MetadataOptions:\n  HttpTokens: required",
                );
                fact.kind = FactKind::Dependent { templates: vec![], without: Without::UnknownFix(why, fix) };
                fact.line = ng.line.min(k.line);
            }
            items.push(super::Item::new(fact, rtype));
        }
    }
    true
}

fn boolean(n: Option<&Node>) -> Option<Result<bool, Val>> {
    let v = val(n, &template_expr);
    match v {
        Val::Absent | Val::Null => None,
        Val::Str(s) if s == "true" => Some(Ok(true)),
        Val::Str(s) if s == "false" => Some(Ok(false)),
        Val::Unknown { .. } => Some(Err(v)),
        Val::Str(s) | Val::Other(s) => Some(Err(Val::Unknown { expr: Some(s), why: "not a boolean".into() })),
    }
}

/// The tokens eksctl writes, from `disableIMDSv1` and `disablePodIMDS`.
fn own(ng: &Node) -> Own {
    let v1 = boolean(ng.get("disableIMDSv1"));
    let pod = boolean(ng.get("disablePodIMDS"));
    let line_of = |k: &str| ng.get_entry(k).map_or(ng.line, |(k, _)| k.line);
    let opts = |tokens: &str, via: &str, line: usize| {
        Own::Block(Options {
            endpoint: Val::Absent,
            tokens: Val::Str(tokens.into()),
            via: Some(via.into()),
            line,
            empty: false,
        })
    };
    if let Some(Ok(true)) = pod {
        return opts("required", "disablePodIMDS: true", line_of("disablePodIMDS"));
    }
    match (v1, pod) {
        (Some(Err(Val::Unknown { expr, why })), _) => Own::Unknown {
            why: format!("disableIMDSv1 {}cannot be known: {why}", expr.map(|e| format!("`{e}` ")).unwrap_or_default()),
            line: line_of("disableIMDSv1"),
        },
        (Some(Ok(true)), _) => opts("required", "disableIMDSv1: true", line_of("disableIMDSv1")),
        (_, Some(Err(Val::Unknown { expr, why }))) => Own::Unknown {
            why: format!(
                "disablePodIMDS {}cannot be known: {why}",
                expr.map(|e| format!("`{e}` ")).unwrap_or_default()
            ),
            line: line_of("disablePodIMDS"),
        },
        (Some(Ok(false)), _) => opts("optional", "disableIMDSv1: false", line_of("disableIMDSv1")),
        // Not written: eksctl's default (true) applies; the rule says so.
        _ => Own::NoBlock,
    }
}
