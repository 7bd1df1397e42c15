//! Entry point: parse arguments, validate them into a configuration, run a command, and map
//! the result to an exit status that means something.

pub mod args;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, Format};

use crate::analyze::{AnalyzeConfig, Output};
use crate::endpoint::Endpoints;
use crate::engine::EngineConfig;
use crate::live::LiveConfig;
use std::time::Duration;

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
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match &cli.command {
        Some(Command::Iac(a)) => crate::iac::run(a),
        Some(Command::Analyze(a)) => match analyze_config(a) {
            Ok(cfg) => crate::analyze::run(&cfg),
            Err(msg) => return usage_error_for("analyze", &msg),
        },
        Some(Command::Live(a)) => run_live(a),
        Some(Command::Completions { shell }) => print_completions(*shell),
        Some(Command::Man { subcommand }) => print_man(subcommand.as_deref()),
        None => run_live(&cli.live),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("imdswatch: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// A usage error of a subcommand: points at that subcommand's help.
fn usage_error_for(sub: &str, msg: &str) -> ExitCode {
    eprintln!("imdswatch: {msg}\nTry 'imdswatch {sub} --help' for more information.");
    ExitCode::from(exit::USAGE)
}

/// Validates the engine options shared by `analyze` and `live`.
fn engine_config(a: &args::EngineArgs) -> Result<EngineConfig, String> {
    if a.max_flows == 0 {
        return Err("--max-flows must be at least 1".into());
    }
    if a.flow_timeout == 0 {
        return Err("--flow-timeout must be at least 1 second".into());
    }
    Ok(EngineConfig {
        endpoints: Endpoints::parse(&a.endpoints)?,
        max_flows: a.max_flows,
        flow_timeout_us: a.flow_timeout.saturating_mul(1_000_000),
        ..EngineConfig::default()
    })
}

fn analyze_config(a: &args::AnalyzeArgs) -> Result<AnalyzeConfig, String> {
    let output = match a.format {
        _ if a.tui => Output::Tui,
        Some(Format::Json) => Output::Json,
        Some(Format::Table) => Output::Table,
        None if stdout_is_tty() => Output::Table,
        None => Output::Json,
    };
    if a.tui && !stdout_is_tty() {
        return Err("--tui needs a terminal (standard output is not one); use --format table or --format json".into());
    }
    if a.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err("standard input ('-') can be read only once".into());
    }
    Ok(AnalyzeConfig {
        files: a.files.clone(),
        output,
        fail_on_v1: a.fail_on_v1,
        quiet: a.quiet,
        progress: !a.quiet && !a.tui && std::io::stderr().is_terminal(),
        engine: engine_config(&a.engine)?,
    })
}

fn run_live(a: &args::LiveArgs) -> anyhow::Result<u8> {
    let engine = match engine_config(&a.engine) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("imdswatch: {msg}\nTry 'imdswatch live --help' for more information.");
            return Ok(exit::USAGE);
        }
    };
    let cfg = LiveConfig {
        interfaces: if a.interfaces.is_empty() { vec!["any".to_owned()] } else { a.interfaces.clone() },
        output: a.output.clone(),
        stats_interval: (a.stats_interval > 0).then(|| Duration::from_secs(a.stats_interval)),
        duration: a.duration.map(Duration::from_secs),
        attribution: !a.no_attribution,
        metrics: a.metrics,
        engine,
    };
    if a.json || a.output.is_some() || !stdout_is_tty() {
        crate::live::run_json(&cfg)
    } else {
        crate::live::run_dashboard(&cfg)
    }
}

/// `imdswatch completions SHELL`: generated from the one clap definition.
fn print_completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "imdswatch", &mut std::io::stdout());
    Ok(exit::OK)
}

/// `imdswatch man [SUBCOMMAND]`: a manual page, generated from the one clap definition.
fn print_man(sub: Option<&str>) -> anyhow::Result<u8> {
    let root = <Cli as clap::CommandFactory>::command();
    let page = match sub {
        None => root,
        Some(name) => {
            let title = match name {
                "analyze" => "imdswatch-analyze",
                "live" => "imdswatch-live",
                "iac" => "imdswatch-iac",
                _ => {
                    eprintln!("imdswatch: no manual page for '{name}': try analyze, live or iac");
                    return Ok(exit::USAGE);
                }
            };
            let Some(c) = root.find_subcommand(name) else { return Ok(exit::USAGE) };
            c.clone().name(title).bin_name(title)
        }
    };
    clap_mangen::Man::new(page).render(&mut std::io::stdout().lock())?;
    Ok(exit::OK)
}

/// True when standard output is a terminal (dashboard and table defaults).
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}
