//! What an IMDS request is: IMDSv1, IMDSv2 or a token request, whether it reads credentials,
//! and what its answer means. The one classifier shared by `analyze` and `live`.
//!
//! Only the presence of the token header is looked at, never its value.

pub mod catalogue;
pub mod path;
pub mod provider;
pub mod service;

use crate::endpoint::Hint;
use crate::event::{Provider, Service, Version};
use crate::http::{Head, RawRequest};

/// Header carrying an IMDSv2 session token.
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Header of a token request giving the token's lifetime.
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";

/// Alibaba Cloud's equivalents (same token protocol, own header names).
pub const ALIYUN_TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
pub const ALIYUN_TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";

/// Longest path and user agent kept in a record; longer values are cut (and marked).
pub const MAX_FIELD: usize = 1024;

/// The meaning of a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub version: Version,
    pub method: String,
    pub path: String,
    pub credentials: bool,
    pub token_ttl_seconds: Option<u32>,
    pub user_agent: Option<String>,
    pub forwarded: bool,
    pub provider: Provider,
    /// Which metadata or credential service (see `service`).
    pub service: Service,
    /// httparse refused the head: read by a raw scan, best effort.
    pub parse_error: bool,
    /// An AWS-shaped request that another cloud's header mark took elsewhere, sent to an
    /// address that may be AWS's: what it is if the server answers it 2xx ([`answered`]).
    pub aws_if_answered: Option<AwsForm>,
}

/// What a request is on EC2's IMDS, kept for when its answer decides (issue 23, class 1):
/// a header costs nothing to add, so another cloud's mark on an AWS path does not make a
/// served AWS request a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsForm {
    pub version: Version,
    pub credentials: bool,
    pub token_ttl_seconds: Option<u32>,
}

/// The classification a request keeps once its answer is known: an AWS-shaped request that a
/// provider mark took elsewhere is AWS's when the server (at an address that may be AWS's)
/// answered it 2xx; otherwise `None` (the request's own classification stands).
pub fn answered(alt: Option<AwsForm>, status: Option<u16>) -> Option<AwsForm> {
    alt.filter(|_| status.is_some_and(|s| (200..300).contains(&s)))
}

/// Classifies any request head sent to a server whose address gives `hint`; `None` for a
/// response.
pub fn classify_head(head: &Head<'_>, hint: Option<Hint>) -> Option<Classified> {
    match head {
        Head::Request(r) => Some(classify_hinted(r, hint)),
        Head::Raw(r) => Some(classify_raw(r, hint)),
        Head::Response(_) => None,
    }
}

/// Classifies a head read by the raw scan: the same rules on what the scan found (no
/// provider headers: the provider comes from the path alone).
pub fn classify_raw(r: &RawRequest<'_>, hint: Option<Hint>) -> Classified {
    let method = String::from_utf8_lossy(r.method);
    let path = String::from_utf8_lossy(r.target);
    let ttl = r.ttl.and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.trim().parse::<u32>().ok());
    let mut c = decide(&method, &path, r.token_header, ttl, provider::Marks::default(), hint, r.token_header);
    c.user_agent = r.user_agent.map(|ua| clip(&String::from_utf8_lossy(ua)));
    c.forwarded = r.forwarded;
    c.parse_error = true;
    c
}

/// Service, provider, version, credentials flag and TTL from the method, target, token
/// header, provider marks and the server address's hint. The target is normalised first
/// (`//`, `/./`, escapes, an absolute-form `GET http://169.254.169.254/latest/...`), so odd
/// spellings hide nothing; the record keeps the target as sent, except an ECS credential id
/// (a secret), which is never kept.
fn decide(
    method: &str,
    target: &str,
    has_token: bool,
    ttl: Option<u32>,
    marks: provider::Marks,
    hint: Option<Hint>,
    aws_token: bool,
) -> Classified {
    let norm = path::normalize(target);
    let req = service::Req {
        method,
        norm: &norm,
        has_token,
        google_flavor: marks.google_flavor,
        authorization: marks.authorization,
    };
    let (svc, provider) = service::service(hint, marks.provider(&norm), &req);
    let version = service::version(svc, &req);
    let aws_if_answered =
        (svc != Service::Ec2Imds && hint.is_none_or(|h| h.service == Service::Ec2Imds) && path::aws_shaped(&norm))
            .then(|| {
                let version = if method == "PUT" && is_token_path(&norm) {
                    Version::TokenRequest
                } else if aws_token {
                    Version::V2
                } else {
                    Version::V1
                };
                let token_ttl_seconds = if version == Version::TokenRequest { ttl } else { None };
                AwsForm { version, credentials: is_credentials_path(&norm), token_ttl_seconds }
            });
    let path = match service::redact_ecs_id(svc, &norm, target) {
        Some(p) => clip(&p),
        None => clip(target),
    };
    Classified {
        version,
        method: clip(method),
        path,
        credentials: service::credentials(svc, hint, &req),
        token_ttl_seconds: if version == Version::TokenRequest { ttl } else { None },
        user_agent: None,
        forwarded: false,
        provider,
        service: svc,
        parse_error: false,
        aws_if_answered,
    }
}

/// Classifies a parsed request head (no address hint: as sent to 169.254.169.254).
pub fn classify(req: &httparse::Request<'_, '_>) -> Classified {
    classify_hinted(req, None)
}

/// Classifies a parsed request head sent to a server whose address gives `hint`.
pub fn classify_hinted(req: &httparse::Request<'_, '_>, hint: Option<Hint>) -> Classified {
    let method = req.method.unwrap_or("");
    let path = req.path.unwrap_or("");
    let mut has_token = false;
    let mut aws_token = false;
    let mut ttl = None;
    let mut user_agent = None;
    let mut forwarded = false;
    let mut marks = provider::Marks::default();
    for h in req.headers.iter() {
        let name = h.name;
        marks.header(name, h.value);
        if name.eq_ignore_ascii_case(TOKEN_HEADER) {
            has_token = true;
            aws_token = true;
        } else if name.eq_ignore_ascii_case(ALIYUN_TOKEN_HEADER) {
            has_token = true;
        } else if name.eq_ignore_ascii_case(TTL_HEADER) || name.eq_ignore_ascii_case(ALIYUN_TTL_HEADER) {
            ttl = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<u32>().ok());
        } else if name.eq_ignore_ascii_case("user-agent") {
            // Valid UTF-8 (nearly always) is checked far faster than lossily decoded.
            user_agent = Some(match std::str::from_utf8(h.value) {
                Ok(ua) => clip(ua),
                Err(_) => clip(&String::from_utf8_lossy(h.value)),
            });
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            forwarded = true;
        }
    }
    let mut c = decide(method, path, has_token, ttl, marks, hint, aws_token);
    c.user_agent = user_agent;
    c.forwarded = forwarded;
    c
}

/// `/latest/api/token`, or the same under any version segment (`/2021-03-23/api/token`).
pub fn is_token_path(path: &str) -> bool {
    after_version(path) == Some("/api/token")
}

/// Under `/latest/meta-data/iam/security-credentials/` or `...-extended/` (any version).
pub fn is_credentials_path(path: &str) -> bool {
    const BASE: &str = "/meta-data/iam/security-credentials";
    let Some(rest) = after_version(path) else {
        return false;
    };
    match rest.strip_prefix(BASE) {
        Some(tail) => tail.is_empty() || tail.starts_with('/') || tail.starts_with("-extended"),
        None => false,
    }
}

/// The path without its query and its first (version) segment.
fn after_version(path: &str) -> Option<&str> {
    let rest = path::before_query(path).strip_prefix('/')?;
    let slash = memchr::memchr(b'/', rest.as_bytes())?;
    if slash == 0 {
        return None;
    }
    Some(&rest[slash..])
}

/// Cuts a value to [`MAX_FIELD`] bytes on a character boundary, marking the cut.
fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_owned();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Classified {
        let mut h = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Request::new(&mut h);
        assert!(matches!(r.parse(raw), Ok(httparse::Status::Complete(_))));
        classify(&r)
    }

    #[test]
    fn token_request_records_ttl() {
        let c = parse(b"PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n");
        assert_eq!(c.version, Version::TokenRequest);
        assert_eq!(c.token_ttl_seconds, Some(21600));
        assert!(!c.credentials);
    }

    #[test]
    fn versioned_token_path_is_a_token_request_too() {
        let c = parse(b"PUT /2021-03-23/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: x\r\n\r\n");
        assert_eq!(c.version, Version::TokenRequest);
        assert_eq!(c.token_ttl_seconds, None);
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let c = parse(b"GET /latest/meta-data/ HTTP/1.1\r\nX-AWS-EC2-METADATA-TOKEN: abc\r\n\r\n");
        assert_eq!(c.version, Version::V2);
        let c = parse(b"GET /latest/meta-data/ HTTP/1.1\r\nx-aws-ec2-metadata-token: abc\r\n\r\n");
        assert_eq!(c.version, Version::V2);
    }

    #[test]
    fn anything_else_is_v1() {
        assert_eq!(parse(b"GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n").version, Version::V1);
        // A GET of the token path, or a PUT elsewhere, is not a token request.
        assert_eq!(parse(b"GET /latest/api/token HTTP/1.1\r\n\r\n").version, Version::V1);
        assert_eq!(parse(b"PUT /latest/meta-data/ HTTP/1.1\r\n\r\n").version, Version::V1);
        // The TTL header alone is not a token.
        assert_eq!(parse(b"GET / HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 5\r\n\r\n").version, Version::V1);
    }

    #[test]
    fn credentials_paths() {
        for p in [
            "/latest/meta-data/iam/security-credentials/",
            "/latest/meta-data/iam/security-credentials",
            "/latest/meta-data/iam/security-credentials/role",
            "/latest/meta-data/iam/security-credentials-extended/",
            "/2021-07-15/meta-data/iam/security-credentials/role?x=1",
        ] {
            assert!(is_credentials_path(p), "{p}");
        }
        for p in ["/latest/meta-data/iam/info", "/latest/meta-data/iam/security-credentialsX", "/", ""] {
            assert!(!is_credentials_path(p), "{p}");
        }
    }

    #[test]
    fn user_agent_and_forwarding() {
        let c =
            parse(b"PUT /latest/api/token HTTP/1.1\r\nUser-Agent: Botocore/1.35.0\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
        assert_eq!(c.user_agent.as_deref(), Some("Botocore/1.35.0"));
        assert!(c.forwarded);
    }

    #[test]
    fn other_clouds_are_not_imdsv1() {
        // (GCP's /computeMetadata/v1 with its header and OCI's /opc/v2 are those services'
        // hardened form, v2: see service/tests.rs.)
        for (raw, want) in [
            (&b"GET /computeMetadata/v1/instance/id HTTP/1.1\r\n\r\n"[..], Provider::Gcp),
            (b"GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n", Provider::Azure),
            (b"GET /opc/ HTTP/1.1\r\nAuthorization: Bearer Oracle\r\n\r\n", Provider::Oracle),
            (
                b"PUT /instance_identity/v1/token?version=2022-03-01 HTTP/1.1\r\nMetadata-Flavor: ibm\r\n\r\n",
                Provider::Ibm,
            ),
            (
                b"GET /latest/meta-data/ HTTP/1.1\r\nMetadata-Flavor: Google\r\nMetadata: true\r\n\r\n",
                Provider::Unknown,
            ),
        ] {
            let c = parse(raw);
            assert_eq!(c.provider, want, "{}", String::from_utf8_lossy(raw));
            assert_eq!(c.version, Version::Unversioned);
            assert!(!c.credentials);
        }
        let c = parse(b"GET /latest/meta-data/ HTTP/1.1\r\n\r\n");
        assert_eq!((c.provider, c.version), (Provider::Aws, Version::V1));
        let c = parse(b"PUT /latest/api/token HTTP/1.1\r\nX-aliyun-ecs-metadata-token-ttl-seconds: 5\r\n\r\n");
        assert_eq!((c.provider, c.version, c.token_ttl_seconds), (Provider::Alibaba, Version::TokenRequest, Some(5)));
    }

    /// Issue 23, class 1: an AWS-shaped request that a provider mark took elsewhere keeps its
    /// AWS form for when the server answers it; other clouds' own paths, and addresses that
    /// are not AWS's, do not.
    #[test]
    fn aws_form_is_kept_for_the_answer_to_decide() {
        let c = parse(b"GET /latest/meta-data/iam/security-credentials/r HTTP/1.1\r\nMetadata: true\r\n\r\n");
        assert_eq!((c.provider, c.version), (Provider::Azure, Version::Unversioned), "unanswered: a probe");
        let aws = AwsForm { version: Version::V1, credentials: true, token_ttl_seconds: None };
        assert_eq!(c.aws_if_answered, Some(aws));
        assert_eq!(answered(c.aws_if_answered, Some(200)), Some(aws));
        assert_eq!(answered(c.aws_if_answered, Some(404)), None);
        assert_eq!(answered(c.aws_if_answered, None), None);
        // The aliyun token header is no AWS token.
        let c = parse(b"GET /2021-07-15/meta-data/ HTTP/1.1\r\nX-aliyun-ecs-metadata-token: x\r\n\r\n");
        assert_eq!(c.aws_if_answered.map(|a| a.version), Some(Version::V1));
        let c = parse(b"GET /latest/user-data HTTP/1.1\r\nX-aws-ec2-metadata-token: t\r\nMetadata: true\r\n\r\n");
        assert_eq!(c.aws_if_answered.map(|a| a.version), Some(Version::V2));
        // Not AWS-shaped, or already AWS: nothing kept.
        for raw in [
            &b"GET /metadata/instance HTTP/1.1\r\nMetadata: true\r\n\r\n"[..],
            b"GET /computeMetadata/v1/ HTTP/1.1\r\nMetadata-Flavor: Google\r\n\r\n",
            b"GET /latestx/meta-data/ HTTP/1.1\r\nMetadata: true\r\n\r\n",
            b"GET /latest/meta-data/ HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse(raw).aws_if_answered, None, "{}", String::from_utf8_lossy(raw));
        }
        // At Alibaba's address the same request is Alibaba's, answered or not.
        let mut h = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Request::new(&mut h);
        let raw = b"GET /latest/meta-data/ HTTP/1.1\r\nMetadata: true\r\n\r\n";
        assert!(matches!(r.parse(raw), Ok(httparse::Status::Complete(_))));
        let hint = Some(Hint { service: Service::AlibabaImds, explicit: false });
        assert_eq!(classify_hinted(&r, hint).aws_if_answered, None);
    }

    #[test]
    fn odd_spellings_do_not_hide_credentials_or_tokens() {
        let c = parse(b"GET //latest/./meta-data/iam/security%2Dcredentials/r HTTP/1.1\r\n\r\n");
        assert!(c.credentials);
        let c = parse(b"GET http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n\r\n");
        assert!(c.credentials);
        let c = parse(b"PUT http://169.254.169.254/latest/api/token HTTP/1.1\r\n\r\n");
        assert_eq!(c.version, Version::TokenRequest);
        assert_eq!(c.path, "http://169.254.169.254/latest/api/token", "the record keeps the target as sent");
    }

    #[test]
    fn absolute_form_targets_are_classified_by_their_path() {
        let c = parse(b"GET http://169.254.169.254/latest/meta-data/iam/security-credentials/r HTTP/1.1\r\n\r\n");
        assert!(c.credentials);
        assert_eq!(c.path, "http://169.254.169.254/latest/meta-data/iam/security-credentials/r");
        let c = parse(b"PUT HTTP://169.254.169.254:80/latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n");
        assert_eq!(c.version, Version::TokenRequest);
        assert_eq!(c.token_ttl_seconds, Some(60));
    }

    #[test]
    fn long_values_are_clipped_on_a_char_boundary() {
        let s = "é".repeat(MAX_FIELD);
        let c = clip(&s);
        assert!(c.len() <= MAX_FIELD + '…'.len_utf8());
        assert!(c.ends_with('…'));
    }
}
