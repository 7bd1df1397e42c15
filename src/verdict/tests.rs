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
            breaks_when_enforced: None,
            parse_error: false,
            conflict: false,
        },
        network: Network { client: "10.0.0.2:40000".into(), server: "169.254.169.254:80".into(), client_ttl: 64 },
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
