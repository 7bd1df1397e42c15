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

Exit status: 0 ok, 1 error (unreadable or cut-short input, capture failure), 2 usage error,
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
    /// Find IaC resources (Terraform, CloudFormation, Kubernetes, Packer, Ansible, Pulumi, CDK)
    /// that still allow IMDSv1 (or another cloud's legacy metadata endpoints).
    #[command(after_help = IAC_HELP)]
    Iac(IacArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = "Example:\n  imdswatch completions bash > /etc/bash_completion.d/imdswatch")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: imdswatch(1), or imdswatch-SUBCOMMAND(1).
    #[command(
        after_help = "Example:\n  imdswatch man > /usr/local/share/man/man1/imdswatch.1\n  imdswatch man live > /usr/local/share/man/man1/imdswatch-live.1"
    )]
    Man {
        /// analyze, live or iac.
        subcommand: Option<String>,
    },
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
  sudo imdswatch live --json --output /var/log/imdswatch.ndjson   (reopened on SIGHUP)
  sudo imdswatch live --json --metrics 127.0.0.1:9797             (Prometheus: /metrics, /healthz)";

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    /// One JSON object per request per line (NDJSON).
    Json,
    /// A summary per client address and user agent, then a verdict.
    Table,
    /// AWS Security Finding Format: a JSON array of findings (one per client that would
    /// break) for `aws securityhub batch-import-findings`; needs --aws-region, --aws-account.
    Asff,
    /// OCSF 1.5.0 events, one per line: HTTP Activity per request, Detection Finding per
    /// client that would break.
    Ocsf,
}

/// Output format of `live` (NDJSON lines in each case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LiveFormat {
    /// imdswatch's records (request, stats, verdict).
    Json,
    /// One ASFF finding per client that would break, written again (same Id, later
    /// UpdatedAt) when its verdict changes; needs --aws-region and --aws-account.
    Asff,
    /// OCSF 1.5.0: HTTP Activity per request, Detection Finding per breaking client.
    Ocsf,
}

/// Where `--format asff` findings are imported (Security Hub's account and region).
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// Region of the Security Hub that imports --format asff findings (e.g. eu-west-1).
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,
    /// Account id (12 digits) that imports --format asff findings.
    #[arg(long, value_name = "ACCOUNT")]
    pub aws_account: Option<String>,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Metadata endpoint to watch, as ADDR:PORT ([V6]:PORT for IPv6), optionally =SERVICE
    /// (e.g. 127.0.0.1:8080=ecs_task_credentials); repeatable. Replaces the defaults
    /// 169.254.169.254:80, [fd00:ec2::254]:80, 100.100.100.200:80, 169.254.170.2:80,
    /// 169.254.170.23:80 and [fd00:ec2::23]:80.
    #[arg(long = "endpoint", value_name = "ADDR:PORT[=SERVICE]")]
    pub endpoints: Vec<String>,

    /// Keep only these services' requests (comma-separated: ec2_imds, ecs_task_credentials,
    /// eks_pod_identity, alibaba_imds, oci_imds, gcp_metadata, azure_imds, ibm_metadata,
    /// unknown); the rest are counted in the statistics. Default: all.
    #[arg(long = "service", value_name = "LIST")]
    pub services: Vec<String>,

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
    pub format: Option<AnalyzeFormat>,

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
    pub aws: AwsArgs,

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

    /// Where the node's `/` is mounted, e.g. /host in a DaemonSet: container names, images
    /// and pods are read from runtimes' files under it, the instance id from its DMI.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub host_root: PathBuf,
    /// How processes are found: kernel connect events (perf tracepoint; needs CAP_PERFMON or
    /// CAP_SYS_ADMIN), /proc and sock_diag only, or auto (kernel when available, else procfs).
    #[arg(long, value_enum, value_name = "PATH", default_value = "auto")]
    pub attribution: crate::live::attribution::AttributionPath,
    /// Kernel capture buffer per interface, in MiB (tcpdump's -B, which takes KiB). Default 8,
    /// or 16 on the /proc attribution path (immediate mode: each frame takes a 64 KiB slot,
    /// 256 frames). Raise it when stats records count kernel_drops.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub buffer_size: Option<u16>,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics (and /healthz); off by default.
    /// Bind the node's IP or 127.0.0.1, e.g. --metrics 127.0.0.1:9797.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,

    /// NDJSON flavour: imdswatch's records, ASFF findings or OCSF events (implies --json).
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub format: Option<LiveFormat>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub engine: EngineArgs,
}

const IAC_HELP: &str = "\
Judges aws_instance, launch templates and configurations, Auto Scaling groups, EKS node groups,
spot and EC2 fleets, Batch compute environments, Image Builder infrastructure configurations
(Terraform .tf/.tf.json, plan JSON, CloudFormation) and Karpenter EC2NodeClass manifests;
in Terraform and plans also the other clouds' legacy metadata switches: alicloud_instance and
alicloud_ecs_launch_template (http_tokens), oci_core_instance (are_legacy_imds_endpoints_disabled),
google_compute_instance(_template) and GKE node pools/clusters (disable-legacy-endpoints).

Other IaC tools, each file recognised by its content (default when not set, and its source):
  eksctl ClusterConfig nodeGroups/managedNodeGroups  disableIMDSv1: true (eksctl >= 0.143.0)
  Cluster API AWS AWSMachine(Template), AWSMachinePool,
    AWSManagedMachinePool instanceMetadataOptions    httpTokens: optional (CAPA API default)
  Crossplane Upbound ec2 Instance/LaunchTemplate (v1beta1, v1beta2,
    namespaced), provider-aws, Compositions          EC2 default: optional
  ACK ec2-controller Instance, LaunchTemplate        EC2 default: optional
  Packer amazon-ebs/ebssurrogate/ebsvolume/instance
    (.pkr.hcl, legacy JSON) metadata_options         http_tokens = \"optional\" (plugin default)
  Ansible amazon.aws.ec2_instance, ec2_launch_template  http_tokens: optional (module default)
  Pulumi YAML aws:ec2:Instance, aws:ec2:LaunchTemplate  EC2 default: optional
  AWS CDK: cdk.out templates as CloudFormation (authoritative); .ts/.py source best effort
    (requireImdsv2: true passes, anything else is unknown)
Unresolved variables (${VAR}, {{ }}, var.x without default, Pulumi config) are unknown.
SARIF rule ids per tool: IMDS-EKSCTL, -CAPA, -XP, -ACK, -PACKER, -ANSIBLE, -PULUMI, -CDK (001/002).
With `-` the document is read from standard input: YAML/JSON is recognised by its content
(plan, CloudFormation, Kubernetes), anything else is read as one Terraform file.

Exit status: 0 nothing fails, 3 a resource fails (or is unknown with --strict),
1 a file could not be checked, a path does not exist, or nothing could be checked.";

/// Output format of `iac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IacFormat {
    /// One line per finding with the fix, then a summary.
    Human,
    /// Every checked resource as a JSON record (schema `imdswatch.iac/v1`).
    Json,
    /// SARIF 2.1.0 for code-scanning UIs.
    Sarif,
}

#[derive(Debug, Args)]
pub struct IacArgs {
    /// Files or directories to check (.tf, .tf.json, CloudFormation YAML/JSON, plan JSON,
    /// Kubernetes YAML, .pkr.hcl, playbooks, Pulumi.yaml, CDK .ts/.py); `-` reads standard input. Directories are walked recursively,
    /// skipping .terraform/ and .git/.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = IacFormat::Human)]
    pub format: IacFormat,

    /// Treat `unknown` verdicts as failures (exit 3).
    #[arg(long)]
    pub strict: bool,

    /// Human format: also list resources that pass.
    #[arg(long)]
    pub show_pass: bool,

    /// Human format: print the findings only, without the summary or the coverage note.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Human format: list the module calls that were not followed (remote sources that
    /// `terraform init` has not installed; their resources were not checked). With --strict,
    /// any such call fails the check.
    #[arg(long)]
    pub show_unresolved: bool,
}
