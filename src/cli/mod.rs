//! Entry point: parse arguments, validate them into a configuration, run a command, and map
//! the result to an exit status that means something.

pub mod args;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit statuses (documented in `--help` and README).
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const V1_SEEN: u8 = 3;
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match &cli.command {
        Some(Command::Iac(a)) => crate::iac::run(a),
        Some(Command::Analyze(_)) | Some(Command::Live(_)) | None => {
            Err(anyhow::anyhow!("not built yet"))
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("imdswatch: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// True when standard output is a terminal (dashboard and table defaults).
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}
