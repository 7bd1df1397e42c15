//! Container and pod names from each runtime's files (fixture host roots under
//! tests/fixtures/hostroot), the instance id from DMI, and what malformed files do.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use imdswatch::attribute::workload::{Workload, WorkloadCounters, Workloads, read_host_id};
use imdswatch::event::{Container, K8s};

fn root(tree: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostroot").join(tree)
}

fn workloads(tree: &str) -> (Workloads, Arc<WorkloadCounters>) {
    let counters = Arc::new(WorkloadCounters::default());
    let cap = NonZeroUsize::new(64).expect("non-zero");
    (Workloads::new(&root(tree), cap, Arc::clone(&counters)), counters)
}

fn lookup(tree: &str, id: &str, runtime: &str) -> (Workload, u64) {
    let (mut w, counters) = workloads(tree);
    let found = (*w.resolve(&Container::new(id, runtime))).clone();
    (found, counters.snapshot().read_errors)
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn k8s(namespace: &str, pod: &str, uid: &str, container: &str) -> K8s {
    let o = |v: &str| (!v.is_empty()).then(|| v.to_string());
    K8s { namespace: o(namespace), pod: o(pod), pod_uid: o(uid), container: o(container) }
}

const CTR: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const SBX: &str = "5e1f0c9d8b7a69584736251403f2e1d0c9b8a79685746352413f2e1d0c9b8a7a";
const UID: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

#[test]
fn workload_containerd_kubernetes_1_7_and_2_0() {
    for tree in ["containerd-1.7", "containerd-2.0"] {
        // The systemd driver says containerd; the cgroupfs driver only says kubernetes.
        for runtime in ["containerd", "kubernetes"] {
            let (w, errors) = lookup(tree, CTR, runtime);
            assert_eq!(w.name, s("app"), "{tree}");
            assert_eq!(w.image, s("123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing/api:v1.42.0"), "{tree}");
            assert_eq!(w.k8s, k8s("billing", "billing-api-7d4b9c8f6d-x2x9q", UID, "app"), "{tree}");
            assert_eq!(errors, 0);
        }
        // The pod's sandbox (pause) container: the pod, no container name, no image.
        let (w, _) = lookup(tree, SBX, "containerd");
        assert_eq!(w.k8s, k8s("billing", "billing-api-7d4b9c8f6d-x2x9q", UID, ""), "{tree}");
        assert_eq!((w.name, w.image), (None, None));
    }
}

#[test]
fn workload_plain_containerd_nerdctl() {
    let (w, _) = lookup("nerdctl", "6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5", "containerd");
    assert_eq!(w.name, s("report-cron"));
    assert_eq!(w.image, None);
    assert!(w.k8s.is_empty());
}

#[test]
fn workload_crio() {
    let id = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
    for runtime in ["cri-o", "kubernetes"] {
        let (w, errors) = lookup("cri-o", id, runtime);
        assert_eq!(w.image, s("cr.fluentbit.io/fluent/fluent-bit:3.1.9"));
        assert_eq!(w.name, s("k8s_fluent-bit_fluent-bit-8kq2w_logging_7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910_0"));
        assert_eq!(w.k8s, k8s("logging", "fluent-bit-8kq2w", "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910", "fluent-bit"));
        assert_eq!(errors, 0);
    }
}

#[test]
fn workload_podman() {
    let (w, errors) = lookup("podman", "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d", "podman");
    assert_eq!(w.name, s("s3-sync"));
    assert_eq!(w.image, s("docker.io/library/python:3.12-slim"));
    assert!(w.k8s.is_empty());
    assert_eq!(errors, 0);
}

#[test]
fn workload_docker_plain_and_cri_dockerd() {
    let (w, errors) = lookup("docker", "3f2b1a0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a", "docker");
    assert_eq!((w.name, w.image), (s("billing-worker"), s("acme/billing-worker:2.3.1")));
    assert!(w.k8s.is_empty());
    assert_eq!(errors, 0);
    let id = "4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c";
    let (w, _) = lookup("cri-dockerd", id, "kubernetes");
    assert_eq!(w.name, s("k8s_metrics_node-exporter-4xk7d_monitoring_2b3c4d5e-6f70-4812-93a4-b5c6d7e8f901_0"));
    assert!(w.image.as_deref().is_some_and(|i| i.starts_with("quay.io/prometheus/node-exporter@sha256:")));
    assert_eq!(w.k8s, k8s("monitoring", "node-exporter-4xk7d", "2b3c4d5e-6f70-4812-93a4-b5c6d7e8f901", "metrics"));
}

#[test]
fn workload_kubelet_log_dirs_fallback() {
    let id = "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1";
    let (w, errors) = lookup("podlogs", id, "kubernetes");
    assert_eq!(w.k8s, k8s("payments", "ledger-0", "5c6d7e8f-9012-4a3b-8c4d-5e6f70819203", "ledger"));
    assert_eq!((w.name, w.image, errors), (None, None, 0));
    // A pod-level cgroup (no container below it): the pod from its log directory.
    let (w, _) = lookup("podlogs", "3d4e5f60-7182-4930-a4b5-c6d7e8f90a1b", "kubernetes");
    assert_eq!(w.k8s, k8s("kube-system", "coredns-5d78c9869d-8xk2p", "3d4e5f60-7182-4930-a4b5-c6d7e8f90a1b", ""));
    // A plain docker container on a node with kubelet logs: not taken for a pod.
    let (w, _) = lookup("podlogs", &"e".repeat(64), "docker");
    assert!(w.is_empty());
}

#[test]
fn workload_malformed_and_partial_files_count_errors_and_leave_fields_absent() {
    // Truncated config.json (containerd), non-JSON config.v2.json (docker), a config.json
    // whose annotations are a list (CRI-O), metadata that is not JSON (storage list).
    let bad = "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d";
    for (runtime, errors) in [("containerd", 1), ("docker", 1), ("cri-o", 2), ("podman", 1), ("kubernetes", 4)] {
        let (w, n) = lookup("malformed", bad, runtime);
        assert!(w.is_empty(), "{runtime}: {w:?}");
        assert_eq!(n, errors, "{runtime}");
    }
    // Partial files: what is there, nothing else; a blank image is absent.
    let partial = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e";
    let (w, n) = lookup("malformed", partial, "containerd");
    assert_eq!((w.name, w.image, n), (None, None, 0));
    assert_eq!(w.k8s, k8s("partial-ns", "", "", ""));
    let (w, n) = lookup("malformed", partial, "docker");
    assert_eq!((w.name, w.image, n), (s("only-a-name"), None, 0));
    let (w, n) = lookup("malformed", partial, "podman");
    assert_eq!((w.name, w.image, n), (None, None, 0));
    // A wrongly typed annotation is a malformed file.
    let typed = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
    let (w, n) = lookup("malformed", typed, "containerd");
    assert!(w.is_empty());
    assert_eq!(n, 1);
    // Ids that are not ids are never used as paths.
    for id in ["../../etc", "", "a/b", &"z".repeat(64)] {
        let (w, n) = lookup("malformed", id, "kubernetes");
        assert!(w.is_empty() && n == 0, "{id}");
    }
}

#[test]
fn workload_read_once_per_container_and_bounded() {
    let (mut w, counters) = {
        let counters = Arc::new(WorkloadCounters::default());
        let cap = NonZeroUsize::new(2).expect("non-zero");
        (Workloads::new(&root("containerd-1.7"), cap, Arc::clone(&counters)), counters)
    };
    let c = Container::new(CTR, "containerd");
    for _ in 0..100 {
        assert_eq!(w.resolve(&c).name.as_deref(), Some("app"));
    }
    assert_eq!(counters.snapshot().lookups, 1, "read once");
    assert_eq!(counters.snapshot().named, 1);
    for i in 0..5 {
        w.resolve(&Container::new(format!("{i:064x}"), "docker"));
    }
    let s = counters.snapshot();
    assert_eq!((s.lookups, s.named, s.evicted), (6, 1, 4));
    // Evicted: read again.
    w.resolve(&c);
    assert_eq!(counters.snapshot().lookups, 7);
}

/// Where containerd-1.7's bundle says the container is (systemd driver).
fn ctr_cgroup() -> String {
    format!(
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/cri-containerd-{CTR}.scope"
    )
}

#[test]
fn workload_enrich_fills_the_record_and_never_copies_secrets() {
    let (mut w, _) = workloads("containerd-1.7");
    let mut c = Container { cgroup: Some(ctr_cgroup()), ..Container::new(CTR, "containerd") };
    let pod = w.enrich(&mut c).expect("a pod");
    let json = serde_json::json!({"container": c, "k8s": pod}).to_string();
    assert!(json.contains("\"image\":\"123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing/api:v1.42.0\""), "{json}");
    assert!(json.contains("\"namespace\":\"billing\""), "{json}");
    assert!(!json.contains("fixture-secret"), "{json}");
    // Absent fields are left out, not null.
    let mut host = Container::new("f".repeat(64), "docker");
    assert_eq!(w.enrich(&mut host), None);
    let json = serde_json::to_string(&host).expect("json");
    assert!(!json.contains("name") && !json.contains("image"), "{json}");
}

#[test]
fn workload_host_id_from_board_asset_tag() {
    assert_eq!(read_host_id(&root("podlogs")).as_deref(), Some("i-0123456789abcdef0"));
    assert_eq!(read_host_id(&root("docker")), None, "Not Specified");
    assert_eq!(read_host_id(&root("malformed")), None, "i-XYZ");
    assert_eq!(read_host_id(&root("podman")), None, "missing");
}

#[test]
fn workload_host_root_must_be_a_directory() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .args(["live", "--json", "--host-root", "/nonexistent/imdswatch-host-root"])
        .output()
        .expect("run imdswatch");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--host-root /nonexistent/imdswatch-host-root: not a directory"), "{err}");
}

/// Issue 23, class 7: a runtime file that is a FIFO never blocks the lookup (before: the
/// attribution thread waited until someone wrote to it, 18 s seen), and a `config.json` or a
/// folder symlinked outside the host root is not followed (before: its contents were used).
#[test]
fn workload_fifo_and_symlinks_under_the_host_root_are_refused() {
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};
    let fixture = root("containerd-1.7");
    let bundle = "run/containerd/io.containerd.runtime.v2.task/k8s.io";
    let good = fixture.join(bundle).join(CTR).join("config.json");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&good, outside.path().join("config.json")).expect("copy");
    for case in ["fifo", "file-link", "folder-link", "namespace-link"] {
        let host = tempfile::tempdir().expect("tempdir");
        let ns = host.path().join(bundle);
        std::fs::create_dir_all(&ns).expect("mkdir");
        match case {
            "fifo" => {
                std::fs::create_dir_all(ns.join(CTR)).expect("mkdir");
                let ok = std::process::Command::new("mkfifo").arg(ns.join(CTR).join("config.json")).status();
                assert!(ok.is_ok_and(|s| s.success()), "mkfifo");
            }
            "file-link" => {
                std::fs::create_dir_all(ns.join(CTR)).expect("mkdir");
                symlink(outside.path().join("config.json"), ns.join(CTR).join("config.json")).expect("symlink");
            }
            "folder-link" => symlink(outside.path(), ns.join(CTR)).expect("symlink"),
            _ => {
                // The namespace folder itself links to a tree outside the root.
                let elsewhere = outside.path().join("ns");
                std::fs::create_dir_all(elsewhere.join(CTR)).expect("mkdir");
                std::fs::copy(&good, elsewhere.join(CTR).join("config.json")).expect("copy");
                symlink(&elsewhere, ns.parent().expect("tasks").join("evil")).expect("symlink");
            }
        }
        let counters = Arc::new(WorkloadCounters::default());
        let mut w = Workloads::new(host.path(), NonZeroUsize::new(4).expect("non-zero"), Arc::clone(&counters));
        let t = Instant::now();
        let found = (*w.resolve(&Container::new(CTR, "containerd"))).clone();
        assert!(t.elapsed() < Duration::from_secs(1), "{case}: took {:?}", t.elapsed());
        assert_eq!(found, Workload::default(), "{case}: nothing taken from outside the root");
        let errors = counters.snapshot().read_errors;
        assert_eq!(errors, 1, "{case}: counted as unreadable");
    }
    // The same tree without links still names the container.
    let (w, errors) = lookup("containerd-1.7", CTR, "containerd");
    assert_eq!((w.name, errors), (s("app"), 0));
}

/// Issue 23, class 7: a process in a cgroup merely named like a real container's (before: it
/// got that container's name, image and pod) is left unnamed and counted; the runtime's own
/// state (the bundle's `cgroupsPath`, Docker's scope or folder) must agree.
#[test]
fn workload_a_cgroup_named_like_a_container_gets_nothing_of_it() {
    let (mut w, counters) = workloads("containerd-1.7");
    for path in [
        format!("/user.slice/user-1000.slice/user@1000.service/app.slice/cri-containerd-{CTR}.scope"),
        format!("/kubepods.slice/kubepods-besteffort.slice/cri-containerd-{CTR}.scope"),
        format!("/kubepods/burstable/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/{CTR}"),
    ] {
        let mut c = Container { cgroup: Some(path.clone()), ..Container::new(CTR, "containerd") };
        assert_eq!(w.enrich(&mut c), None, "{path}");
        assert_eq!((c.name.as_deref(), c.image.as_deref()), (None, None), "{path}");
    }
    assert_eq!(counters.snapshot().unverified, 3);
    // No cgroup path at all: nothing to agree with, nothing named.
    let mut c = Container::new(CTR, "containerd");
    assert_eq!(w.enrich(&mut c), None);
    let mut c = Container { cgroup: Some(ctr_cgroup()), ..Container::new(CTR, "containerd") };
    assert!(w.enrich(&mut c).is_some());
    assert_eq!(c.name.as_deref(), Some("app"));
    // Docker: the default scope and folder agree; a user's scope does not.
    let id = "3f2b1a0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
    let (mut w, _) = workloads("docker");
    for (path, named) in [
        (format!("/system.slice/docker-{id}.scope"), true),
        (format!("/docker/{id}"), true),
        (format!("/user.slice/user-1000.slice/user@1000.service/docker-{id}.scope"), false),
    ] {
        let mut c = Container { cgroup: Some(path.clone()), ..Container::new(id, "docker") };
        w.enrich(&mut c);
        assert_eq!(c.name.is_some(), named, "{path}");
    }
}
