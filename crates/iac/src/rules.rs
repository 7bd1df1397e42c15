//! The one IMDSv1 rule. Every front end (Terraform configuration, plan JSON, CloudFormation,
//! Kubernetes) extracts a [`Fact`] per resource — its own metadata options, the templates it
//! launches, the image it boots, or an account default — and [`judge`] decides every verdict,
//! with inheritance and compensating controls, in one place.

pub use crate::fact::{Fact, FactKind, Options, Own, RuleOutcome, Syntax, Target, Val, Without};
use crate::verdict::{Fix, ResourceVerdict};

/// Template chains longer than this are reported as unknown (cycles cannot loop).
const MAX_CHAIN: usize = 8;

/// Verdicts for all facts of one configuration (one Terraform root, one plan, one template),
/// in the same order; `None` for facts that get no record (an image without a control).
pub fn judge(facts: &[Fact]) -> Vec<Option<RuleOutcome>> {
    let defaults = facts
        .iter()
        .find(|f| matches!(&f.kind, FactKind::AccountDefault { tokens: Val::Str(s), .. } if s == "required"))
        .map(|f| f.address.clone());
    let projects = crate::clouds::project_controls(facts);
    let mut j = Judge { facts, defaults, projects, memo: vec![None; facts.len()] };
    (0..facts.len()).map(|i| j.outcome(i, 0)).collect()
}

struct Judge<'a> {
    facts: &'a [Fact],
    defaults: Option<String>,
    /// Google project metadata that turns the legacy endpoints off: (scope, address).
    projects: Vec<(String, String)>,
    memo: Vec<Option<Option<RuleOutcome>>>,
}

impl Judge<'_> {
    fn outcome(&mut self, i: usize, depth: usize) -> Option<RuleOutcome> {
        if let Some(o) = &self.memo[i] {
            return o.clone();
        }
        let f = &self.facts[i];
        if depth > MAX_CHAIN {
            return Some(RuleOutcome::new(
                ResourceVerdict::Unknown,
                "launch template references form a cycle",
                f.line,
                &f.fix,
            ));
        }
        let o = match &f.kind {
            FactKind::Skip => None,
            FactKind::Image { v2 } => v2.then(|| {
                RuleOutcome::new(ResourceVerdict::Pass, "compensating control: imds_support = \"v2.0\", so instances launched from this AMI without their own metadata options require IMDSv2", f.line, &f.fix)
            }),
            FactKind::AccountDefault { tokens, line } => Some(account_default(tokens, *line)),
            FactKind::Switch(s) if s.inherits() => Some(self.inherit(f, &s.templates, depth)),
            FactKind::Switch(s) => crate::clouds::judge_switch(f, s, &self.projects),
            FactKind::Launcher { own, image, templates } => {
                if matches!(own, Own::NoBlock) && !templates.is_empty() {
                    Some(self.inherit(f, templates, depth))
                } else {
                    Some(self.own(f, own, image, f.line))
                }
            }
            FactKind::Dependent { templates, without } => Some(if templates.is_empty() {
                match without {
                    Without::Unknown(why) => RuleOutcome::new(ResourceVerdict::Unknown, why.clone(), f.line, &f.fix),
                    Without::UnknownFix(why, fix) => {
                        let mut o = RuleOutcome::new(ResourceVerdict::Unknown, why.clone(), f.line, &f.fix);
                        o.fix = Some(fix.clone());
                        o
                    }
                    Without::EksDefault => {
                        // Not compensated by an account default: explicit launch-template options win.
                        let field = if f.syntax == Syntax::Tool(crate::tool::Tool::Capa) { "awsLaunchTemplate" } else { "launch_template" };
                        RuleOutcome::new(ResourceVerdict::Fail, format!("no {field}: EKS launches the nodes from a launch template it creates, which sets its own metadata options with IMDSv1 allowed (an account default does not override them)"), f.line, &Fix::EksLaunchTemplate)
                    }
                    Without::Default { own, image } => self.own(f, own, image, f.line),
                    Without::Pass(why) => RuleOutcome::new(ResourceVerdict::Pass, why.clone(), f.line, &f.fix),
                }
            } else {
                self.inherit(f, templates, depth)
            }),
        };
        if depth == 0 {
            self.memo[i] = Some(o.clone());
        }
        o
    }

    /// Own verdict, else the image's `imds_support`, else the account default, else the service default.
    fn own(&self, f: &Fact, own: &Own, image: &[usize], resource_line: usize) -> RuleOutcome {
        let n = f.syntax.names_for(f.block);
        let (why, line) = match own {
            Own::Block(o) => match options(f, o) {
                Ok(outcome) => return outcome,
                Err(unset) => unset,
            },
            Own::Unknown { why, line } => {
                return RuleOutcome::new(ResourceVerdict::Unknown, why.clone(), *line, &f.fix);
            }
            Own::NoBlock if f.syntax == Syntax::Terraform => (format!("no {} block", n.block), resource_line),
            Own::NoBlock => (format!("no {}", n.block), resource_line),
            Own::Unsupported(why) => (why.clone(), resource_line),
        };
        if f.default_required {
            let who = f.syntax.who();
            return RuleOutcome::new(
                ResourceVerdict::Pass,
                format!(
                    "{why}: {who} defaults {} to {} (IMDSv2 only){}",
                    n.tokens,
                    f.syntax.quoted("required"),
                    default_source(f.syntax)
                ),
                line,
                &f.fix,
            );
        }
        if let Some(a) = image.iter().map(|&i| &self.facts[i]).find(|a| matches!(a.kind, FactKind::Image { v2: true }))
        {
            let mut o = RuleOutcome::new(
                ResourceVerdict::Pass,
                format!("{why}, but the AMI {} has imds_support = \"v2.0\" (compensating control)", a.address),
                line,
                &f.fix,
            );
            o.compensated_by = Some(a.address.clone());
            return o;
        }
        if let Some(d) = &self.defaults {
            let mut o = RuleOutcome::new(
                ResourceVerdict::Pass,
                format!("{why}, but {d} sets the account default http_tokens = \"required\" (compensating control)"),
                line,
                &f.fix,
            );
            o.compensated_by = Some(d.clone());
            return o;
        }
        RuleOutcome::new(
            ResourceVerdict::Fail,
            format!(
                "{why}: {} defaults to {}, IMDSv1 allowed{}",
                n.tokens,
                f.syntax.quoted("optional"),
                default_source(f.syntax)
            ),
            line,
            &f.fix,
        )
    }

    /// The worst verdict among the templates (or inline specifications) a resource launches.
    fn inherit(&mut self, f: &Fact, targets: &[Target], depth: usize) -> RuleOutcome {
        let mut worst: Option<RuleOutcome> = None;
        for t in targets {
            let o = match t {
                Target::Unresolved(why) => RuleOutcome::new(ResourceVerdict::Unknown, why.clone(), f.line, &f.fix),
                Target::Inline { what, own, image, line } => {
                    let mut o = self.own(f, own, image, *line);
                    o.reason = format!("{what}: {}", o.reason);
                    o
                }
                Target::Found(idx) => {
                    let mut best: Option<RuleOutcome> = None;
                    for &i in idx {
                        let Some(t) = self.outcome(i, depth + 1) else { continue };
                        let target = &self.facts[i];
                        let mut o = RuleOutcome::new(
                            t.verdict,
                            format!("launches {} ({}:{}): {}", target.address, target.file, t.line, t.reason),
                            f.line,
                            &f.fix,
                        );
                        o.inherited_from = Some(target.address.clone());
                        o.compensated_by = t.compensated_by.clone();
                        o.fix = (t.verdict != ResourceVerdict::Pass)
                            .then(|| Fix::Template { address: target.address.clone() });
                        if best.as_ref().is_none_or(|b| o.verdict.rank() > b.verdict.rank()) {
                            best = Some(o);
                        }
                    }
                    best.unwrap_or_else(|| {
                        RuleOutcome::new(
                            ResourceVerdict::Unknown,
                            "the referenced template has no verdict",
                            f.line,
                            &f.fix,
                        )
                    })
                }
            };
            if worst.as_ref().is_none_or(|w| o.verdict.rank() > w.verdict.rank()) {
                worst = Some(o);
            }
        }
        worst.unwrap_or_else(|| RuleOutcome::new(ResourceVerdict::Unknown, "no launch template found", f.line, &f.fix))
    }
}

/// Where a tool's default is documented, for its reasons (` (source)`; empty for Terraform,
/// CloudFormation and Karpenter, whose reasons stay as they were).
fn default_source(s: Syntax) -> String {
    match s {
        Syntax::Tool(t) => format!(" ({})", t.source()),
        _ => String::new(),
    }
}

/// A written options block: the outcome, or `Err((why, line))` when it leaves tokens unset.
fn options(f: &Fact, o: &Options) -> Result<RuleOutcome, (String, usize)> {
    let s = f.syntax;
    let n = s.names();
    let line = o.line;
    let new = |v: ResourceVerdict, why: String| Ok(RuleOutcome::new(v, why, line, &f.fix));
    if o.endpoint == Val::Str("disabled".into()) {
        return new(
            ResourceVerdict::Pass,
            format!("the metadata service is disabled ({})", s.assign(n.endpoint, None, "disabled")),
        );
    }
    let endpoint_unknown = match &o.endpoint {
        Val::Unknown { why, .. } => Some(why.clone()),
        _ => None,
    };
    let via = o.via.as_deref();
    match &o.tokens {
        Val::Absent => match endpoint_unknown {
            Some(w) => new(
                ResourceVerdict::Unknown,
                format!("{} is not set and {} cannot be known: {w}", n.tokens, n.endpoint),
            ),
            None if o.empty => Err((format!("{} is empty", n.block), line)),
            None => Err((format!("{} does not set {}", n.block, n.tokens), line)),
        },
        Val::Str(v) if v == "required" => {
            new(ResourceVerdict::Pass, format!("{} (IMDSv2 only)", s.assign(n.tokens, via, "required")))
        }
        Val::Null => Err((
            match s {
                Syntax::Terraform => {
                    format!("{} = {}null leaves it unset", n.tokens, via.map(|v| format!("{v} → ")).unwrap_or_default())
                }
                _ => format!("{} is null", n.tokens),
            },
            line,
        )),
        Val::Unknown { expr, why } => {
            let expr = expr.as_ref().map(|e| format!("`{e}` ")).unwrap_or_default();
            new(ResourceVerdict::Unknown, format!("{} {expr}cannot be known: {why}", n.tokens))
        }
        _ if endpoint_unknown.is_some() => new(
            ResourceVerdict::Unknown,
            format!(
                "{} is not {} and {} cannot be known: {}",
                n.tokens,
                s.quoted("required"),
                n.endpoint,
                endpoint_unknown.unwrap_or_default()
            ),
        ),
        Val::Str(v) if v.eq_ignore_ascii_case("required") => new(
            ResourceVerdict::Fail,
            match s {
                Syntax::Terraform => format!(
                    "{}: the API is case-sensitive, only \"required\" enforces IMDSv2",
                    s.assign(n.tokens, via, v)
                ),
                _ => format!("{}: {v:?}: the API is case-sensitive, only \"required\" enforces IMDSv2", n.tokens),
            },
        ),
        Val::Str(v) => new(
            ResourceVerdict::Fail,
            format!("{} allows IMDSv1 (must be {})", s.assign(n.tokens, via, v), s.quoted("required")),
        ),
        Val::Other(v) => {
            let shown = match s {
                Syntax::Terraform => {
                    format!("{} = {}{v}", n.tokens, via.map(|v| format!("{v} → ")).unwrap_or_default())
                }
                _ => format!("{}: {v}", n.tokens),
            };
            new(ResourceVerdict::Fail, format!("{shown} allows IMDSv1 (must be {})", s.quoted("required")))
        }
    }
}

fn account_default(tokens: &Val, line: usize) -> RuleOutcome {
    let fix = Fix::TerraformDefaults;
    match tokens {
        Val::Absent | Val::Null => RuleOutcome::new(
            ResourceVerdict::Fail,
            "account default sets no http_tokens (\"no-preference\"): new instances may allow IMDSv1",
            line,
            &fix,
        ),
        Val::Str(s) if s == "required" => RuleOutcome::new(
            ResourceVerdict::Pass,
            "compensating control: account default http_tokens = \"required\" for launches that leave http_tokens unset",
            line,
            &fix,
        ),
        Val::Unknown { why, .. } => RuleOutcome::new(
            ResourceVerdict::Unknown,
            format!("account default http_tokens cannot be known: {why}"),
            line,
            &fix,
        ),
        Val::Str(v) => RuleOutcome::new(
            ResourceVerdict::Fail,
            format!("account default http_tokens = {v:?} allows IMDSv1 (must be \"required\")"),
            line,
            &fix,
        ),
        Val::Other(v) => RuleOutcome::new(
            ResourceVerdict::Fail,
            format!("account default http_tokens = {v} allows IMDSv1 (must be \"required\")"),
            line,
            &fix,
        ),
    }
}

/// What a Batch compute environment without a launch template launches: its image types
/// (`Ec2Configuration[].ImageType`, `ec2_configuration.image_type`; `Absent` for an entry
/// that names none), and whether the input shows the environment being created now (a plan
/// whose actions create it).
///
/// AWS Batch gives new ECS compute environments `ECS_AL2023` (and EKS ones `EKS_AL2023`) by
/// default since January 2026; environments created before keep their Amazon Linux 2 image
/// (Batch API reference, `Ec2Configuration`:
/// <https://docs.aws.amazon.com/batch/latest/APIReference/API_Ec2Configuration.html>;
/// CloudFormation `Ec2ConfigurationObject`:
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-batch-computeenvironment-ec2configurationobject.html>).
/// Amazon Linux 2023 AMIs require IMDSv2 (`imds_support = v2.0`). A configuration alone does
/// not say when the environment is created, so with no image type it is `unknown` (never
/// called safe); a plan that creates it passes.
pub fn batch_default(image_types: Vec<Val>, new_env: bool, syntax: Syntax) -> Without {
    let al2023 = |v: &Val| matches!(v, Val::Str(s) if s.to_ascii_uppercase().contains("AL2023"));
    if let Some(Val::Unknown { why, .. }) = image_types.iter().find(|v| matches!(v, Val::Unknown { .. })) {
        return Without::Unknown(format!("no launch template, and the image type cannot be known: {why}"));
    }
    let unset = |v: &Val| matches!(v, Val::Absent | Val::Null);
    if let Some(old) = image_types.iter().find(|v| !unset(v) && !al2023(v)) {
        let shown = match old {
            Val::Str(s) | Val::Other(s) => s.clone(),
            _ => String::new(),
        };
        return Without::Default {
            own: Own::Unsupported(format!(
                "no launch template: image type {shown} boots Amazon Linux 2, which allows IMDSv1 (AWS Batch API reference, Ec2Configuration)"
            )),
            image: vec![],
        };
    }
    if !image_types.is_empty() && !image_types.iter().any(unset) {
        return Without::Pass(
            "no launch template; the Amazon Linux 2023 image type requires IMDSv2 by default (AWS Batch API reference, Ec2Configuration)".into(),
        );
    }
    if new_env {
        return Without::Pass(
            "no launch template and no image type: the plan creates this environment, and AWS Batch gives new compute environments ECS_AL2023/EKS_AL2023 (IMDSv2 required) by default since January 2026 (AWS Batch API reference, Ec2Configuration)".into(),
        );
    }
    let fix = match syntax {
        Syntax::CloudFormation => Fix::Set {
            inside: Some("Properties.ComputeResources".into()),
            text: "Ec2Configuration:\n  - ImageType: ECS_AL2023".into(),
        },
        _ => Fix::Set {
            inside: Some("compute_resources".into()),
            text: "ec2_configuration {\n  image_type = \"ECS_AL2023\"\n}".into(),
        },
    };
    Without::UnknownFix(
        "no launch template and no image type: AWS Batch gives compute environments created since January 2026 ECS_AL2023 (IMDSv2 required), but one created before keeps its Amazon Linux 2 image (IMDSv1 allowed), and a configuration does not say when the environment was created (a plan that creates it does)".into(),
        fix,
    )
}
