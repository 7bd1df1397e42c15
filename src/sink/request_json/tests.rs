//! The hand-written request line against serde's, byte for byte.

use super::*;
use crate::event::{
    Ancestor, AttributionMiss, AttributionSource, CaptureFile, Container, CredentialIdentity, K8s, LiveFields, Outcome,
    Process, ProcessFile, Provider, Service,
};

fn base() -> RequestRecord {
    RequestRecord {
        timestamp: Timestamp(1_719_915_600_000_028),
        imds: Imds {
            version: Version::V1,
            method: "GET".into(),
            path: "/latest/meta-data/local-ipv4".into(),
            status: Some(200),
            outcome: Outcome::Ok,
            credentials: false,
            token_ttl_seconds: None,
            user_agent: Some("python-requests/2.31.0".into()),
            forwarded: false,
            response_ms: Some(0.002),
            answer_ttl: Some(255),
            provider: Provider::Aws,
            service: Service::Ec2Imds,
            breaks_when_enforced: Some(true),
            parse_error: false,
            conflict: false,
        },
        network: Network {
            client: "10.0.15.203:37947".parse().expect("address"),
            server: "169.254.169.254:80".parse().expect("address"),
            client_ttl: 64,
        },
        credentials: None,
        live: None,
        capture: None,
    }
}

fn live() -> LiveFields {
    LiveFields {
        process: Some(Process {
            pid: 4242,
            file: ProcessFile { name: "curl\u{9b}".into(), path: Some("/usr/bin/curl".into()) },
            cmdline: "curl -H \"X-aws-ec2-metadata-token: <redacted>\" http://169.254.169.254/".into(),
            uid: 1000,
            user: Some("app".into()),
            ancestors: vec![Ancestor { pid: 1, name: "systemd".into(), path: None }],
        }),
        container: Some(Container {
            name: Some("web".into()),
            image: Some("nginx:1.27".into()),
            cgroup: Some("/kubepods/x".into()),
            ..Container::new("ab".repeat(32), "containerd")
        }),
        attribution: Some(AttributionMiss::Exited),
        host: Some("node-1".into()),
        k8s: Some(K8s { namespace: Some("prod".into()), pod: Some("web-0".into()), ..K8s::default() }),
        host_id: Some("i-0123456789abcdef0".into()),
        attribution_source: Some(AttributionSource::Kernel),
        attribution_pid: Some(4242),
        attribution_missing: vec!["exe", "cmdline"],
    }
}

fn records() -> Vec<RequestRecord> {
    let mut out = vec![base()];
    let hostile = [
        "",
        "a\"b\\c",
        "tab\there\nnl\r\u{0}\u{1f}\u{7f}",
        "ua\u{9b}31m\u{9d}0;x\u{7}\u{1b}[2J\u{2028}\u{2029}\u{202e}\u{2066}\u{200b}\u{e0041}",
        "日本語 é ü",
        "/latest/meta-data/iam/security-credentials/role",
    ];
    for (i, s) in hostile.iter().enumerate() {
        let mut r = base();
        r.imds.path = (*s).into();
        r.imds.method = s.chars().rev().collect();
        r.imds.user_agent = (i % 2 == 0).then(|| (*s).into());
        out.push(r);
    }
    let versions = [Version::V1, Version::V2, Version::TokenRequest, Version::Unversioned];
    let outcomes = [
        Outcome::Ok,
        Outcome::Redirect,
        Outcome::Rejected,
        Outcome::ClientError,
        Outcome::ServerError,
        Outcome::NoResponse,
        Outcome::Unmatched,
        Outcome::ServerClosed,
    ];
    let providers = [
        Provider::Aws,
        Provider::Gcp,
        Provider::Azure,
        Provider::Oracle,
        Provider::Ibm,
        Provider::Alibaba,
        Provider::Unknown,
    ];
    let ms =
        [None, Some(0.0), Some(0.002), Some(1e-7), Some(123_456.789), Some(f64::NAN), Some(f64::INFINITY), Some(1e21)];
    let addrs =
        ["[fd00:ec2::254]:80", "[2001:db8::1ac4]:45307", "[fe80::1%2]:8080", "0.0.0.0:0", "255.255.255.255:65535"];
    for i in 0..64usize {
        let mut r = base();
        r.timestamp = Timestamp((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 40));
        r.imds.version = versions[i % versions.len()];
        r.imds.outcome = outcomes[i % outcomes.len()];
        r.imds.provider = providers[i % providers.len()];
        r.imds.service = Service::ALL[i % Service::ALL.len()];
        r.imds.status = (i % 3 != 0).then_some((i * 97 % 600) as u16);
        r.imds.token_ttl_seconds = (i % 4 == 1).then_some((i as u32) * 7_919);
        r.imds.credentials = i % 2 == 1;
        r.imds.forwarded = i % 5 == 1;
        r.imds.response_ms = ms[i % ms.len()];
        r.imds.answer_ttl = (i % 6 != 0).then_some(i as u8);
        r.imds.breaks_when_enforced = [None, Some(true), Some(false)][i % 3];
        r.imds.parse_error = i % 7 == 3;
        r.imds.conflict = i % 9 == 4;
        r.network.client = addrs[i % addrs.len()].parse().expect("address");
        r.network.server = addrs[(i + 2) % addrs.len()].parse().expect("address");
        r.network.client_ttl = (i * 37 % 256) as u8;
        if i % 4 == 2 {
            r.credentials = Some(Box::new(CredentialIdentity {
                role: Some("app-role".into()),
                access_key_id: Some("ASIAEXAMPLE".into()),
                expiration: (i % 8 == 2).then(|| "2024-07-02T16:20:00Z".into()),
                kind: Some("AWS-HMAC".into()),
            }));
        }
        if i % 3 == 1 {
            r.live = Some(if i % 2 == 0 { live() } else { LiveFields::default() });
        }
        if i % 5 == 2 {
            r.capture = Some(CaptureFile { file: format!("cap\u{1b}{i}.pcap").into() });
        }
        out.push(r);
    }
    for t in [0, 999_999, 1_000_000, 253_402_300_799_999_999, 253_402_300_800_000_000, u64::MAX] {
        let mut r = base();
        r.timestamp = Timestamp(t);
        out.push(r);
    }
    out
}

#[test]
fn every_field_variant_and_escape_is_written_as_serde_writes_it() {
    let mut fast = RequestJson::default();
    let mut line = Vec::new();
    for r in records() {
        let mut want = Vec::new();
        super::super::ndjson::to_writer(&mut want, &r).expect("serde");
        line.clear();
        fast.write(&mut line, &r).expect("write");
        assert_eq!(String::from_utf8_lossy(&line), String::from_utf8_lossy(&want), "{r:?}");
    }
}

#[test]
fn the_second_cache_follows_time_both_ways() {
    let mut fast = RequestJson::default();
    for t in [5_000_001, 5_999_999, 6_000_000, 5_000_002, 86_400_000_000] {
        let mut line = Vec::new();
        fast.write(&mut line, &RequestRecord { timestamp: Timestamp(t), ..base() }).expect("write");
        let v: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(v["timestamp"], Timestamp(t).to_string());
    }
}

#[test]
fn the_eight_byte_check_never_passes_a_byte_that_needs_an_escape() {
    let naive = |b: &[u8]| b.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\');
    for len in [7, 8, 9, 16, 17] {
        for at in 0..len {
            for v in 0..=255u8 {
                for fill in [b'a', b' ', b'~', b'!', b'#', b'['] {
                    let mut buf = vec![fill; len];
                    buf[at] = v;
                    assert_eq!(plain(&buf), naive(&buf), "{v:#x} at {at} of {len} in {:?}", fill as char);
                    if at + 1 < len {
                        buf[at + 1] = v.wrapping_add(1);
                        assert_eq!(plain(&buf), naive(&buf), "{v:#x},{:#x} at {at} of {len}", v.wrapping_add(1));
                    }
                }
            }
        }
    }
}
