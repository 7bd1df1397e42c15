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
            Some(Match::Id(c)) => return Some(Container { cgroup: Some(path.to_owned()), ..c }),
            Some(Match::Pod(c)) => pod = pod.or(Some(Container { cgroup: Some(path.to_owned()), ..c })),
            None => {}
        }
    }
    pod
}

/// What a runtime's state says a container's cgroup is. A process is given a container's
/// name, image and pod only when its own cgroup agrees ([`CgroupClaim::agrees`]): anyone who
/// can make a cgroup (a delegated subtree, a user's systemd manager) can name one
/// `docker-<id>.scope`, but not put it where the runtime put the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupClaim {
    /// An OCI bundle's `linux.cgroupsPath`: systemd's `SLICE:PREFIX:NAME` (the scope
    /// `PREFIX-NAME.scope` directly in the slice `SLICE`, `system.slice` when empty) or a
    /// cgroupfs path (the process's cgroup is that path or below it).
    Oci(String),
    /// Docker's `config.v2.json`: `docker-<id>.scope` in `system.slice` (or in the
    /// `CgroupParent` slice), or `<CgroupParent, else /docker>/<id>` with cgroupfs.
    Docker { id: String, parent: Option<String> },
    /// Only the kubelet's log folders named it: the cgroup lies in the kubelet's `kubepods`
    /// tree (its first component).
    Kubepods,
}

impl CgroupClaim {
    /// Whether a process in cgroup `path` (as `/proc/PID/cgroup` gives it; leading `..` of a
    /// cgroup namespace ignored) is where this claim says the container is.
    pub fn agrees(&self, path: &str) -> bool {
        let comps: Vec<&str> = segs(path).skip_while(|c| *c == "..").collect();
        match self {
            CgroupClaim::Oci(p) => {
                let parts: Vec<&str> = p.split(':').collect();
                if let [slice, prefix, name] = parts[..]
                    && !p.starts_with('/')
                {
                    let slice = if slice.is_empty() { "system.slice" } else { slice };
                    return in_slice(&comps, slice, &format!("{prefix}-{name}.scope"));
                }
                let want: Vec<&str> = segs(p).collect();
                !want.is_empty() && comps.starts_with(&want)
            }
            CgroupClaim::Docker { id, parent } => {
                let parent = parent.as_deref().filter(|p| !p.is_empty());
                let slice = parent.filter(|p| p.ends_with(".slice")).unwrap_or("system.slice");
                if in_slice(&comps, slice, &format!("docker-{id}.scope")) {
                    return true;
                }
                let mut want: Vec<&str> =
                    segs(parent.filter(|p| !p.ends_with(".slice")).unwrap_or("/docker")).collect();
                want.push(id);
                comps.starts_with(&want)
            }
            CgroupClaim::Kubepods => comps.first().is_some_and(|c| c.starts_with("kubepods")),
        }
    }
}

fn segs(p: &str) -> impl Iterator<Item = &str> {
    p.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// `scope` lies directly in `slice` somewhere along the path.
fn in_slice(comps: &[&str], slice: &str, scope: &str) -> bool {
    comps.windows(2).any(|w| w[0] == slice && w[1] == scope)
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

    /// Issue 23, class 7: a cgroup merely named like a container's does not agree with the
    /// runtime's state; the real places do.
    #[test]
    fn attribute_cgroup_claims_agree_only_where_the_runtime_put_the_container() {
        let id = "3f2b8c1e9a7d6e5f4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f7e6d5c";
        let docker = CgroupClaim::Docker { id: id.into(), parent: None };
        for name in ["docker_v1", "docker_v2_systemd", "docker_v2_cgroupfs"] {
            let c = from_cgroup(&fixture(name)).expect("container");
            assert!(docker.agrees(c.cgroup.as_deref().expect("path")), "{name}");
        }
        let fake = format!("0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-{id}.scope");
        let c = from_cgroup(&fake).expect("named like a container");
        assert!(!docker.agrees(c.cgroup.as_deref().expect("path")), "a delegated cgroup named docker-<id>.scope");
        assert!(!docker.agrees(&format!("/user.slice/docker/{id}")));
        let parent = CgroupClaim::Docker { id: id.into(), parent: Some("ci.slice".into()) };
        assert!(parent.agrees(&format!("/ci.slice/docker-{id}.scope")));
        assert!(!parent.agrees(&format!("/system.slice/docker-{id}.scope")));
        let ctr = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
        let pod = "kubepods-burstable-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice";
        let systemd = CgroupClaim::Oci(format!("{pod}:cri-containerd:{ctr}"));
        let c = from_cgroup(&fixture("containerd_k8s_v2_systemd")).expect("container");
        assert!(systemd.agrees(c.cgroup.as_deref().expect("path")));
        assert!(systemd.agrees(&format!("/../../kubepods.slice/{pod}/cri-containerd-{ctr}.scope/init")));
        assert!(!systemd.agrees(&format!("/user.slice/evil.slice/cri-containerd-{ctr}.scope")));
        let cgroupfs = CgroupClaim::Oci(format!("/kubepods/burstable/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/{ctr}"));
        let c = from_cgroup(&fixture("containerd_k8s_v1_cgroupfs")).expect("container");
        assert!(cgroupfs.agrees(c.cgroup.as_deref().expect("path")));
        assert!(
            !cgroupfs.agrees(&format!("/user.slice/kubepods/burstable/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/{ctr}"))
        );
        assert!(!CgroupClaim::Oci(String::new()).agrees("/"));
        let podman = CgroupClaim::Oci(
            "user.slice:libpod:9e8d7c6b5a4938271605f4e3d2c1b0a99e8d7c6b5a4938271605f4e3d2c1b0a9".into(),
        );
        let c = from_cgroup(&fixture("podman_v2")).expect("container");
        assert!(podman.agrees(c.cgroup.as_deref().expect("path")), "rootless podman");
        let c = from_cgroup(&fixture("kube_pod_only_v2")).expect("pod");
        assert!(CgroupClaim::Kubepods.agrees(c.cgroup.as_deref().expect("path")));
        assert!(!CgroupClaim::Kubepods.agrees("/user.slice/kubepods-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice"));
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
