//! The IMDSv1 rule for Terraform: each resource's own `metadata_options`, then inheritance
//! (instance → launch template, ASG / EKS node group → template) and compensating controls
//! (AMI `imds_support = "v2.0"`, `aws_ec2_instance_metadata_defaults`).

use hcl_edit::expr::Expression;

use super::eval::{Env, Value, expr_text};
use super::modules::Instance;
use super::parse::TBody;
use super::refs::find_refs;
use crate::iac::verdict::{Fix, Verdict};

/// The rule's conclusion for one instance.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    pub reason: String,
    pub line: usize,
    pub compensated_by: Option<String>,
    pub inherited_from: Option<String>,
    pub fix: Option<Fix>,
}

impl Outcome {
    fn new(verdict: Verdict, reason: impl Into<String>, line: usize) -> Outcome {
        let fix = match verdict {
            Verdict::Fail => Some(Fix::TerraformBlock),
            Verdict::Unknown => Some(Fix::MakeKnown),
            _ => None,
        };
        Outcome { verdict, reason: reason.into(), line, compensated_by: None, inherited_from: None, fix }
    }
}

/// What a resource's own metadata options say.
enum Own {
    /// No `metadata_options` block (or a dynamic one that creates none).
    NoBlock,
    /// A block that leaves `http_tokens` unset (absent or `null`): why, and the line to
    /// report (the `http_tokens` attribute when it is written, else the resource).
    Unset {
        why: String,
        line: usize,
    },
    Decided(Outcome),
}

/// Verdicts for all instances of one root configuration, in the same order.
pub fn check(all: &[Instance]) -> Vec<Option<Outcome>> {
    let mut out: Vec<Option<Outcome>> = vec![None; all.len()];
    let defaults = account_default(all);
    // Templates and other self-contained resources first; dependents read their outcomes.
    for (i, inst) in all.iter().enumerate() {
        out[i] = match inst.rtype.as_str() {
            "aws_launch_template" | "aws_launch_configuration" => {
                Some(with_fallback(own(inst, &inst.block.body, &inst.env()), inst, "image_id", all, &defaults))
            }
            "aws_ec2_instance_metadata_defaults" => Some(defaults_outcome(inst)),
            "aws_ami" => ami_v2(inst).then(|| {
                Outcome::new(Verdict::Pass, "compensating control: imds_support = \"v2.0\", so instances launched from this AMI without their own metadata options require IMDSv2", inst.block.line)
            }),
            _ => None,
        };
    }
    for (i, inst) in all.iter().enumerate() {
        let o = match inst.rtype.as_str() {
            "aws_instance" => instance(inst, all, &out, &defaults),
            "aws_autoscaling_group" => group(
                inst,
                all,
                &out,
                asg_refs(&inst.block.body),
                "no launch_template, mixed_instances_policy or launch_configuration found",
            ),
            "aws_eks_node_group" => {
                let refs = lt_refs(inst.block.body.block("launch_template").map(|b| &b.body), "id", "name");
                if refs.is_empty() {
                    // Not compensated by an account default: explicit launch-template options win.
                    let mut o = Outcome::new(
                        Verdict::Fail,
                        "no launch_template: EKS launches the nodes from a launch template it creates, which sets its own metadata options with IMDSv1 allowed (an account default does not override them)",
                        inst.block.line,
                    );
                    o.fix = Some(Fix::EksLaunchTemplate);
                    Some(o)
                } else {
                    group(inst, all, &out, refs, "")
                }
            }
            _ => continue,
        };
        out[i] = o;
    }
    for (o, inst) in out.iter_mut().zip(all) {
        if let (Some(o), Some(why)) = (o.as_mut(), &inst.expansion_unknown) {
            o.reason.push_str(&format!(" [{why}; checked once for all instances]"));
        }
    }
    out
}

fn defaults_outcome(inst: &Instance) -> Outcome {
    let body = &inst.block.body;
    let Some(attr) = body.attr("http_tokens") else {
        let mut o = Outcome::new(
            Verdict::Fail,
            "account default sets no http_tokens (\"no-preference\"): new instances may allow IMDSv1",
            inst.block.line,
        );
        o.fix = Some(Fix::TerraformDefaults);
        return o;
    };
    let mut o = match inst.env().eval(&attr.expr) {
        Value::String(s) if s == "required" => Outcome::new(
            Verdict::Pass,
            "compensating control: account default http_tokens = \"required\" for launches that leave http_tokens unset",
            attr.line,
        ),
        Value::Unknown(w) => {
            Outcome::new(Verdict::Unknown, format!("account default http_tokens cannot be known: {w}"), attr.line)
        }
        v => Outcome::new(
            Verdict::Fail,
            format!("account default http_tokens = {} allows IMDSv1 (must be \"required\")", show(&v)),
            attr.line,
        ),
    };
    if o.verdict == Verdict::Fail {
        o.fix = Some(Fix::TerraformDefaults);
    }
    o
}

/// The first account-default resource that requires tokens, if any.
fn account_default(all: &[Instance]) -> Option<String> {
    all.iter()
        .filter(|i| i.rtype == "aws_ec2_instance_metadata_defaults")
        .find(|i| defaults_outcome(i).verdict == Verdict::Pass)
        .map(|i| i.address.clone())
}

fn ami_v2(inst: &Instance) -> bool {
    inst.block.body.attr("imds_support").is_some_and(|a| inst.env().eval(&a.expr) == Value::String("v2.0".into()))
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.as_text().unwrap_or_else(|| format!("{other:?}")),
    }
}

/// Reads the resource's own `metadata_options` (static or dynamic).
fn own(inst: &Instance, body: &TBody, env: &Env<'_>) -> Own {
    let line = inst.block.line;
    if let Some(b) = body.block("metadata_options") {
        return options(&b.body, env, line);
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
            return Own::Decided(Outcome::new(
                Verdict::Unknown,
                format!("dynamic \"metadata_options\" for_each `{}` cannot be known: {w}", expr_text(&for_each.expr)),
                d.line,
            ));
        }
        other => {
            return Own::Decided(Outcome::new(
                Verdict::Unknown,
                format!("dynamic \"metadata_options\" for_each is not a collection: {}", show(&other)),
                d.line,
            ));
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
        Some(c) => options(&c.body, &env, line),
        None => Own::Unset { why: "metadata_options is empty".into(), line },
    }
}

fn options(body: &TBody, env: &Env<'_>, resource_line: usize) -> Own {
    let endpoint = body.attr("http_endpoint").map(|a| env.eval(&a.expr));
    let tokens = body.attr("http_tokens");
    let line = tokens.map_or(resource_line, |a| a.line);
    if endpoint == Some(Value::String("disabled".into())) {
        return Own::Decided(Outcome::new(
            Verdict::Pass,
            "the metadata service is disabled (http_endpoint = \"disabled\")",
            line,
        ));
    }
    let endpoint_unknown = match &endpoint {
        Some(Value::Unknown(w)) => Some(w.clone()),
        _ => None,
    };
    let Some(tokens) = tokens else {
        return match endpoint_unknown {
            Some(w) => Own::Decided(Outcome::new(
                Verdict::Unknown,
                format!("http_tokens is not set and http_endpoint cannot be known: {w}"),
                line,
            )),
            None => Own::Unset {
                why: if body.is_empty() {
                    "metadata_options is empty"
                } else {
                    "metadata_options does not set http_tokens"
                }
                .into(),
                line,
            },
        };
    };
    let via = match &tokens.expr {
        Expression::String(_) | Expression::Null(_) => String::new(),
        e => format!("{} → ", expr_text(e)),
    };
    let o = match env.eval(&tokens.expr) {
        Value::String(s) if s == "required" => {
            Outcome::new(Verdict::Pass, format!("http_tokens = {via}\"required\" (IMDSv2 only)"), line)
        }
        Value::Null => return Own::Unset { why: format!("http_tokens = {via}null leaves it unset"), line },
        Value::Unknown(w) => Outcome::new(
            Verdict::Unknown,
            format!("http_tokens `{}` cannot be known: {w}", expr_text(&tokens.expr)),
            line,
        ),
        _ if endpoint_unknown.is_some() => Outcome::new(
            Verdict::Unknown,
            format!(
                "http_tokens is not \"required\" and http_endpoint cannot be known: {}",
                endpoint_unknown.unwrap_or_default()
            ),
            line,
        ),
        Value::String(s) if s.eq_ignore_ascii_case("required") => Outcome::new(
            Verdict::Fail,
            format!("http_tokens = {via}{s:?}: the API is case-sensitive, only \"required\" enforces IMDSv2"),
            line,
        ),
        v => Outcome::new(
            Verdict::Fail,
            format!("http_tokens = {via}{} allows IMDSv1 (must be \"required\")", show(&v)),
            line,
        ),
    };
    Own::Decided(o)
}

/// Own verdict, else the AMI's `imds_support`, else the account default, else fail.
fn with_fallback(own: Own, inst: &Instance, image_attr: &str, all: &[Instance], defaults: &Option<String>) -> Outcome {
    let (why, line) = match own {
        Own::Decided(o) => return o,
        Own::NoBlock => ("no metadata_options block".to_string(), inst.block.line),
        Own::Unset { why, line } => (why, line),
    };
    if let Some(ami) = inst.block.body.attr(image_attr).and_then(|a| find_refs(&a.expr, "aws_ami", inst, all).ok()) {
        if let Some(a) = ami.iter().map(|&i| &all[i]).find(|a| ami_v2(a)) {
            let mut o = Outcome::new(
                Verdict::Pass,
                format!("{why}, but the AMI {} has imds_support = \"v2.0\" (compensating control)", a.address),
                line,
            );
            o.compensated_by = Some(a.address.clone());
            return o;
        }
    }
    if let Some(o) = by_account_default(&why, line, defaults) {
        return o;
    }
    Outcome::new(Verdict::Fail, format!("{why}: http_tokens defaults to \"optional\", IMDSv1 allowed"), line)
}

/// A pass through the account default, when one requires tokens: `why` says what is unset.
fn by_account_default(why: &str, line: usize, defaults: &Option<String>) -> Option<Outcome> {
    let d = defaults.as_ref()?;
    let mut o = Outcome::new(
        Verdict::Pass,
        format!("{why}, but {d} sets the account default http_tokens = \"required\" (compensating control)"),
        line,
    );
    o.compensated_by = Some(d.clone());
    Some(o)
}

fn instance(inst: &Instance, all: &[Instance], out: &[Option<Outcome>], defaults: &Option<String>) -> Option<Outcome> {
    let own = own(inst, &inst.block.body, &inst.env());
    if matches!(own, Own::NoBlock) {
        let refs = lt_refs(inst.block.body.block("launch_template").map(|b| &b.body), "id", "name");
        if !refs.is_empty() {
            return group(inst, all, out, refs, "");
        }
    }
    Some(with_fallback(own, inst, "ami", all, defaults))
}

/// Template references: (expression, resource type it should name).
type Refs<'a> = Vec<(&'a Expression, &'static str)>;

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

/// The worst verdict among the templates a resource launches.
fn group(inst: &Instance, all: &[Instance], out: &[Option<Outcome>], refs: Refs<'_>, none: &str) -> Option<Outcome> {
    let line = inst.block.line;
    if refs.is_empty() {
        return Some(Outcome::new(Verdict::Unknown, none, line));
    }
    let mut worst: Option<Outcome> = None;
    for (expr, rtype) in refs {
        let o = match find_refs(expr, rtype, inst, all) {
            Err(why) => Outcome::new(Verdict::Unknown, why, line),
            Ok(idx) => {
                let mut best: Option<Outcome> = None;
                for i in idx {
                    let Some(t) = out[i].as_ref() else { continue };
                    let file = crate::iac::verdict::display_path(&all[i].block.file);
                    let mut o = Outcome::new(
                        t.verdict,
                        format!("launches {} ({file}:{}): {}", all[i].address, t.line, t.reason),
                        line,
                    );
                    o.inherited_from = Some(all[i].address.clone());
                    o.compensated_by = t.compensated_by.clone();
                    o.fix = (t.verdict != Verdict::Pass).then(|| Fix::Template { address: all[i].address.clone() });
                    if best.as_ref().is_none_or(|b| o.verdict.rank() > b.verdict.rank()) {
                        best = Some(o);
                    }
                }
                best.unwrap_or_else(|| Outcome::new(Verdict::Unknown, "the referenced template has no verdict", line))
            }
        };
        if worst.as_ref().is_none_or(|w| o.verdict.rank() > w.verdict.rank()) {
            worst = Some(o);
        }
    }
    worst
}
