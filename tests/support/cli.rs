//! Running the real binary: `imdswatch analyze` on capture files, the one helper every
//! test uses (instead of one private copy per test file).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// The binary under test.
pub fn imdswatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imdswatch"))
}

/// One run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set size in KiB ([`analyze_measured`] only; else 0).
    pub peak_kib: u64,
}

impl Run {
    fn of(o: std::process::Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            peak_kib: 0,
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard output as NDJSON, one value per line.
    pub fn all_json(&self) -> Vec<serde_json::Value> {
        self.stdout.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
    }

    /// The request records of the NDJSON output (the closing `verdict` record is checked
    /// apart, in tests/verdicts.rs).
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.all_json().into_iter().filter(|v| v["type"] == "request").collect()
    }

    /// The closing `imdswatch: N file(s), ... packets, ...` line on standard error.
    pub fn summary_line(&self) -> &str {
        self.stderr.lines().find(|l| l.starts_with("imdswatch: ") && l.contains(" packets, ")).unwrap_or("")
    }

    /// The value of `name=N` on the summary line (0 when absent: only non-zero ones are printed).
    pub fn anomaly(&self, name: &str) -> u64 {
        let line = self.summary_line();
        let Some(at) = line.find(&format!("{name}=")) else {
            return 0;
        };
        line[at + name.len() + 1..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
    }

    pub fn assert_no_panic(&self) {
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(matches!(self.code, Some(0 | 1)), "exit {:?}: {}", self.code, self.stderr);
    }

    pub fn assert_peak_below_mib(&self, mib: u64, case: &str) {
        eprintln!("{case}: peak RSS {} KiB (bound {mib} MiB); {}", self.peak_kib, self.summary_line());
        assert!(self.peak_kib > 0, "no measurement");
        assert!(self.peak_kib <= mib * 1024, "{case}: peak RSS {} KiB over {mib} MiB", self.peak_kib);
    }
}

/// `imdswatch analyze ARGS... FILE`.
pub fn analyze(args: &[&str], file: &Path) -> Run {
    analyze_files(args, &[file])
}

/// `imdswatch analyze ARGS... FILES...`.
pub fn analyze_files<P: AsRef<OsStr>>(args: &[&str], files: &[P]) -> Run {
    Run::of(imdswatch().arg("analyze").args(args).args(files).output().expect("run imdswatch"))
}

/// `imdswatch analyze ARGS... FILE` under `/usr/bin/time`, which measures its peak RSS.
pub fn analyze_measured(args: &[&str], file: &Path) -> Run {
    let dir = file.parent().expect("temp dir");
    let rss = dir.join(format!("{}.rss", file.file_name().and_then(|n| n.to_str()).unwrap_or("x")));
    let o = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(env!("CARGO_BIN_EXE_imdswatch"))
        .arg("analyze")
        .args(args)
        .arg(file)
        .output()
        .expect("run /usr/bin/time imdswatch");
    let peak_kib = std::fs::read_to_string(&rss)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    Run { peak_kib, ..Run::of(o) }
}
