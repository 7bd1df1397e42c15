//! Terraform plan JSON → facts for the other clouds' rule (`iac::clouds`): the setting in
//! `change.after`, `after_unknown` → unknown, and the `configuration` section to tell a value
//! the configuration writes from one the provider computes (not written: the default holds).

use super::planned::{Planned, after_apply, is_true, refs, targets};
use crate::clouds::{Check, Rule, Switch};
use crate::rules::{Fact, FactKind, Syntax, Val};
use crate::terraform::clouds::GCP_KEY;
use crate::tree::{Kind, Node};
use crate::verdict::Fix;

/// A place in the planned resource: its `after` value, its `after_unknown` marker, and its
/// configuration expressions.
#[derive(Clone, Copy)]
struct At<'a> {
    after: Option<&'a Node>,
    unknown: Option<&'a Node>,
    /// The whole subtree is unknown (`after_unknown` was `true` above).
    all_unknown: bool,
    conf: Option<&'a Node>,
    /// The plan has a configuration for this resource (else everything counts as written).
    has_conf: bool,
}

impl<'a> At<'a> {
    fn root(p: &Planned<'a>) -> At<'a> {
        At { after: p.after, unknown: p.unknown, all_unknown: false, conf: p.conf, has_conf: p.conf.is_some() }
    }

    /// The attribute or (single) block `k`.
    fn child(self, k: &str) -> At<'a> {
        self.at(k, 0)
    }

    /// The `i`th block `k` (a list of blocks; a lone object counts as index 0).
    fn at(self, k: &str, i: usize) -> At<'a> {
        let pick = |n: Option<&'a Node>| {
            let v = n.and_then(|n| n.get(k))?;
            match v.as_seq() {
                Some(s) => s.get(i),
                None => (i == 0).then_some(v),
            }
        };
        let unknown = pick(self.unknown);
        At {
            after: pick(self.after),
            all_unknown: self.all_unknown || is_true(unknown),
            unknown,
            conf: pick(self.conf),
            has_conf: self.has_conf,
        }
    }

    /// How many blocks `k` the plan has.
    fn count(self, k: &str) -> usize {
        self.after.and_then(|a| a.get(k)).map_or(0, |v| v.as_seq().map_or(1, <[Node]>::len))
    }

    fn written(self) -> bool {
        !self.has_conf || self.conf.is_some()
    }

    /// The value of a leaf attribute, its line, whether the configuration writes it.
    fn leaf(self, k: &str, fallback: usize) -> (Val, usize) {
        let line = self.after.and_then(|a| a.get_entry(k)).map_or(fallback, |(key, _)| key.line);
        let here = self.child(k);
        let value = match here.after {
            _ if here.all_unknown && here.written() => after_apply(),
            _ if here.all_unknown => Val::Absent,
            None => Val::Absent,
            Some(n) => scalar(n),
        };
        (value, line)
    }
}

/// A JSON scalar: quoted → string, `true`/`false`/numbers → shown as written.
fn scalar(n: &Node) -> Val {
    match &n.kind {
        _ if n.is_null() => Val::Null,
        Kind::Scalar { text, quoted: true } => Val::Str(text.clone()),
        Kind::Scalar { text, quoted: false } => Val::Other(text.clone()),
        _ => Val::Other("a collection".into()),
    }
}

pub(crate) fn fact(p: &Planned<'_>, all: &[Planned<'_>], file: &str, rule: &'static Rule) -> Fact {
    let root = At::root(p);
    // The project a project-wide control applies to (provider aliases are not in the plan's changes).
    let scope = format!("{}|", p.after.and_then(|a| a.get("project")).and_then(Node::as_str).unwrap_or_default());
    let mut templates = Vec::new();
    let checks = match rule.rtype {
        "alicloud_instance" | "alicloud_ecs_launch_template" => {
            if rule.rtype == "alicloud_instance" {
                let mut r = refs(p.conf, &["launch_template_id"]);
                r.extend(refs(p.conf, &["launch_template_name"]));
                templates = targets(p, all, &r, "alicloud_ecs_launch_template");
            }
            let (value, line) = root.leaf("http_tokens", p.line);
            let (endpoint, _) = root.leaf("http_endpoint", p.line);
            vec![Check { inside: None, value, via: None, line, endpoint, container: false }]
        }
        "alicloud_ess_scaling_configuration" => {
            let (endpoint, _) = root.leaf("http_endpoint", p.line);
            vec![Check { inside: None, value: Val::Absent, via: None, line: p.line, endpoint, container: false }]
        }
        "alicloud_ess_scaling_group" => {
            templates = targets(p, all, &refs(p.conf, &["launch_template_id"]), "alicloud_ecs_launch_template");
            vec![]
        }
        "oci_core_instance" | "oci_core_instance_pool" => {
            let r = refs(p.conf, &["instance_configuration_id"]);
            templates = targets(p, all, &r, "oci_core_instance_configuration");
            if rule.rtype == "oci_core_instance" { vec![oci(root, p.line, None)] } else { vec![] }
        }
        "oci_core_instance_configuration" => oci_configuration(root, p.line),
        "google_compute_instance" | "google_compute_instance_template" | "google_compute_project_metadata" => {
            vec![metadata(root, p.line, None)]
        }
        "google_compute_instance_from_template" => {
            let r = refs(p.conf, &["source_instance_template"]);
            templates = targets(p, all, &r, "google_compute_instance_template");
            vec![metadata(root, p.line, None)]
        }
        "google_compute_project_metadata_item" => match p.after.and_then(|a| a.get("key")).and_then(Node::as_str) {
            Some(GCP_KEY) => {
                let (value, line) = root.leaf("value", p.line);
                vec![Check { inside: None, value, via: None, line, endpoint: Val::Absent, container: false }]
            }
            _ => vec![],
        },
        "google_container_node_pool" => vec![metadata(root.child("node_config"), p.line, None)],
        _ => {
            let mut checks = vec![metadata(root.child("node_config"), p.line, None)];
            for i in 0..root.count("node_pool") {
                let pool = root.at("node_pool", i);
                checks.push(metadata(pool.child("node_config"), p.line, Some(format!("node_pool[{i}]"))));
            }
            checks
        }
    };
    Fact {
        address: p.address.to_string(),
        file: file.to_string(),
        line: p.line,
        syntax: Syntax::Terraform,
        block: None,
        default_required: false,
        fix: Fix::Set { inside: None, text: rule.fix_block.to_string() },
        kind: FactKind::Switch(Switch { rule, checks, templates, scope }),
    }
}

/// An instance configuration's `instance_details.launch_details` and each
/// `instance_details.options[i].launch_details`.
fn oci_configuration(root: At<'_>, line: usize) -> Vec<Check> {
    let details = root.child("instance_details");
    let mut checks = Vec::new();
    if details.count("launch_details") > 0 {
        checks.push(oci(details.child("launch_details"), line, Some("instance_details.launch_details".into())));
    }
    for i in 0..details.count("options") {
        let ld = details.at("options", i).child("launch_details");
        checks.push(oci(ld, line, Some(format!("instance_details.options[{i}].launch_details"))));
    }
    if checks.is_empty() {
        let why = "no instance_details.launch_details in the plan (source = \"INSTANCE\" copies an instance, which this check does not read)";
        checks.push(Check {
            inside: None,
            value: Val::Unknown { expr: None, why: why.into() },
            via: None,
            line,
            endpoint: Val::Absent,
            container: false,
        });
    }
    checks
}

/// `instance_options.are_legacy_imds_endpoints_disabled` at `at`.
fn oci(at: At<'_>, line: usize, inside: Option<String>) -> Check {
    let opts = at.child("instance_options");
    let line = opts.after.map_or(line, |n| n.line);
    let (value, line) = opts.leaf("are_legacy_imds_endpoints_disabled", line);
    let container = opts.after.is_some_and(|n| n.as_map().is_some()) && opts.written();
    Check { inside, value, via: None, line, endpoint: Val::Absent, container }
}

/// The `disable-legacy-endpoints` key of the `metadata` map at `at`.
fn metadata(at: At<'_>, line: usize, inside: Option<String>) -> Check {
    let md = at.child("metadata");
    let map_line = md.after.map_or(line, |n| n.line);
    let (mut value, line) = md.leaf(GCP_KEY, map_line);
    if md.child(GCP_KEY).all_unknown {
        // A key the configuration's literal map does not write is not set, even when the
        // provider marks the whole map as computed.
        let literal = md.conf.and_then(|c| c.get("constant_value"));
        value = match literal {
            Some(m) if m.get(GCP_KEY).is_none() => Val::Absent,
            _ if md.written() => after_apply(),
            _ => Val::Absent,
        };
    }
    let container = md.after.is_some_and(|m| m.as_map().is_some());
    Check { inside, value, via: None, line, endpoint: Val::Absent, container }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_json_type() {
        let n = crate::tree::parse("{\"a\": true, \"b\": \"true\", \"c\": null}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.get("a").map(scalar), Some(Val::Other("true".into())));
        assert_eq!(n.get("b").map(scalar), Some(Val::Str("true".into())));
        assert_eq!(n.get("c").map(scalar), Some(Val::Null));
    }
}
