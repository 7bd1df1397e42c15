//! Container id from `/proc/PID/cgroup`, cgroup v1 (one line per hierarchy) and v2 (`0::/…`).
//!
//! Recognised, looking at the path components from the innermost out:
//! - `docker-<id>.scope` (systemd driver) and `/docker/<id>` (cgroupfs) → `docker`
//! - `cri-containerd-<id>.scope` → `containerd`
//! - `crio-<id>.scope` → `cri-o` (`crio-conmon-<id>.scope` is the monitor, not the container)
//! - `libpod-<id>.scope`, `/libpod_parent/libpod-<id>` → `podman` (`libpod-conmon-…` skipped)
//! - a bare `<id>` under `kubepods` → `kubernetes` (runtime unknown with the cgroupfs driver)
//! - a bare `<id>` elsewhere → `docker` (e.g. `--cgroup-parent`, CI job cgroups)
//! - a pod cgroup with no container below it (`pod<uid>`, `kubepods-…-pod<uid>.slice`) →
//!   `kubernetes` with the pod uid as id.
//!
//! `<id>` is 64 hex digits.

use crate::event::Container;

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn container(id: &str, runtime: &str) -> Container {
    Container::new(id.to_ascii_lowercase(), runtime)
}

/// `<prefix><id>.scope` → id.
fn scoped<'a>(comp: &'a str, prefix: &str) -> Option<&'a str> {
    let id = comp.strip_prefix(prefix)?.strip_suffix(".scope")?;
    is_id(id).then_some(id)
}

/// The pod uid of a pod cgroup component, with dashes.
fn pod_uid(comp: &str) -> Option<String> {
    let comp = comp.strip_suffix(".slice").unwrap_or(comp);
    let at = comp.rfind("pod")?;
    if at > 0 && !comp[..at].ends_with('-') {
        return None;
    }
    let uid = &comp[at + 3..];
    let ok = uid.len() >= 32 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_' || b == b'-');
    (ok && (at == 0 || comp.starts_with("kubepods"))).then(|| uid.replace('_', "-"))
}

enum Match {
    Id(Container),
    Pod(Container),
}

fn from_path(path: &str) -> Option<Match> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let kube = comps.iter().any(|c| c.starts_with("kubepods"));
    for (i, &c) in comps.iter().enumerate().rev() {
        if c.starts_with("libpod-conmon-") || c.starts_with("crio-conmon-") {
            return None;
        }
        let rules: [(&str, &str); 4] =
            [("docker-", "docker"), ("cri-containerd-", "containerd"), ("crio-", "cri-o"), ("libpod-", "podman")];
        for (prefix, runtime) in rules {
            if let Some(id) = scoped(c, prefix) {
                return Some(Match::Id(container(id, runtime)));
            }
        }
        if let Some(id) = c.strip_prefix("libpod-").filter(|id| is_id(id)) {
            return Some(Match::Id(container(id, "podman")));
        }
        if is_id(c) {
            let parent = i.checked_sub(1).and_then(|p| comps.get(p)).copied().unwrap_or("");
            let runtime = match parent {
                _ if kube => "kubernetes",
                "libpod_parent" => "podman",
                _ => "docker",
            };
            return Some(Match::Id(container(c, runtime)));
        }
    }
    comps.iter().rev().find_map(|c| pod_uid(c)).map(|uid| Match::Pod(Container::new(uid, "kubernetes")))
}

/// The container of a process from its cgroup file; `None` on the host.
pub fn from_cgroup(text: &str) -> Option<Container> {
    let mut pod = None;
    for line in text.lines() {
        // hierarchy-ID:controller-list:cgroup-path (the path may contain ':')
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        match from_path(path) {
            Some(Match::Id(c)) => return Some(c),
            Some(Match::Pod(c)) => pod = pod.or(Some(c)),
            None => {}
        }
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc/cgroup").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn check(name: &str, runtime: &str, id_prefix: &str) {
        let c = from_cgroup(&fixture(name)).unwrap_or_else(|| panic!("{name}: no container"));
        assert_eq!(c.runtime, runtime, "{name}");
        assert!(c.id.starts_with(id_prefix), "{name}: {}", c.id);
    }

    #[test]
    fn attribute_cgroup_runtimes() {
        check("docker_v1", "docker", "3f2b");
        check("docker_v2_systemd", "docker", "3f2b");
        check("docker_v2_cgroupfs", "docker", "3f2b");
        check("containerd_k8s_v2_systemd", "containerd", "a1b2");
        check("containerd_k8s_v1_cgroupfs", "kubernetes", "a1b2");
        check("crio_v2", "cri-o", "c0ff");
        check("podman_v2", "podman", "9e8d");
        check("podman_v1", "podman", "9e8d");
        check("kube_pod_only_v2", "kubernetes", "0a1b2c3d-4e5f-6789-abcd-ef0123456789");
        check("kube_pod_only_v1", "kubernetes", "0a1b2c3d-4e5f-6789-abcd-ef0123456789");
        for host in ["host_v2", "host_v1", "podman_conmon_v2", "crio_conmon_v2"] {
            assert_eq!(from_cgroup(&fixture(host)), None, "{host}");
        }
    }

    #[test]
    fn attribute_cgroup_odd_input() {
        for text in ["", "\n\n", "garbage", "0::", "0::/", "1:cpu", ":::::", "0::/docker/xyz"] {
            assert_eq!(from_cgroup(text), None, "{text:?}");
        }
        let id = "A".repeat(64);
        let c = from_cgroup(&format!("0::/docker/{id}"));
        assert_eq!(c.map(|c| c.id), Some("a".repeat(64)));
    }
}
