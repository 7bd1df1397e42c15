//! How a live row is labelled: the executable's name, and for an interpreter the script it
//! runs with its arguments (`python3 sdk.py boto3`). Rows themselves are the clients of the
//! per-client aggregate (`verdict::ClientKey`: executable + command line + user agent +
//! container), so two rows may share a label and differ in their user agent or arguments.

use super::text::sanitize;

/// Interpreters whose script, not the interpreter, names the program.
const INTERPRETERS: &[&str] = &["python", "node", "ruby", "perl", "php", "bash", "sh", "dash", "java", "deno", "bun"];

/// Longest argument text kept in a label.
const MAX_ARGS: usize = 64;

/// The script an interpreter runs (its first argument that is not an option) and the
/// arguments after it, for the label: `python3 sdk.py boto3` and `python3 sdk.py boto2` are
/// two programs (issue 13).
pub fn program_of(exe_name: &str, cmdline: &str) -> Option<String> {
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
