//! The outcome of checking one resource, shared by every input format and report.

use std::cmp::Ordering;
use std::path::Path;

use serde::Serialize;

/// What the check concluded for one resource (or file, for parse errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceVerdict {
    /// IMDSv2 is enforced (or IMDS is off).
    Pass,
    /// IMDSv1 is still allowed.
    Fail,
    /// The inputs do not say; the reason names the value that cannot be known.
    Unknown,
    /// The file could not be read or parsed.
    ParseError,
}

impl ResourceVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceVerdict::Pass => "pass",
            ResourceVerdict::Fail => "fail",
            ResourceVerdict::Unknown => "unknown",
            ResourceVerdict::ParseError => "parse_error",
        }
    }

    /// Severity for combining several verdicts: the worst one wins.
    pub fn rank(self) -> u8 {
        match self {
            ResourceVerdict::Pass => 0,
            ResourceVerdict::Unknown => 1,
            ResourceVerdict::Fail => 2,
            ResourceVerdict::ParseError => 3,
        }
    }
}

/// The kind of fix to print for a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// Add or change a Terraform `metadata_options` block in this resource.
    TerraformBlock,
    /// Set `http_tokens = "required"` in `aws_ec2_instance_metadata_defaults`.
    TerraformDefaults,
    /// Give an EKS node group a launch template that requires tokens (a node group has no
    /// `metadata_options` of its own).
    EksLaunchTemplate,
    /// Launch from a launch template whose metadata options require tokens (fleets' launch
    /// specifications and Batch compute environments cannot set them otherwise).
    UseLaunchTemplate,
    /// Fix the launch template (or configuration) this resource launches.
    Template { address: String },
    /// Add `MetadataOptions: { HttpTokens: required }` at this CloudFormation path.
    CloudFormation { path: String },
    /// Set `spec.metadataOptions.httpTokens: required` in a Karpenter EC2NodeClass.
    Karpenter,
    /// Make the unknown value known (or enforce it another way).
    MakeKnown,
    /// Check the `terraform show -json` plan, which includes a remote module's resources.
    CheckPlan,
    /// Another cloud's switch (`iac::clouds`): write `text` in the resource, inside the block
    /// or map path `inside` when given.
    Set {
        #[serde(skip_serializing_if = "Option::is_none")]
        inside: Option<String>,
        text: String,
    },
}

/// One checked resource.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub file: String,
    pub line: usize,
    /// Terraform address (`module.app.aws_instance.web[0]`) or CloudFormation logical id.
    pub resource: String,
    /// Resource type, e.g. `aws_instance` or `AWS::EC2::Instance` (empty for parse errors).
    #[serde(rename = "type")]
    pub rtype: String,
    pub verdict: ResourceVerdict,
    pub reason: String,
    /// A compensating control that decided the verdict (account defaults, AMI), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensated_by: Option<String>,
    /// The launch template this verdict was inherited from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// Read from a JSON document (a CloudFormation JSON template): fixes are written in JSON.
    #[serde(skip)]
    pub json_source: bool,
}

impl Record {
    pub fn parse_error(file: &Path, line: usize, reason: impl Into<String>) -> Record {
        Record {
            file: display_path(file),
            line,
            resource: String::new(),
            rtype: String::new(),
            verdict: ResourceVerdict::ParseError,
            reason: reason.into(),
            compensated_by: None,
            inherited_from: None,
            fix: None,
            json_source: false,
        }
    }
}

/// A module call whose code is not on disk (a registry, git or other remote source that
/// `terraform init` has not installed here): its resources were not checked. A note about
/// coverage, not a finding; listed once per call site.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unresolved {
    pub file: String,
    pub line: usize,
    /// `module.NAME`, with the calling module's prefix (the first instance seen).
    pub module: String,
    /// The `source` (and `version`) as written.
    pub source: String,
    pub reason: String,
}

/// Paths as given on the command line, with `/` separators and no leading `./`.
pub fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Stable order: file, then line, then resource.
pub fn sort_records(records: &mut [Record]) {
    records.sort_by(|a, b| {
        a.file
            .cmp(&b.file)
            .then(a.line.cmp(&b.line))
            .then_with(|| a.resource.cmp(&b.resource))
            .then_with(|| cmp_verdict(a.verdict, b.verdict))
    });
}

fn cmp_verdict(a: ResourceVerdict, b: ResourceVerdict) -> Ordering {
    a.rank().cmp(&b.rank())
}
