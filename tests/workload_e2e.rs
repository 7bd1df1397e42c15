//! End-to-end: `imdswatch live --json --host-root DIR` names the Kubernetes pod of a client
//! whose cgroup is that of a containerd container, and the name and image of a Docker
//! container, from runtime files under DIR (copied from tests/fixtures/hostroot); the
//! instance id comes from DIR's DMI `board_asset_tag`, and is absent when that is not an id.
//!
//! Needs root, `ip netns` and a writable cgroup hierarchy; skips with a printed reason
//! otherwise. The metadata address exists only inside the test's namespaces
//! (captures/netns.sh), where a mock answers.

#[path = "support/host.rs"]
mod host;
use host::{euid, netns_permitted, root, sh};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The containerd container and its pod in tests/fixtures/hostroot/containerd-1.7.
const K8S_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const POD_UID: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
/// The Docker container in tests/fixtures/hostroot/docker.
const DOCKER_ID: &str = "3f2b1a0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
const INSTANCE: &str = "i-0123456789abcdef0";

fn cannot_run(test: &str) -> Option<String> {
    if euid() != 0 {
        return Some("not root".into());
    }
    (!netns_permitted(test)).then(|| "`ip netns add` is not permitted here".into())
}

/// The namespaces and the mock IMDS, removed on drop.
struct Topology {
    prefix: String,
    mock: Option<Child>,
}

impl Topology {
    fn up(tag: &str, tmp: &Path) -> Topology {
        let prefix = format!("imw-{tag}{}-", std::process::id() % 100_000);
        let st = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["up", &prefix]));
        assert!(st.status.success(), "netns up: {}", String::from_utf8_lossy(&st.stderr));
        let mut t = Topology { prefix, mock: None };
        let mock = t
            .exec("imds")
            .arg("python3")
            .arg(root().join("captures/mock_imds.py"))
            .args(["--listen", "0.0.0.0:80", "--count-file"])
            .arg(tmp.join("counts.json"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the mock");
        t.mock = Some(mock);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if !sh(t.exec("imds").args(["ss", "-Hltn", "sport = :80"])).stdout.is_empty() {
                return t;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the mock did not start listening");
    }

    fn exec(&self, which: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}{which}", self.prefix)]);
        c
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Some(mut m) = self.mock.take() {
            let _ = m.kill();
            let _ = m.wait();
        }
        let _ = sh(Command::new("bash").arg(root().join("captures/netns.sh")).args(["down", &self.prefix]));
    }
}

/// `imdswatch live --json` in the topology's host namespace; killed on drop.
struct Monitor {
    child: Child,
    out: PathBuf,
}

impl Monitor {
    fn start(t: &Topology, out: &Path, host_root: &Path) -> Monitor {
        let mut child = t
            .exec("host")
            .arg(env!("CARGO_BIN_EXE_imdswatch"))
            .args(["live", "--json", "--stats-interval", "1", "--host-root"])
            .arg(host_root)
            .stdout(std::fs::File::create(out).expect("output file"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imdswatch");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.contains("capturing on any"), "imdswatch did not start: {first}");
        std::thread::spawn(move || for _ in lines {});
        Monitor { child, out: out.to_owned() }
    }

    /// Waits for a stats record, then SIGTERM; every record written.
    fn stop(mut self) -> Vec<Value> {
        std::thread::sleep(Duration::from_millis(1300));
        let _ = sh(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.out).expect("read output");
        text.lines().map(|l| serde_json::from_str(l).expect("NDJSON line")).collect()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Cgroup directories made for the test (innermost last), removed on drop if still empty.
struct Cgroup(Vec<PathBuf>);

impl Cgroup {
    /// `rel_v2` on a cgroup v2 hierarchy, else `rel_v1` on a v1 one; `None` if none is writable.
    fn create(rel_v2: &str, rel_v1: &str) -> Option<Cgroup> {
        for base in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup", "/sys/fs/cgroup/pids"] {
            let base = Path::new(base);
            if !base.join("cgroup.procs").exists() {
                continue;
            }
            let rel = if base.join("cgroup.controllers").exists() { rel_v2 } else { rel_v1 };
            let mut made = Vec::new();
            let mut dir = base.to_path_buf();
            for comp in rel.split('/') {
                dir.push(comp);
                if !dir.exists() {
                    if std::fs::create_dir(&dir).is_err() {
                        drop(Cgroup(made));
                        return None;
                    }
                    made.push(dir.clone());
                }
            }
            return Some(Cgroup(made));
        }
        None
    }

    fn leaf(&self) -> Option<&Path> {
        self.0.last().map(PathBuf::as_path)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A Python client in namespace `ns` that fetches `path` from the mock once, moved into
/// `cgroup` before it starts (it waits on stdin: `ip netns exec` remounts /sys), and lingers
/// half a second so that it is there to be named. Its pid.
fn client_in_cgroup(t: &Topology, cgroup: &Path, path: &str) -> u32 {
    let code = format!(
        "import urllib.request,time\nurllib.request.urlopen('http://169.254.169.254{path}',timeout=5).read()\ntime.sleep(0.5)"
    );
    let mut c = t.exec("host");
    c.args(["sh", "-c", "read _ && exec python3 -c \"$0\""]).arg(code);
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    std::fs::write(cgroup.join("cgroup.procs"), pid.to_string()).expect("join the cgroup");
    child.stdin.take().expect("stdin").write_all(b"go\n").expect("release the client");
    let out = child.wait_with_output().expect("client");
    assert!(out.status.success(), "client: {}", String::from_utf8_lossy(&out.stderr));
    pid
}

fn copy_tree(from: &Path, to: &Path) {
    let st = sh(Command::new("cp").arg("-a").arg(format!("{}/.", from.display())).arg(to));
    assert!(st.status.success(), "cp: {}", String::from_utf8_lossy(&st.stderr));
}

fn request_of(recs: &[Value], pid: u32) -> &Value {
    recs.iter()
        .find(|r| r["type"] == "request" && r["process"]["pid"] == pid)
        .unwrap_or_else(|| panic!("no record of pid {pid}: {recs:#?}"))
}

#[test]
fn live_names_the_pod_of_a_containerd_container_and_a_docker_container() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let test = "live_names_the_pod_of_a_containerd_container_and_a_docker_container";
    if let Some(why) = cannot_run("wl") {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let uid_ = POD_UID.replace('-', "_");
    let Some(k8s_cg) = Cgroup::create(
        &format!(
            "imw-wl.slice/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{K8S_ID}.scope"
        ),
        &format!("imw-wl/kubepods/besteffort/pod{POD_UID}/{K8S_ID}"),
    ) else {
        eprintln!("SKIPPED {test}: no writable cgroup hierarchy");
        return;
    };
    let docker_cg =
        Cgroup::create(&format!("imw-wl.slice/docker-{DOCKER_ID}.scope"), &format!("imw-wl/docker/{DOCKER_ID}"))
            .expect("a docker cgroup beside the first");
    // Issue 23, class 7: a cgroup merely named like the Docker container's, elsewhere.
    let fake_cg = Cgroup::create(
        &format!("imw-wl.slice/imw-fake.slice/docker-{DOCKER_ID}.scope"),
        &format!("imw-wl/fake/docker/{DOCKER_ID}"),
    )
    .expect("an impostor cgroup");
    let v2 = k8s_cg.leaf().is_some_and(|p| p.to_string_lossy().contains(".slice"));
    // The node's files: containerd's bundles, Docker's config, and DMI.
    let tmp = tempfile::tempdir().expect("tempdir");
    let host = tmp.path().join("host");
    std::fs::create_dir(&host).expect("mkdir");
    copy_tree(&root().join("tests/fixtures/hostroot/containerd-1.7"), &host);
    copy_tree(&root().join("tests/fixtures/hostroot/docker"), &host);
    // The runtimes' state says where the containers are: the test's cgroups, under imw-wl.
    if !v2 {
        let config = host.join(format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{K8S_ID}/config.json"));
        let text = std::fs::read_to_string(&config).expect("config.json");
        let systemd = format!("kubepods-burstable-pod{uid_}.slice:cri-containerd:{K8S_ID}");
        let cgroupfs = format!("/imw-wl/kubepods/besteffort/pod{POD_UID}/{K8S_ID}");
        std::fs::write(&config, text.replace(&systemd, &cgroupfs)).expect("write config.json");
    }
    let parent = if v2 { "imw-wl.slice" } else { "/imw-wl/docker" };
    std::fs::write(
        host.join(format!("var/lib/docker/containers/{DOCKER_ID}/hostconfig.json")),
        format!("{{\"CgroupParent\":\"{parent}\",\"Binds\":null}}"),
    )
    .expect("hostconfig.json");
    let dmi = host.join("sys/devices/virtual/dmi/id");
    std::fs::create_dir_all(&dmi).expect("mkdir");
    std::fs::write(dmi.join("board_asset_tag"), format!("{INSTANCE}\n")).expect("asset tag");

    let topo = Topology::up("wl", tmp.path());
    let mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &host);
    let k8s_pid = client_in_cgroup(&topo, k8s_cg.leaf().expect("leaf"), "/latest/meta-data/instance-id");
    let docker_pid = client_in_cgroup(&topo, docker_cg.leaf().expect("leaf"), "/latest/meta-data/ami-id");
    let fake_pid = client_in_cgroup(&topo, fake_cg.leaf().expect("leaf"), "/latest/meta-data/hostname");
    let recs = mon.stop();

    let r = request_of(&recs, k8s_pid);
    assert_eq!(r["container"]["id"], K8S_ID, "{r}");
    assert_eq!(r["container"]["image"], "123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing/api:v1.42.0", "{r}");
    assert_eq!(r["container"]["name"], "app", "{r}");
    assert_eq!(r["k8s"]["namespace"], "billing", "{r}");
    assert_eq!(r["k8s"]["pod"], "billing-api-7d4b9c8f6d-x2x9q", "{r}");
    assert_eq!(r["k8s"]["pod_uid"], POD_UID, "{r}");
    assert_eq!(r["k8s"]["container"], "app", "{r}");
    assert_eq!(r["host_id"], INSTANCE, "{r}");
    eprintln!("record: {r}");

    let d = request_of(&recs, docker_pid);
    assert_eq!((&d["container"]["id"], &d["container"]["runtime"]), (&Value::from(DOCKER_ID), &Value::from("docker")));
    assert_eq!(d["container"]["name"], "billing-worker", "{d}");
    assert_eq!(d["container"]["image"], "acme/billing-worker:2.3.1", "{d}");
    assert!(d.get("k8s").is_none(), "no pod for a plain docker container: {d}");

    // The impostor keeps its container id (its cgroup says it) but gets nothing of the real
    // container's: no name, no image.
    let f = request_of(&recs, fake_pid);
    assert_eq!(f["container"]["id"], DOCKER_ID, "{f}");
    assert!(f["container"].get("name").is_none() && f["container"].get("image").is_none(), "{f}");

    let all: String = recs.iter().map(Value::to_string).collect();
    assert!(!all.contains("fixture-secret"), "an environment value of a runtime file leaked");
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["host_id"], INSTANCE, "{stats}");
    assert!(stats["workload"]["named"].as_u64().is_some_and(|n| n >= 2), "{stats}");
    assert_eq!(stats["workload"]["read_errors"], 0, "{stats}");
    assert!(stats["workload"]["unverified"].as_u64().is_some_and(|n| n >= 1), "{stats}");
}

#[test]
fn live_leaves_host_id_out_when_the_asset_tag_is_not_an_instance_id() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let test = "live_leaves_host_id_out_when_the_asset_tag_is_not_an_instance_id";
    if let Some(why) = cannot_run("wl2") {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let host = tmp.path().join("host");
    let dmi = host.join("sys/devices/virtual/dmi/id");
    std::fs::create_dir_all(&dmi).expect("mkdir");
    std::fs::write(dmi.join("board_asset_tag"), "Not Specified\n").expect("asset tag");
    let topo = Topology::up("wl2", tmp.path());
    let mon = Monitor::start(&topo, &tmp.path().join("live.ndjson"), &host);
    let st = sh(topo.exec("host").args(["curl", "-s", "-o", "/dev/null", "http://169.254.169.254/latest/meta-data/"]));
    assert!(st.status.success());
    let recs = mon.stop();
    let r = recs.iter().find(|r| r["type"] == "request").expect("a request record");
    assert!(r.get("host_id").is_none(), "{r}");
    assert!(r["host"].is_string(), "{r}");
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert!(stats.get("host_id").is_none(), "{stats}");
}
