//! How records are grouped into rows: live by executable (+ script of an interpreter and its
//! arguments) and container, so a cron job's short-lived pids share a row; offline by client IP + user agent.

use crate::event::{AttributionMiss, RequestRecord};

use super::UiMode;
use super::text::{self, sanitize};

/// What a row groups requests by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKey {
    /// Live, attributed: executable + program (script of an interpreter) + container
    /// (`namespace/pod/container` or the container's name when known, else its id).
    /// Pids are not part of the key, so a cron job's short-lived processes share one row.
    Process { exe: String, program: Option<String>, container: Option<String> },
    /// Live, no process could be named: grouped by reason and client address.
    Unattributed { reason: &'static str, client: String },
    /// Offline: client IP (without port) + user agent.
    Client { ip: String, user_agent: Option<String> },
}

/// Interpreters whose script, not the interpreter, names the program.
const INTERPRETERS: &[&str] = &["python", "node", "ruby", "perl", "php", "bash", "sh", "dash", "java", "deno", "bun"];

/// Longest argument text kept in a row key (the command identity).
const MAX_ARGS: usize = 64;

/// The script an interpreter runs (its first argument that is not an option) and the
/// arguments after it: `python3 sdk.py boto3` and `python3 sdk.py boto2` are two programs
/// with different behaviour and must not share a row (issue 13). A cron job repeating the
/// same command still shares one.
fn program_of(exe_name: &str, cmdline: &str) -> Option<String> {
    let script = script_of(exe_name, cmdline)?;
    let rest: Vec<&str> = cmdline.split_whitespace().skip_while(|a| !script_matches(a, &script)).skip(1).collect();
    if rest.is_empty() {
        return Some(script);
    }
    let args: String = sanitize(&rest.join(" ")).chars().take(MAX_ARGS).collect();
    Some(format!("{script} {args}"))
}

fn script_matches(arg: &str, script: &str) -> bool {
    arg == script || arg.rsplit('/').next() == Some(script)
}

/// The script an interpreter runs: its first argument that is not an option.
fn script_of(exe_name: &str, cmdline: &str) -> Option<String> {
    let base = exe_name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if !INTERPRETERS.contains(&base) {
        return None;
    }
    let mut args = cmdline.split_whitespace().skip(1);
    while let Some(a) = args.next() {
        match a {
            "-m" | "-jar" => return args.next().map(sanitize),
            "-c" | "-e" => return Some(a.to_string()),
            _ if a.starts_with('-') => continue,
            _ => return Some(sanitize(a.rsplit('/').next().unwrap_or(a))),
        }
    }
    None
}

fn miss_str(m: Option<AttributionMiss>) -> &'static str {
    match m {
        Some(AttributionMiss::Exited) => "exited",
        Some(AttributionMiss::NoSocket) => "no socket",
        Some(AttributionMiss::Permission) => "no permission",
        Some(AttributionMiss::Overloaded) => "overloaded",
        Some(AttributionMiss::Remote) => "remote",
        Some(AttributionMiss::Disabled) => "attribution off",
        None => "unknown",
    }
}

pub fn row_key(r: &RequestRecord, mode: UiMode) -> RowKey {
    let ip = sanitize(text::ip_of(&r.network.client));
    let live = match (mode, &r.live) {
        (UiMode::Live, Some(l)) => l,
        _ => {
            return RowKey::Client { ip, user_agent: r.imds.user_agent.as_deref().map(sanitize) };
        }
    };
    match &live.process {
        Some(p) => RowKey::Process {
            exe: sanitize(p.file.path.as_deref().unwrap_or(&p.file.name)),
            program: program_of(&p.file.name, &p.cmdline),
            container: super::workload::identity(live),
        },
        None => RowKey::Unattributed { reason: miss_str(live.attribution), client: ip },
    }
}

/// Live: the process group of a request whose process was named, as one line (executable,
/// script and arguments, `@container`): the dashboard's row key, used for the live verdicts.
pub fn process_group(r: &RequestRecord) -> Option<String> {
    let RowKey::Process { exe, program, container } = row_key(r, UiMode::Live) else { return None };
    let mut s = exe;
    for (sep, part) in [(" ", program), (" @", container)] {
        if let Some(p) = part {
            s.push_str(sep);
            s.push_str(&p);
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_of_interpreters() {
        assert_eq!(program_of("python3", "/usr/bin/python3 -u /opt/app/sync.py --x"), Some("sync.py --x".into()));
        assert_eq!(program_of("python3", "python3 sdk.py boto3"), Some("sdk.py boto3".into()));
        assert_ne!(program_of("python3", "python3 sdk.py boto3"), program_of("python3", "python3 sdk.py boto2"));
        assert_eq!(program_of("python3", "python3 /opt/sync.py"), Some("sync.py".into()));
        assert_eq!(program_of("python3.11", "python3.11 -m awscli s3 ls"), Some("awscli s3 ls".into()));
        assert_eq!(program_of("curl", "curl http://169.254.169.254/"), None);
        assert_eq!(program_of("sh", "sh -c curl"), Some("-c curl".into()));
    }
}
