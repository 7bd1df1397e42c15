//! What an engineer reads in CI: one line per finding, the fix to paste, a summary.

use std::fmt::Write as _;

use super::Summary;
use crate::verdict::{Record, ResourceVerdict, Unresolved};

/// What the human report shows besides findings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Show {
    /// List passes too.
    pub pass: bool,
    /// Unknown verdicts fail the check (the summary says so).
    pub strict: bool,
    /// Findings only: no summary, no coverage note.
    pub quiet: bool,
    /// List the module calls that were not followed.
    pub unresolved: bool,
}

pub fn render(records: &[Record], unresolved: &[Unresolved], show: Show) -> String {
    let (show_pass, strict, quiet) = (show.pass, show.strict, show.quiet);
    let mut out = String::new();
    for r in records {
        if r.verdict == ResourceVerdict::Pass && !show_pass {
            continue;
        }
        let label = match r.verdict {
            ResourceVerdict::Pass => "pass",
            ResourceVerdict::Fail => "FAIL",
            ResourceVerdict::Unknown => "UNKNOWN",
            ResourceVerdict::ParseError => "ERROR",
        };
        let (file, reason) = (clean(&r.file), clean(&r.reason));
        if r.verdict == ResourceVerdict::ParseError {
            let _ = writeln!(out, "{file}:{}: {label} — {reason}", r.line);
            continue;
        }
        let _ = writeln!(out, "{file}:{}: {}: {label} — {reason}", r.line, clean(&r.resource));
        if let Some(fix) = &r.fix {
            let (what, text) = super::fix::parts(r, fix);
            let _ = writeln!(out, "    fix: {}", clean(&what));
            for l in text.lines() {
                let _ = writeln!(out, "      {}", clean(l));
            }
        }
    }
    if show.unresolved {
        for u in unresolved {
            let _ = writeln!(out, "{}:{}: {}: not followed — {}", u.file, u.line, u.module, u.reason);
        }
    }
    if quiet {
        return out;
    }
    let s = Summary::of(records);
    let _ = write!(
        out,
        "\nimdswatch iac: {} resource{} checked in {} file{}: {} fail, {} unknown, {} pass",
        s.checked,
        plural(s.checked),
        s.files,
        plural(s.files),
        s.fail,
        s.unknown,
        s.pass
    );
    if s.parse_error > 0 {
        let _ = write!(out, ", {} error{}", s.parse_error, plural(s.parse_error));
    }
    out.push('\n');
    if s.unknown > 0 && !strict {
        out.push_str("(unknown verdicts do not fail the check; use --strict to make them fail)\n");
    }
    if !unresolved.is_empty() {
        let n = unresolved.len();
        let _ = writeln!(
            out,
            "coverage: {n} module call{} not followed (a remote source that `terraform init` has not installed): {} resources were not checked; {}",
            plural(n),
            if n == 1 { "its" } else { "their" },
            if show.unresolved {
                "run `terraform init`, or check the plan (`terraform show -json`)"
            } else {
                "--show-unresolved lists them"
            }
        );
    }
    out
}

/// Text read from the checked files (a task name, a manifest's name, an expression) as it may
/// reach a terminal: control characters (escape sequences, newlines) are shown escaped.
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
