//! The vocabulary every front end and the rule share: a [`Fact`] per resource (its own
//! metadata options, the templates it launches, the image it boots, an account default, or
//! another cloud's [`Switch`]) and the [`RuleOutcome`] the rule gives it. Data only; `rules` and
//! `clouds` judge.

use crate::clouds::table::Rule;
use crate::tool::Tool;
use crate::verdict::{Fix, Record, ResourceVerdict};

/// The syntax a fact was read from: it names the fields in reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Terraform,
    CloudFormation,
    Karpenter,
    /// One of the other IaC tools (`tools`): eksctl, Cluster API, Packer, Ansible, ….
    Tool(Tool),
}

pub(crate) struct Names {
    pub(crate) block: &'static str,
    pub(crate) tokens: &'static str,
    pub(crate) endpoint: &'static str,
}

impl Syntax {
    pub(crate) fn names_for(self, block: Option<&'static str>) -> Names {
        let mut n = self.names();
        if let Some(b) = block {
            n.block = b;
        }
        n
    }

    pub(crate) fn names(self) -> Names {
        match self {
            Syntax::Terraform => Names { block: "metadata_options", tokens: "http_tokens", endpoint: "http_endpoint" },
            Syntax::CloudFormation => {
                Names { block: "MetadataOptions", tokens: "HttpTokens", endpoint: "HttpEndpoint" }
            }
            Syntax::Karpenter => Names { block: "metadataOptions", tokens: "httpTokens", endpoint: "httpEndpoint" },
            Syntax::Tool(t) => match t {
                Tool::Packer | Tool::Ansible => {
                    Names { block: "metadata_options", tokens: "http_tokens", endpoint: "http_endpoint" }
                }
                Tool::Capa => {
                    Names { block: "instanceMetadataOptions", tokens: "httpTokens", endpoint: "httpEndpoint" }
                }
                Tool::Eksctl => Names { block: "disableIMDSv1", tokens: "HttpTokens", endpoint: "HttpEndpoint" },
                Tool::Cdk => Names { block: "requireImdsv2", tokens: "HttpTokens", endpoint: "HttpEndpoint" },
                Tool::Crossplane | Tool::Ack | Tool::Pulumi => {
                    Names { block: "metadataOptions", tokens: "httpTokens", endpoint: "httpEndpoint" }
                }
            },
        }
    }

    /// `http_tokens = "optional"` / `HttpTokens: optional`; `via` names a non-literal expression.
    pub(crate) fn assign(self, field: &str, via: Option<&str>, value: &str) -> String {
        match self {
            Syntax::Terraform => {
                let via = via.map(|v| format!("{v} → ")).unwrap_or_default();
                format!("{field} = {via}{value:?}")
            }
            Syntax::Tool(t) if t.hcl() => {
                let via = via.map(|v| format!("{v} → ")).unwrap_or_default();
                format!("{field} = {via}{value:?}")
            }
            _ => {
                let via = via.map(|v| format!("{v} → ")).unwrap_or_default();
                format!("{via}{field}: {value}")
            }
        }
    }

    pub(crate) fn quoted(self, value: &str) -> String {
        match self {
            Syntax::Terraform => format!("{value:?}"),
            Syntax::Tool(t) if t.hcl() => format!("{value:?}"),
            _ => value.to_string(),
        }
    }

    /// Who applies the default when the setting is not written (Karpenter, eksctl, …).
    pub(crate) fn who(self) -> &'static str {
        match self {
            Syntax::Karpenter => "Karpenter",
            Syntax::Tool(t) => t.name(),
            _ => "the service",
        }
    }
}

/// An image built by a Packer template in the checked tree, for the resources that boot it by
/// name (a Terraform `data "aws_ami"` name filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// `ami_name` with its template parts (`{{timestamp}}`, `${local.x}`) as `*`.
    pub pattern: String,
    /// `source.amazon-ebs.NAME` or `builders[i].NAME`.
    pub address: String,
    pub file: String,
    pub line: usize,
    /// `imds_support = "v2.0"`.
    pub v2: bool,
}

/// A name pattern with template parts (`{{ … }}`, `${ … }`) and AWS filter wildcards as `*`
/// (runs of them as one).
pub fn name_pattern(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        let open = ["{{", "${"].iter().filter_map(|o| rest.find(o).map(|i| (i, *o))).min();
        let Some((i, o)) = open else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i]);
        out.push('*');
        let close = if o == "{{" { "}}" } else { "}" };
        rest = rest[i..].find(close).map_or("", |j| &rest[i + j + close.len()..]);
    }
    let mut norm = String::new();
    for c in out.chars().map(|c| if c == '?' { '*' } else { c }) {
        if !(c == '*' && norm.ends_with('*')) {
            norm.push(c);
        }
    }
    norm
}

/// A value read from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Not written.
    Absent,
    /// Written as null (Terraform: leaves it unset).
    Null,
    Str(String),
    /// A known value that is not a string (shown as written).
    Other(String),
    /// Cannot be known before deploy: the expression (when worth showing) and why.
    Unknown {
        expr: Option<String>,
        why: String,
    },
}

/// A metadata options block as written.
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoint: Val,
    pub tokens: Val,
    /// The expression `http_tokens` was computed from, when it is not a literal.
    pub via: Option<String>,
    /// The line of the tokens attribute when written, else the resource's.
    pub line: usize,
    pub empty: bool,
}

/// What a resource's own metadata options say.
#[derive(Debug, Clone)]
pub enum Own {
    /// No block (or a dynamic block that creates none).
    NoBlock,
    Block(Options),
    /// The block itself cannot be known: the whole reason.
    Unknown {
        why: String,
        line: usize,
    },
    /// The resource cannot carry metadata options at all: why (e.g. a fleet's launch specification).
    Unsupported(String),
}

/// What one template reference resolves to.
#[derive(Debug, Clone)]
pub enum Target {
    /// Facts (indices into the same slice); several when the template is expanded.
    Found(Vec<usize>),
    Unresolved(String),
    /// Instances specified inline (a fleet's launch specification): own options, image.
    Inline {
        what: String,
        own: Own,
        image: Vec<usize>,
        line: usize,
    },
}

/// What a resource that only launches through templates does without one.
#[derive(Debug, Clone)]
pub enum Without {
    Unknown(String),
    /// Unknown, with a fix that makes it known (rather than the generic one).
    UnknownFix(String, Fix),
    /// EKS creates its own launch template, with IMDSv1 allowed.
    EksDefault,
    /// The service launches instances itself: judged like own options (compensations apply).
    Default {
        own: Own,
        image: Vec<usize>,
    },
    /// The service's default is known to require IMDSv2: why.
    Pass(String),
}

#[derive(Debug, Clone)]
pub enum FactKind {
    /// Launches instances with its own metadata options; when it has none and names templates,
    /// it inherits their verdict. `image` lists image facts it may boot (AMI control).
    Launcher { own: Own, image: Vec<usize>, templates: Vec<Target> },
    /// Launches only through templates (ASG, node groups, fleets).
    Dependent { templates: Vec<Target>, without: Without },
    /// An account-wide default (`aws_ec2_instance_metadata_defaults`): the tokens value and its line.
    AccountDefault { tokens: Val, line: usize },
    /// An image; `v2` when `imds_support = "v2.0"`.
    Image { v2: bool },
    /// Launches no instance (an unmanaged or Fargate Batch environment): no record.
    Skip,
    /// Another cloud's legacy-metadata switch: see [`Switch`].
    Switch(Switch),
}

/// One resource as the rule sees it.
#[derive(Debug, Clone)]
pub struct Fact {
    pub address: String,
    pub file: String,
    pub line: usize,
    pub syntax: Syntax,
    /// The name of the metadata options block when it is not the syntax's usual one
    /// (Image Builder: `instance_metadata_options`).
    pub block: Option<&'static str>,
    /// The service default of `http_tokens` when unset is "required" (Karpenter), not "optional".
    pub default_required: bool,
    /// The fix to print when the resource's own options fail.
    pub fix: Fix,
    pub kind: FactKind,
}

/// The rule's conclusion for one resource.
#[derive(Debug, Clone)]
pub struct RuleOutcome {
    pub verdict: ResourceVerdict,
    pub reason: String,
    pub line: usize,
    pub compensated_by: Option<String>,
    pub inherited_from: Option<String>,
    pub fix: Option<Fix>,
}

impl RuleOutcome {
    /// The report record of this outcome, for `resource` of type `rtype` in `file`.
    pub fn into_record(self, file: String, resource: String, rtype: String) -> Record {
        Record {
            file,
            line: self.line,
            resource,
            rtype,
            verdict: self.verdict,
            reason: self.reason,
            compensated_by: self.compensated_by,
            inherited_from: self.inherited_from,
            fix: self.fix,
            json_source: false,
        }
    }

    pub(crate) fn new(verdict: ResourceVerdict, reason: impl Into<String>, line: usize, fail_fix: &Fix) -> RuleOutcome {
        let fix = match verdict {
            ResourceVerdict::Fail => Some(fail_fix.clone()),
            ResourceVerdict::Unknown => Some(Fix::MakeKnown),
            _ => None,
        };
        RuleOutcome { verdict, reason: reason.into(), line, compensated_by: None, inherited_from: None, fix }
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

#[cfg(test)]
mod tests {
    use super::name_pattern;

    #[test]
    fn name_patterns_read_template_parts_and_wildcards_as_one_star() {
        assert_eq!(name_pattern("app-server-{{timestamp}}"), "app-server-*");
        assert_eq!(name_pattern("app-server-${local.ts}"), "app-server-*");
        assert_eq!(name_pattern("app-server-*"), "app-server-*");
        assert_eq!(name_pattern("app-?-{{isotime `2006`}}-*"), "app-*-*-*");
        assert_eq!(name_pattern("x-${unclosed"), "x-*");
        assert_eq!(name_pattern("plain"), "plain");
    }
}
