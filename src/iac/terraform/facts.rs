//! Terraform configuration → facts for the one rule (`iac::rules`): each resource's own
//! `metadata_options` (static or dynamic), the templates it launches, the AMI it boots and
//! the account default.

use hcl_edit::expr::Expression;

use super::eval::{Env, Value, expr_text};
use super::modules::Instance;
use super::parse::TBody;
use super::refs::find_refs;
use crate::iac::rules::{Fact, FactKind, Options, Own, Syntax, Target, Val, Without};
use crate::iac::verdict::{Fix, display_path};

/// One fact per instance, in the same order (references are indices into `all`).
pub fn facts(all: &[Instance]) -> Vec<Fact> {
    all.iter().map(|inst| fact(inst, all)).collect()
}

fn fact(inst: &Instance, all: &[Instance]) -> Fact {
    let body = &inst.block.body;
    let kind = match inst.rtype.as_str() {
        "aws_launch_template" | "aws_launch_configuration" => FactKind::Launcher {
            own: own(inst, body, &inst.env()),
            image: image(inst, "image_id", all),
            templates: vec![],
        },
        "aws_ec2_instance_metadata_defaults" => match body.attr("http_tokens") {
            Some(a) => FactKind::AccountDefault { tokens: val(&inst.env().eval(&a.expr), &a.expr), line: a.line },
            None => FactKind::AccountDefault { tokens: Val::Absent, line: inst.block.line },
        },
        "aws_ami" => FactKind::Image { v2: ami_v2(inst) },
        "aws_instance" => FactKind::Launcher {
            own: own(inst, body, &inst.env()),
            image: image(inst, "ami", all),
            templates: targets(inst, all, lt_refs(body.block("launch_template").map(|b| &b.body), "id", "name")),
        },
        "aws_autoscaling_group" => FactKind::Dependent {
            templates: targets(inst, all, asg_refs(body)),
            without: Without::Unknown(
                "no launch_template, mixed_instances_policy or launch_configuration found".into(),
            ),
        },
        "aws_eks_node_group" => FactKind::Dependent {
            templates: targets(inst, all, lt_refs(body.block("launch_template").map(|b| &b.body), "id", "name")),
            without: Without::EksDefault,
        },
        _ => FactKind::Image { v2: false },
    };
    Fact {
        address: inst.address.clone(),
        file: display_path(&inst.block.file),
        line: inst.block.line,
        syntax: Syntax::Terraform,
        default_required: false,
        fix: Fix::TerraformBlock,
        kind,
    }
}

/// A Terraform value as the rule reads it; `expr` names it when it cannot be known.
fn val(v: &Value, expr: &Expression) -> Val {
    match v {
        Value::String(s) => Val::Str(s.clone()),
        Value::Null => Val::Null,
        Value::Unknown(w) => Val::Unknown { expr: Some(expr_text(expr)), why: w.clone() },
        other => Val::Other(other.as_text().unwrap_or_else(|| format!("{other:?}"))),
    }
}

fn ami_v2(inst: &Instance) -> bool {
    inst.block.body.attr("imds_support").is_some_and(|a| inst.env().eval(&a.expr) == Value::String("v2.0".into()))
}

/// The AMIs of this module instance the resource's image attribute refers to.
fn image(inst: &Instance, attr: &str, all: &[Instance]) -> Vec<usize> {
    inst.block.body.attr(attr).and_then(|a| find_refs(&a.expr, "aws_ami", inst, all).ok()).unwrap_or_default()
}

/// Reads the resource's own `metadata_options` (static or dynamic).
fn own(inst: &Instance, body: &TBody, env: &Env<'_>) -> Own {
    let line = inst.block.line;
    if let Some(b) = body.block("metadata_options") {
        return Own::Block(options(&b.body, env, line));
    }
    let Some(d) = body.blocks("dynamic").find(|d| d.labels.first().map(String::as_str) == Some("metadata_options"))
    else {
        return Own::NoBlock;
    };
    let Some(for_each) = d.body.attr("for_each") else {
        return Own::NoBlock;
    };
    let first = match env.eval(&for_each.expr) {
        Value::List(l) => l.into_iter().next().map(|v| (Value::Number(0.0), v)),
        Value::Map(m) => m.into_iter().next().map(|(k, v)| (Value::String(k), v)),
        Value::Null => None,
        Value::Unknown(w) => {
            return Own::Unknown {
                why: format!(
                    "dynamic \"metadata_options\" for_each `{}` cannot be known: {w}",
                    expr_text(&for_each.expr)
                ),
                line: d.line,
            };
        }
        other => {
            return Own::Unknown {
                why: format!("dynamic \"metadata_options\" for_each is not a collection: {}", show(&other)),
                line: d.line,
            };
        }
    };
    let Some((key, value)) = first else {
        return Own::NoBlock;
    };
    let name = match d.body.attr("iterator").map(|a| &a.expr) {
        Some(Expression::Variable(v)) => v.as_str().to_string(),
        _ => "metadata_options".to_string(),
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

/// Template references: (expression, resource type it should name).
type Refs<'a> = Vec<(&'a Expression, &'static str)>;

fn targets(inst: &Instance, all: &[Instance], refs: Refs<'_>) -> Vec<Target> {
    refs.into_iter()
        .map(|(expr, rtype)| match find_refs(expr, rtype, inst, all) {
            Ok(idx) => Target::Found(idx),
            Err(why) => Target::Unresolved(why),
        })
        .collect()
}

fn lt_refs<'a>(body: Option<&'a TBody>, id: &str, name: &str) -> Refs<'a> {
    let Some(body) = body else { return Vec::new() };
    [id, name].iter().filter_map(|k| body.attr(k)).map(|a| (&a.expr, "aws_launch_template")).take(1).collect()
}

fn asg_refs(body: &TBody) -> Refs<'_> {
    let mut refs = lt_refs(body.block("launch_template").map(|b| &b.body), "id", "name");
    if let Some(lt) = body.block("mixed_instances_policy").and_then(|m| m.body.block("launch_template")) {
        refs.extend(lt_refs(
            lt.body.block("launch_template_specification").map(|b| &b.body),
            "launch_template_id",
            "launch_template_name",
        ));
        for o in lt.body.blocks("override") {
            refs.extend(lt_refs(
                o.body.block("launch_template_specification").map(|b| &b.body),
                "launch_template_id",
                "launch_template_name",
            ));
        }
    }
    if let Some(lc) = body.attr("launch_configuration") {
        refs.push((&lc.expr, "aws_launch_configuration"));
    }
    refs
}
