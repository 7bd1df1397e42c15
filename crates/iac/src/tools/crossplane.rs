//! Crossplane managed resources that launch EC2 instances, and the Compositions that hold them:
//! - Upbound `provider-aws` (crossplane-contrib/provider-upjet-aws), `ec2.aws.upbound.io`
//!   `Instance` and `LaunchTemplate`: `spec.forProvider.metadataOptions`, a list of one in
//!   `v1beta1` (`examples/ec2/cluster/v1beta1/launchtemplate.yaml`: `metadataOptions: -
//!   httpTokens: required`), an object in `v1beta2` and in the namespaced `ec2.aws.m.upbound.io`
//!   group (`examples/ec2/cluster/v1beta2/launchtemplate.yaml`,
//!   `examples/ec2/namespaced/v1beta1/launchtemplate.yaml`); the fields are Terraform's (`http_tokens` → `httpTokens`), unset: EC2's default,
//!   `optional`. An `Instance` without options that names a `LaunchTemplate`
//!   (`spec.forProvider.launchTemplate`: `name`, `id`, `nameRef`/`idRef`) inherits its verdict.
//! - crossplane-contrib `provider-aws` (`ec2.aws.crossplane.io/v1alpha1`): `Instance`
//!   `spec.forProvider.metadataOptions`, `LaunchTemplate` / `LaunchTemplateVersion`
//!   `spec.forProvider.launchTemplateData.metadataOptions`.
//! - `Composition` (`apiextensions.crossplane.io`): each `spec.resources[].base` and each
//!   `spec.pipeline[].input.resources[].base` (function-patch-and-transform) is read as the
//!   manifest it is; a patch whose `toFieldPath` writes the metadata options (or the launch
//!   template) makes the verdict unknown, as only the composed resource knows it.

use super::{Item, Tool, entry, launcher, object_name, options, path, set, template_expr};
use crate::fact::Own;
use crate::tree::{Kind, Node};

pub(crate) fn read(file: &str, doc: &Node, api: &str, kind: &str, items: &mut Vec<Item>) -> bool {
    if api.starts_with("apiextensions.crossplane.io/") && kind == "Composition" {
        composition(file, doc, items);
        return true;
    }
    resource(file, doc, api, kind, None, items)
}

/// Where a resource kind keeps its metadata options, and what the fix writes inside.
fn layout(api: &str, kind: &str) -> Option<(&'static [&'static str], &'static str)> {
    let group = api.split('/').next().unwrap_or_default();
    let upbound = group == "ec2.aws.upbound.io" || group == "ec2.aws.m.upbound.io";
    match (group, kind) {
        (_, "Instance" | "LaunchTemplate") if upbound => {
            Some((&["spec", "forProvider", "metadataOptions"], "spec.forProvider"))
        }
        ("ec2.aws.crossplane.io", "Instance") => {
            Some((&["spec", "forProvider", "metadataOptions"], "spec.forProvider"))
        }
        ("ec2.aws.crossplane.io", "LaunchTemplate" | "LaunchTemplateVersion") => Some((
            &["spec", "forProvider", "launchTemplateData", "metadataOptions"],
            "spec.forProvider.launchTemplateData",
        )),
        _ => None,
    }
}

/// A managed resource (or a Composition's base, `composed` = its address and the patch that
/// writes its metadata options, if any).
fn resource(
    file: &str,
    doc: &Node,
    api: &str,
    kind: &str,
    composed: Option<(String, Option<(String, usize)>)>,
    items: &mut Vec<Item>,
) -> bool {
    let Some((keys, inside)) = layout(api, kind) else { return false };
    let v1beta1_list = api == "ec2.aws.upbound.io/v1beta1";
    let name = object_name(doc);
    let (address, patched) = match composed {
        Some((address, patched)) => (address, patched),
        None => (format!("{kind}/{name}"), None),
    };
    let own = match patched {
        Some((to, line)) => {
            Own::Unknown { why: format!("a Composition patch writes {to} when the resource is composed"), line }
        }
        None => options(entry(doc, keys), "httpTokens", "httpEndpoint", &template_expr),
    };
    let text = if v1beta1_list {
        "metadataOptions:\n  - httpTokens: required"
    } else {
        "metadataOptions:\n  httpTokens: required"
    };
    let fact = launcher(Tool::Crossplane, address, file, doc.line, own, set(inside, text));
    let mut item = Item::new(fact, format!("{api}/{kind}"));
    let for_provider = path(doc, &["spec", "forProvider"]);
    if kind == "Instance" {
        if let Some(lt) = for_provider.and_then(|p| p.get("launchTemplate")).map(one).filter(|n| !n.is_null()) {
            let by = ["name", "id"]
                .iter()
                .find_map(|k| lt.get(k).and_then(Node::as_str))
                .or_else(|| ["nameRef", "idRef"].iter().find_map(|k| lt.get(k)?.get("name")?.as_str()));
            let by = by.unwrap_or("(selector)").to_string();
            item.wants = Some((by.clone(), format!("launch template {by} is not a LaunchTemplate in this file")));
        }
    } else {
        item.names.push(name.to_string());
        let lt_name = for_provider.and_then(|p| p.get("name").or_else(|| p.get("launchTemplateName")));
        item.names.extend(lt_name.and_then(Node::as_str).map(str::to_string));
    }
    items.push(item);
    true
}

/// A list of one (Upbound v1beta1) or the object itself.
fn one(n: &Node) -> &Node {
    match &n.kind {
        Kind::Seq(s) if s.len() == 1 => &s[0],
        _ => n,
    }
}

fn composition(file: &str, doc: &Node, items: &mut Vec<Item>) {
    let cname = object_name(doc);
    let spec = doc.get("spec");
    let mut bases: Vec<&Node> =
        spec.and_then(|s| s.get("resources")).and_then(Node::as_seq).unwrap_or_default().iter().collect();
    for step in spec.and_then(|s| s.get("pipeline")).and_then(Node::as_seq).unwrap_or_default() {
        let rs = path(step, &["input", "resources"]).and_then(Node::as_seq).unwrap_or_default();
        bases.extend(rs.iter());
    }
    for (i, r) in bases.into_iter().enumerate() {
        let Some(base) = r.get("base") else { continue };
        let (Some(api), Some(kind)) =
            (base.get("apiVersion").and_then(Node::as_str), base.get("kind").and_then(Node::as_str))
        else {
            continue;
        };
        let rname = r.get("name").and_then(Node::as_str).map_or_else(|| format!("resources[{i}]"), str::to_string);
        let patch = r.get("patches").and_then(Node::as_seq).unwrap_or_default().iter().find_map(|p| {
            let (k, to) = p.get_entry("toFieldPath")?;
            let to = to.as_str()?;
            (to.contains("metadataOptions") || to.contains("launchTemplate")).then(|| (to.to_string(), k.line))
        });
        let address = format!("Composition/{cname}/{rname}");
        resource(file, base, api, kind, Some((address, patch)), items);
    }
}
