//! Progress of a long analysis on standard error: bytes read across all input files, the
//! file at hand, throughput and time left. Counted where the bytes are read, so the packet
//! path never sees it. Shown only when standard error is a terminal (never in a log or a
//! pipe) and not with `--quiet`; cleared before anything else is printed.

use std::io::Read;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this are read in well under a second: no bar.
const MIN_BYTES: u64 = 64 << 20;
/// Redraws per second, at most.
const HZ: u8 = 4;

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `files`, or nothing when `enabled` is false or the input is small.
    /// Standard input (`-`) has no known size: a byte counter is shown instead.
    pub fn new(files: &[PathBuf], enabled: bool) -> Progress {
        if !enabled {
            return Progress { bar: None };
        }
        let total: Option<u64> = files
            .iter()
            .map(|f| if f.as_os_str() == "-" { None } else { std::fs::metadata(f).ok().map(|m| m.len()) })
            .sum();
        let target = ProgressDrawTarget::stderr_with_hz(HZ);
        let bar = match total {
            Some(t) if t < MIN_BYTES => return Progress { bar: None },
            Some(t) => ProgressBar::with_draw_target(Some(t), target).with_style(style(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta} left",
                ProgressStyle::default_bar(),
            )),
            None => ProgressBar::with_draw_target(None, target)
                .with_style(style("{spinner} {msg} {bytes} read, {bytes_per_sec}", ProgressStyle::default_spinner())),
        };
        Progress { bar: Some(bar) }
    }

    /// Counts what is read from `input`, the file at `path`.
    pub fn wrap(&self, path: &Path, input: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        match &self.bar {
            Some(bar) => {
                bar.set_message(crate::text::safe_path(path));
                Box::new(bar.wrap_read(input))
            }
            None => input,
        }
    }

    /// Runs `f` (which prints) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    /// An analysis that stops early (a closed pipe) leaves no bar behind.
    fn drop(&mut self) {
        self.finish();
    }
}

/// A style from a template, or `fallback` if the template were refused.
fn style(template: &str, fallback: ProgressStyle) -> ProgressStyle {
    match ProgressStyle::with_template(template) {
        Ok(s) => s.progress_chars("=> "),
        Err(_) => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_or_small_inputs_get_no_bar() {
        let dir = tempfile::tempdir().expect("tempdir");
        let small = dir.path().join("small.pcap");
        std::fs::write(&small, [0u8; 100]).expect("write");
        assert!(Progress::new(std::slice::from_ref(&small), false).bar.is_none());
        assert!(Progress::new(&[small], true).bar.is_none());
    }

    #[test]
    fn the_bar_counts_bytes_as_they_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.pcap");
        let f = std::fs::File::create(&big).expect("create");
        f.set_len(MIN_BYTES + 1).expect("sparse file");
        let p = Progress::new(std::slice::from_ref(&big), true);
        let bar = p.bar.clone().expect("a bar for a large input");
        assert_eq!(bar.length(), Some(MIN_BYTES + 1));
        let mut input = p.wrap(&big, Box::new(&[1u8; 1000][..]));
        std::io::copy(&mut input, &mut std::io::sink()).expect("read");
        assert_eq!(bar.position(), 1000);
        assert_eq!(bar.message(), big.display().to_string());
        p.finish();
        assert!(bar.is_finished());
    }

    #[test]
    fn standard_input_gets_a_counter_without_a_total() {
        let p = Progress::new(&[PathBuf::from("-")], true);
        assert_eq!(p.bar.as_ref().and_then(ProgressBar::length), None);
        assert!(p.bar.is_some());
    }
}
