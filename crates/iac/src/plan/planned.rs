//! A plan's resource changes as the front ends read them: the planned values, what is known
//! only after apply, the configuration's expressions (references), and the resolution of a
//! reference to another planned resource.

use std::collections::BTreeMap;

use crate::rules::{Target, Val};
use crate::tree::Node;

pub(crate) fn is_true(n: Option<&Node>) -> bool {
    n.and_then(Node::as_str) == Some("true")
}

pub(crate) fn first(n: Option<&Node>) -> Option<&Node> {
    match n?.as_seq() {
        Some(s) => s.first(),
        None => n,
    }
}

/// Configuration resources by address (module prefix included, no instance keys).
pub(crate) fn config_index<'a>(module: &'a Node, prefix: &str, depth: usize, out: &mut BTreeMap<String, &'a Node>) {
    if depth > 32 {
        return;
    }
    for r in module.get("resources").and_then(Node::as_seq).unwrap_or_default() {
        if let Some(a) = r.get("address").and_then(Node::as_str) {
            out.insert(format!("{prefix}{a}"), r);
        }
    }
    for (k, call) in module.get("module_calls").and_then(Node::as_map).unwrap_or_default() {
        if let (Some(name), Some(m)) = (k.as_str(), call.get("module")) {
            config_index(m, &format!("{prefix}module.{name}."), depth + 1, out);
        }
    }
}

/// `module.a[0].aws_instance.x["k"]` → (`module.a.`, `module.a.aws_instance.x`).
fn strip_keys(address: &str) -> (String, String) {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in address.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let parts: Vec<&str> = out.split('.').collect();
    let prefix = if parts.len() > 2 { format!("{}.", parts[..parts.len() - 2].join(".")) } else { String::new() };
    (prefix, out)
}

/// The references of an expression in the configuration, e.g.
/// `expressions.launch_template[0].id.references`.
pub(crate) fn refs<'a>(expr: Option<&'a Node>, path: &[&str]) -> Vec<&'a str> {
    let mut n = expr;
    for p in path {
        n = first(n).and_then(|x| x.get(p));
    }
    n.and_then(|x| x.get("references"))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .collect()
}

/// One planned resource: its change and its configuration expressions.
pub(crate) struct Planned<'a> {
    pub(crate) address: &'a str,
    pub(crate) rtype: &'a str,
    pub(crate) line: usize,
    pub(crate) prefix: String,
    pub(crate) base: String,
    pub(crate) after: Option<&'a Node>,
    pub(crate) unknown: Option<&'a Node>,
    pub(crate) conf: Option<&'a Node>,
    /// The plan creates the resource (`create`, or a replacement): it did not exist before.
    pub(crate) created: bool,
}

/// A resource change the plan keeps (not a deletion, not a data source) of a judged type.
pub(crate) fn planned<'a>(rc: &'a Node, config: &BTreeMap<String, &'a Node>) -> Option<Planned<'a>> {
    let change = rc.get("change");
    let actions: Vec<&str> = change
        .and_then(|c| c.get("actions"))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .collect();
    if actions == ["delete"] || rc.get("mode").and_then(Node::as_str) == Some("data") {
        return None;
    }
    let address = rc.get("address").and_then(Node::as_str)?;
    let rtype = rc.get("type").and_then(Node::as_str).filter(|t| crate::aws_types::judged_in_terraform(t))?;
    let (prefix, base) = strip_keys(address);
    Some(Planned {
        address,
        rtype,
        line: rc.line,
        conf: config.get(&base).and_then(|c| c.get("expressions")),
        prefix,
        base,
        after: change.and_then(|c| c.get("after")),
        unknown: change.and_then(|c| c.get("after_unknown")),
        created: actions.contains(&"create"),
    })
}

pub(crate) fn after_apply() -> Val {
    Val::Unknown { expr: None, why: "known only after apply (after_unknown)".into() }
}

/// Resolves configuration references (`aws_launch_template.lt[0].id`) to planned resources
/// of `rtype` in the same module.
pub(crate) fn targets(p: &Planned<'_>, all: &[Planned<'_>], refs: &[&str], rtype: &str) -> Vec<Target> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for r in refs {
        // "aws_launch_template.lt[0].id" → "aws_launch_template.lt"
        let parts: Vec<&str> = r.splitn(3, '.').take(2).collect();
        let name = strip_keys(&parts.join(".")).1;
        if !name.starts_with(&format!("{rtype}.")) || seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let target = format!("{}{name}", p.prefix);
        let idx: Vec<usize> = all.iter().enumerate().filter(|(_, t)| t.base == target).map(|(i, _)| i).collect();
        out.push(if idx.is_empty() {
            Target::Unresolved(format!("{rtype} {target} is not in this plan"))
        } else {
            Target::Found(idx)
        });
    }
    out
}
