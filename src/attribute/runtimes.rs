//! Each container runtime's own files, as found on a node (paths relative to the host root):
//!
//! - containerd 1.7/2.x, Kubernetes and plain: the task bundle
//!   `run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`, an OCI
//!   runtime spec whose annotations the CRI plugin fills (`io.kubernetes.cri.sandbox-name`,
//!   `…sandbox-namespace`, `…sandbox-uid`, `…container-name`, `…image-name`); nerdctl adds
//!   `nerdctl/name`.
//! - CRI-O: `run/containers/storage/overlay-containers/<id>/userdata/config.json` (or under
//!   `var/lib/containers/storage/…`), annotations `io.kubernetes.pod.name`,
//!   `io.kubernetes.pod.namespace`, `io.kubernetes.pod.uid`, `io.kubernetes.container.name`,
//!   `io.kubernetes.cri-o.ImageName`, `io.kubernetes.cri-o.ContainerName`.
//! - Podman 4+: its `config.json` carries no name (annotations are `io.container.manager:
//!   libpod` and `io.podman.annotations.*`), so the name and image come from
//!   containers/storage's list `var/lib/containers/storage/overlay-containers/containers.json`
//!   (`names`, and `metadata`, itself JSON text with `name` and `image-name`).
//! - Docker 24+: `var/lib/docker/containers/<id>/config.v2.json` (`Name` with a leading `/`,
//!   `Config.Image`, and `Config.Labels` `io.kubernetes.*` when cri-dockerd started it).
//!
//! Every file and folder is opened inside the host root, no symbolic link followed, never
//! blocking on a FIFO ([`super::rootfs`]).
//!
//! Only the fields named here are taken; environment, mounts and everything else in these
//! files is never kept (it can hold secrets).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::container::CgroupClaim;
use super::node_files::{Found, MAX_DIR_ENTRIES, MAX_FILE, MAX_LIST_FILE, Malformed, Workload, clean, read_bounded};
use super::rootfs::list_dir;
use crate::event::K8s;

/// A source: host root and 64-hex container id → what it says.
pub type Source = fn(&Path, &str) -> Found;

/// The sources to try for a container of `runtime` (as the cgroup path says), best first.
pub fn sources_for(runtime: &str) -> &'static [Source] {
    match runtime {
        "containerd" => &[containerd],
        "cri-o" => &[crio, storage_list],
        "podman" => &[storage_list],
        "docker" => &[docker],
        // The cgroupfs driver hides the runtime: any of them.
        _ => &[containerd, crio, docker, storage_list],
    }
}

#[derive(Deserialize)]
struct OciSpec {
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    linux: Option<OciLinux>,
}

#[derive(Deserialize)]
struct OciLinux {
    #[serde(default, rename = "cgroupsPath")]
    cgroups_path: Option<String>,
}

impl OciSpec {
    /// The bundle's `linux.cgroupsPath`, when it says one.
    fn claim(&self) -> Option<CgroupClaim> {
        let p = self.linux.as_ref()?.cgroups_path.as_deref()?.trim();
        (!p.is_empty()).then(|| CgroupClaim::Oci(p.to_owned()))
    }
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Malformed> {
    serde_json::from_slice(bytes).map_err(|_| Malformed)
}

fn spec(root: &Path, rel: &str) -> Result<Option<OciSpec>, Malformed> {
    match read_bounded(root, rel, MAX_FILE)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(parse::<OciSpec>(&bytes)?)),
    }
}

const CONTAINERD_TASKS: &str = "run/containerd/io.containerd.runtime.v2.task";

/// containerd: the task bundle of `id` in whichever containerd namespace holds it.
pub fn containerd(root: &Path, id: &str) -> Found {
    let Ok(namespaces) = list_dir(root, Path::new(CONTAINERD_TASKS), MAX_DIR_ENTRIES) else { return Ok(None) };
    for ns in namespaces {
        let Some(ns) = ns.to_str() else { continue };
        if let Some(s) = spec(root, &format!("{CONTAINERD_TASKS}/{ns}/{id}/config.json"))? {
            return Ok(Some(Workload { cgroup: s.claim(), ..from_containerd(&s.annotations) }));
        }
    }
    Ok(None)
}

fn from_containerd(a: &HashMap<String, String>) -> Workload {
    let get = |k: &str| clean(a.get(k).map(String::as_str));
    // The pod's sandbox ("pause") container has the pod fields and no container name.
    let container = get("io.kubernetes.cri.container-name");
    Workload {
        name: container.clone().or_else(|| get("nerdctl/name")),
        image: get("io.kubernetes.cri.image-name"),
        k8s: K8s {
            namespace: get("io.kubernetes.cri.sandbox-namespace"),
            pod: get("io.kubernetes.cri.sandbox-name"),
            pod_uid: get("io.kubernetes.cri.sandbox-uid"),
            container,
        },
        cgroup: None,
    }
}

const CRIO_USERDATA: [&str; 2] =
    ["run/containers/storage/overlay-containers", "var/lib/containers/storage/overlay-containers"];

/// CRI-O: the container's `userdata/config.json` annotations. Podman's has no names: left to
/// [`storage_list`].
pub fn crio(root: &Path, id: &str) -> Found {
    for dir in CRIO_USERDATA {
        let Some(s) = spec(root, &format!("{dir}/{id}/userdata/config.json"))? else { continue };
        let get = |k: &str| clean(s.annotations.get(k).map(String::as_str));
        return Ok(Some(Workload {
            name: get("io.kubernetes.cri-o.ContainerName"),
            image: get("io.kubernetes.cri-o.ImageName"),
            k8s: K8s {
                namespace: get("io.kubernetes.pod.namespace"),
                pod: get("io.kubernetes.pod.name"),
                pod_uid: get("io.kubernetes.pod.uid"),
                container: get("io.kubernetes.container.name"),
            },
            cgroup: s.claim(),
        }));
    }
    Ok(None)
}

#[derive(Deserialize)]
struct StorageEntry {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    metadata: Option<String>,
}

#[derive(Deserialize, Default)]
struct StorageMetadata {
    #[serde(default, rename = "image-name")]
    image_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// containers/storage's container list (Podman, and CRI-O's store): name and image.
pub fn storage_list(root: &Path, id: &str) -> Found {
    let path = "var/lib/containers/storage/overlay-containers/containers.json";
    let Some(bytes) = read_bounded(root, path, MAX_LIST_FILE)? else { return Ok(None) };
    let list: Vec<StorageEntry> = parse(&bytes)?;
    let Some(e) = list.into_iter().find(|e| e.id.eq_ignore_ascii_case(id)) else { return Ok(None) };
    let meta: StorageMetadata = match e.metadata.as_deref() {
        Some(m) if !m.is_empty() => parse(m.as_bytes())?,
        _ => StorageMetadata::default(),
    };
    // The container's cgroup, from its own bundle (containers.json does not say it).
    let mut cgroup = None;
    for dir in CRIO_USERDATA {
        if let Some(s) = spec(root, &format!("{dir}/{id}/userdata/config.json"))? {
            cgroup = s.claim();
            break;
        }
    }
    Ok(Some(Workload {
        name: clean(e.names.first().map(String::as_str)).or_else(|| clean(meta.name.as_deref())),
        image: clean(meta.image_name.as_deref()),
        k8s: K8s::default(),
        cgroup,
    }))
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Config", default)]
    config: Option<DockerInner>,
}

#[derive(Deserialize)]
struct DockerInner {
    #[serde(rename = "Image", default)]
    image: Option<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct DockerHost {
    #[serde(rename = "CgroupParent", default)]
    cgroup_parent: Option<String>,
}

/// Docker: `config.v2.json` (name without its leading `/`, image as given to `docker run`,
/// and the pod labels cri-dockerd sets).
pub fn docker(root: &Path, id: &str) -> Found {
    let path = format!("var/lib/docker/containers/{id}/config.v2.json");
    let Some(bytes) = read_bounded(root, &path, MAX_FILE)? else { return Ok(None) };
    let c: DockerConfig = parse(&bytes)?;
    let (image, labels) = match c.config {
        Some(i) => (i.image, i.labels.unwrap_or_default()),
        None => (None, HashMap::new()),
    };
    let get = |k: &str| clean(labels.get(k).map(String::as_str));
    // Its cgroup: the default places, or under the container's `CgroupParent`.
    let host = format!("var/lib/docker/containers/{id}/hostconfig.json");
    let parent = match read_bounded(root, &host, MAX_FILE)? {
        Some(bytes) => parse::<DockerHost>(&bytes)?.cgroup_parent,
        None => None,
    };
    Ok(Some(Workload {
        cgroup: Some(CgroupClaim::Docker { id: id.to_ascii_lowercase(), parent }),
        name: clean(c.name.as_deref().map(|n| n.trim_start_matches('/'))),
        image: clean(image.as_deref()),
        k8s: K8s {
            namespace: get("io.kubernetes.pod.namespace"),
            pod: get("io.kubernetes.pod.name"),
            pod_uid: get("io.kubernetes.pod.uid"),
            container: get("io.kubernetes.container.name"),
        },
    }))
}
