//! Terraform configuration → facts for the other clouds' rule (`iac::clouds`): Alibaba
//! `http_tokens` / `http_endpoint` (and the launch template an instance names), OCI
//! `instance_options`, Google `metadata` and GKE `node_config.metadata`, static or dynamic
//! blocks, values through variables, locals and modules as for AWS.

use hcl_edit::expr::{Expression, ObjectKey};

use super::eval::{Env, Value, expr_text};
use super::modules::Instance;
use super::parse::{TAttr, TBody};
use super::reading::{blocks_at, targets, val};
use crate::clouds::{Check, Rule, Switch};
use crate::rules::{Fact, FactKind, Syntax, Val};
use crate::verdict::{Fix, display_path};

/// The Google metadata key that turns the legacy endpoints off.
pub const GCP_KEY: &str = "disable-legacy-endpoints";

/// The fact of one instance of a type `rule` judges.
pub fn fact(inst: &Instance, all: &[Instance], rule: &'static Rule) -> Fact {
    let body = &inst.block.body;
    let env = inst.env();
    let line = inst.block.line;
    let mut templates = Vec::new();
    let checks = match rule.rtype {
        "alicloud_instance" | "alicloud_ecs_launch_template" => {
            if rule.rtype == "alicloud_instance" {
                templates = targets(
                    inst,
                    all,
                    body,
                    &env,
                    &[],
                    "launch_template_id",
                    "launch_template_name",
                    "alicloud_ecs_launch_template",
                );
            }
            vec![alibaba(body, &env, line)]
        }
        "alicloud_ess_scaling_configuration" => {
            let endpoint = body.attr("http_endpoint").map_or(Val::Absent, |a| val(&env.eval(&a.expr), &a.expr));
            vec![Check { inside: None, value: Val::Absent, via: None, line, endpoint, container: false }]
        }
        "alicloud_ess_scaling_group" => {
            let id = "launch_template_id";
            templates = targets(inst, all, body, &env, &[], id, id, "alicloud_ecs_launch_template");
            vec![]
        }
        "oci_core_instance" | "oci_core_instance_pool" => {
            let id = "instance_configuration_id";
            templates = targets(inst, all, body, &env, &[], id, id, "oci_core_instance_configuration");
            if rule.rtype == "oci_core_instance" { oci(body, &env, line, None) } else { vec![] }
        }
        "oci_core_instance_configuration" => oci_configuration(body, &env, line),
        "google_compute_instance" | "google_compute_instance_template" | "google_compute_project_metadata" => {
            vec![metadata(body, &env, line, None)]
        }
        "google_compute_instance_from_template" => {
            let src = "source_instance_template";
            templates = targets(inst, all, body, &env, &[], src, src, "google_compute_instance_template");
            vec![metadata(body, &env, line, None)]
        }
        "google_compute_project_metadata_item" => match body.attr("key").map(|a| env.eval(&a.expr)) {
            // Another key (or one that cannot be known) is not a control: no record.
            Some(Value::String(k)) if k == GCP_KEY => {
                let a = body.attr("value");
                vec![Check {
                    inside: None,
                    value: a.map_or(Val::Absent, |a| val(&env.eval(&a.expr), &a.expr)),
                    via: a.and_then(via),
                    line: a.map_or(line, |a| a.line),
                    endpoint: Val::Absent,
                    container: false,
                }]
            }
            _ => vec![],
        },
        "google_container_node_pool" => node_configs(body, &env, line, None),
        _ => cluster(body, &env, line),
    };
    Fact {
        address: inst.address.clone(),
        file: display_path(&inst.block.file),
        line,
        syntax: Syntax::Terraform,
        block: None,
        default_required: false,
        fix: Fix::Set { inside: None, text: rule.fix_block.to_string() },
        kind: FactKind::Switch(Switch { rule, checks, templates, scope: scope(body, &env) }),
    }
}

/// The project and provider a Google resource belongs to (a project-wide control applies to
/// the resources of the same); a project that cannot be known is named by its expression.
fn scope(body: &TBody, env: &Env<'_>) -> String {
    let project = body.attr("project").map_or(String::new(), |a| match env.eval(&a.expr) {
        Value::String(s) => s,
        _ => format!("`{}`", expr_text(&a.expr)),
    });
    let provider = body.attr("provider").map_or(String::new(), |a| expr_text(&a.expr));
    format!("{project}|{provider}")
}

fn unknown(why: String, line: usize, inside: Option<String>) -> Check {
    Check { inside, value: Val::Unknown { expr: None, why }, via: None, line, endpoint: Val::Absent, container: false }
}

/// The expression a value came from, when it is not a literal.
fn via(a: &TAttr) -> Option<String> {
    match &a.expr {
        Expression::String(_) | Expression::Null(_) | Expression::Bool(_) => None,
        e => Some(expr_text(e)),
    }
}

fn alibaba(body: &TBody, env: &Env<'_>, line: usize) -> Check {
    let tokens = body.attr("http_tokens");
    Check {
        inside: None,
        value: tokens.map_or(Val::Absent, |a| val(&env.eval(&a.expr), &a.expr)),
        via: tokens.and_then(via),
        line: tokens.map_or(line, |a| a.line),
        endpoint: body.attr("http_endpoint").map_or(Val::Absent, |a| val(&env.eval(&a.expr), &a.expr)),
        container: false,
    }
}

fn oci(body: &TBody, env: &Env<'_>, line: usize, inside: Option<String>) -> Vec<Check> {
    let blocks = match blocks_at(body, env, &["instance_options"]) {
        Ok(b) => b,
        Err(why) => return vec![unknown(why, line, inside)],
    };
    if blocks.is_empty() {
        return vec![Check { inside, value: Val::Absent, via: None, line, endpoint: Val::Absent, container: false }];
    }
    blocks
        .iter()
        .map(|(b, e)| {
            let a = b.attr("are_legacy_imds_endpoints_disabled");
            Check {
                inside: inside.clone(),
                value: a.map_or(Val::Absent, |a| val(&e.eval(&a.expr), &a.expr)),
                via: a.and_then(via),
                line: a.map_or(line, |a| a.line),
                endpoint: Val::Absent,
                container: true,
            }
        })
        .collect()
}

/// An instance configuration's launch details: `instance_details.launch_details` and each
/// `instance_details.options[i].launch_details`.
fn oci_configuration(body: &TBody, env: &Env<'_>, line: usize) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut read = |path: &[&str], name: &dyn Fn(usize) -> String| match blocks_at(body, env, path) {
        Ok(details) => {
            for (i, (b, e)) in details.iter().enumerate() {
                checks.extend(oci(b, e, line, Some(name(i))));
            }
        }
        Err(why) => checks.push(unknown(why, line, Some(path.join(".")))),
    };
    read(&["instance_details", "launch_details"], &|_| "instance_details.launch_details".into());
    read(&["instance_details", "options", "launch_details"], &|i| {
        format!("instance_details.options[{i}].launch_details")
    });
    if checks.is_empty() {
        let why = match body.attr("instance_id") {
            Some(a) => format!(
                "the launch details are copied from the instance `{}` (source = \"INSTANCE\"), which this check does not read",
                expr_text(&a.expr)
            ),
            None => "no instance_details.launch_details".to_string(),
        };
        checks.push(unknown(why, line, None));
    }
    checks
}

/// A cluster's default pool (`node_config`) and inline `node_pool` blocks.
fn cluster(body: &TBody, env: &Env<'_>, line: usize) -> Vec<Check> {
    let mut checks = node_configs(body, env, line, None);
    match blocks_at(body, env, &["node_pool"]) {
        Ok(pools) => {
            for (i, (b, e)) in pools.iter().enumerate() {
                checks.extend(node_configs(b, e, line, Some(format!("node_pool[{i}]"))));
            }
        }
        Err(why) => checks.push(unknown(why, line, Some("node_pool".into()))),
    }
    checks
}

/// `node_config { metadata = {...} }` blocks (none: the service default).
fn node_configs(body: &TBody, env: &Env<'_>, line: usize, inside: Option<String>) -> Vec<Check> {
    match blocks_at(body, env, &["node_config"]) {
        Err(why) => vec![unknown(why, line, inside)],
        Ok(b) if b.is_empty() => {
            vec![Check { inside, value: Val::Absent, via: None, line, endpoint: Val::Absent, container: false }]
        }
        Ok(b) => b.iter().map(|(b, e)| metadata(b, e, line, inside.clone())).collect(),
    }
}

/// The `disable-legacy-endpoints` key of a `metadata` map attribute.
fn metadata(body: &TBody, env: &Env<'_>, line: usize, inside: Option<String>) -> Check {
    let absent = |line| Check {
        inside: inside.clone(),
        value: Val::Absent,
        via: None,
        line,
        endpoint: Val::Absent,
        container: false,
    };
    let Some(a) = body.attr("metadata") else { return absent(line) };
    // The key's own expression in an object literal, else the whole map's.
    let inner = match &a.expr {
        Expression::Object(o) => o.iter().find(|(k, _)| key_name(k) == Some(GCP_KEY)).map(|(_, v)| v.expr()),
        _ => None,
    };
    let named = inner.unwrap_or(&a.expr);
    let via = match named {
        Expression::String(_) | Expression::Null(_) | Expression::Bool(_) | Expression::Object(_) => None,
        e => Some(expr_text(e)),
    };
    let value = match env.eval(&a.expr) {
        Value::Map(m) => m.get(GCP_KEY).map_or(Val::Absent, |v| val(v, named)),
        Value::Partial { known, why } => match known.get(GCP_KEY) {
            Some(v) => val(v, named),
            None => Val::Unknown { expr: Some(expr_text(&a.expr)), why },
        },
        Value::Null => return absent(a.line),
        Value::Unknown(w) => Val::Unknown { expr: Some(expr_text(&a.expr)), why: w },
        _ => Val::Unknown { expr: Some(expr_text(&a.expr)), why: "metadata is not a map".into() },
    };
    Check { inside, value, via, line: key_line(a), endpoint: Val::Absent, container: true }
}

fn key_name(k: &ObjectKey) -> Option<&str> {
    match k {
        ObjectKey::Ident(i) => Some(i.as_str()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().as_str()),
        ObjectKey::Expression(_) => None,
    }
}

/// The line of the `disable-legacy-endpoints` key in the attribute's text, else the attribute's.
fn key_line(a: &TAttr) -> usize {
    let text = a.expr.to_string();
    text.find(GCP_KEY).map_or(a.line, |i| a.line + text[..i].matches('\n').count())
}
