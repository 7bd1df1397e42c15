//! Every service's legacy, hardened, refused and credentials cases, with and without the
//! server address's hint.

use crate::classify::{Classified, classify_hinted};
use crate::endpoint::Hint;
use crate::event::{Provider, Service, Version};

fn at(hint: Option<Hint>, raw: &str) -> Classified {
    let mut h = [httparse::EMPTY_HEADER; 16];
    let mut r = httparse::Request::new(&mut h);
    assert!(matches!(r.parse(raw.as_bytes()), Ok(httparse::Status::Complete(_))), "{raw}");
    classify_hinted(&r, hint)
}

fn plain(raw: &str) -> Classified {
    at(None, raw)
}

fn well_known(service: Service) -> Option<Hint> {
    Some(Hint { service, explicit: false })
}

fn explicit(service: Service) -> Option<Hint> {
    Some(Hint { service, explicit: true })
}

/// (service, provider, version, credentials) of a classification.
fn sum(c: &Classified) -> (Service, Provider, Version, bool) {
    (c.service, c.provider, c.version, c.credentials)
}

#[test]
fn ec2_imds_is_unchanged() {
    use Version::*;
    let s = Service::Ec2Imds;
    let p = Provider::Aws;
    assert_eq!(sum(&plain("GET /latest/meta-data/ HTTP/1.1\r\n\r\n")), (s, p, V1, false));
    assert_eq!(
        sum(&plain("PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n")),
        (s, p, TokenRequest, false)
    );
    let c = plain("GET /latest/meta-data/iam/security-credentials/r HTTP/1.1\r\nX-aws-ec2-metadata-token: t\r\n\r\n");
    assert_eq!(sum(&c), (s, p, V2, true));
    // An explicit ec2_imds hint is the shared address: the request still decides.
    let c = at(explicit(s), "GET /computeMetadata/v1/ HTTP/1.1\r\nMetadata-Flavor: Google\r\n\r\n");
    assert_eq!(c.service, Service::GcpMetadata);
}

#[test]
fn alibaba_normal_and_hardened_modes() {
    use Version::*;
    let h = well_known(Service::AlibabaImds);
    let (s, p) = (Service::AlibabaImds, Provider::Alibaba);
    // Normal mode: a plain GET, no aliyun header at all; the address says alibaba.
    assert_eq!(sum(&at(h, "GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n")), (s, p, V1, false));
    // Hardened: the token PUT, with or without the TTL header, then GETs with the token.
    let c = at(h, "PUT /latest/api/token HTTP/1.1\r\nX-aliyun-ecs-metadata-token-ttl-seconds: 300\r\n\r\n");
    assert_eq!((sum(&c), c.token_ttl_seconds), ((s, p, TokenRequest, false), Some(300)));
    let c = at(h, "PUT /latest/api/token HTTP/1.1\r\n\r\n");
    assert_eq!((sum(&c), c.token_ttl_seconds), ((s, p, TokenRequest, false), None));
    let c =
        at(h, "GET /latest/meta-data/ram/security-credentials/role HTTP/1.1\r\nX-aliyun-ecs-metadata-token: t\r\n\r\n");
    assert_eq!(sum(&c), (s, p, V2, true));
    // Credentials over normal mode: the v1 credential fetch.
    let c = at(h, "GET /latest/meta-data/ram/security-credentials/ HTTP/1.1\r\n\r\n");
    assert_eq!(sum(&c), (s, p, V1, true));
    // The refused case (forwarded token PUT) is still a token request, flagged forwarded.
    let c = at(h, "PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
    assert!(c.forwarded);
    assert_eq!(c.version, TokenRequest);
    // Without the address, the aliyun headers say alibaba.
    let c = plain("GET /latest/meta-data/ HTTP/1.1\r\nX-aliyun-ecs-metadata-token: t\r\n\r\n");
    assert_eq!(sum(&c), (s, p, V2, false));
    // The AWS credentials path is not Alibaba's.
    assert!(!at(h, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n\r\n").credentials);
}

#[test]
fn oci_legacy_and_v2() {
    use Version::*;
    let (s, p) = (Service::OciImds, Provider::Oracle);
    assert_eq!(sum(&plain("GET /opc/v1/instance/ HTTP/1.1\r\n\r\n")), (s, p, V1, false));
    assert_eq!(sum(&plain("GET /openstack/latest/meta_data.json HTTP/1.1\r\n\r\n")), (s, p, V1, false));
    assert_eq!(
        sum(&plain("GET /opc/v2/instance/ HTTP/1.1\r\nAuthorization: Bearer Oracle\r\n\r\n")),
        (s, p, V2, false)
    );
    // v2 without the header: still the hardened form (OCI answers 401: outcome rejected).
    assert_eq!(sum(&plain("GET /opc/v2/instance/ HTTP/1.1\r\n\r\n")), (s, p, V2, false));
    // Instance principal certificates and keys are credentials.
    let c = plain("GET /opc/v2/identity/cert.pem HTTP/1.1\r\nAuthorization: Bearer Oracle\r\n\r\n");
    assert_eq!(sum(&c), (s, p, V2, true));
    assert_eq!(sum(&plain("GET /opc/v1/identity/key.pem HTTP/1.1\r\n\r\n")), (s, p, V1, true));
    assert_eq!(sum(&plain("GET /opc/ HTTP/1.1\r\n\r\n")), (s, p, Unversioned, false));
}

#[test]
fn gcp_legacy_hardened_and_refused() {
    use Version::*;
    let (s, p) = (Service::GcpMetadata, Provider::Gcp);
    let flavor = "Metadata-Flavor: Google\r\n";
    assert_eq!(sum(&plain("GET /0.1/meta-data/hostname HTTP/1.1\r\n\r\n")), (s, p, V1, false));
    assert_eq!(sum(&plain("GET /computeMetadata/v1beta1/instance/id HTTP/1.1\r\n\r\n")), (s, p, V1, false));
    let c = plain(&format!("GET /computeMetadata/v1/instance/id HTTP/1.1\r\n{flavor}\r\n"));
    assert_eq!(sum(&c), (s, p, V2, false));
    // Without the header the server refuses it in every mode: no version.
    assert_eq!(sum(&plain("GET /computeMetadata/v1/instance/id HTTP/1.1\r\n\r\n")), (s, p, Unversioned, false));
    // Credentials: service-account tokens and identity, under every form.
    let tok = "/instance/service-accounts/default/token";
    let c = plain(&format!("GET /computeMetadata/v1{tok} HTTP/1.1\r\n{flavor}\r\n"));
    assert_eq!(sum(&c), (s, p, V2, true));
    let c = plain(&format!(
        "GET /computeMetadata/v1/instance/service-accounts/sa/identity?audience=x HTTP/1.1\r\n{flavor}\r\n"
    ));
    assert_eq!(sum(&c), (s, p, V2, true));
    assert_eq!(sum(&plain(&format!("GET /computeMetadata/v1beta1{tok} HTTP/1.1\r\n\r\n"))), (s, p, V1, true));
    assert_eq!(sum(&plain("GET /0.1/meta-data/service-accounts/default/acquire HTTP/1.1\r\n\r\n")), (s, p, V1, true));
    assert!(
        !plain(&format!("GET /computeMetadata/v1/instance/service-accounts/ HTTP/1.1\r\n{flavor}\r\n")).credentials
    );
}

#[test]
fn azure_has_no_legacy_form() {
    let (s, p) = (Service::AzureImds, Provider::Azure);
    let c = plain("GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n");
    assert_eq!(sum(&c), (s, p, Version::Unversioned, false));
    // Header-less: refused (400) by the server; the record says so through its outcome.
    assert_eq!(sum(&plain("GET /metadata/instance HTTP/1.1\r\n\r\n")), (s, p, Version::Unversioned, false));
    let c = plain(
        "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\r\nMetadata: true\r\n\r\n",
    );
    assert_eq!(sum(&c), (s, p, Version::Unversioned, true));
}

#[test]
fn ibm_credentials() {
    let c =
        plain("POST /instance_identity/v1/iam_token?version=2022-03-01 HTTP/1.1\r\nAuthorization: Bearer x\r\n\r\n");
    assert_eq!(sum(&c), (Service::IbmMetadata, Provider::Ibm, Version::Unversioned, true));
}

#[test]
fn ecs_task_credentials_and_their_secret_id() {
    let (s, p) = (Service::EcsTaskCredentials, Provider::Aws);
    let id = "f1b5c2a8-1111-2222-3333-444455556666";
    for hint in [well_known(s), None] {
        let c = at(hint, &format!("GET /v2/credentials/{id} HTTP/1.1\r\n\r\n"));
        assert_eq!(sum(&c), (s, p, Version::Unversioned, true));
        assert_eq!(c.path, "/v2/credentials/[REDACTED]");
    }
    // However it is spelt, the id never reaches the record; the query is kept (redacted later).
    for target in [
        format!("//v2/./credentials/{id}"),
        format!("/v2/credentials%2F{id}"),
        format!("http://169.254.170.2/v2/credentials/{id}"),
        format!("/v2/x/../credentials/{id}?a=b"),
    ] {
        let c = at(well_known(s), &format!("GET {target} HTTP/1.1\r\n\r\n"));
        assert!(!c.path.contains(id), "{target} -> {}", c.path);
        assert!(c.path.starts_with("/v2/credentials/[REDACTED]"), "{}", c.path);
    }
    let c = at(well_known(s), &format!("GET /v2/credentials/{id}?a=b HTTP/1.1\r\n\r\n"));
    assert_eq!(c.path, "/v2/credentials/[REDACTED]?a=b");
    // On the ECS address any credentials-looking target is hidden.
    let c = at(well_known(s), &format!("GET /v2/CREDENTIALS/{id}/../../x HTTP/1.1\r\n\r\n"));
    assert_eq!(c.path, "/v2/credentials/[REDACTED]");
    // The bare path has nothing to hide; the task metadata endpoint is not credentials.
    assert_eq!(at(well_known(s), "GET /v2/credentials HTTP/1.1\r\n\r\n").path, "/v2/credentials");
    assert!(!at(well_known(s), "GET /v4/abc/task HTTP/1.1\r\n\r\n").credentials);
    // A FULL_URI endpoint (explicit hint): any GET fetches credentials.
    let c = at(explicit(s), "GET /get-credentials HTTP/1.1\r\nAuthorization: x\r\n\r\n");
    assert_eq!(sum(&c), (s, p, Version::Unversioned, true));
    // The id is hidden whatever the service, e.g. when a hint said ec2_imds.
    let c = at(explicit(Service::Ec2Imds), &format!("GET /v2/credentials/{id} HTTP/1.1\r\n\r\n"));
    assert_eq!((c.service, c.path.as_str()), (Service::Ec2Imds, "/v2/credentials/[REDACTED]"));
}

#[test]
fn eks_pod_identity() {
    let (s, p) = (Service::EksPodIdentity, Provider::Aws);
    for hint in [well_known(s), None] {
        let c = at(hint, "GET /v1/credentials HTTP/1.1\r\nAuthorization: eyJhbGciOiJSUzI1NiJ9.x.y\r\n\r\n");
        assert_eq!(sum(&c), (s, p, Version::Unversioned, true));
        assert_eq!(c.path, "/v1/credentials");
    }
    // Missing token (the agent answers 400): still Pod Identity at its address.
    let c = at(well_known(s), "GET /v1/credentials HTTP/1.1\r\n\r\n");
    assert_eq!(sum(&c), (s, p, Version::Unversioned, true));
    // Without the address and without Authorization it reads as an EC2 path.
    assert_eq!(plain("GET /v1/credentials HTTP/1.1\r\n\r\n").service, Service::Ec2Imds);
}

#[test]
fn conflicting_marks_are_unknown() {
    let c = plain("GET /latest/meta-data/ HTTP/1.1\r\nMetadata-Flavor: Google\r\nMetadata: true\r\n\r\n");
    assert_eq!(sum(&c), (Service::Unknown, Provider::Unknown, Version::Unversioned, false));
}

#[test]
fn raw_heads_take_the_hint_too() {
    use crate::http::RawRequest;
    let r = RawRequest {
        method: b"GET",
        target: b"/v2/credentials/secret-id",
        token_header: false,
        ttl: None,
        user_agent: None,
        forwarded: false,
        framing: None,
    };
    let c = crate::classify::classify_raw(&r, well_known(Service::EcsTaskCredentials));
    assert_eq!(
        (c.service, c.path.as_str(), c.parse_error),
        (Service::EcsTaskCredentials, "/v2/credentials/[REDACTED]", true)
    );
}

/// However an ECS credential id is spelt in a target (escapes, `//`, `/./`, `..`, absolute
/// form, a query or fragment after it), and whatever the server address says, the classified
/// path never keeps it; nothing here panics.
#[test]
fn ecs_ids_never_survive_any_spelling_or_hint() {
    const ID: &str = "SECRETID7f3a";
    let prefixes = [
        "/v2/credentials/",
        "//v2//credentials/",
        "/v2/./credentials/",
        "/x/../v2/credentials/",
        "/v2/%63redentials/",
        "/%76%32/credentials/",
        "http://169.254.170.2/v2/credentials/",
        "http://169.254.170.2:80//v2/credentials/",
    ];
    let ids = [ID.to_string(), format!("{ID}%2Fmore"), format!("x{ID}"), format!("{ID}/"), format!("{ID}.json")];
    let suffixes = ["", "?a=b", "#frag", "?x=1&y=2"];
    let mut hints = vec![None];
    for s in crate::event::ServiceSet::all().iter() {
        hints.push(well_known(s));
        hints.push(explicit(s));
    }
    let mut checked = 0;
    for p in prefixes {
        for id in &ids {
            for sfx in suffixes {
                for &hint in &hints {
                    let c = at(hint, &format!("GET {p}{id}{sfx} HTTP/1.1\r\nHost: x\r\n\r\n"));
                    assert!(!c.path.contains(ID), "{p}{id}{sfx} with {hint:?} kept the id: {}", c.path);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, prefixes.len() * ids.len() * suffixes.len() * hints.len());
}
