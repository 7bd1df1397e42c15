//! A row's workload names (container name and image, Kubernetes namespace, pod and container),
//! as the live records carry them when the node's files said so; sanitized for the terminal.

use crate::event::LiveFields;

use super::text::sanitize;

/// What the dashboard shows of a row's container beyond its id. Fields absent when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowWorkload {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub pod_uid: Option<String>,
    /// The container's name in the pod.
    pub k8s_container: Option<String>,
    /// The runtime's name for the container.
    pub name: Option<String>,
    pub image: Option<String>,
}

impl RowWorkload {
    /// The names of a live record's container; `None` when it has none.
    pub fn of(live: &LiveFields) -> Option<RowWorkload> {
        let c = live.container.as_ref()?;
        let s = |v: Option<&String>| v.map(|v| sanitize(v));
        let k = live.k8s.as_ref();
        let w = RowWorkload {
            namespace: s(k.and_then(|k| k.namespace.as_ref())),
            pod: s(k.and_then(|k| k.pod.as_ref())),
            pod_uid: s(k.and_then(|k| k.pod_uid.as_ref())),
            k8s_container: s(k.and_then(|k| k.container.as_ref())),
            name: s(c.name.as_ref()),
            image: s(c.image.as_ref()),
        };
        (w != RowWorkload::default()).then_some(w)
    }

    /// `namespace/pod/container` (the parts known) for a pod, else the container's name.
    pub fn label(&self) -> Option<String> {
        let parts: Vec<&str> =
            [&self.namespace, &self.pod, &self.k8s_container].into_iter().flatten().map(String::as_str).collect();
        if self.pod.is_some() {
            return Some(parts.join("/"));
        }
        self.name.clone()
    }

    /// Filter text: namespace, pod, container names and image.
    pub fn matches(&self, hit: impl Fn(&str) -> bool) -> bool {
        [&self.namespace, &self.pod, &self.k8s_container, &self.name, &self.image].into_iter().flatten().any(|v| hit(v))
    }
}
