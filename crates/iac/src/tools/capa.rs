//! Cluster API Provider AWS (`infrastructure.cluster.x-k8s.io`): `AWSMachine`
//! (`spec.instanceMetadataOptions`), `AWSMachineTemplate` (`spec.template.spec.…`),
//! `AWSMachinePool` and `AWSManagedMachinePool` (`spec.awsLaunchTemplate.instanceMetadataOptions`).
//!
//! - `httpTokens` has `+kubebuilder:default=optional` (`api/v1beta2/types.go`,
//!   `InstanceMetadataOptions`), and CAPA's "Instance Metadata Service" page says "CAPA defaults
//!   to use IMDSv2 as optional property when creating instances"; without the block CAPA sends
//!   no metadata options (`pkg/cloud/services/ec2/instances.go`), so EC2's default applies:
//!   `optional` either way (an AMI or account default may compensate, as everywhere).
//! - An `AWSManagedMachinePool` without `awsLaunchTemplate` is an EKS managed node group on
//!   the template EKS creates (IMDSv1 allowed), as `aws_eks_node_group` without one.
//! - The field is `instanceMetadataOptions`; `metadataOptions` (shown for
//!   `awsLaunchTemplate` on that same CAPA page) is not in the schema, so the API server drops
//!   it: said so, and judged as not set.
//! - `v1beta1` manifests are read the same way (current CAPA no longer serves v1beta1).

use super::{Item, Tool, launcher, object_name, options, path, set, template_expr};
use crate::fact::{FactKind, Own, Without};
use crate::tree::Node;

/// A ClusterClass (`cluster.x-k8s.io`) of the same file whose `spec.patches[].definitions[]
/// .jsonPatches[].path` writes the metadata options: (path, line). Templates of that file are
/// then unknown, as only the rendered topology knows the value.
pub(crate) fn class_patch(docs: &[Node]) -> Option<(String, usize)> {
    docs.iter()
        .filter(|d| {
            d.get("kind").and_then(Node::as_str) == Some("ClusterClass")
                && d.get("apiVersion").and_then(Node::as_str).is_some_and(|a| a.starts_with("cluster.x-k8s.io/"))
        })
        .flat_map(|d| path(d, &["spec", "patches"]).and_then(Node::as_seq).unwrap_or_default())
        .flat_map(|p| p.get("definitions").and_then(Node::as_seq).unwrap_or_default())
        .flat_map(|d| d.get("jsonPatches").and_then(Node::as_seq).unwrap_or_default())
        .find_map(|j| {
            let (k, v) = j.get_entry("path")?;
            let v = v.as_str()?;
            (v.contains("instanceMetadataOptions") || v.contains("awsLaunchTemplate")).then(|| (v.to_string(), k.line))
        })
}

pub(crate) fn read(
    file: &str,
    doc: &Node,
    api: &str,
    kind: &str,
    patched: Option<&(String, usize)>,
    items: &mut Vec<Item>,
) -> bool {
    let bastion_kind = matches!(
        (api.split('/').next().unwrap_or_default(), kind),
        ("infrastructure.cluster.x-k8s.io", "AWSCluster" | "AWSClusterTemplate")
            | ("controlplane.cluster.x-k8s.io", "AWSManagedControlPlane")
    );
    if bastion_kind {
        bastion(file, doc, api, kind, items);
        return true;
    }
    if !api.starts_with("infrastructure.cluster.x-k8s.io/") {
        return false;
    }
    let parent: &[&str] = match kind {
        "AWSMachine" => &["spec"],
        "AWSMachineTemplate" => &["spec", "template", "spec"],
        "AWSMachinePool" | "AWSManagedMachinePool" => &["spec", "awsLaunchTemplate"],
        _ => return false,
    };
    let address = format!("{kind}/{}", object_name(doc));
    let rtype = format!("{api}/{kind}");
    let inside = parent.join(".");
    let fix = set(&inside, "instanceMetadataOptions:\n  httpTokens: required");
    let holder = path(doc, parent).filter(|n| !n.is_null());
    let mut fact = launcher(Tool::Capa, address, file, doc.line, Own::NoBlock, fix);
    match holder {
        None if kind == "AWSManagedMachinePool" => {
            fact.kind = FactKind::Dependent { templates: vec![], without: Without::EksDefault };
        }
        None => {}
        Some(h) => {
            let own = match (h.get_entry("instanceMetadataOptions"), h.get_entry("metadataOptions")) {
                (None, Some((k, _))) => Own::Unsupported(format!(
                    "{inside}.metadataOptions (line {}) is not a CAPA field, the API server drops it: the field is instanceMetadataOptions, so none is set",
                    k.line
                )),
                (block, _) => options(block, "httpTokens", "httpEndpoint", &template_expr),
            };
            let own = match patched {
                Some((p, line)) if kind == "AWSMachineTemplate" => Own::Unknown {
                    why: format!("a ClusterClass patch writes {p} when the topology is rendered"),
                    line: *line,
                },
                _ => own,
            };
            if let FactKind::Launcher { own: o, .. } = &mut fact.kind {
                *o = own;
            }
        }
    }
    items.push(Item::new(fact, rtype));
    true
}

/// `AWSCluster` / `AWSManagedControlPlane` with `spec.bastion.enabled: true` (an
/// `AWSClusterTemplate`: `spec.template.spec.bastion`): CAPA launches the
/// bastion from `getDefaultBastion` (`pkg/cloud/services/ec2/bastion.go`) with no metadata
/// options (its `Bastion` spec has no such field), so EC2's default applies unless an AMI or
/// account default compensates. No bastion: no record.
fn bastion(file: &str, doc: &Node, api: &str, kind: &str, items: &mut Vec<Item>) {
    let spec: &[&str] = if kind == "AWSClusterTemplate" { &["spec", "template", "spec"] } else { &["spec"] };
    let Some((key, b)) = path(doc, spec).and_then(|s| s.get_entry("bastion")) else { return };
    let enabled = b.get("enabled").and_then(Node::as_str);
    let own = match enabled {
        Some("true") => Own::Unsupported(
            "spec.bastion.enabled: CAPA launches the bastion with no metadata options (bastion.go getDefaultBastion; the bastion spec has no field for them)".into(),
        ),
        Some(v) if v.contains("${") || v.contains("{{") => Own::Unknown {
            why: format!("spec.bastion.enabled `{v}` cannot be known: a variable substituted when the manifest is rendered"),
            line: b.get_entry("enabled").map_or(key.line, |(k, _)| k.line),
        },
        _ => return,
    };
    let fix = set(
        "spec.bastion (CAPA has no metadata options for it: boot an AMI registered with imds_support v2.0, or make IMDSv2 the account default with `aws ec2 modify-instance-metadata-defaults --http-tokens required`)",
        "ami: <an AMI with imds_support v2.0>",
    );
    let fact = launcher(Tool::Capa, format!("{kind}/{}/bastion", object_name(doc)), file, key.line, own, fix);
    items.push(Item::new(fact, format!("{api}/{kind}")));
}
