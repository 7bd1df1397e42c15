//! `imdswatch iac`: find Terraform and CloudFormation resources that still allow IMDSv1.
//!
//! Terraform (`.tf`, `.tf.json`, plan JSON) and CloudFormation (YAML/JSON) are read with
//! source positions, values are evaluated where they can be known, inheritance (instance,
//! ASG and EKS node group → launch template) and compensating controls (AMI `imds_support`,
//! account defaults) are followed, and every resource gets `pass`, `fail` or `unknown`.

pub mod cloudformation;
pub mod discover;
pub mod plan;
pub mod report;
pub mod rules;
pub mod terraform;
pub mod tree;
pub mod verdict;

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use verdict::{Record, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per finding with the fix, then a summary.
    Human,
    /// Every checked resource as a JSON record (schema `imdswatch.iac/v1`).
    Json,
    /// SARIF 2.1.0 for code-scanning UIs.
    Sarif,
}

#[derive(Debug, Args)]
pub struct IacArgs {
    /// Files or directories to check (.tf, .tf.json, CloudFormation YAML/JSON, plan JSON).
    /// Directories are walked recursively, skipping .terraform/ and .git/.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Treat `unknown` verdicts as failures (exit 3).
    #[arg(long)]
    pub strict: bool,

    /// Human format: also list resources that pass.
    #[arg(long)]
    pub show_pass: bool,
}

/// Runs the check; returns the process exit status (0 clean, 3 findings, 1 errors).
pub fn run(args: &IacArgs) -> anyhow::Result<u8> {
    let records = check_paths(&args.paths);
    let text = match args.format {
        Format::Human => report::human::render(&records, args.show_pass, args.strict),
        Format::Json => report::json::render(&records)?,
        Format::Sarif => report::sarif::render(&records)?,
    };
    print!("{text}");
    Ok(exit_code(&records, args.strict))
}

/// 1 when a file could not be checked, else 3 when something fails (or is unknown with
/// `--strict`), else 0.
pub fn exit_code(records: &[Record], strict: bool) -> u8 {
    use crate::cli::exit;
    if records.iter().any(|r| r.verdict == Verdict::ParseError) {
        exit::ERROR
    } else if records.iter().any(|r| r.verdict == Verdict::Fail || (strict && r.verdict == Verdict::Unknown)) {
        exit::V1_SEEN
    } else {
        exit::OK
    }
}

/// Checks everything under the given paths; records are sorted by file, then line.
pub fn check_paths(paths: &[PathBuf]) -> Vec<Record> {
    let inputs = discover::discover(paths);
    let mut records: Vec<Record> = inputs
        .errors
        .iter()
        .map(|e| match e {
            discover::DiscoverError::Io { path, source } => Record::parse_error(Path::new(path), 1, source.to_string()),
        })
        .collect();
    records.extend(terraform::check_dirs(&inputs.tf_dirs));
    for doc in &inputs.documents {
        records.extend(check_document(doc, paths.iter().any(|p| p == doc)));
    }
    verdict::sort_records(&mut records);
    records
}

/// A YAML/JSON file: CloudFormation, a plan, or something else (skipped). Parse errors are
/// reported for files named on the command line and for files that look like templates.
fn check_document(file: &Path, explicit: bool) -> Vec<Record> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return vec![Record::parse_error(file, 1, e.to_string())],
    };
    match tree::parse(&text) {
        Ok(root) if plan::is_plan(&root) => plan::check(file, &root),
        Ok(root) if cloudformation::is_template(&root) => cloudformation::check(file, &root),
        Ok(_) => Vec::new(),
        Err(e) => {
            let looks_relevant =
                ["AWSTemplateFormatVersion", "AWS::", "resource_changes"].iter().any(|k| text.contains(k));
            if explicit || looks_relevant { vec![Record::parse_error(file, e.line, e.message)] } else { Vec::new() }
        }
    }
}
