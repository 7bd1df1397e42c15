use super::*;
use crate::event::{Imds, Network};

fn rec(t: u64, version: Version, status: Option<u16>, outcome: Outcome, ua: Option<&str>) -> RequestRecord {
    RequestRecord {
        timestamp: Timestamp(t),
        imds: Imds {
            version,
            method: if version == Version::TokenRequest { "PUT" } else { "GET" }.into(),
            path: "/latest/meta-data/".into(),
            status,
            outcome,
            credentials: false,
            token_ttl_seconds: None,
            user_agent: ua.map(str::to_owned),
            forwarded: false,
            response_ms: None,
            answer_ttl: None,
            provider: crate::event::Provider::Aws,
            service: Service::Ec2Imds,
            breaks_when_enforced: None,
            parse_error: false,
            conflict: false,
        },
        network: Network {
            client: "10.0.0.2:40000".parse().expect("address"),
            server: "169.254.169.254:80".parse().expect("address"),
            client_ttl: 64,
        },
        credentials: None,
        live: None,
        capture: None,
    }
}

fn judge(recs: &[RequestRecord]) -> Verdict {
    let mut s = ClientSummary::default();
    for r in recs {
        s.add(r);
    }
    verdict(&s)
}

const OK: (Option<u16>, Outcome) = (Some(200), Outcome::Ok);
const NONE: (Option<u16>, Outcome) = (None, Outcome::NoResponse);

fn r(t: u64, v: Version, (st, o): (Option<u16>, Outcome)) -> RequestRecord {
    rec(t, v, st, o, Some("Boto3/1.35.0 Botocore/1.35.0"))
}

#[test]
fn verdict_rules() {
    use Version::*;
    assert_eq!(judge(&[r(1, TokenRequest, OK), r(2, V2, OK)]), Verdict::Ready);
    assert_eq!(judge(&[r(1, V1, OK), r(2, V1, OK)]), Verdict::Breaks);
    assert_eq!(judge(&[r(1, TokenRequest, NONE), r(2, V1, OK)]), Verdict::HopLimit);
    let forbidden = (Some(403), Outcome::Rejected);
    assert_eq!(judge(&[r(1, TokenRequest, forbidden), r(2, V1, OK)]), Verdict::ProxyRefused);
    assert_eq!(judge(&[r(1, V1, OK), r(2, TokenRequest, OK), r(3, V2, OK)]), Verdict::FallsBack);
    let refused = (Some(401), Outcome::Rejected);
    assert_eq!(judge(&[r(1, V1, refused), r(2, V1, (Some(404), Outcome::ClientError))]), Verdict::ProbeOnly);
    // An unanswered token request after the last served v1 is not the hop-limit symptom.
    assert_eq!(judge(&[r(1, V1, OK), r(2, TokenRequest, NONE)]), Verdict::Breaks);
}

#[test]
fn would_break_and_host_line() {
    let h = host_verdict([Verdict::Ready, Verdict::ProbeOnly]);
    assert!(h.safe_to_enforce);
    let h = host_verdict([Verdict::Ready, Verdict::HopLimit, Verdict::FallsBack]);
    assert_eq!(h.would_break, 2);
    assert!(!h.safe_to_enforce);
    assert_eq!(h.clients_by_verdict.get("hop_limit"), Some(&1));
}

#[test]
fn advice_names_the_fix() {
    use Version::*;
    let mut s = ClientSummary::default();
    s.add(&r(1, TokenRequest, NONE));
    s.add(&r(2, V1, OK));
    let a = advise(&s, false);
    assert_eq!(a[0].kind, AdviceKind::HopLimit);
    assert!(a[0].lines.iter().any(|l| l.contains("--http-put-response-hop-limit 2")));
    let mut s = ClientSummary::default();
    s.add(&rec(1, V1, Some(200), Outcome::Ok, Some("Boto/2.49.0 Python/3.11")));
    let a = advise(&s, false);
    assert_eq!(a[0].kind, AdviceKind::SdkUpgrade);
    let mut s = ClientSummary::default();
    s.add(&r(1, V2, OK));
    let kinds: Vec<_> = advise(&s, true).iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AdviceKind::NoV1, AdviceKind::Enforce]);
}

/// A record of `service` (its provider from the service).
fn svc(t: u64, service: Service, v: Version, (st, o): (Option<u16>, Outcome)) -> RequestRecord {
    let mut r = rec(t, v, st, o, Some("curl/8.5.0"));
    r.imds.service = service;
    r.imds.provider = service.provider();
    r
}

fn summary(recs: &[RequestRecord]) -> ClientSummary {
    let mut s = ClientSummary::default();
    for r in recs {
        s.add(r);
    }
    s
}

#[test]
fn other_clouds_legacy_forms_count_like_imdsv1() {
    use Version::*;
    let not_found = (Some(404), Outcome::ClientError);
    for service in [Service::AlibabaImds, Service::OciImds, Service::GcpMetadata] {
        let s = summary(&[svc(1, service, V1, OK)]);
        assert_eq!(verdict(&s), Verdict::Breaks, "{service:?}");
        assert!(s.legacy_services.contains(service));
        let h = host_verdict_of([&s]);
        assert_eq!(h.breaking_services.iter().collect::<Vec<_>>(), [service]);
        assert!(!h.safe_to_enforce);
        // Legacy plus the hardened form: falls back.
        assert_eq!(judge(&[svc(1, service, V1, OK), svc(2, service, V2, OK)]), Verdict::FallsBack);
    }
    // OCI and GCP requests refused or not found are probes (cloud detection on another
    // cloud), whatever their form: issue 13's probe_only holds.
    for service in [Service::OciImds, Service::GcpMetadata] {
        assert_eq!(judge(&[svc(1, service, V2, not_found), svc(2, service, V1, not_found)]), Verdict::ProbeOnly);
        assert_eq!(judge(&[svc(1, service, V2, OK)]), Verdict::Ready);
    }
    // Alibaba's refused normal-mode request is a failed v1, as on AWS.
    let s = summary(&[svc(1, Service::AlibabaImds, V1, (Some(401), Outcome::Rejected))]);
    assert_eq!((verdict(&s), s.v1_failed, s.probes), (Verdict::ProbeOnly, 1, 0));
    // Alibaba's token dance is judged like AWS's (hop limit).
    assert_eq!(
        judge(&[svc(1, Service::AlibabaImds, TokenRequest, NONE), svc(2, Service::AlibabaImds, V1, OK)]),
        Verdict::HopLimit
    );
}

#[test]
fn credential_services_have_nothing_to_enforce() {
    use Version::*;
    let s = summary(&[
        svc(1, Service::EcsTaskCredentials, Unversioned, OK),
        svc(2, Service::EksPodIdentity, Unversioned, OK),
        svc(3, Service::AzureImds, Unversioned, (Some(400), Outcome::ClientError)),
    ]);
    assert_eq!(verdict(&s), Verdict::ProbeOnly);
    assert!(s.legacy_services.is_empty());
    let a = advise(&s, false);
    assert_eq!(a[0].kind, AdviceKind::Ignore);
    assert!(a[0].lines.iter().any(|l| l.contains("no legacy form")), "{a:?}");
    assert!(host_verdict_of([&s]).safe_to_enforce);
}

#[test]
fn advice_names_each_services_switch() {
    use Version::*;
    let cases = [
        (Service::AlibabaImds, "ModifyInstanceMetadataOptions", "--HttpTokens required"),
        (Service::OciImds, "/opc/v2", "are_legacy_imds_endpoints_disabled = true"),
        (Service::GcpMetadata, "/computeMetadata/v1/", "disable-legacy-endpoints=true"),
    ];
    for (service, fix, switch) in cases {
        let a = advise(&summary(&[svc(1, service, V1, OK)]), false);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].kind, AdviceKind::Legacy);
        let text = format!("{} {}", a[0].title, a[0].lines.join(" "));
        assert!(text.contains(fix) && text.contains(switch), "{service:?}: {text}");
        assert!(!text.contains("aws ec2"), "{text}");
        // Once safe, the enforcement command is that service's.
        let a = advise(&summary(&[svc(1, service, V2, OK)]), true);
        let e = a.iter().find(|a| a.kind == AdviceKind::Enforce).expect("enforce");
        let cmd = e.lines.join(" ");
        assert!(!cmd.contains("aws ec2"), "{cmd}");
    }
    let oci = advise(&summary(&[svc(1, Service::OciImds, V2, OK)]), true);
    assert!(oci.iter().any(|a| a.lines.iter().any(|l| l.contains("oci compute instance update"))));
    let gcp = advise(&summary(&[svc(1, Service::GcpMetadata, V2, OK)]), true);
    assert!(gcp.iter().any(|a| a.lines.iter().any(|l| l.contains("gcloud compute instances add-metadata"))));
    // A client of EC2 and OCI legacy forms gets both: the OCI move and the AWS SDK advice.
    let a = advise(&summary(&[svc(1, Service::OciImds, V1, OK), r(2, V1, OK)]), false);
    let kinds: Vec<_> = a.iter().map(|a| a.kind).collect();
    assert_eq!(kinds[0], AdviceKind::Legacy);
    assert!(kinds.len() > 1, "{kinds:?}");
}

#[test]
fn probes_of_other_clouds_do_not_change_the_enforcement_command() {
    use Version::*;
    // On an AWS host: a GCP SDK's probe answered 404, and an IMDSv2 client.
    let not_found = (Some(404), Outcome::ClientError);
    let s = summary(&[svc(1, Service::GcpMetadata, V2, not_found), svc(2, Service::OciImds, V1, not_found)]);
    let a = advise(&s, true);
    let e: Vec<String> = a.iter().filter(|a| a.kind == AdviceKind::Enforce).flat_map(|a| a.lines.clone()).collect();
    assert!(e.iter().any(|l| l.contains("aws ec2 modify-instance-metadata-options")), "{e:?}");
    assert!(!e.iter().any(|l| l.contains("gcloud") || l.contains("oci compute")), "{e:?}");
}
