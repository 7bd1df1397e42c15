//! AWS Controllers for Kubernetes, ec2-controller (`ec2.services.k8s.aws/v1alpha1`):
//! `Instance` `spec.metadataOptions` and `LaunchTemplate` `spec.data.metadataOptions`
//! (`apis/v1alpha1/instance.go`: `MetadataOptions *InstanceMetadataOptionsRequest
//! json:"metadataOptions"`; `launch_template.go`: `Data *RequestLaunchTemplateData json:"data"`,
//! whose `MetadataOptions` is `json:"metadataOptions"`). The controller passes them to EC2 as
//! written, so unset is EC2's default, `optional`. An `Instance` without options that names a
//! `LaunchTemplate` (`spec.launchTemplate.launchTemplateName`) inherits its verdict.

use super::{Item, Tool, entry, launcher, object_name, options, path, set, template_expr};
use crate::tree::Node;

pub(crate) fn read(file: &str, doc: &Node, api: &str, kind: &str, items: &mut Vec<Item>) -> bool {
    if !api.starts_with("ec2.services.k8s.aws/") {
        return false;
    }
    let (keys, inside): (&[&str], &str) = match kind {
        "Instance" => (&["spec", "metadataOptions"], "spec"),
        "LaunchTemplate" => (&["spec", "data", "metadataOptions"], "spec.data"),
        _ => return false,
    };
    let name = object_name(doc);
    let own = options(entry(doc, keys), "httpTokens", "httpEndpoint", &template_expr);
    let fix = set(inside, "metadataOptions:\n  httpTokens: required");
    let fact = launcher(Tool::Ack, format!("{kind}/{name}"), file, doc.line, own, fix);
    let mut item = Item::new(fact, format!("{api}/{kind}"));
    if kind == "LaunchTemplate" {
        item.names.push(name.to_string());
        item.names.extend(path(doc, &["spec", "name"]).and_then(Node::as_str).map(str::to_string));
    } else if let Some(lt) = path(doc, &["spec", "launchTemplate"]).filter(|n| !n.is_null()) {
        let by = ["launchTemplateName", "launchTemplateID"].iter().find_map(|k| lt.get(k).and_then(Node::as_str));
        let by = by.unwrap_or("(unnamed)").to_string();
        item.wants = Some((by.clone(), format!("launch template {by} is not a LaunchTemplate in this file")));
    }
    items.push(item);
    true
}
