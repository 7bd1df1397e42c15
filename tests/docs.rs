//! Issue 27, item 2: every sample output in README.md and docs/*.md is what the binary prints
//! on the bundled captures today. A sample is a fenced block right after a marker line:
//!
//! - `<!-- sample: ARGS -->`: `$ imdswatch ARGS`, then the standard output of
//!   `imdswatch ARGS` run in the repository (ARGS may end with `| head -n N` or `| tail -n N`);
//! - `<!-- sample-tui: WxH ARGS -->`: the screen of `imdswatch ARGS` (a `--tui` run) in a
//!   WxH tmux window once it shows "all loaded", trailing blanks trimmed.
//!
//! A sample that drifts fails the test; `scripts/gen-docs.sh` (this test with
//! `IMDSWATCH_REGEN_DOCS=1`) rewrites them all.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/tmux.rs"]
mod tmux;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MARK: &str = "<!-- sample: ";
const MARK_TUI: &str = "<!-- sample-tui: ";

fn documents() -> Vec<PathBuf> {
    let mut v = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "md")).collect()
        })
        .unwrap_or_default();
    docs.sort();
    v.extend(docs);
    v
}

/// `imdswatch ARGS [| head -n N | tail -n N]`: the sample's text.
fn sample(spec: &str) -> String {
    let (cmd, filter) = match spec.split_once(" | ") {
        Some((c, f)) => (c, Some(f)),
        None => (spec, None),
    };
    let out = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .args(cmd.split_whitespace())
        .current_dir(ROOT)
        .output()
        .expect("run imdswatch");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    let kept: Vec<&str> = match filter.map(|f| f.split_whitespace().collect::<Vec<_>>()).as_deref() {
        None => lines,
        Some(["head", "-n", n]) => lines.into_iter().take(n.parse().expect("head -n N")).collect(),
        Some(["tail", "-n", n]) => {
            let n: usize = n.parse().expect("tail -n N");
            lines[lines.len().saturating_sub(n)..].to_vec()
        }
        Some(f) => panic!("unsupported filter {f:?} in sample {spec:?}"),
    };
    let mut text = format!("$ imdswatch {spec}\n");
    for l in kept {
        text.push_str(l);
        text.push('\n');
    }
    text
}

/// The dashboard of `imdswatch ARGS` in a WxH tmux window, or None without tmux.
fn sample_tui(spec: &str) -> Option<String> {
    Command::new("tmux").arg("-V").output().ok()?;
    let (size, args) = spec.split_once(' ').expect("sample-tui: WxH ARGS");
    let (w, h) = size.split_once('x').expect("WxH");
    let s = tmux::Session(format!("imw-docs-{}-{}", std::process::id(), size));
    let script = format!("cd {ROOT} && {} {args}; sleep 60", env!("CARGO_BIN_EXE_imdswatch"));
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &s.0, "-x", w, "-y", h, "sh", "-c", &script])
        .env_remove("TMUX")
        .status()
        .expect("tmux");
    assert!(st.success());
    tmux::wait_for(&s, "all loaded");
    // One more frame: the screen is drawn at most every 100 ms.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let screen = tmux::pane(&s);
    let mut text = String::new();
    for l in screen.lines() {
        text.push_str(l.trim_end());
        text.push('\n');
    }
    Some(text.trim_end_matches('\n').to_string() + "\n")
}

/// A dashboard's title line ends with how long the run took (`took 0.4s`, clipped to the
/// width): compared up to there.
fn volatile(text: &str, tui: bool) -> String {
    match text.split_once('\n') {
        Some((first, rest)) if tui => {
            let first = first.split_once(" took ").map_or(first, |(head, _)| head);
            format!("{first}\n{rest}")
        }
        _ => text.to_string(),
    }
}

#[test]
fn doc_samples_match_the_binary() {
    let regen = std::env::var_os("IMDSWATCH_REGEN_DOCS").is_some();
    let mut drifted = Vec::new();
    let mut checked = 0;
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("read doc");
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut out = String::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            out.push_str(line);
            i += 1;
            let l = line.trim_end();
            let (spec, tui) = if let Some(s) = l.strip_prefix(MARK) {
                (s, false)
            } else if let Some(s) = l.strip_prefix(MARK_TUI) {
                (s, true)
            } else {
                continue;
            };
            let spec = spec.strip_suffix(" -->").expect("marker ends with -->").trim();
            let name = format!("{}:{i}", path.strip_prefix(ROOT).unwrap_or(&path).display());
            assert!(
                lines.get(i).is_some_and(|l| l.starts_with("```")),
                "{name}: a fenced block must follow the marker"
            );
            out.push_str(lines[i]);
            i += 1;
            let start = i;
            while i < lines.len() && !lines[i].starts_with("```") {
                i += 1;
            }
            let current: String = lines[start..i].concat();
            let fresh = if tui {
                match sample_tui(spec) {
                    Some(s) => s,
                    None => {
                        eprintln!("SKIPPED doc_samples_match_the_binary ({name}): tmux is not installed");
                        current.clone()
                    }
                }
            } else {
                sample(spec)
            };
            checked += 1;
            if volatile(&fresh, tui) != volatile(&current, tui) {
                drifted.push(format!("{name}: `{spec}`\n--- in the doc\n{current}--- the binary\n{fresh}"));
            }
            out.push_str(&fresh);
        }
        if regen && out != text {
            std::fs::write(&path, out).expect("rewrite doc");
        }
    }
    assert!(checked >= 4, "only {checked} samples found");
    if !regen {
        assert!(drifted.is_empty(), "samples drifted (run scripts/gen-docs.sh):\n{}", drifted.join("\n"));
    }
}

/// The README stays a front door; its links and those of docs/ lead somewhere.
#[test]
fn readme_is_at_most_400_lines_and_links_resolve() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    let n = readme.lines().count();
    assert!(n <= 400, "README.md has {n} lines");
    // Written on other branches of this round (issue 23's hardening notes, issue 25's IaC doc).
    let elsewhere = ["hardening.md", "hardening-live.md", "iac.md"];
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("read doc");
        let dir = doc.parent().expect("a directory");
        for (at, _) in text.match_indices("](") {
            let target = &text[at + 2..];
            let target = &target[..target.find(')').expect("closing )")];
            let path = target.split('#').next().unwrap_or(target);
            let file = path.rsplit('/').next().unwrap_or(path);
            if path.is_empty() || target.starts_with("http") || elsewhere.contains(&file) {
                continue;
            }
            assert!(dir.join(path).exists(), "{} links to {target}, which does not exist", doc.display());
        }
    }
}

/// The README's Usage block names every option of every subcommand (long or short form), so
/// that a new option cannot go undocumented on the front door.
#[test]
fn readme_usage_names_every_option() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    let usage = readme.split("## Usage").nth(1).and_then(|r| r.split("\n## ").next()).expect("a Usage section");
    for sub in ["analyze", "live", "iac"] {
        let out = Command::new(env!("CARGO_BIN_EXE_imdswatch")).args([sub, "--help"]).output().expect("--help");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in help.lines().map(str::trim_start).filter(|l| l.starts_with('-')) {
            let names: Vec<&str> = line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| w.starts_with('-') && w.len() > 1)
                .take_while(|w| !w.contains('<'))
                .collect();
            let Some(long) = names.iter().find(|n| n.starts_with("--")) else { continue };
            if ["--help", "--version"].contains(long) {
                continue;
            }
            let short = names.iter().find(|n| !n.starts_with("--"));
            let named = usage.contains(&format!("{long} "))
                || usage.contains(&format!("{long}]"))
                || usage.contains(&format!("{long}|"))
                || usage.contains(&format!("{long}`"))
                || short.is_some_and(|s| usage.contains(&format!("{s} ")) || usage.contains(&format!("{s}|")));
            assert!(named, "README's Usage does not name `{sub} {long}`");
        }
    }
}
