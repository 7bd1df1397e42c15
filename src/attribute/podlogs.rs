//! The kubelet's log directories, whatever the runtime (what log shippers such as Fluent Bit
//! parse), paths relative to the host root:
//!
//! - `var/log/containers/<pod>_<namespace>_<container>-<id>.log`, a symlink to
//! - `var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`.
//!
//! Kubernetes names never contain `_`, so the names split without ambiguity; anything that
//! does not split so is not taken.

use std::path::Path;

use super::container::CgroupClaim;
use super::node_files::{Found, MAX_DIR_ENTRIES, Workload, clean};
use super::rootfs::{list_dir, read_link};
use crate::event::K8s;

/// `<namespace>_<pod>_<uid>` → (namespace, pod, uid).
fn pod_dir(name: &str) -> Option<(&str, &str, &str)> {
    let mut it = name.split('_');
    let (ns, pod, uid) = (it.next()?, it.next()?, it.next()?);
    (it.next().is_none() && !ns.is_empty() && !pod.is_empty() && !uid.is_empty()).then_some((ns, pod, uid))
}

/// `<pod>_<namespace>_<container>-<id>.log` → (pod, namespace, container).
fn container_log<'a>(name: &'a str, id: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let stem = name.strip_suffix(".log")?.strip_suffix(id)?.strip_suffix('-')?;
    let mut it = stem.split('_');
    let (pod, ns, container) = (it.next()?, it.next()?, it.next()?);
    let ok = it.next().is_none() && !pod.is_empty() && !ns.is_empty() && !container.is_empty();
    ok.then_some((pod, ns, container))
}

/// The pod of container `id` (64 hex) from its `var/log/containers` symlink; the uid from
/// where the symlink points.
pub fn by_container(root: &Path, id: &str) -> Found {
    const DIR: &str = "var/log/containers";
    let Ok(entries) = list_dir(root, Path::new(DIR), MAX_DIR_ENTRIES) else { return Ok(None) };
    for name in entries {
        let Some(name) = name.to_str() else { continue };
        let Some((pod, ns, container)) = container_log(name, id) else { continue };
        let uid = read_link(root, &Path::new(DIR).join(name)).ok().and_then(|target| {
            target.components().filter_map(|c| c.as_os_str().to_str()).find_map(|c| {
                pod_dir(c).filter(|(n, p, _)| *n == ns && *p == pod).and_then(|(.., uid)| clean(Some(uid)))
            })
        });
        return Ok(Some(Workload {
            k8s: K8s {
                namespace: clean(Some(ns)),
                pod: clean(Some(pod)),
                pod_uid: uid,
                container: clean(Some(container)),
            },
            cgroup: Some(CgroupClaim::Kubepods),
            ..Workload::default()
        }));
    }
    Ok(None)
}

/// The pod of a pod-level cgroup (its uid, with dashes) from `var/log/pods`.
pub fn by_pod_uid(root: &Path, uid: &str) -> Found {
    let Ok(entries) = list_dir(root, Path::new("var/log/pods"), MAX_DIR_ENTRIES) else { return Ok(None) };
    for name in entries {
        let Some((ns, pod, u)) = name.to_str().and_then(pod_dir) else { continue };
        if u.eq_ignore_ascii_case(uid) {
            return Ok(Some(Workload {
                k8s: K8s {
                    namespace: clean(Some(ns)),
                    pod: clean(Some(pod)),
                    pod_uid: clean(Some(u)),
                    container: None,
                },
                cgroup: Some(CgroupClaim::Kubepods),
                ..Workload::default()
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_podlog_names_split() {
        let id = "ab".repeat(32);
        assert_eq!(
            container_log(&format!("web-7d4b9c8f6d-x2x9q_shop_nginx-{id}.log"), &id),
            Some(("web-7d4b9c8f6d-x2x9q", "shop", "nginx"))
        );
        assert_eq!(container_log(&format!("a_b_c_d-{id}.log"), &id), None);
        assert_eq!(container_log(&format!("a_b-{id}.log"), &id), None);
        assert_eq!(container_log(&format!("__-{id}.log"), &id), None);
        assert_eq!(container_log("a_b_c-123.log", &id), None);
        assert_eq!(
            pod_dir("kube-system_coredns-5d78c9869d-8xk2p_4c1d"),
            Some(("kube-system", "coredns-5d78c9869d-8xk2p", "4c1d"))
        );
        assert_eq!(pod_dir("a_b"), None);
        assert_eq!(pod_dir("a_b_c_d"), None);
    }
}
