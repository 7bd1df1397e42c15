//! What the Terraform front ends (AWS facts and the other clouds') read the same way: blocks
//! at a path (static or `dynamic`, each with the environment its content sees), template
//! references in them, and a value as the rule reads it.

use hcl_edit::expr::Expression;

use super::eval::{Env, Value, expr_text};
use super::modules::Instance;
use super::parse::TBody;
use super::refs::find_refs;
use crate::rules::{Target, Val};

/// The blocks at a path of nested block names, static or `dynamic`, each with the environment
/// its content sees (a dynamic block's iterator). Err when a `for_each` cannot be known.
pub fn blocks_at<'a>(body: &'a TBody, env: &Env<'a>, path: &[&str]) -> Result<Vec<(&'a TBody, Env<'a>)>, String> {
    let mut level: Vec<(&'a TBody, Env<'a>)> = vec![(body, env.clone())];
    for name in path {
        let mut next = Vec::new();
        for (b, e) in &level {
            next.extend(b.blocks.iter().filter(|x| x.ident == *name).map(|x| (&x.body, e.clone())));
            for d in b.blocks("dynamic").filter(|d| d.labels.first().map(String::as_str) == Some(*name)) {
                let Some(content) = d.body.block("content") else { continue };
                let it = match d.body.attr("iterator").map(|a| &a.expr) {
                    Some(Expression::Variable(v)) => v.as_str().to_string(),
                    _ => (*name).to_string(),
                };
                let items: Vec<(Value, Value)> = match d.body.attr("for_each").map(|a| (a, e.eval(&a.expr))) {
                    None => continue,
                    Some((_, Value::List(l))) => {
                        l.into_iter().enumerate().map(|(i, v)| (Value::Number(i as f64), v)).collect()
                    }
                    Some((_, Value::Map(m))) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
                    Some((_, Value::Null)) => Vec::new(),
                    Some((a, Value::Unknown(w) | Value::Partial { why: w, .. })) => {
                        return Err(format!(
                            "dynamic \"{name}\" for_each `{}` cannot be known: {w}",
                            expr_text(&a.expr)
                        ));
                    }
                    Some((a, _)) => {
                        return Err(format!(
                            "dynamic \"{name}\" for_each `{}` is not a collection",
                            expr_text(&a.expr)
                        ));
                    }
                };
                for (k, v) in items {
                    let mut env = e.clone();
                    env.iterator = Some((it.clone(), k, v));
                    next.push((&content.body, env));
                }
            }
        }
        level = next;
    }
    Ok(level)
}

/// A Terraform value as the rule reads it; `expr` names it when it cannot be known.
pub fn val(v: &Value, expr: &Expression) -> Val {
    match v {
        Value::String(s) => Val::Str(s.clone()),
        Value::Null => Val::Null,
        Value::Unknown(w) | Value::Partial { why: w, .. } => {
            Val::Unknown { expr: Some(expr_text(expr)), why: w.clone() }
        }
        other => Val::Other(other.as_text().unwrap_or_else(|| format!("{other:?}"))),
    }
}

pub fn target(r: Result<Vec<usize>, String>) -> Target {
    match r {
        Ok(idx) => Target::Found(idx),
        Err(why) => Target::Unresolved(why),
    }
}

/// Template references in the blocks at `path` (static or dynamic): the `id` attribute, else `name`.
#[allow(clippy::too_many_arguments)] // one call site per resource type; a struct would only rename them
pub fn targets(
    inst: &Instance,
    all: &[Instance],
    body: &TBody,
    env: &Env<'_>,
    path: &[&str],
    id: &str,
    name: &str,
    rtype: &str,
) -> Vec<Target> {
    match blocks_at(body, env, path) {
        Err(why) => vec![Target::Unresolved(why)],
        Ok(blocks) => blocks
            .iter()
            .filter_map(|(b, e)| {
                let a = b.attr(id).or_else(|| b.attr(name))?;
                Some(target(find_refs(&a.expr, rtype, inst, e, all)))
            })
            .collect(),
    }
}
