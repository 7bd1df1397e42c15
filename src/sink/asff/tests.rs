//! Live ASFF: one finding per breaking client, written again (same Id, later UpdatedAt) only
//! when the verdict or the IMDSv1 count changes.

use super::*;
use crate::event::{Imds, LiveFields, Network, Outcome, Process, ProcessFile, Provider, Service, Version};

#[derive(Default)]
struct Lines(Vec<Value>);

impl LineOut for Lines {
    fn line(&mut self, v: &Value) -> io::Result<()> {
        self.0.push(v.clone());
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn v1(secs: u64, pid: u32) -> RequestRecord {
    RequestRecord {
        timestamp: Timestamp(secs * 1_000_000),
        imds: Imds {
            version: Version::V1,
            method: "GET".into(),
            path: "/latest/meta-data/".into(),
            status: Some(200),
            outcome: Outcome::Ok,
            credentials: false,
            token_ttl_seconds: None,
            user_agent: Some("curl/8.0".into()),
            forwarded: false,
            response_ms: Some(1.0),
            answer_ttl: Some(64),
            provider: Provider::Aws,
            service: Service::Ec2Imds,
            breaks_when_enforced: Some(true),
            parse_error: false,
            conflict: false,
        },
        network: Network {
            client: "10.0.0.2:40000".parse().expect("address"),
            server: "169.254.169.254:80".parse().expect("address"),
            client_ttl: 64,
        },
        credentials: None,
        live: Some(LiveFields {
            process: Some(Process {
                pid,
                file: ProcessFile { name: "curl".into(), path: Some("/usr/bin/curl".into()) },
                cmdline: "curl http://169.254.169.254/latest/meta-data/".into(),
                uid: 0,
                user: None,
                ancestors: Vec::new(),
            }),
            host: Some("node-1".into()),
            host_id: Some("i-0123456789abcdef0".into()),
            ..LiveFields::default()
        }),
        capture: None,
    }
}

fn target() -> AsffTarget {
    AsffTarget::new(Some("eu-west-1"), Some("111122223333")).expect("target")
}

#[test]
fn live_findings_are_updated_not_duplicated() {
    let mut s: AsffSink<io::Sink, Lines> = AsffSink::lines(target(), Lines::default(), None);
    let stats = StatsRecord::default();
    s.record(&v1(100, 7)).expect("record");
    s.stats(&stats).expect("stats");
    s.stats(&stats).expect("stats again, nothing new");
    s.record(&v1(160, 8)).expect("a second request of the same program (another pid)");
    s.stats(&stats).expect("stats");
    let AsffOut::Lines(Lines(out)) = &s.out else { panic!("lines") };
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["Id"], out[1]["Id"], "same client, same Id");
    assert!(out[1]["UpdatedAt"].as_str() > out[0]["UpdatedAt"].as_str(), "UpdatedAt moves");
    assert_eq!(out[0]["CreatedAt"], out[1]["CreatedAt"]);
    assert_eq!(out[1]["ProductFields"]["imdswatch/imdsv1_served"], "2");
    let instance = &out[1]["Resources"][0];
    assert_eq!(instance["Type"], "AwsEc2Instance");
    assert_eq!(instance["Id"], "arn:aws:ec2:eu-west-1:111122223333:instance/i-0123456789abcdef0");
    assert_eq!(out[1]["Process"]["Name"], "curl");
    assert_eq!(out[1]["Process"]["Pid"], 8);
}

#[test]
fn the_target_is_checked() {
    assert!(AsffTarget::new(None, Some("111122223333")).is_err());
    assert!(AsffTarget::new(Some("eu-west-1"), Some("1111")).is_err());
    assert!(AsffTarget::new(Some("eu-west-1\u{1b}[2J"), Some("111122223333")).is_err());
    assert_eq!(target().product_arn(), "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default");
}
