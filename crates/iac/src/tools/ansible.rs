//! Ansible playbooks, task files and roles (YAML whose document is a list of plays or tasks):
//! `amazon.aws.ec2_instance` and `amazon.aws.ec2_launch_template` tasks (short names and
//! `community.aws.ec2_launch_template`, which redirects to amazon.aws, too), wherever they sit
//! (`tasks`, `pre_tasks`, `handlers`, `block`/`rescue`/`always`).
//!
//! - `metadata_options.http_tokens`: "choices: [optional, required], default: optional" in both
//!   modules' documentation (amazon.aws `plugins/modules/ec2_instance.py`,
//!   `ec2_launch_template.py`); without `metadata_options` the module sends none, so EC2's
//!   default, `optional`, applies too.
//! - A task that launches nothing gets no record: `check_mode: true`, a `state` of `absent`,
//!   `terminated`, `stopped`, `restarted` or `rebooted`, or an `ec2_instance` task that names
//!   existing `instance_ids`.
//! - An `ec2_instance` task without `metadata_options` that names `launch_template` (`name` or
//!   `id`) inherits the verdict of the `ec2_launch_template` task of that name in the same file.
//! - `{{ name }}` of a literal in a `vars:` mapping of the same file (play, block or task) is that
//!   literal (extra vars may still override it, as tfvars do a Terraform default); any other
//!   `{{ … }}` is Jinja resolved at run time from inventory, vars files or extra vars: unknown,
//!   with that reason.

use std::collections::HashMap;

use super::{Item, Tool, launcher, options, set};
use crate::fact::{Own, Val};
use crate::tree::{Kind, Node};
use crate::verdict::Record;

const INSTANCE: &[&str] = &["amazon.aws.ec2_instance", "ec2_instance"];
const TEMPLATE: &[&str] =
    &["amazon.aws.ec2_launch_template", "community.aws.ec2_launch_template", "ec2_launch_template"];
/// States in which `ec2_instance` launches nothing.
const NO_LAUNCH: &[&str] = &["absent", "terminated", "stopped", "restarted", "rebooted"];

/// `{{ name }}` of a literal in a `vars:` mapping of the same file (plays, blocks, tasks; a name
/// given two different values is not resolved); any other Jinja is unknown.
fn jinja(text: &str, vars: &HashMap<String, Option<String>>) -> Option<Val> {
    if !(text.contains("{{") || text.contains("{%")) {
        return None;
    }
    let name = text.trim().strip_prefix("{{").and_then(|s| s.strip_suffix("}}")).map(str::trim);
    if let Some(Some(v)) = name.and_then(|n| vars.get(n)) {
        return Some(Val::Str(v.clone()));
    }
    Some(Val::Unknown {
        expr: Some(text.to_string()),
        why: "a Jinja expression Ansible resolves at run time (inventory, vars files, extra vars)".into(),
    })
}

/// Literal `vars:` of the file, by name (`None` when two places disagree or it is templated).
fn play_vars(n: &Node, out: &mut HashMap<String, Option<String>>, depth: usize) {
    if depth > crate::tree::MAX_DEPTH {
        return;
    }
    match &n.kind {
        Kind::Seq(items) => items.iter().for_each(|i| play_vars(i, out, depth + 1)),
        Kind::Map(entries) => {
            for (k, v) in entries {
                if k.as_str() == Some("vars") {
                    for (name, value) in v.as_map().unwrap_or_default() {
                        let Some(name) = name.as_str() else { continue };
                        let literal = value.as_str().filter(|s| !s.contains("{{")).map(str::to_string);
                        let e = out.entry(name.to_string()).or_insert_with(|| literal.clone());
                        if *e != literal {
                            *e = None;
                        }
                    }
                } else {
                    play_vars(v, out, depth + 1);
                }
            }
        }
        Kind::Scalar { .. } => {}
    }
}

/// The judged tasks of a playbook, task file or role; `None` when the document is not a list
/// or holds no such task.
pub fn check(file: &str, docs: &[Node]) -> Option<Vec<Record>> {
    let mut tasks = Vec::new();
    for d in docs.iter().filter(|d| d.as_seq().is_some()) {
        walk(d, &mut tasks, 0);
    }
    if tasks.is_empty() {
        return None;
    }
    let mut vars = HashMap::new();
    docs.iter().for_each(|d| play_vars(d, &mut vars, 0));
    let mut items = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (task, module, args) in tasks {
        if let Some(item) = item(file, task, module, args, &vars, &mut seen) {
            items.push(item);
        }
    }
    Some(super::records(items))
}

/// Collects (task, module, arguments) of the judged modules.
fn walk<'a>(n: &'a Node, out: &mut Vec<(&'a Node, &'a str, &'a Node)>, depth: usize) {
    if depth > crate::tree::MAX_DEPTH {
        return;
    }
    match &n.kind {
        Kind::Seq(items) => items.iter().for_each(|i| walk(i, out, depth + 1)),
        Kind::Map(entries) => {
            let module = entries.iter().find_map(|(k, v)| {
                let k = k.as_str()?;
                (INSTANCE.contains(&k) || TEMPLATE.contains(&k)).then_some((k, v))
            });
            match module {
                Some((k, v)) => out.push((n, k, v)),
                None => entries.iter().for_each(|(_, v)| walk(v, out, depth + 1)),
            }
        }
        Kind::Scalar { .. } => {}
    }
}

fn truthy(n: Option<&Node>) -> bool {
    n.and_then(Node::as_str).is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on"))
}

fn item(
    file: &str,
    task: &Node,
    module: &str,
    args: &Node,
    vars: &HashMap<String, Option<String>>,
    seen: &mut Vec<String>,
) -> Option<Item> {
    let is_instance = INSTANCE.contains(&module);
    if truthy(task.get("check_mode")) {
        return None;
    }
    let state = args.get("state").and_then(Node::as_str).unwrap_or("present");
    if NO_LAUNCH.contains(&state) || (is_instance && args.get("instance_ids").is_some_and(|n| !n.is_null())) {
        return None;
    }
    let canonical = if module.contains('.') { module.to_string() } else { format!("amazon.aws.{module}") };
    let mut name = task.get("name").and_then(Node::as_str).map_or_else(|| format!("{canonical} task"), str::to_string);
    let n = seen.iter().filter(|s| **s == name).count();
    seen.push(name.clone());
    if n > 0 {
        name = format!("{name} #{}", n + 1);
    }
    let own = if args.as_map().is_some() {
        options(args.get_entry("metadata_options"), "http_tokens", "http_endpoint", &|t| jinja(t, vars))
    } else {
        Own::Unknown { why: "the module arguments are not a mapping (free-form or a variable)".into(), line: args.line }
    };
    let fix = set("the task's module arguments", "metadata_options:\n  http_tokens: required");
    let fact = launcher(Tool::Ansible, name, file, task.line, own, fix);
    let mut item = Item::new(fact, format!("ansible/{canonical}"));
    if is_instance {
        if let Some(lt) = args.get("launch_template").filter(|n| !n.is_null()) {
            let by = ["name", "id"].iter().find_map(|k| lt.get(k).and_then(Node::as_str)).unwrap_or("(unnamed)");
            item.wants = Some((by.to_string(), format!("launch template {by} is not created by a task of this file")));
        }
    } else {
        item.names.extend(["name", "template_name"].iter().filter_map(|k| args.get(k)?.as_str().map(str::to_string)));
    }
    Some(item)
}
