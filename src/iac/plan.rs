//! Terraform plan JSON (`terraform show -json plan`): `resource_changes[].change.after`, with
//! `after_unknown` → unknown, and the `configuration` section for what was not written
//! (an unset `metadata_options`) and for launch-template references.

use std::collections::BTreeMap;
use std::path::Path;

use crate::iac::tree::{Kind, Node};
use crate::iac::verdict::{Fix, Record, Verdict, display_path};

pub fn is_plan(root: &Node) -> bool {
    root.get("resource_changes").is_some()
        || (root.get("format_version").is_some() && root.get("planned_values").is_some())
}

/// Checked first: the templates and account defaults others depend on.
const FIRST: &[&str] = &["aws_launch_template", "aws_launch_configuration", "aws_ec2_instance_metadata_defaults"];
/// Checked second: resources that may inherit a template's verdict.
const SECOND: &[&str] = &["aws_instance", "aws_autoscaling_group", "aws_eks_node_group"];
const DEPENDENT: &[&str] = &["aws_autoscaling_group", "aws_eks_node_group"];

fn is_true(n: Option<&Node>) -> bool {
    n.and_then(Node::as_str) == Some("true")
}

fn first(n: Option<&Node>) -> Option<&Node> {
    match n?.as_seq() {
        Some(s) => s.first(),
        None => n,
    }
}

/// Configuration resources by address (module prefix included, no instance keys).
fn config_index<'a>(module: &'a Node, prefix: &str, depth: usize, out: &mut BTreeMap<String, &'a Node>) {
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
fn refs<'a>(expr: Option<&'a Node>, path: &[&str]) -> Vec<&'a str> {
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

pub fn check(file: &Path, root: &Node) -> Vec<Record> {
    let mut config = BTreeMap::new();
    if let Some(m) = root.get("configuration").and_then(|c| c.get("root_module")) {
        config_index(m, "", 0, &mut config);
    }
    let changes = root.get("resource_changes").and_then(Node::as_seq).unwrap_or_default();
    let live = |rc: &&Node| {
        let actions: Vec<&str> = rc
            .get("change")
            .and_then(|c| c.get("actions"))
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(Node::as_str)
            .collect();
        actions != ["delete"] && rc.get("mode").and_then(Node::as_str) != Some("data")
    };
    let defaults = account_default(changes.iter().filter(live));
    let mut out: Vec<Record> = Vec::new();
    for pass_dependents in [false, true] {
        for rc in changes.iter().filter(live) {
            let (Some(address), Some(rtype)) =
                (rc.get("address").and_then(Node::as_str), rc.get("type").and_then(Node::as_str))
            else {
                continue;
            };
            let first_pass = FIRST.contains(&rtype);
            if first_pass == pass_dependents || !(first_pass || SECOND.contains(&rtype)) {
                continue;
            }
            let (prefix, base) = strip_keys(address);
            let conf = config.get(&base).and_then(|c| c.get("expressions"));
            let mut rec = Record {
                file: display_path(file),
                line: rc.line,
                resource: address.to_string(),
                rtype: rtype.to_string(),
                verdict: Verdict::Fail,
                reason: String::new(),
                compensated_by: None,
                inherited_from: None,
                fix: Some(Fix::TerraformBlock),
            };
            let change = rc.get("change");
            let after = change.and_then(|c| c.get("after"));
            let unknown = change.and_then(|c| c.get("after_unknown"));
            let template_refs: Vec<&str> = match rtype {
                "aws_autoscaling_group" => {
                    let mut r = refs(conf, &["launch_template", "id"]);
                    r.extend(refs(conf, &["launch_template", "name"]));
                    r.extend(refs(
                        conf,
                        &[
                            "mixed_instances_policy",
                            "launch_template",
                            "launch_template_specification",
                            "launch_template_id",
                        ],
                    ));
                    r.extend(refs(
                        conf,
                        &[
                            "mixed_instances_policy",
                            "launch_template",
                            "launch_template_specification",
                            "launch_template_name",
                        ],
                    ));
                    r.extend(refs(conf, &["launch_configuration"]));
                    r
                }
                "aws_eks_node_group" | "aws_instance" => {
                    let mut r = refs(conf, &["launch_template", "id"]);
                    r.extend(refs(conf, &["launch_template", "name"]));
                    r
                }
                _ => Vec::new(),
            };
            let own_configured = conf.is_some_and(|c| c.get("metadata_options").is_some());
            // Set when the verdict is a fail only because http_tokens is left unset: what is unset.
            let mut unset: Option<&str> = None;
            if rtype == "aws_ec2_instance_metadata_defaults" {
                let t = after.and_then(|a| a.get("http_tokens"));
                (rec.verdict, rec.reason) = match t.and_then(Node::as_str) {
                    _ if is_true(unknown.and_then(|u| u.get("http_tokens"))) => {
                        (Verdict::Unknown, "http_tokens is known only after apply".into())
                    }
                    Some("required") => {
                        (Verdict::Pass, "compensating control: account default http_tokens = \"required\"".into())
                    }
                    other => (
                        Verdict::Fail,
                        format!("account default http_tokens = {} allows IMDSv1", other.unwrap_or("no-preference")),
                    ),
                };
                rec.fix = (rec.verdict == Verdict::Fail).then_some(Fix::TerraformDefaults);
            } else if DEPENDENT.contains(&rtype)
                || (rtype == "aws_instance" && !own_configured && !template_refs.is_empty())
            {
                if template_refs.is_empty() {
                    (rec.verdict, rec.reason) = if rtype == "aws_eks_node_group" {
                        // Not compensated by an account default: explicit launch-template options win.
                        rec.fix = Some(Fix::EksLaunchTemplate);
                        (Verdict::Fail, "no launch_template: EKS launches the nodes from a launch template it creates, which sets its own metadata options with IMDSv1 allowed (an account default does not override them)".into())
                    } else {
                        (Verdict::Unknown, "no launch template reference found in the plan's configuration".into())
                    };
                } else {
                    inherit(&mut rec, &prefix, &template_refs, &out);
                }
            } else {
                let mo = after.and_then(|a| a.get("metadata_options"));
                let mo_unknown = unknown.and_then(|u| u.get("metadata_options"));
                let tokens_unknown =
                    is_true(mo_unknown) || is_true(first(mo_unknown).and_then(|m| m.get("http_tokens")));
                let entry = first(mo).filter(|m| m.as_map().is_some());
                (rec.verdict, rec.reason) = match entry {
                    Some(e) if e.get("http_endpoint").and_then(Node::as_str) == Some("disabled") => {
                        (Verdict::Pass, "the metadata service is disabled (http_endpoint = \"disabled\")".into())
                    }
                    _ if tokens_unknown && !own_configured && conf.is_some() => {
                        unset = Some("metadata_options is not configured");
                        (Verdict::Fail, "metadata_options is not configured: the provider computes http_tokens = \"optional\" by default, IMDSv1 allowed".into())
                    }
                    _ if tokens_unknown => {
                        (Verdict::Unknown, "http_tokens is known only after apply (after_unknown)".into())
                    }
                    None => {
                        unset = Some("no metadata_options");
                        (
                            Verdict::Fail,
                            "no metadata_options: http_tokens defaults to \"optional\", IMDSv1 allowed".into(),
                        )
                    }
                    Some(e) => {
                        if let Some((k, _)) = e.get_entry("http_tokens") {
                            rec.line = k.line;
                        }
                        match e.get("http_tokens") {
                            Some(Node { kind: Kind::Scalar { text, .. }, .. }) if text == "required" => {
                                (Verdict::Pass, "http_tokens = \"required\" (IMDSv2 only)".into())
                            }
                            Some(n) if !n.is_null() => (
                                Verdict::Fail,
                                format!(
                                    "http_tokens = {:?} allows IMDSv1 (must be \"required\")",
                                    n.as_str().unwrap_or("?")
                                ),
                            ),
                            _ => {
                                unset = Some("metadata_options does not set http_tokens");
                                (Verdict::Fail, "metadata_options does not set http_tokens: it defaults to \"optional\", IMDSv1 allowed".into())
                            }
                        }
                    }
                };
            }
            if let (Some(why), Some(d)) = (unset, &defaults) {
                rec.verdict = Verdict::Pass;
                rec.reason = format!(
                    "{why}, but {d} sets the account default http_tokens = \"required\" (compensating control)"
                );
                rec.compensated_by = Some(d.clone());
            }
            match rec.verdict {
                Verdict::Pass => rec.fix = None,
                Verdict::Unknown => rec.fix = Some(Fix::MakeKnown),
                _ => {}
            }
            out.push(rec);
        }
    }
    out
}

/// The first account-default resource the plan keeps that requires tokens (known before apply).
fn account_default<'a>(mut changes: impl Iterator<Item = &'a Node>) -> Option<String> {
    changes
        .find(|rc| {
            let change = rc.get("change");
            rc.get("type").and_then(Node::as_str) == Some("aws_ec2_instance_metadata_defaults")
                && change.and_then(|c| c.get("after")).and_then(|a| a.get("http_tokens")).and_then(Node::as_str)
                    == Some("required")
                && !is_true(change.and_then(|c| c.get("after_unknown")).and_then(|u| u.get("http_tokens")))
        })
        .and_then(|rc| rc.get("address").and_then(Node::as_str).map(str::to_string))
}

/// Takes the worst verdict of the referenced templates (already checked in the first pass).
fn inherit(rec: &mut Record, prefix: &str, template_refs: &[&str], done: &[Record]) {
    let mut worst: Option<&Record> = None;
    for r in template_refs {
        // "aws_launch_template.lt.id" → "aws_launch_template.lt"
        let target: Vec<&str> = r.splitn(3, '.').take(2).collect();
        let target = format!("{prefix}{}", target.join("."));
        for t in done.iter().filter(|t| strip_keys(&t.resource).1 == target) {
            if worst.is_none_or(|w| t.verdict.rank() > w.verdict.rank()) {
                worst = Some(t);
            }
        }
    }
    match worst {
        Some(t) => {
            rec.verdict = t.verdict;
            rec.reason = format!("launches {} ({}:{}): {}", t.resource, t.file, t.line, t.reason);
            rec.inherited_from = Some(t.resource.clone());
            rec.compensated_by = t.compensated_by.clone();
            rec.fix = Some(Fix::Template { address: t.resource.clone() });
        }
        None => {
            rec.verdict = Verdict::Unknown;
            rec.reason = format!("launch template {} is not in this plan", template_refs.join(", "));
        }
    }
}
