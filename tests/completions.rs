//! `imdswatch completions SHELL` and `imdswatch man [SUBCOMMAND]` come from the one clap
//! definition: every flag appears, and the bash script is valid bash.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_imdswatch")).args(args).output().expect("run imdswatch");
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn completions_cover_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        for word in ["analyze", "live", "iac", "--metrics", "--fail-on-v1", "--endpoint", "--max-flows"] {
            // fish names long flags without the dashes (`-l metrics`).
            assert!(out.contains(word.trim_start_matches("--")), "{shell} completion lacks {word}");
        }
    }
    let (_, bash) = run(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("imdswatch.bash");
    std::fs::write(&f, bash).expect("write");
    let st = Command::new("bash").arg("-n").arg(&f).status().expect("bash -n");
    assert!(st.success(), "the bash completion does not parse");
    let (code, _) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
}

#[test]
fn man_pages_render_from_the_cli_definition() {
    let (code, page) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(page.starts_with(".ie") || page.contains(".TH imdswatch 1"), "{page}");
    assert!(page.contains(".TH imdswatch 1"));
    assert!(page.contains("analyze") && page.contains("\\-\\-metrics"));
    for sub in ["analyze", "live", "iac"] {
        let (code, page) = run(&["man", sub]);
        assert_eq!(code, 0, "{sub}");
        assert!(
            page.contains(&format!(".TH imdswatch\\-{sub} 1")) || page.contains(&format!(".TH imdswatch-{sub} 1")),
            "{sub}: {}",
            &page[..200.min(page.len())]
        );
    }
    let (_, live) = run(&["man", "live"]);
    assert!(live.contains("\\-\\-no\\-attribution"));
    assert_eq!(run(&["man", "nosuch"]).0, 2);
}

/// Issue 27, item 7: every option of every page has a description (`--duration` had none:
/// hidden from `-h`, clap_mangen dropped its text), no section is titled EXTRA, and every
/// `imdswatch-NAME(1)` a page refers to is a page `imdswatch man NAME` renders.
#[test]
fn man_pages_describe_every_option_and_refer_only_to_real_pages() {
    for sub in [None, Some("analyze"), Some("live"), Some("iac")] {
        let args: Vec<&str> = std::iter::once("man").chain(sub).collect();
        let (code, page) = run(&args);
        assert_eq!(code, 0, "{args:?}");
        let what = sub.unwrap_or("imdswatch");
        assert!(!page.contains(".SH EXTRA"), "{what}: a section titled EXTRA");
        let lines: Vec<&str> = page.lines().collect();
        let mut in_options = false;
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with(".SH") {
                in_options = *l == ".SH OPTIONS";
            }
            // `.TP`, the option's names, then its description (text, not a macro).
            if in_options && *l == ".TP" {
                let name = lines.get(i + 1).copied().unwrap_or("");
                let next = lines.get(i + 2).copied().unwrap_or(".SH");
                assert!(!next.starts_with('.') && !next.trim().is_empty(), "{what}: {name} has no description");
            }
        }
        for (at, _) in page.match_indices("(1)") {
            let start =
                page[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '\\')).map_or(0, |p| p + 1);
            let name = page[start..at].replace('\\', "");
            let Some(target) = name.strip_prefix("imdswatch-") else { continue };
            assert_eq!(
                run(&["man", target]).0,
                0,
                "{what} refers to {name}(1), which `imdswatch man {target}` refuses"
            );
        }
    }
    let (_, live) = run(&["man", "live"]);
    assert!(live.contains("Stop after this many seconds"), "--duration's description");
}
