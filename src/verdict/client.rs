//! Who a request belongs to: the client an operator fixes, the one key every face groups by.
//!
//! - live, process named: executable + full command line (secrets already redacted by
//!   `attribute::redact` when the record was attributed) + user agent + container/pod;
//! - live, no process named: why not, the client address and the user agent;
//! - offline: the client address (without port) and the user agent.
//!
//! Two different user agents or command lines are never one client; the pids of one cron job
//! repeating the same command are (the pid is not part of the key).

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::event::{AttributionMiss, LiveFields, RequestRecord};

/// The key of one client (see the module's note). Strings are as the record carries them
/// (bounded there: command lines by the attribution's cap, user agents by the HTTP head's),
/// not yet escaped: each face escapes for its terminal or format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientKey {
    /// Live, attributed.
    Process {
        /// The executable's path (its name when the path is unknown).
        exe: String,
        /// The full command line, secrets redacted.
        cmdline: String,
        /// `namespace/pod/container` when the node named the pod, else the container's
        /// name, else its id; `None` outside containers.
        container: Option<String>,
        user_agent: Option<String>,
    },
    /// Live, no process could be named.
    Unattributed { reason: &'static str, ip: IpAddr, user_agent: Option<String> },
    /// Offline (or a record without live fields).
    Address { ip: IpAddr, user_agent: Option<String> },
    /// Every client first seen once the aggregate was full, judged together.
    Other,
}

/// The address of a record's client.
pub fn client_ip(r: &RequestRecord) -> IpAddr {
    r.network.client.ip()
}

/// Why no process was named, as the key and the dashboard say it.
pub fn miss_reason(m: Option<AttributionMiss>) -> &'static str {
    match m {
        Some(AttributionMiss::Exited) => "exited",
        Some(AttributionMiss::NoSocket) => "no socket",
        Some(AttributionMiss::Permission) => "no permission",
        Some(AttributionMiss::Overloaded) => "overloaded",
        Some(AttributionMiss::Remote) => "remote",
        Some(AttributionMiss::Disabled) => "attribution off",
        None => "unknown",
    }
}

/// The container part of a live key: `namespace/pod/container` (the parts known) when the
/// node named the pod, else the container's name, else its id (so the restarts of one pod's
/// container are one client).
pub fn container_identity(live: &LiveFields) -> Option<String> {
    let c = live.container.as_ref()?;
    if let Some(k) = live.k8s.as_ref().filter(|k| k.pod.is_some()) {
        let parts: Vec<&str> = [&k.namespace, &k.pod, &k.container].into_iter().flatten().map(String::as_str).collect();
        return Some(parts.join("/"));
    }
    Some(c.name.clone().unwrap_or_else(|| c.id.clone()))
}

impl ClientKey {
    /// The key of a record: live (`live`: the monitor named processes) or offline.
    pub fn of(r: &RequestRecord, live: bool) -> ClientKey {
        let user_agent = r.imds.user_agent.clone();
        let Some(l) = r.live.as_ref().filter(|_| live) else {
            return ClientKey::Address { ip: client_ip(r), user_agent };
        };
        match &l.process {
            Some(p) => ClientKey::Process {
                exe: p.file.path.clone().unwrap_or_else(|| p.file.name.clone()),
                cmdline: p.cmdline.clone(),
                container: container_identity(l),
                user_agent,
            },
            None => ClientKey::Unattributed { reason: miss_reason(l.attribution), ip: client_ip(r), user_agent },
        }
    }

    /// The key's user agent.
    pub fn user_agent(&self) -> Option<&str> {
        match self {
            ClientKey::Process { user_agent, .. }
            | ClientKey::Unattributed { user_agent, .. }
            | ClientKey::Address { user_agent, .. } => user_agent.as_deref(),
            ClientKey::Other => None,
        }
    }

    /// Live: the process, as one line: the executable, the command line's arguments (after
    /// its first word) and `@container`. `None` for other keys.
    pub fn process(&self) -> Option<String> {
        let ClientKey::Process { exe, cmdline, container, .. } = self else { return None };
        let mut s = exe.clone();
        if let Some((_, args)) = cmdline.trim().split_once(char::is_whitespace) {
            let _ = write!(s, " {}", args.trim_start());
        }
        if let Some(c) = container {
            let _ = write!(s, " @{c}");
        }
        Some(s)
    }
}
