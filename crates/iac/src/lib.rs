//! `imdswatch iac` (the `imdswatch-iac` crate): find Terraform, CloudFormation, Kubernetes
//! (Karpenter, eksctl, Cluster API AWS, Crossplane, ACK), Packer, Ansible, Pulumi YAML and AWS
//! CDK resources that still allow IMDSv1 (the tools beyond Terraform and CloudFormation:
//! `tools`).
//!
//! Terraform (`.tf`, `.tf.json`, plan JSON), CloudFormation (YAML/JSON) and Kubernetes YAML
//! (Karpenter `EC2NodeClass`) are read with source positions; each front end extracts facts
//! (own metadata options, templates launched, image, account default) and `rules` judges them
//! all: inheritance (instance, ASG, node group, fleet, Batch → launch template) and
//! compensating controls (AMI `imds_support`, account defaults) are followed, and every
//! resource gets `pass`, `fail` or `unknown`. The other clouds' legacy metadata switches
//! (Alibaba `http_tokens`, OCI legacy endpoints, Google `disable-legacy-endpoints`) are judged
//! the same way in Terraform and plans (`clouds`).

pub mod aws_types;
pub mod cloudformation;
pub mod clouds;
pub mod discover;
pub mod fact;
pub mod input;
pub mod karpenter;
pub mod plan;
pub mod report;
pub mod rules;
pub mod terraform;
pub mod tool;
pub mod tools;
pub mod tree;
pub mod verdict;

use std::path::{Path, PathBuf};

use verdict::{Record, ResourceVerdict};

/// Output format (validated from the command line by `cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One line per finding with the fix, then a summary.
    Human,
    /// Every checked resource as a JSON record (schema `imdswatch.iac/v1`).
    Json,
    /// SARIF 2.1.0 for code-scanning UIs.
    Sarif,
}

/// What `imdswatch iac` was asked to do.
#[derive(Debug, Clone)]
pub struct IacConfig {
    /// Files or directories; `-` is standard input.
    pub paths: Vec<PathBuf>,
    pub format: ReportFormat,
    /// `unknown` verdicts fail the check.
    pub strict: bool,
    /// Human format: list passes too.
    pub show_pass: bool,
    /// Human format: findings only, no summary.
    pub quiet: bool,
    /// Human format: list the module calls that were not followed.
    pub show_unresolved: bool,
}

/// How a check ended; the binary turns it into its exit status (0, 3, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Every resource passes (or is `unknown` without `--strict`).
    Clean,
    /// A resource allows IMDSv1 (or is `unknown` with `--strict`).
    Findings,
    /// A file could not be checked, or there was nothing to check.
    Failed,
}

/// The name standard input gets in records.
pub const STDIN_NAME: &str = "<stdin>";

/// Runs the check and prints the report; returns how it ended.
pub fn run(cfg: &IacConfig) -> anyhow::Result<CheckStatus> {
    if let Some(missing) = cfg.paths.iter().find(|p| p.as_os_str() != "-" && std::fs::symlink_metadata(p).is_err()) {
        eprintln!("imdswatch iac: {}: no such file or directory", verdict::display_path(missing));
        return Ok(CheckStatus::Failed);
    }
    let stdin = if cfg.paths.iter().any(|p| p.as_os_str() == "-") {
        let text = input::read_to_cap(std::io::stdin().lock(), input::MAX_DOCUMENT_BYTES)
            .map_err(|e| anyhow::anyhow!("reading standard input: {e}"))?;
        Some(text)
    } else {
        None
    };
    let files: Vec<PathBuf> = cfg.paths.iter().filter(|p| p.as_os_str() != "-").cloned().collect();
    let checked = check_inputs(&files, stdin.as_deref());
    if checked.iac_files == 0 && checked.records.is_empty() {
        let what: Vec<String> = cfg.paths.iter().map(|p| verdict::display_path(p)).collect();
        eprintln!(
            "imdswatch iac: nothing to check in {}: no Terraform (.tf, .tf.json), plan JSON, CloudFormation, Kubernetes (Karpenter, eksctl, Cluster API, Crossplane, ACK), Packer, Ansible, Pulumi or CDK file found",
            what.join(", ")
        );
        return Ok(CheckStatus::Failed);
    }
    let (records, unresolved) = (checked.records, checked.unresolved);
    let text = match cfg.format {
        ReportFormat::Human => {
            let show = report::human::Show {
                pass: cfg.show_pass,
                strict: cfg.strict,
                quiet: cfg.quiet,
                unresolved: cfg.show_unresolved,
            };
            report::human::render(&records, &unresolved, show)
        }
        ReportFormat::Json => report::json::render(&records, &unresolved)?,
        ReportFormat::Sarif => report::sarif::render(&records, &unresolved)?,
    };
    // `imdswatch iac . | head -1`: a reader that leaves ends the job, quietly, as in `analyze`.
    match write_stdout(text.as_bytes()) {
        Ok(()) => Ok(status(&records, !cfg.strict || unresolved.is_empty(), cfg.strict)),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(CheckStatus::Clean),
        Err(e) => Err(anyhow::anyhow!("writing output: {e}")),
    }
}

/// Writes the whole report to standard output (errors, a closed pipe included, are returned,
/// never panicked on as `print!` does).
fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// `Failed` when a file could not be checked, else `Findings` when something fails (or, with
/// `--strict`, is unknown or sits in a module that was not followed: `complete` is false),
/// else `Clean`.
pub fn status(records: &[Record], complete: bool, strict: bool) -> CheckStatus {
    if records.iter().any(|r| r.verdict == ResourceVerdict::ParseError) {
        CheckStatus::Failed
    } else if !complete
        || records
            .iter()
            .any(|r| r.verdict == ResourceVerdict::Fail || (strict && r.verdict == ResourceVerdict::Unknown))
    {
        CheckStatus::Findings
    } else {
        CheckStatus::Clean
    }
}

/// The records, the module calls not followed, and how many IaC files (Terraform directories
/// count their files) were read.
#[derive(Debug, Default)]
pub struct Checked {
    pub records: Vec<Record>,
    pub unresolved: Vec<verdict::Unresolved>,
    pub iac_files: usize,
}

/// Checks everything under the given paths; records are sorted by file, then line.
pub fn check_paths(paths: &[PathBuf]) -> Vec<Record> {
    check_inputs(paths, None).records
}

/// Checks the paths and, when given, the text read from standard input.
pub fn check_inputs(paths: &[PathBuf], stdin: Option<&str>) -> Checked {
    let inputs = discover::discover(paths);
    let records = inputs
        .errors
        .iter()
        .map(|e| match e {
            discover::DiscoverError::Io { path, source } => Record::parse_error(Path::new(path), 1, source.to_string()),
        })
        .collect();
    let mut out = Checked { records, ..Checked::default() };
    out.iac_files += inputs.tf_dirs.len();
    // Documents first: the images Packer builds are AMI controls for the Terraform resources
    // that boot them by name.
    let mut images = Vec::new();
    for doc in &inputs.documents {
        let text = match input::read_capped(doc, input::MAX_DOCUMENT_BYTES) {
            Ok(t) => t,
            Err(e) => {
                out.records.push(Record::parse_error(doc, 1, e.to_string()));
                continue;
            }
        };
        let name = doc.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if tools::packer::is_hcl(&name) {
            out.iac_files += 1;
            let (records, built) = tools::packer::check_hcl(doc, &verdict::display_path(doc), &text);
            out.records.extend(records);
            images.extend(built);
            continue;
        }
        if let Some(records) = check_document(doc, &text, paths.iter().any(|p| p == doc), &mut images) {
            out.iac_files += 1;
            out.records.extend(records);
        }
    }
    let tf = terraform::check_dirs_with_images(&inputs.tf_dirs, &images);
    out.records.extend(tf.records);
    out.unresolved.extend(tf.unresolved);
    for src in &inputs.sources {
        let Ok(text) = input::read_capped(src, tools::cdk::MAX_SOURCE_BYTES) else { continue };
        if let Some(records) = tools::cdk::check(&verdict::display_path(src), &text) {
            out.iac_files += 1;
            out.records.extend(records);
        }
    }
    if let Some(text) = stdin.filter(|t| !t.trim().is_empty()) {
        let name = Path::new(STDIN_NAME);
        out.iac_files += 1;
        match check_document(name, text, false, &mut Vec::new()) {
            Some(records) => out.records.extend(records),
            // HCL with an amazon `source` block: a Packer template.
            None if text.contains("source \"amazon-") => {
                out.records.extend(tools::packer::check_hcl(name, STDIN_NAME, text).0);
            }
            // Not a YAML/JSON document of a known kind: one Terraform file.
            None => {
                let tf = terraform::check_text(name, text);
                out.records.extend(tf.records);
                out.unresolved.extend(tf.unresolved);
            }
        }
    }
    verdict::sort_records(&mut out.records);
    out
}

/// A YAML/JSON file: CloudFormation, a plan, a legacy Packer template, a Pulumi YAML program,
/// Kubernetes manifests (Karpenter, eksctl, Cluster API, Crossplane, ACK; other kinds ignored),
/// an Ansible playbook, or something else (`None`). Parse errors are reported for
/// files named on the command line and for files that look like templates.
fn check_document(file: &Path, text: &str, explicit: bool, images: &mut Vec<fact::BuiltImage>) -> Option<Vec<Record>> {
    match tree::parse_documents(text) {
        Ok(docs) => {
            let first = docs.first()?;
            if plan::is_plan(first) {
                return Some(plan::check(file, first));
            }
            if cloudformation::is_template(first) {
                let mut records = cloudformation::check(file, first);
                // A JSON template gets its fixes in JSON.
                let json = text.trim_start().starts_with('{');
                records.iter_mut().for_each(|r| r.json_source = json);
                return Some(records);
            }
            let display = verdict::display_path(file);
            if tools::packer::is_json_template(first) {
                let (records, built) = tools::packer::check_json(&display, first);
                images.extend(built);
                return Some(records);
            }
            if tools::pulumi::is_program(first) {
                return Some(tools::pulumi::check(&display, first));
            }
            let classes: Vec<&tree::Node> = docs.iter().filter(|d| karpenter::is_node_class(d)).collect();
            let karpenter = (!classes.is_empty()).then(|| karpenter::check(file, &classes));
            let manifests = tools::check_manifests(&display, &docs);
            let ansible = tools::ansible::check(&display, &docs);
            match (karpenter, manifests, ansible) {
                (None, None, None) => None,
                (k, m, a) => Some(k.into_iter().chain(m).chain(a).flatten().collect()),
            }
        }
        Err(e) => {
            let looks_relevant = ["AWSTemplateFormatVersion", "AWS::", "resource_changes", "EC2NodeClass"]
                .iter()
                .any(|k| text.contains(k));
            if explicit || looks_relevant {
                return Some(vec![Record::parse_error(file, e.line, e.message)]);
            }
            // A Helm chart or Jinja template of a judged kind: unknown until rendered.
            tools::unrendered(&verdict::display_path(file), text, e.line, &e.message).map(|r| vec![r])
        }
    }
}
