//! What `imdswatch man` renders: the clap definition as a manual page, with sections a man
//! reader expects. Options hidden from the short `-h` keep their description; clap's
//! `after_help` is split into DESCRIPTION text, EXAMPLES and EXIT STATUS (clap_mangen would
//! put it all under a section titled EXTRA); the helper subcommands without a page of their
//! own (`completions`, `man`, `help`) are described in the text instead of being listed as
//! `imdswatch-completions(1)`.

use clap::Command;
use clap_mangen::roff::{Roff, roman};

const HELPERS: &str = "\
Shell completions: imdswatch completions bash|zsh|fish|elvish|powershell prints a script on
standard output. These manual pages: imdswatch man prints imdswatch(1), imdswatch man
analyze|live|iac the page of that subcommand.";

/// The page of `cmd` (the root command, or one subcommand renamed `imdswatch-NAME`), in roff.
pub fn render(cmd: Command) -> std::io::Result<Vec<u8>> {
    let root = cmd.get_name() == "imdswatch";
    let mut description = cmd.get_long_about().or_else(|| cmd.get_about()).map(|s| s.to_string()).unwrap_or_default();
    let after = cmd.get_after_long_help().or_else(|| cmd.get_after_help()).map(|s| s.to_string()).unwrap_or_default();
    let (mut examples, mut exit) = (Vec::new(), Vec::new());
    for block in after.split("\n\n").filter(|b| !b.trim().is_empty()) {
        if let Some(rest) = block.strip_prefix("Examples:").or_else(|| block.strip_prefix("Example:")) {
            examples.extend(rest.lines().filter(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned()));
        } else if let Some(rest) = block.strip_prefix("Exit status:") {
            exit.push(rest.trim().to_owned());
        } else {
            description = format!("{description}\n\n{block}");
        }
    }
    if root {
        description = format!("{description}\n\n{HELPERS}");
    }
    let mut cmd = cmd
        .long_about(description)
        .after_help(None::<&str>)
        .after_long_help(None::<&str>)
        .disable_help_subcommand(true)
        .mut_args(|a| if a.is_hide_short_help_set() { a.hide_short_help(false) } else { a });
    for name in ["completions", "man"] {
        if cmd.find_subcommand(name).is_some() {
            cmd = cmd.mut_subcommand(name, |s| s.hide(true));
        }
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    let page = String::from_utf8_lossy(&page).into_owned();

    let mut extra = Roff::new();
    if !examples.is_empty() {
        extra.control("SH", ["EXAMPLES"]).control("nf", []);
        for l in &examples {
            extra.text([roman(l.as_str())]);
        }
        extra.control("fi", []);
    }
    if !exit.is_empty() {
        extra.control("SH", ["EXIT STATUS"]);
        for l in &exit {
            extra.text([roman(l.as_str())]);
        }
    }
    // Without the apostrophe preamble `render` starts with: the page has it already.
    let extra = extra.render();
    let extra = extra.split_once(".el .ds Aq '\n").map_or(extra.as_str(), |(_, body)| body).to_owned();
    let at = page.find("\n.SH VERSION").map_or(page.len(), |i| i + 1);
    let mut out = page[..at].to_owned();
    out.push_str(&extra);
    out.push_str(&page[at..]);
    Ok(out.into_bytes())
}
