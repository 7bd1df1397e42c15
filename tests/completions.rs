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
