//! Pulumi YAML programs (`Pulumi.yaml` / `Main.yaml` with `resources:`): `aws:ec2:Instance`
//! and `aws:ec2:LaunchTemplate` (also written `aws:ec2/instance:Instance`,
//! `aws:ec2/launchTemplate:LaunchTemplate`) `properties.metadataOptions.httpTokens` /
//! `httpEndpoint`. The AWS provider passes them to EC2 (Pulumi registry, `aws.ec2.Instance`
//! `metadataOptions`: "Valid values include optional or required"; no default of its own), so
//! unset is EC2's default, `optional`. An instance without options whose
//! `properties.launchTemplate` names `${lt.id}` / `${lt.name}` inherits that template's verdict.
//!
//! `aws:ec2:InstanceMetadataDefaults` (`properties.httpTokens`) is the region's account default,
//! a compensating control for the program's resources that leave `httpTokens` unset, as
//! Terraform's `aws_ec2_instance_metadata_defaults`.
//!
//! Interpolations: `${v}` of a literal in `variables:` is that literal; `${c}` of a `config:`
//! entry is its `default` (a stack may set another value, as a Terraform variable's default);
//! anything else (`${res.prop}`, `fn::…`, a config value with no default) is unknown.

use super::{Item, Tool, launcher, options, path, set};
use crate::fact::{FactKind, Own, Val};
use crate::tree::{Kind, Node};
use crate::verdict::Fix;

const INSTANCE: &[&str] = &["aws:ec2:Instance", "aws:ec2/instance:Instance"];
const TEMPLATE: &[&str] = &["aws:ec2:LaunchTemplate", "aws:ec2/launchTemplate:LaunchTemplate"];
/// The account's regional default (`aws.ec2.InstanceMetadataDefaults`, as Terraform's
/// `aws_ec2_instance_metadata_defaults`).
const DEFAULTS: &[&str] =
    &["aws:ec2:InstanceMetadataDefaults", "aws:ec2/instanceMetadataDefaults:InstanceMetadataDefaults"];

/// A Pulumi YAML program: `resources` is a mapping of mappings with a `type`, and the file has
/// `name` or `runtime` (a project) or is only resources (`Main.yaml`).
pub fn is_program(doc: &Node) -> bool {
    let Some(res) = doc.get("resources").and_then(Node::as_map) else { return false };
    (doc.get("runtime").is_some() || doc.get("name").is_some() || doc.get("variables").is_some())
        && res.iter().any(|(_, v)| v.get("type").and_then(Node::as_str).is_some_and(|t| t.contains(':')))
}

pub fn check(file: &str, doc: &Node) -> Vec<crate::verdict::Record> {
    let resolve = |text: &str| resolve(doc, text);
    let mut items = Vec::new();
    for (key, r) in doc.get("resources").and_then(Node::as_map).unwrap_or_default() {
        let (Some(name), Some(ty)) = (key.as_str(), r.get("type").and_then(Node::as_str)) else { continue };
        let is_instance = INSTANCE.contains(&ty);
        if DEFAULTS.contains(&ty) {
            // The region's account default: a compensating control for this program's resources.
            let tokens = r.get("properties").and_then(|p| p.get_entry("httpTokens"));
            let kind = FactKind::AccountDefault {
                tokens: super::val(tokens.map(|(_, v)| v), &resolve),
                line: tokens.map_or(key.line, |(k, _)| k.line),
            };
            let mut fact =
                launcher(Tool::Pulumi, name.to_string(), file, key.line, Own::NoBlock, Fix::TerraformDefaults);
            fact.kind = kind;
            items.push(Item::new(fact, format!("pulumi/{ty}")));
            continue;
        }
        if !is_instance && !TEMPLATE.contains(&ty) {
            continue;
        }
        let props = r.get("properties");
        let own = options(props.and_then(|p| p.get_entry("metadataOptions")), "httpTokens", "httpEndpoint", &resolve);
        let fix = set("properties", "metadataOptions:\n  httpTokens: required");
        let fact = launcher(Tool::Pulumi, name.to_string(), file, key.line, own, fix);
        let mut item = Item::new(fact, format!("pulumi/{ty}"));
        if is_instance {
            let lt = props.and_then(|p| p.get("launchTemplate")).filter(|n| !n.is_null());
            if let Some(lt) = lt {
                let by = ["id", "name"].iter().find_map(|k| lt.get(k).and_then(Node::as_str)).unwrap_or_default();
                let target = by
                    .strip_prefix("${")
                    .and_then(|s| s.strip_suffix('}'))
                    .and_then(|s| s.split('.').next())
                    .unwrap_or(by)
                    .to_string();
                item.wants = Some((target, format!("launch template {by} is not a resource of this program")));
            }
        } else {
            item.names.push(name.to_string());
            item.names.extend(path(r, &["properties", "name"]).and_then(Node::as_str).map(str::to_string));
        }
        items.push(item);
    }
    super::records(items)
}

/// `${name}` of a literal variable or a config default; other interpolations are unknown.
fn resolve(doc: &Node, text: &str) -> Option<Val> {
    if !text.contains("${") {
        return None;
    }
    let unknown = |why: String| Some(Val::Unknown { expr: Some(text.to_string()), why });
    let Some(name) = text.strip_prefix("${").and_then(|s| s.strip_suffix('}')).filter(|s| !s.contains("${")) else {
        return unknown("an interpolation Pulumi evaluates at deploy".into());
    };
    if let Some(v) = path(doc, &["variables", name]) {
        return match &v.kind {
            Kind::Scalar { text: t, .. } if !t.contains("${") => Some(Val::Str(t.clone())),
            _ => unknown(format!("variable {name} is computed at deploy")),
        };
    }
    let config = doc.get("config").or_else(|| doc.get("configuration"));
    if let Some(c) = config.and_then(|c| c.get(name)) {
        return match c.get("default").or_else(|| c.get("value")).and_then(Node::as_str) {
            Some(d) => Some(Val::Str(d.to_string())),
            None => unknown(format!("config {name} has no default: it is set per stack (Pulumi.<stack>.yaml)")),
        };
    }
    unknown(format!("{name} is a resource output or stack config that is known only at deploy"))
}
