//! Entry point: parse arguments, validate them into a configuration, run a command, and map
//! the result to an exit status that means something.

pub mod args;
mod man;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use args::{AnalyzeFormat, Cli, Command};

use crate::analyze::{AnalyzeConfig, Output};
use crate::endpoint::Endpoints;
use crate::engine::EngineConfig;
use crate::exit::{self, Exit};
use crate::live::LiveConfig;
use crate::sink::asff::AsffTarget;
use crate::sink::findings::FindingFormat;
use std::time::Duration;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // clap's own message (or `--help`/`--version` text), in clap's words.
        Err(e) => {
            let _ = e.print();
            return (if e.use_stderr() { Exit::Usage } else { Exit::Ok }).into();
        }
    };
    let run = match validate(&cli) {
        Ok(r) => r,
        Err((sub, msg)) => {
            let help = sub.map_or_else(|| "imdswatch --help".to_owned(), |s| format!("imdswatch {s} --help"));
            eprintln!("imdswatch: {}\nTry '{help}' for more information.", crate::text::sanitize(&msg));
            return Exit::Usage.into();
        }
    };
    let result = match run {
        Run::Iac(cfg) => imdswatch_iac::run(&cfg).map(|s| {
            ExitCode::from(match s {
                imdswatch_iac::CheckStatus::Clean => Exit::Ok,
                imdswatch_iac::CheckStatus::Findings => Exit::V1Seen,
                imdswatch_iac::CheckStatus::Failed => Exit::Error,
            })
        }),
        Run::Analyze(cfg) => crate::analyze::run(&cfg).map(ExitCode::from).map_err(anyhow::Error::from),
        Run::LiveJson(cfg) => crate::live::run_json(&cfg).map(ExitCode::from).map_err(anyhow::Error::from),
        Run::LiveDashboard(cfg) => crate::live::run_dashboard(&cfg).map(ExitCode::from).map_err(anyhow::Error::from),
        Run::Completions(shell) => print_completions(shell).map(ExitCode::from),
        Run::Man(sub) => print_man(sub.as_deref()).map(ExitCode::from),
    };
    result.unwrap_or_else(|e| {
        eprintln!("imdswatch: {}", crate::text::sanitize_message(&format!("{e:#}")));
        Exit::Error.into()
    })
}

/// A validated command: what to run, with its configuration.
enum Run {
    Iac(imdswatch_iac::IacConfig),
    Analyze(AnalyzeConfig),
    LiveJson(LiveConfig),
    LiveDashboard(LiveConfig),
    Completions(clap_complete::Shell),
    Man(Option<String>),
}

/// Raw arguments to a validated command; every usage error found after parsing comes from
/// here, as one line, with the subcommand whose `--help` to point at.
fn validate(cli: &Cli) -> Result<Run, (Option<&'static str>, String)> {
    let sub = |name: &'static str| move |msg: String| (Some(name), msg);
    Ok(match &cli.command {
        Some(Command::Iac(a)) => Run::Iac(iac_config(a).map_err(sub("iac"))?),
        Some(Command::Analyze(a)) => Run::Analyze(analyze_config(a).map_err(sub("analyze"))?),
        Some(Command::Live(a)) => live_run(a).map_err(sub("live"))?,
        Some(Command::Completions { shell }) => Run::Completions(*shell),
        Some(Command::Man { subcommand }) => Run::Man(subcommand.clone()),
        None => live_run(&cli.live).map_err(|m| (None, m))?,
    })
}

/// Validates the engine options shared by `analyze` and `live`.
fn engine_config(a: &args::EngineArgs) -> Result<EngineConfig, String> {
    if a.max_flows == 0 {
        return Err("--max-flows must be at least 1".into());
    }
    if a.flow_timeout == 0 {
        return Err("--flow-timeout must be at least 1 second".into());
    }
    let services = match a.services.is_empty() {
        true => None,
        false => Some(
            crate::event::ServiceSet::parse_list(&a.services.join(","))
                .map_err(|e| format!("invalid --service: {e}"))?,
        ),
    };
    Ok(EngineConfig {
        endpoints: Endpoints::parse(&a.endpoints)?,
        services,
        max_flows: a.max_flows,
        flow_timeout_us: a.flow_timeout.saturating_mul(1_000_000),
        ..EngineConfig::default()
    })
}

fn analyze_config(a: &args::AnalyzeArgs) -> Result<AnalyzeConfig, String> {
    let output = match a.format {
        _ if a.tui => Output::Tui,
        Some(AnalyzeFormat::Json) => Output::Json,
        Some(AnalyzeFormat::Table) => Output::Table,
        Some(AnalyzeFormat::Asff | AnalyzeFormat::Ocsf) => Output::Json,
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
        findings: match a.format {
            Some(AnalyzeFormat::Asff) => Some(FindingFormat::Asff(asff_target(&a.aws)?)),
            Some(AnalyzeFormat::Ocsf) => Some(FindingFormat::Ocsf),
            _ => None,
        },
    })
}

/// `--aws-region` and `--aws-account`, which `--format asff` needs.
fn asff_target(a: &args::AwsArgs) -> Result<AsffTarget, String> {
    AsffTarget::new(a.aws_region.as_deref(), a.aws_account.as_deref())
}

fn iac_config(a: &args::IacArgs) -> Result<imdswatch_iac::IacConfig, String> {
    if a.paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err("standard input ('-') can be read only once".into());
    }
    Ok(imdswatch_iac::IacConfig {
        paths: a.paths.clone(),
        format: match a.format {
            args::IacFormat::Human => imdswatch_iac::ReportFormat::Human,
            args::IacFormat::Json => imdswatch_iac::ReportFormat::Json,
            args::IacFormat::Sarif => imdswatch_iac::ReportFormat::Sarif,
        },
        strict: a.strict,
        show_pass: a.show_pass,
        quiet: a.quiet,
        show_unresolved: a.show_unresolved,
    })
}

fn live_run(a: &args::LiveArgs) -> Result<Run, String> {
    if !a.host_root.is_dir() {
        return Err(format!("--host-root {}: not a directory", a.host_root.display()));
    }
    let cfg = LiveConfig {
        interfaces: if a.interfaces.is_empty() { vec!["any".to_owned()] } else { a.interfaces.clone() },
        output: a.output.clone(),
        stats_interval: (a.stats_interval > 0).then(|| Duration::from_secs(a.stats_interval)),
        duration: a.duration.map(Duration::from_secs),
        attribution: !a.no_attribution,
        engine: engine_config(&a.engine)?,
        host_root: a.host_root.clone(),
        attribution_path: a.attribution,
        buffer_mib: a.buffer_size,
        metrics: a.metrics,
        findings: match a.format {
            Some(args::LiveFormat::Asff) => Some(FindingFormat::Asff(asff_target(&a.aws)?)),
            Some(args::LiveFormat::Ocsf) => Some(FindingFormat::Ocsf),
            _ => None,
        },
    };
    let json = a.json || a.output.is_some() || a.format.is_some() || !stdout_is_tty();
    Ok(if json { Run::LiveJson(cfg) } else { Run::LiveDashboard(cfg) })
}

/// `imdswatch completions SHELL`: generated from the one clap definition.
fn print_completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // clap_complete panics on a write error: generate into memory, then write once.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "imdswatch", &mut script);
    write_stdout(&script)
}

/// Writes a whole generated text to standard output; a reader that left (`| head -1`) ends
/// the job quietly with status 0, as in `analyze`.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(anyhow::anyhow!("writing output: {e}")),
    }
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
    write_stdout(&man::render(page)?)
}

/// True when standard output is a terminal (dashboard and table defaults).
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}
