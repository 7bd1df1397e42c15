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
//! - google: Compute Engine shut the legacy `/0.1/` and `/computeMetadata/v1beta1/` endpoints down
//!   on 2020-09-30 ("Compute Engine v0.1 and v1beta1 metadata server endpoints", deprecated
//!   2019-09-30, shutdown 2020-09-30: <https://cloud.google.com/compute/docs/deprecations>);
//!   `/computeMetadata/v1/` answers only requests with `Metadata-Flavor: Google`. The
//!   `disable-legacy-endpoints` key (instance `metadata`, GKE `node_config.metadata`, project
//!   metadata) has nothing left to switch: every Google VM, template and node pool passes
//!   ([`Rule::retired`]), and project metadata gets no record.
//! - Alibaba and OCI defaults re-checked in December 2026 (ECS API `HttpTokens` "Default value:
//!   optional"; OCI `areLegacyImdsEndpointsDisabled` "Default is false"): unchanged.

pub mod table;

pub use table::{RULES, Role, Rule, Want, rule};

pub use crate::fact::{Check, Switch};
use crate::fact::{Fact, FactKind, RuleOutcome, Val};
use crate::verdict::{Fix, ResourceVerdict};

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

/// Project-wide controls that turn the legacy endpoints off: (scope, address).
pub fn project_controls(facts: &[Fact]) -> Vec<(String, String)> {
    facts
        .iter()
        .filter_map(|f| match &f.kind {
            FactKind::Switch(s)
                if s.rule.role == Role::ProjectControl
                    && !s.checks.is_empty()
                    && s.checks.iter().all(|c| !c.is_unset() && one(s.rule, c).verdict == ResourceVerdict::Pass) =>
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
pub fn judge_switch(f: &Fact, s: &Switch, projects: &[(String, String)]) -> Option<RuleOutcome> {
    let (rule, checks) = (s.rule, s.checks.as_slice());
    let unset = checks.iter().all(Check::is_unset);
    // A project control without the key, or a group that names no template (its scaling
    // configurations get records of their own).
    if (rule.role == Role::ProjectControl && unset) || checks.is_empty() {
        return None;
    }
    if let Some(why) = rule.retired {
        if rule.role == Role::ProjectControl {
            return None;
        }
        let line = checks.iter().find(|c| !c.is_unset()).or(checks.first()).map_or(f.line, |c| c.line);
        let written = match checks.iter().find(|c| !c.is_unset()) {
            Some(c) => format!("{} = {} has no effect: ", rule.setting, shown(&c.value, c.via.as_deref())),
            None => format!("{} is not set, and need not be: ", rule.setting),
        };
        return Some(RuleOutcome::new(ResourceVerdict::Pass, format!("{written}{why}"), line, &f.fix));
    }
    let mut o = judge(f, rule, checks);
    if rule.role == Role::Compensable
        && unset
        && o.verdict == ResourceVerdict::Fail
        && let Some((_, by)) = projects.iter().find(|(scope, _)| *scope == s.scope)
    {
        o = RuleOutcome::new(
            ResourceVerdict::Pass,
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
pub fn judge(f: &Fact, rule: &Rule, checks: &[Check]) -> RuleOutcome {
    let mut worst: Option<RuleOutcome> = None;
    for c in checks {
        let o = one(rule, c);
        if worst.as_ref().is_none_or(|w| o.verdict.rank() > w.verdict.rank()) {
            worst = Some(o);
        }
    }
    worst.unwrap_or_else(|| RuleOutcome::new(ResourceVerdict::Unknown, "nothing to check", f.line, &f.fix))
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

fn one(rule: &Rule, c: &Check) -> RuleOutcome {
    let fail_fix = fix(rule, c);
    let at = c.inside.as_ref().map(|i| format!("{i}: ")).unwrap_or_default();
    let new = |v: ResourceVerdict, why: String| RuleOutcome::new(v, format!("{at}{why}"), c.line, &fail_fix);
    let setting = rule.setting;
    if c.endpoint == Val::Str("disabled".into()) {
        return new(ResourceVerdict::Pass, "the metadata service is disabled (http_endpoint = \"disabled\")".into());
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
        _ if passes => new(ResourceVerdict::Pass, format!("{setting} = {} ({})", shown(&c.value, via), rule.hardened)),
        Val::Unknown { expr, why } => {
            let expr = expr.as_ref().map(|e| format!("`{e}` ")).unwrap_or_default();
            new(ResourceVerdict::Unknown, format!("{setting} {expr}cannot be known: {why}"))
        }
        _ if endpoint_unknown.is_some() => new(
            ResourceVerdict::Unknown,
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
                Ok(why) => new(ResourceVerdict::Pass, format!("{unset}: {why}")),
                Err(why) => new(ResourceVerdict::Fail, format!("{unset}: {why}")),
            }
        }
        v => {
            let must = match rule.want {
                Want::Required => "\"required\"",
                Want::True => "true",
                Want::TrueAnyCase => "\"true\"",
            };
            new(ResourceVerdict::Fail, format!("{setting} = {} allows {} (must be {must})", shown(v, via), rule.legacy))
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

    fn verdict(rtype: &str, value: Val) -> ResourceVerdict {
        let f = fact(rtype, vec![check(value)]);
        crate::rules::judge(std::slice::from_ref(&f))[0].as_ref().map_or(ResourceVerdict::ParseError, |o| o.verdict)
    }

    #[test]
    fn values_per_cloud() {
        let s = |v: &str| Val::Str(v.into());
        assert_eq!(verdict("alicloud_instance", s("required")), ResourceVerdict::Pass);
        assert_eq!(verdict("alicloud_instance", s("Required")), ResourceVerdict::Fail);
        assert_eq!(verdict("alicloud_instance", Val::Absent), ResourceVerdict::Fail);
        assert_eq!(verdict("oci_core_instance", Val::Other("true".into())), ResourceVerdict::Pass);
        assert_eq!(verdict("oci_core_instance", Val::Other("false".into())), ResourceVerdict::Fail);
        // Google's legacy endpoints were shut down on 2020-09-30: nothing written can open them.
        assert_eq!(verdict("google_compute_instance", s("TRUE")), ResourceVerdict::Pass);
        assert_eq!(verdict("google_compute_instance", Val::Absent), ResourceVerdict::Pass);
        assert_eq!(verdict("google_container_node_pool", Val::Absent), ResourceVerdict::Pass);
        assert_eq!(verdict("google_container_node_pool", s("false")), ResourceVerdict::Pass);
        let unknown = Val::Unknown { expr: Some("var.x".into()), why: "no value".into() };
        assert_eq!(verdict("google_container_cluster", unknown.clone()), ResourceVerdict::Pass);
        assert_eq!(verdict("oci_core_instance", unknown), ResourceVerdict::Unknown);
    }

    #[test]
    fn google_reasons_say_the_endpoints_are_gone() {
        let f = fact("google_compute_instance", vec![check(Val::Str("false".into()))]);
        let o = crate::rules::judge(std::slice::from_ref(&f))[0].clone().unwrap_or_else(|| panic!("outcome"));
        assert_eq!((o.verdict, o.fix), (ResourceVerdict::Pass, None));
        assert!(o.reason.contains("has no effect") && o.reason.contains("2020-09-30"), "{}", o.reason);
        let p = fact("google_compute_project_metadata", vec![check(Val::Str("true".into()))]);
        assert!(crate::rules::judge(std::slice::from_ref(&p))[0].is_none(), "project metadata gets no record");
    }

    #[test]
    fn worst_check_wins_and_names_where() {
        let mut tpl = check(Val::Str("optional".into()));
        tpl.inside = Some("instance_details.launch_details".into());
        tpl.container = true;
        let f = fact("oci_core_instance_configuration", vec![check(Val::Other("true".into())), tpl]);
        let o = crate::rules::judge(std::slice::from_ref(&f))[0].clone().unwrap_or_else(|| panic!("outcome"));
        assert_eq!(o.verdict, ResourceVerdict::Fail);
        assert!(o.reason.starts_with("instance_details.launch_details: "), "{}", o.reason);
        assert_eq!(
            o.fix,
            Some(Fix::Set {
                inside: Some("instance_details.launch_details.instance_options".into()),
                text: "are_legacy_imds_endpoints_disabled = true".into()
            })
        );
    }
}
