//! `imdswatch iac`: find Terraform and CloudFormation resources that still allow IMDSv1.
//! (Being built: see issue 5.)

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct IacArgs {
    /// Files or directories to check (.tf, .tf.json, CloudFormation YAML/JSON, plan JSON).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Runs the check; returns the process exit status (0 clean, 3 findings, 1 errors).
pub fn run(_args: &IacArgs) -> anyhow::Result<u8> {
    anyhow::bail!("imdswatch iac is not built yet")
}
