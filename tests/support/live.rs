//! What the live end-to-end tests share (tests/live_e2e.rs, tests/live_verdicts_e2e.rs): the
//! namespace topology with the mock IMDS, `imdswatch live` monitors, clients, and record
//! helpers. Included with `#[path = "support/live.rs"] mod live;` after `mod host;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::host::{euid, netns_permitted, root, sh};

/// One end-to-end test at a time: each builds namespaces, a monitor and clients, and the
/// attribution of millisecond-lived clients must not compete with another test for the CPU.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why this machine cannot run the test, if it cannot.
pub fn cannot_run(test: &str) -> Option<String> {
    if euid() != 0 {
        return Some("not root".into());
    }
    if !netns_permitted(test) {
        return Some("`ip netns add` is not permitted here".into());
    }
    if !root().join("captures/.venv/bin/python").exists() {
        return Some("botocore venv missing: run scripts/setup.sh".into());
    }
    None
}

/// The namespaces, removed on drop.
pub struct Topology {
    pub prefix: String,
    pub mock: Option<Child>,
}

impl Topology {
    pub fn up(tag: &str) -> Topology {
        let prefix = format!("imw-{tag}{}-", std::process::id() % 100_000);
        let st = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["up", &prefix]));
        assert!(st.status.success(), "netns up: {}", String::from_utf8_lossy(&st.stderr));
        Topology { prefix, mock: None }
    }

    pub fn ns(&self, which: &str) -> String {
        format!("{}{which}", self.prefix)
    }

    pub fn exec(&self, which: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(which)]);
        c
    }

    pub fn start_mock(&mut self, count_file: &Path, extra: &[&str]) {
        let mock = self
            .exec("imds")
            .arg("python3")
            .arg(root().join("captures/mock_imds.py"))
            .args(["--listen", "0.0.0.0:80", "--listen", "[::]:80", "--count-file"])
            .arg(count_file)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the mock");
        self.mock = Some(mock);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            let o = sh(self.exec("imds").args(["ss", "-Hltn", "sport = :80"]));
            if !o.stdout.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the mock did not start listening");
    }

    /// Stops the mock (SIGTERM) so that it writes its count file.
    pub fn stop_mock(&mut self) {
        if let Some(mut m) = self.mock.take() {
            let _ = sh(Command::new("kill").args(["-TERM", &m.id().to_string()]));
            let _ = m.wait();
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.stop_mock();
        let _ = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["down", &self.prefix]));
    }
}

/// `imdswatch live --json` running in the host namespace.
pub struct Monitor {
    pub child: Child,
    pub out: PathBuf,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // A failed assertion must not leave a monitor running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type ErrLines = std::io::Lines<BufReader<std::process::ChildStderr>>;

impl Monitor {
    /// `imdswatch ARGS` in the host namespace, once it says it is capturing; its stderr
    /// lines after that one.
    pub fn spawn(t: &Topology, args: &[&str], out: &Path) -> (Monitor, ErrLines) {
        let child = t
            .exec("host")
            .arg(env!("CARGO_BIN_EXE_imdswatch"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imdswatch");
        let mut mon = Monitor { child, out: out.to_owned() };
        let stderr = mon.child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.contains("capturing on"), "imdswatch did not start: {first}");
        (mon, lines)
    }

    pub fn start(t: &Topology, out: &Path, extra: &[&str]) -> Monitor {
        let args: Vec<&str> = ["live", "--json", "--stats-interval", "1"].iter().chain(extra).copied().collect();
        Monitor::start_args(t, out, &args)
    }

    /// `imdswatch ARGS` (a `live --json` invocation) writing to `out`, once it captures.
    pub fn start_args(t: &Topology, out: &Path, args: &[&str]) -> Monitor {
        let mut child = t
            .exec("host")
            .arg(env!("CARGO_BIN_EXE_imdswatch"))
            .args(args)
            .stdout(std::fs::File::create(out).expect("output file"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imdswatch");
        // Wait for "capturing on ...": the filter is in place.
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.contains("capturing on any"), "imdswatch did not start: {first}");
        std::thread::spawn(move || for _ in lines {});
        Monitor { child, out: out.to_owned() }
    }

    /// SIGTERM, then the records written.
    pub fn stop(&mut self) -> (Vec<Value>, i32) {
        std::thread::sleep(Duration::from_millis(300));
        let _ = sh(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let status = self.child.wait().expect("wait imdswatch");
        let text = std::fs::read_to_string(&self.out).expect("read output");
        let recs = text.lines().map(|l| serde_json::from_str(l).expect("NDJSON line")).collect();
        (recs, status.code().unwrap_or(-1))
    }
}

pub fn run_client(mut c: Command) -> (u32, Output) {
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn client");
    let pid = child.id();
    let out = child.wait_with_output().expect("client");
    (pid, out)
}

pub fn requests(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "request").collect()
}

pub fn summary_of(r: &Value) -> String {
    format!(
        "{} {} {}",
        r["imds"]["version"].as_str().unwrap_or("?"),
        r["imds"]["path"].as_str().unwrap_or("?"),
        r["imds"]["status"].as_u64().map_or("none".into(), |s| s.to_string())
    )
}

pub fn by_pid(recs: &[Value], pid: u32) -> Vec<String> {
    let mut v: Vec<&Value> = requests(recs).into_iter().filter(|r| r["process"]["pid"] == pid).collect();
    v.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    v.into_iter().map(summary_of).collect()
}
