//! The same rule for the other clouds' legacy metadata endpoints: Alibaba Cloud ECS (normal
//! mode vs. the token "security hardening" mode), Oracle Cloud (the legacy `/opc/v1` and
//! `/openstack` endpoints) and Google Cloud (the legacy `/0.1/` and `/computeMetadata/v1beta1/`
//! endpoints that do not check `Metadata-Flavor: Google`).
//!
//! Each judged resource type has one [`Rule`]: the setting that turns the legacy path off, the
//! value that does it, and what holds when the setting is not written. The front ends
//! (`terraform::clouds`, `plan_clouds`) read the setting into [`Check`]s; [`judge`] decides the
//! verdict with the same vocabulary as the AWS rule (pass / fail / unknown, line, fix).
//!
//! Sources (provider documentation, read for this rule):
//! - alicloud `alicloud_instance`: `http_tokens` (optional | required, default optional) and
//!   `http_endpoint` (enabled | disabled) are top-level arguments, since provider v1.192.0;
//!   `launch_template_id` / `launch_template_name` since v1.213.1
//!   (<https://registry.terraform.io/providers/aliyun/alicloud/latest/docs/resources/instance>).
//! - alicloud `alicloud_ecs_launch_template`: has `http_tokens` and `http_endpoint` too (added in
//!   provider v1.232.0, modifiable since v1.260.0), no documented default, so unset = the ECS API
//!   default, `optional`
//!   (<https://registry.terraform.io/providers/aliyun/alicloud/latest/docs/resources/ecs_launch_template>;
//!   ECS API `ModifyInstanceMetadataOptions`: `HttpTokens` default `optional`).
//! - alicloud `alicloud_ess_scaling_configuration` has no `http_tokens` (only `http_endpoint`,
//!   since v1.263.0), so it cannot require tokens; `alicloud_ess_scaling_group` can launch from
//!   `launch_template_id` instead
//!   (<https://registry.terraform.io/providers/aliyun/alicloud/latest/docs/resources/ess_scaling_configuration>).
//! - oci `oci_core_instance`: `instance_options { are_legacy_imds_endpoints_disabled }`, "Default
//!   is false"
//!   (<https://registry.terraform.io/providers/oracle/oci/latest/docs/resources/core_instance>).
//! - oci `oci_core_instance_configuration`: the same option under
//!   `instance_details.launch_details.instance_options` (and `instance_details.options[]`), "Default
//!   is false"; an instance launched with `instance_configuration_id` takes the fields it does not
//!   set from it, and `oci_core_instance_pool` launches only from it
//!   (<https://registry.terraform.io/providers/oracle/oci/latest/docs/resources/core_instance_configuration>).
//! - google `google_compute_instance` / `google_compute_instance_template`: the `metadata` map;
//!   Compute Engine's predefined key `disable-legacy-endpoints` ("Legacy endpoints are
//!   deprecated, always set disable-legacy-endpoints=TRUE";
//!   <https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys>); without it
//!   the legacy endpoints follow the project metadata, which a configuration may not manage.
//!   `google_compute_instance_from_template`: "all arguments from google_compute_instance are
//!   supported as a way to override the properties in the template"
//!   (<https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/compute_instance_from_template>).
//!   Project metadata (`google_compute_project_metadata`, `google_compute_project_metadata_item`)
//!   applies to every VM of the project; a VM's own key wins ("if you set the same key for both
//!   your project and instance metadata, Compute Engine will use the instance metadata").
//! - google `google_container_node_pool` / `google_container_cluster`: `node_config { metadata }`;
//!   "From GKE 1.12 onwards, disable-legacy-endpoints is set to true by the API"
//!   (<https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/container_cluster#metadata>,
//!   <https://cloud.google.com/kubernetes-engine/docs/how-to/protecting-cluster-metadata>).

mod table;

pub use table::{RULES, Role, Rule, Want, rule};

use crate::rules::{Fact, FactKind, Outcome, Target, Val};
use crate::verdict::{Fix, Verdict};

/// Whose metadata service a resource type runs (from its Terraform type prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Aws,
    Alibaba,
    Oci,
    Gcp,
}

impl Cloud {
    /// The cloud of a resource type (`alicloud_*`, `oci_*`, `google_*`; everything else is AWS,
    /// CloudFormation and Karpenter included).
    pub fn of(rtype: &str) -> Cloud {
        if rtype.starts_with("alicloud_") {
            Cloud::Alibaba
        } else if rtype.starts_with("oci_") {
            Cloud::Oci
        } else if rtype.starts_with("google_") {
            Cloud::Gcp
        } else {
            Cloud::Aws
        }
    }
}

/// A resource of another cloud as the rule sees it.
#[derive(Debug, Clone)]
pub struct Switch {
    pub rule: &'static Rule,
    /// The places the setting is (or is not) written.
    pub checks: Vec<Check>,
    /// Launch templates named (Alibaba): their verdict when no check writes anything.
    pub templates: Vec<Target>,
    /// The project (and provider) a project-wide control applies to.
    pub scope: String,
}

impl Switch {
    /// Nothing written (not even the block or map the setting goes in, which would replace the
    /// template's) and templates named: the templates decide.
    pub fn inherits(&self) -> bool {
        !self.templates.is_empty() && self.checks.iter().all(|c| c.is_unset() && !c.container)
    }
}

/// One place a resource writes (or does not write) the setting.
#[derive(Debug, Clone)]
pub struct Check {
    /// Where it lives when it is not where the rule says, e.g. `node_pool[1]` (a cluster's
    /// inline node pools); prefixed to reasons and fixes.
    pub inside: Option<String>,
    pub value: Val,
    /// The expression the value was computed from, when it is not a literal.
    pub via: Option<String>,
    /// The setting's line when written, else the container's or the resource's.
    pub line: usize,
    /// Alibaba `http_endpoint` (`Absent` elsewhere).
    pub endpoint: Val,
    /// The container the setting goes in (block or map) is written: the fix is one line.
    pub container: bool,
}

impl Check {
    /// The setting is not written (and the metadata service is not turned off): a launch
    /// template or project control may decide.
    pub fn is_unset(&self) -> bool {
        matches!(self.value, Val::Absent | Val::Null) && self.endpoint != Val::Str("disabled".into())
    }
}

/// Project-wide controls that turn the legacy endpoints off: (scope, address).
pub fn project_controls(facts: &[Fact]) -> Vec<(String, String)> {
    facts
        .iter()
        .filter_map(|f| match &f.kind {
            FactKind::Switch(s)
                if s.rule.role == Role::ProjectControl
                    && !s.checks.is_empty()
                    && s.checks.iter().all(|c| !c.is_unset() && one(s.rule, c).verdict == Verdict::Pass) =>
            {
                Some((s.scope.clone(), f.address.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The verdict of a switch fact that does not inherit from a template: `None` for a project
/// control that does not write the key; a compensable resource that leaves it unset passes
/// when a control of the same scope (project and provider) turns the legacy endpoints off.
pub fn judge_switch(f: &Fact, s: &Switch, projects: &[(String, String)]) -> Option<Outcome> {
    let (rule, checks) = (s.rule, s.checks.as_slice());
    let unset = checks.iter().all(Check::is_unset);
    // A project control without the key, or a group that names no template (its scaling
    // configurations get records of their own).
    if (rule.role == Role::ProjectControl && unset) || checks.is_empty() {
        return None;
    }
    let mut o = judge(f, rule, checks);
    if rule.role == Role::Compensable
        && unset
        && o.verdict == Verdict::Fail
        && let Some((_, by)) = projects.iter().find(|(scope, _)| *scope == s.scope)
    {
        o = Outcome::new(
            Verdict::Pass,
            format!(
                "{} is not set, but {by} sets disable-legacy-endpoints = \"true\" for the project (compensating control)",
                rule.setting
            ),
            o.line,
            &f.fix,
        );
        o.compensated_by = Some(by.clone());
    }
    Some(o)
}

/// The worst verdict over a resource's checks.
pub fn judge(f: &Fact, rule: &Rule, checks: &[Check]) -> Outcome {
    let mut worst: Option<Outcome> = None;
    for c in checks {
        let o = one(rule, c);
        if worst.as_ref().is_none_or(|w| o.verdict.rank() > w.verdict.rank()) {
            worst = Some(o);
        }
    }
    worst.unwrap_or_else(|| Outcome::new(Verdict::Unknown, "nothing to check", f.line, &f.fix))
}

fn fix(rule: &Rule, c: &Check) -> Fix {
    if rule.rtype == "alicloud_ess_scaling_configuration" {
        return Fix::UseLaunchTemplate;
    }
    let (inside, text) = if c.container {
        let container = match rule.rtype {
            "oci_core_instance" | "oci_core_instance_configuration" | "oci_core_instance_pool" => "instance_options",
            "google_container_node_pool" | "google_container_cluster" => "node_config.metadata",
            "google_compute_instance"
            | "google_compute_instance_template"
            | "google_compute_instance_from_template"
            | "google_compute_project_metadata" => "metadata",
            _ => "",
        };
        let inside = [c.inside.as_deref(), Some(container).filter(|s| !s.is_empty())];
        let inside: Vec<&str> = inside.into_iter().flatten().collect();
        ((!inside.is_empty()).then(|| inside.join(".")), rule.fix_line)
    } else {
        (c.inside.clone(), rule.fix_block)
    };
    Fix::Set { inside, text: text.to_string() }
}

fn shown(v: &Val, via: Option<&str>) -> String {
    let via = via.map(|v| format!("{v} → ")).unwrap_or_default();
    match v {
        Val::Str(s) => format!("{via}{s:?}"),
        Val::Other(s) => format!("{via}{s}"),
        Val::Null => format!("{via}null"),
        _ => format!("{via}?"),
    }
}

fn one(rule: &Rule, c: &Check) -> Outcome {
    let fail_fix = fix(rule, c);
    let at = c.inside.as_ref().map(|i| format!("{i}: ")).unwrap_or_default();
    let new = |v: Verdict, why: String| Outcome::new(v, format!("{at}{why}"), c.line, &fail_fix);
    let setting = rule.setting;
    if c.endpoint == Val::Str("disabled".into()) {
        return new(Verdict::Pass, "the metadata service is disabled (http_endpoint = \"disabled\")".into());
    }
    let endpoint_unknown = match &c.endpoint {
        Val::Unknown { why, .. } => Some(why.clone()),
        _ => None,
    };
    let via = c.via.as_deref();
    let passes = match (&c.value, rule.want) {
        (Val::Str(s), Want::Required) => s == "required",
        (Val::Str(s) | Val::Other(s), Want::True) => s == "true",
        (Val::Str(s) | Val::Other(s), Want::TrueAnyCase) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    match &c.value {
        _ if passes => new(Verdict::Pass, format!("{setting} = {} ({})", shown(&c.value, via), rule.hardened)),
        Val::Unknown { expr, why } => {
            let expr = expr.as_ref().map(|e| format!("`{e}` ")).unwrap_or_default();
            new(Verdict::Unknown, format!("{setting} {expr}cannot be known: {why}"))
        }
        _ if endpoint_unknown.is_some() => new(
            Verdict::Unknown,
            format!(
                "{setting} does not harden it and http_endpoint cannot be known: {}",
                endpoint_unknown.unwrap_or_default()
            ),
        ),
        Val::Absent | Val::Null => {
            let unset = if c.value == Val::Null {
                format!("{setting} = {} leaves it unset", shown(&c.value, via))
            } else {
                format!("{setting} is not set")
            };
            match rule.unset {
                Ok(why) => new(Verdict::Pass, format!("{unset}: {why}")),
                Err(why) => new(Verdict::Fail, format!("{unset}: {why}")),
            }
        }
        v => {
            let must = match rule.want {
                Want::Required => "\"required\"",
                Want::True => "true",
                Want::TrueAnyCase => "\"true\"",
            };
            new(Verdict::Fail, format!("{setting} = {} allows {} (must be {must})", shown(v, via), rule.legacy))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Syntax;

    fn fact(rtype: &str, checks: Vec<Check>) -> Fact {
        let rule = rule(rtype).unwrap_or_else(|| panic!("{rtype}"));
        Fact {
            address: format!("{rtype}.x"),
            file: "m.tf".into(),
            line: 1,
            syntax: Syntax::Terraform,
            block: None,
            default_required: false,
            fix: Fix::TerraformBlock,
            kind: FactKind::Switch(Switch { rule, checks, templates: vec![], scope: String::new() }),
        }
    }

    fn check(value: Val) -> Check {
        Check { inside: None, value, via: None, line: 3, endpoint: Val::Absent, container: false }
    }

    fn verdict(rtype: &str, value: Val) -> Verdict {
        let f = fact(rtype, vec![check(value)]);
        crate::rules::judge(std::slice::from_ref(&f))[0].as_ref().map_or(Verdict::ParseError, |o| o.verdict)
    }

    #[test]
    fn values_per_cloud() {
        let s = |v: &str| Val::Str(v.into());
        assert_eq!(verdict("alicloud_instance", s("required")), Verdict::Pass);
        assert_eq!(verdict("alicloud_instance", s("Required")), Verdict::Fail);
        assert_eq!(verdict("alicloud_instance", Val::Absent), Verdict::Fail);
        assert_eq!(verdict("oci_core_instance", Val::Other("true".into())), Verdict::Pass);
        assert_eq!(verdict("oci_core_instance", Val::Other("false".into())), Verdict::Fail);
        assert_eq!(verdict("google_compute_instance", s("TRUE")), Verdict::Pass);
        assert_eq!(verdict("google_compute_instance", Val::Absent), Verdict::Fail);
        assert_eq!(verdict("google_container_node_pool", Val::Absent), Verdict::Pass);
        assert_eq!(verdict("google_container_node_pool", s("false")), Verdict::Fail);
        let unknown = Val::Unknown { expr: Some("var.x".into()), why: "no value".into() };
        assert_eq!(verdict("google_container_cluster", unknown), Verdict::Unknown);
    }

    #[test]
    fn worst_check_wins_and_names_where() {
        let mut pool = check(Val::Str("false".into()));
        pool.inside = Some("node_pool[1]".into());
        pool.container = true;
        let f = fact("google_container_cluster", vec![check(Val::Absent), pool]);
        let o = crate::rules::judge(std::slice::from_ref(&f))[0].clone().unwrap_or_else(|| panic!("outcome"));
        assert_eq!(o.verdict, Verdict::Fail);
        assert!(o.reason.starts_with("node_pool[1]: "), "{}", o.reason);
        assert_eq!(
            o.fix,
            Some(Fix::Set {
                inside: Some("node_pool[1].node_config.metadata".into()),
                text: "disable-legacy-endpoints = \"true\"".into()
            })
        );
    }
}
