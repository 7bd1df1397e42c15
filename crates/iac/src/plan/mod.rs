//! Terraform plan JSON (`terraform show -json plan`): `resource_changes[].change.after`, with
//! `after_unknown` → unknown, and the `configuration` section for what was not written
//! (an unset `metadata_options`) and for launch-template references.

use std::collections::BTreeMap;
use std::path::Path;

mod clouds;
mod planned;

use planned::{Planned, after_apply, config_index, first, is_true, planned, refs, targets};

use crate::rules::{self, Fact, FactKind, Options, Own, Syntax, Target, Val, Without};
use crate::tree::Node;
use crate::verdict::{Fix, Record, display_path};

pub fn is_plan(root: &Node) -> bool {
    root.get("resource_changes").is_some()
        || (root.get("format_version").is_some() && root.get("planned_values").is_some())
}

pub fn check(file: &Path, root: &Node) -> Vec<Record> {
    let mut config = BTreeMap::new();
    if let Some(m) = root.get("configuration").and_then(|c| c.get("root_module")) {
        config_index(m, "", 0, &mut config);
    }
    let changes = root.get("resource_changes").and_then(Node::as_seq).unwrap_or_default();
    let planned: Vec<Planned<'_>> = changes.iter().filter_map(|rc| planned(rc, &config)).collect();
    let display = display_path(file);
    let facts: Vec<Fact> = planned.iter().map(|p| fact(p, &planned, &display)).collect();
    let outcomes = rules::judge(&facts);
    planned
        .iter()
        .zip(outcomes)
        .filter_map(|(p, o)| {
            let o = o?;
            Some(o.into_record(display.clone(), p.address.to_string(), p.rtype.to_string()))
        })
        .collect()
}

// Over 80 lines on purpose: one arm per resource type, so the type table (mirrored by the
// README's rule table) reads in one place.
fn fact(p: &Planned<'_>, all: &[Planned<'_>], file: &str) -> Fact {
    if let Some(rule) = crate::clouds::rule(p.rtype) {
        return clouds::fact(p, all, file, rule);
    }
    let lt = |path: &[&str]| refs(p.conf, path);
    let mut fix = Fix::TerraformBlock;
    if crate::aws_types::terraform(p.rtype).is_some_and(|t| t.fix_through_template) {
        fix = Fix::UseLaunchTemplate;
    }
    let kind = match p.rtype {
        "aws_ec2_instance_metadata_defaults" => {
            let tokens = match p.after.and_then(|a| a.get("http_tokens")) {
                _ if is_true(p.unknown.and_then(|u| u.get("http_tokens"))) => after_apply(),
                Some(n) => scalar(n),
                None => Val::Absent,
            };
            FactKind::AccountDefault { tokens, line: p.line }
        }
        "aws_ami" => FactKind::Image {
            v2: p.after.and_then(|a| a.get("imds_support")).and_then(Node::as_str) == Some("v2.0")
                && !is_true(p.unknown.and_then(|u| u.get("imds_support"))),
        },
        "aws_imagebuilder_infrastructure_configuration" => {
            FactKind::Launcher { own: own(p, false, "instance_metadata_options"), image: vec![], templates: vec![] }
        }
        "aws_spot_fleet_request" | "aws_ec2_fleet" => {
            let spec = ["launch_template_config", "launch_template_specification"];
            let mut r = lt(&[spec[0], spec[1], "id"]);
            r.extend(lt(&[spec[0], spec[1], "launch_template_id"]));
            r.extend(lt(&[spec[0], spec[1], "name"]));
            r.extend(lt(&[spec[0], spec[1], "launch_template_name"]));
            let mut templates = targets(p, all, &r, "aws_launch_template");
            let specs = p.after.and_then(|a| a.get("launch_specification")).and_then(Node::as_seq).unwrap_or_default();
            for (i, _) in specs.iter().enumerate() {
                templates.push(Target::Inline {
                    what: format!("launch_specification[{i}]"),
                    own: Own::Unsupported("a spot fleet launch_specification cannot set metadata_options".into()),
                    image: vec![],
                    line: p.line,
                });
            }
            FactKind::Dependent {
                templates,
                without: Without::Unknown("no launch template reference found in the plan's configuration".into()),
            }
        }
        "aws_batch_compute_environment" => {
            let after_str = |n: Option<&Node>, k: &str| {
                n.and_then(|a| a.get(k)).and_then(Node::as_str).map(str::to_ascii_uppercase)
            };
            let cr = first(p.after.and_then(|a| a.get("compute_resources")));
            if after_str(p.after, "type").as_deref() == Some("UNMANAGED")
                || after_str(cr, "type").is_some_and(|t| t.starts_with("FARGATE"))
            {
                FactKind::Skip
            } else {
                let spec = ["compute_resources", "launch_template"];
                let mut r = lt(&[spec[0], spec[1], "launch_template_id"]);
                r.extend(lt(&[spec[0], spec[1], "launch_template_name"]));
                let image_types = cr
                    .and_then(|c| c.get("ec2_configuration"))
                    .and_then(Node::as_seq)
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.get("image_type").map_or(Val::Absent, scalar))
                    .collect();
                FactKind::Dependent {
                    templates: targets(p, all, &r, "aws_launch_template"),
                    without: crate::rules::batch_default(image_types, p.created, rules::Syntax::Terraform),
                }
            }
        }
        "aws_launch_template" | "aws_launch_configuration" => FactKind::Launcher {
            own: own(p, false, "metadata_options"),
            image: targets(p, all, &lt(&["image_id"]), "aws_ami").into_iter().flat_map(found).collect(),
            templates: vec![],
        },
        "aws_instance" | "aws_spot_instance_request" => {
            let mut r = lt(&["launch_template", "id"]);
            r.extend(lt(&["launch_template", "name"]));
            let templates = targets(p, all, &r, "aws_launch_template");
            FactKind::Launcher {
                own: own(p, !templates.is_empty(), "metadata_options"),
                image: targets(p, all, &lt(&["ami"]), "aws_ami").into_iter().flat_map(found).collect(),
                templates,
            }
        }
        "aws_eks_node_group" => {
            let mut r = lt(&["launch_template", "id"]);
            r.extend(lt(&["launch_template", "name"]));
            FactKind::Dependent { templates: targets(p, all, &r, "aws_launch_template"), without: Without::EksDefault }
        }
        _ => {
            let spec = ["mixed_instances_policy", "launch_template", "launch_template_specification"];
            let mut r = lt(&["launch_template", "id"]);
            r.extend(lt(&["launch_template", "name"]));
            r.extend(lt(&[spec[0], spec[1], spec[2], "launch_template_id"]));
            r.extend(lt(&[spec[0], spec[1], spec[2], "launch_template_name"]));
            let mut templates = targets(p, all, &r, "aws_launch_template");
            templates.extend(targets(p, all, &lt(&["launch_configuration"]), "aws_launch_configuration"));
            FactKind::Dependent {
                templates,
                without: Without::Unknown("no launch template reference found in the plan's configuration".into()),
            }
        }
    };
    Fact {
        address: p.address.to_string(),
        file: file.to_string(),
        line: p.line,
        syntax: Syntax::Terraform,
        block: crate::aws_types::terraform(p.rtype).and_then(|t| t.block).map(|(tf, _)| tf),
        default_required: false,
        fix,
        kind,
    }
}

fn found(t: Target) -> Vec<usize> {
    match t {
        Target::Found(i) => i,
        _ => Vec::new(),
    }
}

fn scalar(n: &Node) -> Val {
    match n.as_str() {
        _ if n.is_null() => Val::Null,
        Some(s) => Val::Str(s.to_string()),
        None => Val::Other("a collection".into()),
    }
}

/// The planned `metadata_options`. A resource whose configuration sets none (the provider
/// computes them after apply) has no block; so does one that launches a template instead.
fn own(p: &Planned<'_>, inherits: bool, block: &str) -> Own {
    let own_configured = p.conf.is_some_and(|c| c.get(block).is_some());
    if !own_configured && inherits {
        return Own::NoBlock;
    }
    let mo_unknown = p.unknown.and_then(|u| u.get(block));
    let block_unknown = is_true(mo_unknown);
    let field_unknown = |k: &str| block_unknown || is_true(first(mo_unknown).and_then(|m| m.get(k)));
    let entry = first(p.after.and_then(|a| a.get(block))).filter(|m| m.as_map().is_some());
    if field_unknown("http_tokens") && !own_configured && p.conf.is_some() {
        return Own::NoBlock;
    }
    let Some(e) = entry else {
        if field_unknown("http_tokens") {
            let tokens = after_apply();
            return Own::Block(Options { endpoint: Val::Absent, tokens, via: None, line: p.line, empty: false });
        }
        return Own::NoBlock;
    };
    let get = |k: &str| match e.get(k) {
        _ if field_unknown(k) => after_apply(),
        Some(n) => scalar(n),
        None => Val::Absent,
    };
    let endpoint = match get("http_endpoint") {
        Val::Unknown { .. } if e.get("http_endpoint").and_then(Node::as_str) == Some("disabled") => {
            Val::Str("disabled".into())
        }
        v => v,
    };
    Own::Block(Options {
        endpoint,
        tokens: get("http_tokens"),
        via: None,
        line: e.get_entry("http_tokens").map_or(p.line, |(k, _)| k.line),
        empty: e.as_map().is_some_and(<[_]>::is_empty),
    })
}
