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

fn advice_of(recs: &[RequestRecord]) -> (Verdict, Vec<Advice>) {
    let s = summary(recs);
    (verdict(&s), advise(&s, false))
}

fn ua(t: u64, v: Version, (st, o): (Option<u16>, Outcome), ua: &str) -> RequestRecord {
    rec(t, v, st, o, Some(ua))
}

/// Issue 24's two measured clients: `breaks`, with advice naming the SDK and its first
/// version with IMDSv2 (the old code said "Raw HTTP caller" with a curl recipe).
#[test]
fn measured_clients_get_their_sdk_and_first_fixed_version() {
    use Version::*;
    let (v, a) = advice_of(&[ua(1, V1, OK, "aws-sdk-nodejs/2.500.0 linux/v20.20.2")]);
    assert_eq!(v, Verdict::Breaks);
    assert_eq!(a[0].kind, AdviceKind::SdkUpgrade);
    assert!(a[0].title.contains("AWS SDK for JavaScript v2 2.500.0") && a[0].title.contains("2.722.0"), "{a:?}");
    assert!(a[0].lines.iter().any(|l| l == "npm install aws-sdk@^2.722.0"), "{a:?}");
    let (v, a) = advice_of(&[ua(1, V1, OK, "Ruby"), ua(2, V1, OK, "Ruby")]);
    assert_eq!(v, Verdict::Breaks);
    assert_eq!(a[0].kind, AdviceKind::SdkUpgrade);
    assert!(a[0].title.contains("AWS SDK for Ruby v1"), "{a:?}");
    assert!(a[0].lines[0].contains("gem install aws-sdk-core (>= 3.79.0)"), "{a:?}");
    let mut t: Clients = Clients::new(false);
    t.add(&ua(1, V1, OK, "aws-sdk-nodejs/2.500.0 linux/v20.20.2"));
    let rec = t.record(Timestamp(2));
    let c = &rec.clients[0];
    assert_eq!(
        (c.product, c.version.as_deref(), c.fixed_in),
        (Some("AWS SDK for JavaScript v2"), Some("2.500.0"), Some("2.722.0"))
    );
    assert_eq!(c.advice_details[0].kind, "sdk_upgrade");
    let j = serde_json::to_value(&rec).expect("json");
    assert_eq!(j["clients"][0]["product_id"], "aws-sdk-js-v2");
}

/// An SDK at or past its first IMDSv2 version that used IMDSv1 gets the cause, never an
/// upgrade (the old thresholds called botocore < 1.23 "old").
#[test]
fn a_modern_sdk_falling_back_gets_the_cause_not_an_upgrade() {
    use Version::*;
    let b = "Botocore/1.18.0 Python/3.8.10 Linux/5.10";
    let refused = (Some(405), Outcome::ClientError);
    let (v, a) = advice_of(&[ua(1, TokenRequest, refused, b), ua(2, V1, OK, b)]);
    assert_eq!(v, Verdict::Breaks);
    assert!(a.iter().all(|a| a.kind != AdviceKind::SdkUpgrade), "{a:?}");
    assert_eq!(a[0].kind, AdviceKind::Fallback);
    assert!(a[0].title.contains("1.18.0") && a[0].lines[0].contains("refused"), "{a:?}");
    let (v, a) = advice_of(&[ua(1, TokenRequest, NONE, b), ua(2, V1, OK, b)]);
    assert_eq!(v, Verdict::HopLimit);
    assert_eq!(a.iter().map(|a| a.kind).collect::<Vec<_>>(), [AdviceKind::HopLimit]);
    // The same SDK one version before its first IMDSv2 release: an upgrade.
    let (_, a) = advice_of(&[ua(1, V1, OK, "Botocore/1.13.24 Python/3.11.7 Linux/6.1")]);
    assert_eq!(a[0].kind, AdviceKind::SdkUpgrade);
    assert_eq!(a[0].lines, ["pip install -U 'botocore>=1.13.25'"]);
}

/// A hand-written caller gets a token recipe in its language, from its user agent or its
/// process.
#[test]
fn hand_written_callers_get_a_recipe_in_their_language() {
    use Version::*;
    let (_, a) = advice_of(&[ua(1, V1, OK, "Python-urllib/3.11")]);
    assert_eq!(a[0].kind, AdviceKind::RawHttp);
    assert!(a[0].lines.iter().any(|l| l.contains("urllib.request")), "{a:?}");
    let (_, a) = advice_of(&[ua(1, V1, OK, "Go-http-client/1.1")]);
    assert!(a[0].lines.iter().any(|l| l.contains("X-aws-ec2-metadata-token")) && a[0].title.contains(" go "), "{a:?}");
    let (_, a) = advice_of(&[ua(1, V1, OK, "curl/8.5.0")]);
    assert!(a[0].lines.iter().any(|l| l.starts_with("TOKEN=$(curl")), "{a:?}");
    // The same caller with tokens on other requests: find the path without, not a recipe.
    let (v, a) =
        advice_of(&[ua(1, V1, OK, "curl/8.5.0"), ua(2, TokenRequest, OK, "curl/8.5.0"), ua(3, V2, OK, "curl/8.5.0")]);
    assert_eq!((v, a[0].kind), (Verdict::FallsBack, AdviceKind::Fallback), "{a:?}");
    let (_, a) = advice_of(&[ua(1, V1, OK, "curl/8.5.0")]);
    assert!(a[0].lines.iter().any(|l| l.starts_with("TOKEN=$(curl")), "{a:?}");
    let mut r = rec(1, V1, Some(200), Outcome::Ok, None);
    let mut s = ClientSummary::default();
    s.add(&r);
    s.process = Some(crate::classify::catalogue::ProcessHint::new("/usr/bin/python3", "python3 /opt/app/poll.py"));
    let a = advise(&s, false);
    assert!(a[0].lines.iter().any(|l| l.contains("urllib.request")), "{a:?}");
    r.imds.user_agent = Some("Python-urllib/3.11".into());
    s.process =
        Some(crate::classify::catalogue::ProcessHint::new("/usr/bin/python3", "/usr/bin/python3 /usr/bin/ec2metadata"));
    s.add(&r);
    assert_eq!(super::remedy::software(&s).map(|w| w.product_id), Some("cloud-guest-utils-ec2metadata"));
}

/// The AWS SDK for JavaScript v2 (2.722.0, measured) sends its token request without a
/// User-Agent and its IMDSv1 fallback with one: two clients under the key, yet the fallback's
/// verdict and advice read the token requests of the same address (live: process).
#[test]
fn token_requests_without_a_user_agent_count_for_the_same_clients_fallback() {
    use Version::*;
    let js = "aws-sdk-nodejs/2.722.0 linux/v20.20.2";
    let verdict_of = |token: (Option<u16>, Outcome)| {
        let mut c: Clients = Clients::new(false);
        c.add(&rec(1, TokenRequest, token.0, token.1, None));
        c.add(&ua(2, V1, OK, js));
        let rec = c.record(Timestamp(3));
        let x = rec.clients.iter().find(|x| x.user_agent.as_deref() == Some(js)).cloned().expect("the SDK's row");
        (x.verdict, x.advice_details)
    };
    let (v, a) = verdict_of(NONE);
    assert_eq!((v, a[0].kind), (Verdict::HopLimit, "hop_limit"), "{a:?}");
    let (v, a) = verdict_of((Some(403), Outcome::ClientError));
    assert_eq!((v, a[0].kind), (Verdict::ProxyRefused, "proxy_refused"), "{a:?}");
    let (v, a) = verdict_of((Some(405), Outcome::ClientError));
    assert_eq!((v, a[0].kind), (Verdict::Breaks, "fallback"), "{a:?}");
    assert!(
        a[0].lines[0].contains("no User-Agent") && a[0].lines[2].starts_with("1 token requests were refused"),
        "{a:?}"
    );
    // A client with token requests of its own is judged on them alone; another address's
    // bare token request is not its.
    let mut c: Clients = Clients::new(false);
    c.add(&rec(1, TokenRequest, None, Outcome::NoResponse, None));
    c.add(&ua(2, TokenRequest, OK, js));
    c.add(&ua(3, V1, OK, js));
    let k = ClientKey::Address { ip: client::client_ip(&ua(3, V1, OK, js)), user_agent: Some(js.into()) };
    assert_eq!(c.get(&k).map(|x| x.verdict()), Some(Verdict::FallsBack));
    let mut c: Clients = Clients::new(false);
    c.add(&rec(1, TokenRequest, None, Outcome::NoResponse, None));
    let mut other = ua(2, V1, OK, js);
    other.network.client = "10.9.9.9:4000".parse().expect("addr");
    c.add(&other);
    assert_eq!(c.values().find(|x| x.key.user_agent() == Some(js)).map(|x| x.verdict()), Some(Verdict::Breaks));
}
