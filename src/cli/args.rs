//! The command line as clap sees it: plain data, no I/O. `cli::mod` validates it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Find every process still calling the EC2 instance metadata service (IMDS) with IMDSv1.";

const LONG_ABOUT: &str = "\
Find every process still calling the EC2 instance metadata service (IMDS) with IMDSv1,
so that IMDSv2 can be enforced (http_tokens = required) without breaking production.

imdswatch only listens: it never sends a packet to the metadata service.";

const AFTER_HELP: &str = "\
Examples:
  sudo imdswatch                          live dashboard of this host's IMDS traffic
  sudo imdswatch live --json -o imds.log  headless NDJSON for a log pipeline
  imdswatch analyze incident.pcapng       who used IMDSv1 in a capture
  imdswatch analyze --fail-on-v1 *.pcap   exit 3 if a client would break under IMDSv2 (CI gate)
  imdswatch iac ./terraform               Terraform/CloudFormation still allowing IMDSv1

Exit status: 0 ok, 1 error (unreadable input, capture failure), 2 usage error,
3 a client would break with --fail-on-v1 (or IaC findings).";

#[derive(Debug, Parser)]
#[command(name = "imdswatch", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `live`, which runs when no subcommand is given.
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify every IMDS request in pcap/pcapng capture files.
    #[command(after_help = ANALYZE_HELP)]
    Analyze(AnalyzeArgs),
    /// Watch this host's IMDS traffic live and attribute each request to its process.
    #[command(after_help = LIVE_HELP)]
    Live(LiveArgs),
    /// Find Terraform and CloudFormation resources that still allow IMDSv1.
    Iac(crate::iac::IacArgs),
}

const ANALYZE_HELP: &str = "\
Each request is classified as v1 (no token), v2 (carries X-aws-ec2-metadata-token) or
token_request (PUT /latest/api/token), with the answer's status or no_response.
Reads pcap and pcapng (any mix of link types: Ethernet with VLAN tags, Linux cooked v1/v2,
raw IP, BSD loopback). Token values and response bodies are never printed.

Examples:
  imdswatch analyze capture.pcap
  imdswatch analyze --format json capture.pcapng | jq 'select(.imds.version == \"v1\")'
  imdswatch analyze --endpoint 127.0.0.1:1338 mock.pcap";

const LIVE_HELP: &str = "\
Needs CAP_NET_RAW to capture; CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to name processes of
other users (or run as root). The dashboard is shown when stdout is a terminal; --json, or a
stdout that is not a terminal, writes NDJSON instead.

Examples:
  sudo imdswatch live
  sudo imdswatch live --json --output /var/log/imdswatch.ndjson   (reopened on SIGHUP)";

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per request per line (NDJSON).
    Json,
    /// A summary per client address and user agent, then a verdict.
    Table,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// IMDS endpoint to watch, as ADDR:PORT ([V6]:PORT for IPv6); repeatable. Replaces the
    /// defaults 169.254.169.254:80 and [fd00:ec2::254]:80.
    #[arg(long = "endpoint", value_name = "ADDR:PORT")]
    pub endpoints: Vec<String>,

    /// Most TCP connections tracked at once; the least recently active are evicted (counted) beyond it.
    #[arg(long, value_name = "N", default_value_t = 16_384, hide_short_help = true)]
    pub max_flows: usize,

    /// A connection idle this long is closed; its unanswered requests become no_response.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, hide_short_help = true)]
    pub flow_timeout: u64,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<Format>,

    /// Exit with status 3 when a client would break under enforcement (verdict breaks,
    /// hop_limit, proxy_refused or falls_back: IMDSv1 answered 2xx; other clouds' probes and
    /// requests already refused do not count).
    #[arg(long)]
    pub fail_on_v1: bool,

    /// Browse the results in the interactive dashboard.
    #[arg(long, conflicts_with = "format")]
    pub tui: bool,

    /// Do not print warnings, the progress bar or the statistics line on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on; repeatable. `any` (the default) sees every interface,
    /// containers' veths included.
    #[arg(long = "interface", short = 'i', value_name = "IFACE")]
    pub interfaces: Vec<String>,

    /// Write NDJSON instead of showing the dashboard.
    #[arg(long)]
    pub json: bool,

    /// Append NDJSON to FILE instead of stdout; reopened on SIGHUP (logrotate). Implies --json.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Seconds between `stats` records (0 turns them off).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub stats_interval: u64,

    /// Stop after this many seconds (for scripts and tests).
    #[arg(long, value_name = "SECONDS", hide_short_help = true)]
    pub duration: Option<u64>,

    /// Do not look up which process made each request.
    #[arg(long)]
    pub no_attribution: bool,

    #[command(flatten)]
    pub engine: EngineArgs,
}
