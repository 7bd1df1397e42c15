//! Record builders shared by the dashboard tests.
#![allow(dead_code)]

use imdswatch::event::{
    Ancestor, Container, Imds, LiveFields, Network, Outcome, Process, ProcessFile, RequestCounts, RequestRecord,
    StatsRecord, Version,
};
use imdswatch::time::Timestamp;
use imdswatch::ui::UiEvent;

/// 2023-11-14T22:13:20Z plus `secs`.
pub fn at(secs: u64) -> Timestamp {
    Timestamp::from_parts(1_700_000_000 + secs, 0)
}

pub const CREDS: &str = "/latest/meta-data/iam/security-credentials/app-role";

pub fn request(secs: u64, version: Version, path: &str, outcome: Outcome, ua: Option<&str>) -> RequestRecord {
    let status = match outcome {
        Outcome::Ok => Some(200),
        Outcome::Rejected => Some(401),
        _ => None,
    };
    let method = if version == Version::TokenRequest { "PUT" } else { "GET" };
    RequestRecord {
        timestamp: at(secs),
        imds: Imds {
            version,
            method: method.into(),
            path: path.into(),
            status,
            outcome,
            credentials: path.contains("security-credentials"),
            token_ttl_seconds: (version == Version::TokenRequest).then_some(21600),
            user_agent: ua.map(str::to_string),
            forwarded: false,
            response_ms: status.map(|_| 0.4),
            answer_ttl: status.map(|_| 64),
            provider: imdswatch::event::Provider::Aws,
            service: imdswatch::event::Service::Ec2Imds,
            breaks_when_enforced: imdswatch::event::breaks_when_enforced(version, outcome),
            parse_error: false,
            conflict: false,
        },
        network: Network {
            client: "172.17.0.2:41234".parse().expect("address"),
            server: "169.254.169.254:80".parse().expect("address"),
            client_ttl: 63,
        },
        credentials: None,
        live: None,
        capture: None,
    }
}

pub fn v1(secs: u64, path: &str, ua: Option<&str>) -> RequestRecord {
    request(secs, Version::V1, path, Outcome::Ok, ua)
}

pub fn v2(secs: u64, path: &str, ua: Option<&str>) -> RequestRecord {
    request(secs, Version::V2, path, Outcome::Ok, ua)
}

pub fn token(secs: u64, outcome: Outcome, ua: Option<&str>) -> RequestRecord {
    request(secs, Version::TokenRequest, "/latest/api/token", outcome, ua)
}

/// Attributes `r` to a process (`exe` is a full path; `container` a full id).
pub fn by(mut r: RequestRecord, pid: u32, exe: &str, cmdline: &str, container: Option<&str>) -> RequestRecord {
    let name = exe.rsplit('/').next().unwrap_or(exe).to_string();
    r.live = Some(LiveFields {
        process: Some(Process {
            pid,
            file: ProcessFile { name, path: Some(exe.into()) },
            cmdline: cmdline.into(),
            uid: 0,
            user: Some("root".into()),
            ancestors: vec![
                Ancestor { pid: 812, name: "cron".into(), path: Some("/usr/sbin/cron".into()) },
                Ancestor { pid: 1, name: "systemd".into(), path: Some("/usr/lib/systemd/systemd".into()) },
            ],
        }),
        container: container.map(|id| Container::new(id, "docker")),
        attribution: None,
        host: Some("ip-10-0-1-17".into()),
        ..LiveFields::default()
    });
    r
}

pub fn ev(r: RequestRecord) -> UiEvent {
    UiEvent::Request(Box::new(r))
}

pub const CONTAINER: &str = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708";
/// Older than AWS's published IMDSv2 minimum (boto3 1.12.6, botocore 1.13.25).
pub const OLD_BOTO: &str = "Boto3/1.10.24 Python/3.8.10 Linux/5.10.0 Botocore/1.13.24";
pub const GO_V2: &str = "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux ft/ec2-imds";

pub fn stats(secs: u64, counts: RequestCounts) -> UiEvent {
    UiEvent::Stats(StatsRecord {
        timestamp: at(secs),
        uptime_seconds: secs + 5,
        sources: vec!["ens5".into()],
        packets: 1234,
        imds_packets: 200,
        requests: counts,
        kernel_drops: 0,
        interface_drops: 0,
        queue_losses: 3,
        flows_active: 2,
        flows_evicted: 0,
        attribution_misses: 0,
        anomalies: Default::default(),
        ..StatsRecord::default()
    })
}
