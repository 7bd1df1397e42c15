//! CloudFormation templates (YAML with short-form intrinsics, or JSON) → facts for the one
//! rule: `MetadataOptions` of instances, launch templates, launch configurations and Image
//! Builder infrastructure configurations, and the templates that Auto Scaling groups, fleets,
//! EKS node groups and Batch compute environments launch. `Ref` to parameter defaults, `Fn::If`
//! over `Conditions`, `Fn::Sub`, `Fn::Join` and `Fn::FindInMap` are resolved.

use std::path::Path;

use crate::rules::{self, Fact, FactKind, Options, Own, Syntax, Target, Val, Without};
use crate::tree::Node;

mod resolve;

use crate::verdict::{Fix, Record, display_path};
use resolve::{Cfn, Res};

/// True when the document looks like a CloudFormation template.
pub fn is_template(root: &Node) -> bool {
    root.get("AWSTemplateFormatVersion").is_some()
        || root.get("Resources").and_then(Node::as_map).is_some_and(|r| {
            r.iter().any(|(_, v)| v.get("Type").and_then(Node::as_str).is_some_and(|t| t.contains("::")))
        })
}

const LT: &str = "AWS::EC2::LaunchTemplate";
const LC: &str = "AWS::AutoScaling::LaunchConfiguration";

/// One resource the template creates.
struct Item<'a> {
    id: &'a str,
    line: usize,
    rtype: &'a str,
    res: &'a Node,
}

/// Checks every relevant resource of a template (resources whose `Condition` is false are not
/// created and not reported).
pub fn check(file: &Path, root: &Node) -> Vec<Record> {
    let cfn = Cfn { root };
    let Some(resources) = root.get("Resources").and_then(Node::as_map) else {
        return Vec::new();
    };
    let items: Vec<Item<'_>> = resources
        .iter()
        .filter_map(|(k, res)| {
            let id = k.as_str()?;
            let rtype =
                res.get("Type").and_then(Node::as_str).filter(|t| crate::aws_types::cloudformation(t).is_some())?;
            if let Some(cond) = res.get("Condition").and_then(Node::as_str)
                && cfn.condition(cond, 0) == Some(false)
            {
                return None;
            }
            launches_ec2(rtype, res).then_some(Item { id, line: k.line, rtype, res })
        })
        .collect();
    let display = display_path(file);
    let facts: Vec<Fact> = items.iter().map(|it| fact(&cfn, it, &items, &display)).collect();
    items
        .iter()
        .zip(rules::judge(&facts))
        .filter_map(|(it, o)| {
            let o = o?;
            Some(o.into_record(display.clone(), it.id.to_string(), it.rtype.to_string()))
        })
        .collect()
}

/// Unmanaged and Fargate Batch compute environments launch no EC2 instance of their own.
fn launches_ec2(rtype: &str, res: &Node) -> bool {
    if rtype != "AWS::Batch::ComputeEnvironment" {
        return true;
    }
    let props = res.get("Properties");
    let unmanaged =
        props.and_then(|p| p.get("Type")).and_then(Node::as_str).is_some_and(|t| t.eq_ignore_ascii_case("UNMANAGED"));
    let fargate = props
        .and_then(|p| p.get("ComputeResources"))
        .and_then(|c| c.get("Type"))
        .and_then(Node::as_str)
        .is_some_and(|t| t.to_ascii_uppercase().starts_with("FARGATE"));
    !unmanaged && !fargate
}

fn seq(n: Option<&Node>) -> &[Node] {
    n.and_then(Node::as_seq).unwrap_or_default()
}

// Over 80 lines on purpose: one arm per resource type, so the type table (mirrored by the
// README's rule table) reads in one place.
fn fact(cfn: &Cfn<'_>, it: &Item<'_>, items: &[Item<'_>], file: &str) -> Fact {
    let props = it.res.get("Properties");
    let get = |k: &str| props.and_then(|p| p.get(k));
    let lt = |spec: Option<&Node>, id: &str, name: &str| spec.and_then(|s| lt_spec(cfn, items, s, id, name));
    let mut fix_path = "Properties.MetadataOptions";
    let launcher = |own: Own, templates: Vec<Target>| FactKind::Launcher { own, image: vec![], templates };
    let kind = match it.rtype {
        "AWS::EC2::Instance" => launcher(
            own(cfn, props, "MetadataOptions", it.line),
            lt(get("LaunchTemplate"), "LaunchTemplateId", "LaunchTemplateName").into_iter().collect(),
        ),
        "AWS::EC2::LaunchTemplate" => {
            fix_path = "Properties.LaunchTemplateData.MetadataOptions";
            launcher(own(cfn, get("LaunchTemplateData"), "MetadataOptions", it.line), vec![])
        }
        "AWS::ImageBuilder::InfrastructureConfiguration" => {
            fix_path = "Properties.InstanceMetadataOptions";
            launcher(own(cfn, props, "InstanceMetadataOptions", it.line), vec![])
        }
        "AWS::AutoScaling::LaunchConfiguration" => launcher(own(cfn, props, "MetadataOptions", it.line), vec![]),
        "AWS::AutoScaling::AutoScalingGroup" => {
            let mut t: Vec<Target> =
                lt(get("LaunchTemplate"), "LaunchTemplateId", "LaunchTemplateName").into_iter().collect();
            let mip = get("MixedInstancesPolicy").and_then(|m| m.get("LaunchTemplate"));
            t.extend(lt(
                mip.and_then(|m| m.get("LaunchTemplateSpecification")),
                "LaunchTemplateId",
                "LaunchTemplateName",
            ));
            for o in seq(mip.and_then(|m| m.get("Overrides"))) {
                t.extend(lt(o.get("LaunchTemplateSpecification"), "LaunchTemplateId", "LaunchTemplateName"));
            }
            if let Some(n) = get("LaunchConfigurationName") {
                t.push(target(cfn, items, n, true, LC, "LaunchConfigurationName"));
            }
            FactKind::Dependent {
                templates: t,
                without: Without::Unknown(
                    "no LaunchTemplate, MixedInstancesPolicy or LaunchConfigurationName (a group created from an InstanceId is not followed)".into(),
                ),
            }
        }
        "AWS::EKS::Nodegroup" => FactKind::Dependent {
            templates: lt(get("LaunchTemplate"), "Id", "Name").into_iter().collect(),
            without: Without::EksDefault,
        },
        "AWS::EC2::SpotFleet" => {
            let data = get("SpotFleetRequestConfigData");
            let mut t: Vec<Target> = seq(data.and_then(|d| d.get("LaunchTemplateConfigs")))
                .iter()
                .filter_map(|c| lt(c.get("LaunchTemplateSpecification"), "LaunchTemplateId", "LaunchTemplateName"))
                .collect();
            for (i, spec) in seq(data.and_then(|d| d.get("LaunchSpecifications"))).iter().enumerate() {
                t.push(Target::Inline {
                    what: format!("LaunchSpecifications[{i}]"),
                    own: Own::Unsupported("a Spot Fleet launch specification cannot set MetadataOptions".into()),
                    image: vec![],
                    line: spec.line,
                });
            }
            FactKind::Dependent {
                templates: t,
                without: Without::Unknown("no LaunchTemplateConfigs or LaunchSpecifications found".into()),
            }
        }
        "AWS::EC2::EC2Fleet" => FactKind::Dependent {
            templates: seq(get("LaunchTemplateConfigs"))
                .iter()
                .filter_map(|c| lt(c.get("LaunchTemplateSpecification"), "LaunchTemplateId", "LaunchTemplateName"))
                .collect(),
            without: Without::Unknown("no LaunchTemplateConfigs found".into()),
        },
        _ => {
            let cr = get("ComputeResources");
            FactKind::Dependent {
                templates: lt(cr.and_then(|c| c.get("LaunchTemplate")), "LaunchTemplateId", "LaunchTemplateName")
                    .into_iter()
                    .collect(),
                without: rules::batch_default(
                    seq(cr.and_then(|c| c.get("Ec2Configuration")))
                        .iter()
                        .map(|c| c.get("ImageType").map(|n| cfn.resolve(n, 0)))
                        .map(|r| match r {
                            None | Some(Res::Absent) => Val::Absent,
                            Some(Res::Str(s)) => Val::Str(s),
                            Some(_) => Val::Unknown { expr: None, why: "ImageType cannot be known".into() },
                        })
                        .collect(),
                    false,
                    rules::Syntax::CloudFormation,
                ),
            }
        }
    };
    let dependent = matches!(kind, FactKind::Dependent { .. });
    Fact {
        address: it.id.to_string(),
        file: file.to_string(),
        line: it.line,
        syntax: Syntax::CloudFormation,
        block: crate::aws_types::cloudformation(it.rtype).and_then(|t| t.block).map(|(_, cfn)| cfn),
        default_required: false,
        fix: if dependent { Fix::UseLaunchTemplate } else { Fix::CloudFormation { path: fix_path.to_string() } },
        kind,
    }
}

/// The metadata options at `parent.key`.
fn own(cfn: &Cfn<'_>, parent: Option<&Node>, key: &str, line: usize) -> Own {
    let Some(node) = parent.and_then(|p| p.get(key)) else {
        return Own::NoBlock;
    };
    match cfn.resolve(node, 0) {
        Res::Absent => Own::NoBlock,
        Res::Unknown(w) => Own::Unknown { why: format!("{key} cannot be known: {w}"), line },
        Res::Str(s) => Own::Unknown { why: format!("{key} is not a mapping: {s:?}"), line },
        Res::Node(m) => {
            let get = |k: &str| match m.get(k).map(|n| cfn.resolve(n, 0)) {
                None | Some(Res::Absent) => Val::Absent,
                Some(Res::Str(s)) => Val::Str(s),
                Some(Res::Unknown(w)) => Val::Unknown { expr: None, why: w },
                Some(Res::Node(_)) => Val::Unknown { expr: None, why: "it is not a string".into() },
            };
            Own::Block(Options {
                endpoint: get("HttpEndpoint"),
                tokens: get("HttpTokens"),
                via: None,
                line: m.get_entry("HttpTokens").map_or(line, |(k, _)| k.line),
                empty: m.as_map().is_some_and(<[_]>::is_empty),
            })
        }
    }
}

/// A launch template specification (`{LaunchTemplateId | LaunchTemplateName, Version}`).
fn lt_spec(cfn: &Cfn<'_>, items: &[Item<'_>], spec: &Node, id_key: &str, name_key: &str) -> Option<Target> {
    match (spec.get(id_key), spec.get(name_key)) {
        (Some(id), _) => Some(target(cfn, items, id, false, LT, "LaunchTemplateName")),
        (None, Some(name)) => Some(target(cfn, items, name, true, LT, "LaunchTemplateName")),
        (None, None) => None,
    }
}

/// Follows `Ref` / `Fn::GetAtt` to a resource of this template; a name (`by_name`) is also
/// matched by value against the resources' own `name_prop`.
fn target(cfn: &Cfn<'_>, items: &[Item<'_>], node: &Node, by_name: bool, rtype: &str, name_prop: &str) -> Target {
    let what = if rtype == LT { "launch template" } else { "launch configuration" };
    let logical = match Cfn::intrinsic(node) {
        Some((f, a)) if f == "Ref" => a.scalar(),
        Some((f, a)) if f == "Fn::GetAtt" => a
            .items()
            .first()
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .or_else(|| a.scalar().and_then(|s| s.split('.').next().map(str::to_string))),
        _ => None,
    }
    .filter(|l| cfn.root.get("Resources").and_then(|r| r.get(l)).is_some());
    let found = |pred: &dyn Fn(&Item<'_>) -> bool| -> Vec<usize> {
        items.iter().enumerate().filter(|(_, it)| it.rtype == rtype && pred(it)).map(|(i, _)| i).collect()
    };
    if let Some(l) = logical {
        let idx = found(&|it| it.id == l);
        return if idx.is_empty() {
            Target::Unresolved(format!("{l} is not a {what} this template creates"))
        } else {
            Target::Found(idx)
        };
    }
    if !by_name {
        return Target::Unresolved(format!("the reference does not name a {what} defined in this template"));
    }
    match cfn.resolve(node, 0) {
        Res::Str(name) => {
            let idx = found(&|it| {
                it.res
                    .get("Properties")
                    .and_then(|p| p.get(name_prop))
                    .is_some_and(|n| matches!(cfn.resolve(n, 0), Res::Str(s) if s == name))
            });
            if idx.is_empty() {
                Target::Unresolved(format!("{name_prop} {name:?} names no {what} defined in this template"))
            } else {
                Target::Found(idx)
            }
        }
        Res::Unknown(w) => Target::Unresolved(format!("{name_prop} cannot be known: {w}")),
        _ => Target::Unresolved(format!("the reference does not name a {what} defined in this template")),
    }
}
