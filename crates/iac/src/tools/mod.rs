//! The IaC tools beyond Terraform and CloudFormation that launch EC2 instances: eksctl,
//! Cluster API AWS, Crossplane, ACK (Kubernetes YAML, told apart by `apiVersion`/`kind`),
//! Packer (HCL2 and legacy JSON), Ansible playbooks, Pulumi YAML and AWS CDK source. Each
//! front end extracts the same [`Fact`]s as the Terraform and CloudFormation ones, and the one
//! rule (`rules::judge`) decides; this module holds what they share: the [`Tool`] (names,
//! default, SARIF ids, fix syntax), reading a YAML metadata options block, and turning facts
//! into records (with template references by name resolved within the file).
//!
//! Defaults and field names, as read in each tool's source (December 2026) and cited again in
//! each front end and in docs/iac.md:
//! - eksctl `disableIMDSv1` defaults to `true` (`pkg/apis/eksctl.io/v1alpha5/defaults.go`,
//!   `setNodeGroupBaseDefaults`; since 0.143.0, PR #6631); `makeMetadataOptions` in
//!   `pkg/cfn/builder/nodegroup.go` writes `HttpTokens: required` when `disableIMDSv1` or
//!   `disablePodIMDS` is true, else `optional`.
//! - Cluster API AWS `instanceMetadataOptions.httpTokens`: `+kubebuilder:default=optional`
//!   (`api/v1beta2/types.go`); no block: CAPA sends none, EC2's default (`optional`).
//! - Packer `metadata_options.http_tokens` defaults to `optional` and is always sent, unless
//!   `http_endpoint = "disabled"`, when no metadata options are sent at all
//!   (`builder/common/run_config.go`, `step_run_source_instance.go` of packer-plugin-amazon).
//! - Ansible `amazon.aws.ec2_instance` / `ec2_launch_template`: `metadata_options.http_tokens`
//!   `default: optional` (module documentation in `plugins/modules/`).
//! - Crossplane, ACK, Pulumi: the EC2 API default (`optional`) when not set.

pub mod ack;
pub mod ansible;
pub mod capa;
pub mod cdk;
pub mod crossplane;
pub mod eksctl;
pub mod packer;
pub mod pulumi;

pub use crate::tool::Tool;

use crate::fact::{Fact, FactKind, Options, Own, Syntax, Target, Val};
use crate::rules;
use crate::tree::{Kind, Node};
use crate::verdict::{Fix, Record};

/// The fix of a tool's record for the kinds the rule gives generically (the template it
/// launches, making a value known, an EKS node group without a template).
pub fn fix_parts(tool: Tool, resource: &str, fix: &Fix) -> Option<(String, String)> {
    match fix {
        Fix::Template { address } => {
            let (inside, text) = match tool {
                Tool::Ansible => ("its task arguments", "metadata_options:\n  http_tokens: required"),
                Tool::Crossplane => ("spec.forProvider", "metadataOptions:\n  httpTokens: required"),
                Tool::Ack => ("spec.data", "metadataOptions:\n  httpTokens: required"),
                Tool::Pulumi => ("properties", "metadataOptions:\n  httpTokens: required"),
                Tool::Packer => ("its source block", "metadata_options {\n  http_tokens = \"required\"\n}"),
                _ => ("LaunchTemplateData", "MetadataOptions:\n  HttpTokens: required"),
            };
            Some((format!("in {address} (the template it launches), inside {inside}, set"), text.to_string()))
        }
        Fix::MakeKnown if resource == "(unrendered template)" => Some((
            "render the template and check what it renders:".to_string(),
            "helm template RELEASE CHART | imdswatch iac -".to_string(),
        )),
        Fix::MakeKnown if tool == Tool::Cdk => Some((
            "run `cdk synth` and check cdk.out (authoritative), or set in the construct's props".to_string(),
            "requireImdsv2: true  (Python: require_imdsv2=True)".to_string(),
        )),
        Fix::MakeKnown => Some((
            format!("make the value known before deploy (a default, or a literal {})", tool.literal()),
            String::new(),
        )),
        Fix::TerraformDefaults if tool == Tool::Pulumi => {
            Some((format!("in {resource}, inside properties, set"), "httpTokens: required".to_string()))
        }
        Fix::EksLaunchTemplate if tool == Tool::Capa => Some((
            format!("in {resource}, inside spec, set (CAPA then creates the launch template)"),
            "awsLaunchTemplate:\n  instanceMetadataOptions:\n    httpTokens: required".to_string(),
        )),
        _ => None,
    }
}

/// One fact with its record type, and a launch template it names (resolved in [`records`]).
pub(crate) struct Item {
    pub fact: Fact,
    pub rtype: String,
    /// A template this resource can launch from, by (tool, name): found among the same
    /// file's facts whose `names` include it, else unknown with `missing`.
    pub wants: Option<(String, String)>,
    /// Names others may refer to this resource by (a launch template's name, its object name).
    pub names: Vec<String>,
}

impl Item {
    pub fn new(fact: Fact, rtype: String) -> Item {
        Item { fact, rtype, wants: None, names: vec![] }
    }
}

/// Judges the items of one file; a template reference by name is followed to an item of the
/// same tool that has that name.
pub(crate) fn records(mut items: Vec<Item>) -> Vec<Record> {
    let named: Vec<(Option<Tool>, Vec<String>)> = items.iter().map(|i| (tool_of(&i.fact), i.names.clone())).collect();
    for (idx, item) in items.iter_mut().enumerate() {
        let Some((name, missing)) = item.wants.clone() else { continue };
        let tool = tool_of(&item.fact);
        let found: Vec<usize> = named
            .iter()
            .enumerate()
            .filter(|(j, (t, names))| *j != idx && *t == tool && names.contains(&name))
            .map(|(j, _)| j)
            .collect();
        let target = if found.is_empty() { Target::Unresolved(missing) } else { Target::Found(found) };
        match &mut item.fact.kind {
            FactKind::Launcher { templates, .. } | FactKind::Dependent { templates, .. } => templates.push(target),
            _ => {}
        }
    }
    let facts: Vec<Fact> = items.iter().map(|i| i.fact.clone()).collect();
    items
        .into_iter()
        .zip(rules::judge(&facts))
        .filter_map(|(i, o)| Some(o?.into_record(i.fact.file, i.fact.address, i.rtype)))
        .collect()
}

fn tool_of(f: &Fact) -> Option<Tool> {
    match f.syntax {
        Syntax::Tool(t) => Some(t),
        _ => None,
    }
}

/// A new fact of a tool, launching with its own options (templates are added by [`records`]).
pub(crate) fn launcher(tool: Tool, address: String, file: &str, line: usize, own: Own, fix: Fix) -> Fact {
    Fact {
        address,
        file: file.to_string(),
        line,
        syntax: Syntax::Tool(tool),
        block: None,
        default_required: false,
        fix,
        kind: FactKind::Launcher { own, image: vec![], templates: vec![] },
    }
}

/// `Fix::Set` in the tool's syntax: `text` written `inside` the resource.
pub(crate) fn set(inside: &str, text: &str) -> Fix {
    Fix::Set { inside: (!inside.is_empty()).then(|| inside.to_string()), text: text.to_string() }
}

/// How a scalar that is not a literal is recognised and explained, per tool.
pub(crate) type Resolve<'a> = &'a dyn Fn(&str) -> Option<Val>;

/// The value of a YAML node: absent, null, a string, or unknown when it holds a template
/// expression (`${…}` substituted when the manifest is rendered, `{{ … }}` at run time).
pub(crate) fn val(n: Option<&Node>, resolve: Resolve<'_>) -> Val {
    match n {
        None => Val::Absent,
        Some(n) if n.is_null() => Val::Null,
        Some(n) => match &n.kind {
            Kind::Scalar { text, .. } => resolve(text).unwrap_or_else(|| Val::Str(text.clone())),
            _ => Val::Other("a collection".into()),
        },
    }
}

/// The usual explanation of template expressions in Kubernetes manifests.
pub(crate) fn template_expr(text: &str) -> Option<Val> {
    let why = if text.contains("{{") {
        "a template expression ({{ … }}) filled in when the manifest is rendered"
    } else if text.contains("${") {
        "a variable (${…}) substituted when the manifest is rendered (clusterctl, envsubst, Flux)"
    } else {
        return None;
    };
    Some(Val::Unknown { expr: Some(text.to_string()), why: why.to_string() })
}

/// A metadata options block read from YAML (a mapping; Crossplane v1beta1 writes a list of
/// one). `block_line` is the line of its key.
pub(crate) fn options(block: Option<(&Node, &Node)>, tokens: &str, endpoint: &str, resolve: Resolve<'_>) -> Own {
    let Some((key, m)) = block else { return Own::NoBlock };
    if m.is_null() {
        return Own::NoBlock;
    }
    let m = match &m.kind {
        Kind::Seq(items) if items.is_empty() => return Own::NoBlock,
        Kind::Seq(items) if items.len() == 1 => &items[0],
        Kind::Seq(_) => {
            return Own::Unknown { why: format!("{} lists several blocks", key_text(key)), line: key.line };
        }
        Kind::Scalar { text, .. } => {
            return match resolve(text) {
                Some(Val::Unknown { why, .. }) => {
                    Own::Unknown { why: format!("{} `{text}` cannot be known: {why}", key_text(key)), line: key.line }
                }
                _ => Own::Unknown { why: format!("{} is not a mapping", key_text(key)), line: key.line },
            };
        }
        Kind::Map(_) => m,
    };
    let Some(entries) = m.as_map() else {
        return Own::Unknown { why: format!("{} is not a mapping", key_text(key)), line: key.line };
    };
    let value = val(m.get(tokens), resolve);
    // A resolved variable: the reason shows what was written.
    let via = match (&value, m.get(tokens).and_then(Node::as_str)) {
        (Val::Str(v), Some(raw)) if raw != v => Some(raw.to_string()),
        _ => None,
    };
    Own::Block(Options {
        endpoint: val(m.get(endpoint), resolve),
        tokens: value,
        via,
        line: m.get_entry(tokens).map_or(key.line, |(k, _)| k.line),
        empty: entries.is_empty(),
    })
}

fn key_text(k: &Node) -> String {
    k.as_str().unwrap_or("metadata options").to_string()
}

/// `metadata.name` of a manifest.
pub(crate) fn object_name(doc: &Node) -> &str {
    doc.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str).unwrap_or("(unnamed)")
}

/// A path of mapping keys.
pub(crate) fn path<'a>(n: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    keys.iter().try_fold(n, |n, k| n.get(k))
}

/// The entry (key and value) at the end of a path of mapping keys.
pub(crate) fn entry<'a>(n: &'a Node, keys: &[&str]) -> Option<(&'a Node, &'a Node)> {
    let (last, parents) = keys.split_last()?;
    path(n, parents)?.get_entry(last)
}

/// Kubernetes-style manifests of a YAML stream judged by the tools that read them (eksctl,
/// Cluster API AWS, Crossplane, ACK); `None` when no document is one of theirs.
pub fn check_manifests(file: &str, docs: &[Node]) -> Option<Vec<Record>> {
    let mut items = Vec::new();
    let mut any = false;
    let class_patch = capa::class_patch(docs);
    for doc in docs {
        let (Some(api), Some(kind)) =
            (doc.get("apiVersion").and_then(Node::as_str), doc.get("kind").and_then(Node::as_str))
        else {
            continue;
        };
        let seen = eksctl::read(file, doc, api, kind, &mut items)
            || capa::read(file, doc, api, kind, class_patch.as_ref(), &mut items)
            || crossplane::read(file, doc, api, kind, &mut items)
            || ack::read(file, doc, api, kind, &mut items);
        any |= seen;
    }
    any.then(|| records(items))
}

/// Markers of a judged kind in a file that is not YAML as it stands (a Helm chart's template,
/// a Jinja-templated playbook): (text that must all be present, record type).
const UNRENDERED: &[(&[&str], &str)] = &[
    (&["eksctl.io/", "ClusterConfig"], "eksctl.io/ClusterConfig"),
    (&["infrastructure.cluster.x-k8s.io/", "kind: AWSMachine"], "infrastructure.cluster.x-k8s.io/AWSMachine"),
    (
        &["infrastructure.cluster.x-k8s.io/", "kind: AWSManagedMachinePool"],
        "infrastructure.cluster.x-k8s.io/AWSManagedMachinePool",
    ),
    (&["ec2.aws.upbound.io/"], "ec2.aws.upbound.io/Instance"),
    (&["ec2.aws.m.upbound.io/"], "ec2.aws.m.upbound.io/Instance"),
    (&["ec2.aws.crossplane.io/"], "ec2.aws.crossplane.io/Instance"),
    (&["ec2.services.k8s.aws/"], "ec2.services.k8s.aws/Instance"),
    (&["ec2_instance:"], "ansible/amazon.aws.ec2_instance"),
    (&["ec2_launch_template:"], "ansible/amazon.aws.ec2_launch_template"),
];

/// A file that is not YAML as it stands but holds a kind a tool front end judges (a Helm
/// template of an `AWSMachineTemplate`, a playbook with Jinja blocks): one `unknown` record, as
/// its resources cannot be read until it is rendered; `None` for other unparsable files
/// (still ignored quietly, as before).
pub fn unrendered(file: &str, text: &str, line: usize, message: &str) -> Option<Record> {
    let (_, rtype) = UNRENDERED.iter().find(|(needles, _)| needles.iter().all(|n| text.contains(n)))?;
    let why = format!(
        "not YAML as it stands (line {line}: {message}): a template (Helm, Jinja) whose {} resources can only be checked once rendered, e.g. `helm template … | imdswatch iac -`",
        Tool::of(rtype).map_or("", Tool::name)
    );
    let tool = Tool::of(rtype)?;
    let fact = launcher(tool, "(unrendered template)".into(), file, line, Own::Unknown { why, line }, Fix::MakeKnown);
    records(vec![Item::new(fact, rtype.to_string())]).into_iter().next()
}
