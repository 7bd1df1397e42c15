//! Terraform configuration → facts for the one rule (`iac::rules`): each resource's own
//! `metadata_options` (static or dynamic), the templates it launches, the AMI it boots and
//! the account default.

use hcl_edit::expr::Expression;

use super::eval::{Env, Value, expr_text};
use super::modules::Instance;
use super::parse::TBody;
use super::reading::{blocks_at, target, targets, val};
use super::refs::find_refs;
use crate::rules::{Fact, FactKind, Options, Own, Syntax, Target, Val, Without};
use crate::verdict::{Fix, display_path};

/// One fact per instance, in the same order (references are indices into `all`).
pub fn facts(all: &[Instance]) -> Vec<Fact> {
    all.iter().map(|inst| fact(inst, all)).collect()
}

// Over 80 lines on purpose: one arm per resource type, so the type table (mirrored by the
// README's rule table) reads in one place.
fn fact(inst: &Instance, all: &[Instance]) -> Fact {
    if let Some(rule) = crate::clouds::rule(&inst.rtype) {
        return super::clouds::fact(inst, all, rule);
    }
    let body = &inst.block.body;
    let env = inst.env();
    let lt =
        |path: &[&str], id: &str, name: &str| targets(inst, all, body, &env, path, id, name, "aws_launch_template");
    let mut block = None;
    let mut fix = Fix::TerraformBlock;
    let kind = match inst.rtype.as_str() {
        "aws_launch_template" | "aws_launch_configuration" => FactKind::Launcher {
            own: own(inst, body, &env, "metadata_options"),
            image: image(inst, "image_id", all),
            templates: vec![],
        },
        "aws_imagebuilder_infrastructure_configuration" => {
            block = Some("instance_metadata_options");
            FactKind::Launcher {
                own: own(inst, body, &env, "instance_metadata_options"),
                image: vec![],
                templates: vec![],
            }
        }
        "aws_ec2_instance_metadata_defaults" => match body.attr("http_tokens") {
            Some(a) => FactKind::AccountDefault { tokens: val(&env.eval(&a.expr), &a.expr), line: a.line },
            None => FactKind::AccountDefault { tokens: Val::Absent, line: inst.block.line },
        },
        "aws_ami" => FactKind::Image { v2: ami_v2(inst) },
        "aws_instance" | "aws_spot_instance_request" => FactKind::Launcher {
            own: own(inst, body, &env, "metadata_options"),
            image: image(inst, "ami", all),
            templates: lt(&["launch_template"], "id", "name"),
        },
        "aws_autoscaling_group" => {
            let spec = ["mixed_instances_policy", "launch_template", "launch_template_specification"];
            let mut t = lt(&["launch_template"], "id", "name");
            t.extend(lt(&spec, "launch_template_id", "launch_template_name"));
            t.extend(lt(&[spec[0], spec[1], "override", spec[2]], "launch_template_id", "launch_template_name"));
            if let Some(lc) = body.attr("launch_configuration") {
                t.push(target(find_refs(&lc.expr, "aws_launch_configuration", inst, &env, all)));
            }
            fix = Fix::UseLaunchTemplate;
            FactKind::Dependent {
                templates: t,
                without: Without::Unknown(
                    "no launch_template, mixed_instances_policy or launch_configuration found".into(),
                ),
            }
        }
        "aws_eks_node_group" => {
            FactKind::Dependent { templates: lt(&["launch_template"], "id", "name"), without: Without::EksDefault }
        }
        "aws_spot_fleet_request" => {
            let mut t = lt(&["launch_template_config", "launch_template_specification"], "id", "name");
            t.extend(launch_specifications(inst, all, body, &env));
            fix = Fix::UseLaunchTemplate;
            FactKind::Dependent {
                templates: t,
                without: Without::Unknown("no launch_template_config or launch_specification found".into()),
            }
        }
        "aws_ec2_fleet" => {
            fix = Fix::UseLaunchTemplate;
            FactKind::Dependent {
                templates: lt(
                    &["launch_template_config", "launch_template_specification"],
                    "launch_template_id",
                    "launch_template_name",
                ),
                without: Without::Unknown("no launch_template_config found".into()),
            }
        }
        "aws_batch_compute_environment" => {
            fix = Fix::UseLaunchTemplate;
            batch(inst, all, body, &env)
        }
        _ => FactKind::Skip,
    };
    Fact {
        address: inst.address.clone(),
        file: display_path(&inst.block.file),
        line: inst.block.line,
        syntax: Syntax::Terraform,
        block,
        default_required: false,
        fix,
        kind,
    }
}

/// A Batch compute environment: unmanaged and Fargate ones launch no instance of their own.
fn batch(inst: &Instance, all: &[Instance], body: &TBody, env: &Env<'_>) -> FactKind {
    let text = |b: &TBody, e: &Env<'_>, k: &str| b.attr(k).map(|a| e.eval(&a.expr)).and_then(|v| v.as_text());
    if text(body, env, "type").is_some_and(|t| t.eq_ignore_ascii_case("UNMANAGED")) {
        return FactKind::Skip;
    }
    let cr = match blocks_at(body, env, &["compute_resources"]) {
        Ok(cr) => cr,
        Err(why) => {
            return FactKind::Dependent { templates: vec![Target::Unresolved(why)], without: Without::EksDefault };
        }
    };
    if cr.iter().any(|(b, e)| text(b, e, "type").is_some_and(|t| t.to_ascii_uppercase().starts_with("FARGATE"))) {
        return FactKind::Skip;
    }
    let templates = targets(
        inst,
        all,
        body,
        env,
        &["compute_resources", "launch_template"],
        "launch_template_id",
        "launch_template_name",
        "aws_launch_template",
    );
    let image_types = match blocks_at(body, env, &["compute_resources", "ec2_configuration"]) {
        Ok(v) => v
            .iter()
            .map(|(b, e)| b.attr("image_type").map_or(Val::Absent, |a| val(&e.eval(&a.expr), &a.expr)))
            .collect(),
        Err(why) => vec![Val::Unknown { expr: None, why }],
    };
    FactKind::Dependent { templates, without: crate::rules::batch_default(image_types, false, Syntax::Terraform) }
}

/// A spot fleet's `launch_specification` blocks: instances that cannot set metadata options.
fn launch_specifications(inst: &Instance, all: &[Instance], body: &TBody, env: &Env<'_>) -> Vec<Target> {
    match blocks_at(body, env, &["launch_specification"]) {
        Err(why) => vec![Target::Unresolved(why)],
        Ok(specs) => specs
            .iter()
            .enumerate()
            .map(|(i, (b, e))| Target::Inline {
                what: format!("launch_specification[{i}]"),
                own: Own::Unsupported("a spot fleet launch_specification cannot set metadata_options".into()),
                image: b.attr("ami").and_then(|a| find_refs(&a.expr, "aws_ami", inst, e, all).ok()).unwrap_or_default(),
                line: inst.block.line,
            })
            .collect(),
    }
}

fn ami_v2(inst: &Instance) -> bool {
    inst.block.body.attr("imds_support").is_some_and(|a| inst.env().eval(&a.expr) == Value::String("v2.0".into()))
}

/// The AMIs of this module instance the resource's image attribute refers to.
fn image(inst: &Instance, attr: &str, all: &[Instance]) -> Vec<usize> {
    inst.block
        .body
        .attr(attr)
        .and_then(|a| find_refs(&a.expr, "aws_ami", inst, &inst.env(), all).ok())
        .unwrap_or_default()
}

/// Reads the resource's own `metadata_options` (static or dynamic).
fn own(inst: &Instance, body: &TBody, env: &Env<'_>, name: &str) -> Own {
    let line = inst.block.line;
    if let Some(b) = body.block(name) {
        return Own::Block(options(&b.body, env, line));
    }
    let Some(d) = body.blocks("dynamic").find(|d| d.labels.first().map(String::as_str) == Some(name)) else {
        return Own::NoBlock;
    };
    let Some(for_each) = d.body.attr("for_each") else {
        return Own::NoBlock;
    };
    let first = match env.eval(&for_each.expr) {
        Value::List(l) => l.into_iter().next().map(|v| (Value::Number(0.0), v)),
        Value::Map(m) => m.into_iter().next().map(|(k, v)| (Value::String(k), v)),
        Value::Null => None,
        Value::Unknown(w) | Value::Partial { why: w, .. } => {
            return Own::Unknown {
                why: format!("dynamic \"{name}\" for_each `{}` cannot be known: {w}", expr_text(&for_each.expr)),
                line: d.line,
            };
        }
        other => {
            return Own::Unknown {
                why: format!("dynamic \"{name}\" for_each is not a collection: {}", show(&other)),
                line: d.line,
            };
        }
    };
    let Some((key, value)) = first else {
        return Own::NoBlock;
    };
    let name = match d.body.attr("iterator").map(|a| &a.expr) {
        Some(Expression::Variable(v)) => v.as_str().to_string(),
        _ => name.to_string(),
    };
    let mut env = env.clone();
    env.iterator = Some((name, key, value));
    match d.body.block("content") {
        Some(c) => Own::Block(options(&c.body, &env, line)),
        None => Own::Block(Options { endpoint: Val::Absent, tokens: Val::Absent, via: None, line, empty: true }),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.as_text().unwrap_or_else(|| format!("{other:?}")),
    }
}

fn options(body: &TBody, env: &Env<'_>, resource_line: usize) -> Options {
    let endpoint = body.attr("http_endpoint").map_or(Val::Absent, |a| val(&env.eval(&a.expr), &a.expr));
    let tokens = body.attr("http_tokens");
    Options {
        endpoint,
        tokens: tokens.map_or(Val::Absent, |a| val(&env.eval(&a.expr), &a.expr)),
        via: tokens.and_then(|a| match &a.expr {
            Expression::String(_) | Expression::Null(_) => None,
            e => Some(expr_text(e)),
        }),
        line: tokens.map_or(resource_line, |a| a.line),
        empty: body.is_empty(),
    }
}
