//! Which metadata or credential service a request is for, its legacy (`v1`) or hardened
//! (`v2`) form, and whether it fetches credentials; the rules of README "Metadata services".
//!
//! The service comes from the server address when it says it (a well-known address or an
//! `--endpoint ADDR:PORT=SERVICE` hint: [`Hint`]), otherwise from the request's provider
//! marks: several clouds share 169.254.169.254.

use super::path::segments;
use crate::endpoint::Hint;
use crate::event::{Provider, Service, Version};

/// What a request says about itself (the normalised path, the method, header marks).
#[derive(Debug, Clone, Copy)]
pub struct Req<'a> {
    pub method: &'a str,
    /// The normalised path (see `path::normalize`).
    pub norm: &'a str,
    /// Carries `X-aws-ec2-metadata-token` or `X-aliyun-ecs-metadata-token`.
    pub has_token: bool,
    /// Carries `Metadata-Flavor: Google`.
    pub google_flavor: bool,
    /// Carries an `Authorization` header (value never read).
    pub authorization: bool,
}

/// The service and provider of a request. Without a hint (or with an `ec2_imds` one, the
/// shared address) the provider marks decide; on AWS, `GET /v2/credentials/...` is ECS and
/// `GET /v1/credentials` with `Authorization` is Pod Identity only without any hint.
pub fn service(hint: Option<Hint>, detected: Provider, r: &Req<'_>) -> (Service, Provider) {
    match hint.map(|h| h.service) {
        Some(s) if s != Service::Ec2Imds => return (s, s.provider()),
        _ => {}
    }
    let s = match detected {
        Provider::Aws if hint.is_none() && r.method == "GET" && is_ecs_credentials(r.norm) => {
            Service::EcsTaskCredentials
        }
        Provider::Aws if hint.is_none() && r.method == "GET" && r.authorization && is_eks_credentials(r.norm) => {
            Service::EksPodIdentity
        }
        Provider::Aws => Service::Ec2Imds,
        Provider::Alibaba => Service::AlibabaImds,
        Provider::Oracle => Service::OciImds,
        Provider::Gcp => Service::GcpMetadata,
        Provider::Azure => Service::AzureImds,
        Provider::Ibm => Service::IbmMetadata,
        Provider::Unknown => Service::Unknown,
    };
    (s, detected)
}

/// `imds.version` of a request to `service` (v1 = the legacy form its switch turns off).
pub fn version(service: Service, r: &Req<'_>) -> Version {
    let mut seg = segments(r.norm);
    let (first, second) = (seg.next().unwrap_or(""), seg.next().unwrap_or(""));
    match service {
        Service::Ec2Imds | Service::AlibabaImds => {
            if r.method == "PUT" && super::is_token_path(r.norm) {
                Version::TokenRequest
            } else if r.has_token {
                Version::V2
            } else {
                Version::V1
            }
        }
        Service::OciImds => match (first, second) {
            ("opc", "v1") | ("openstack", _) => Version::V1,
            ("opc", "v2") => Version::V2,
            _ => Version::Unversioned,
        },
        Service::GcpMetadata => match (first, second) {
            ("0.1", _) | ("computeMetadata", "v1beta1") => Version::V1,
            ("computeMetadata", "v1") if r.google_flavor => Version::V2,
            _ => Version::Unversioned,
        },
        Service::EcsTaskCredentials
        | Service::EksPodIdentity
        | Service::AzureImds
        | Service::IbmMetadata
        | Service::Unknown => Version::Unversioned,
    }
}

/// The request fetches credentials of `service` (README "Metadata services").
pub fn credentials(service: Service, hint: Option<Hint>, r: &Req<'_>) -> bool {
    // The first six segments, without allocating (this runs for every request).
    let mut segs = [""; 6];
    for (slot, seg) in segs.iter_mut().zip(segments(r.norm)) {
        *slot = seg;
    }
    let at = |i: usize| segs[i];
    match service {
        Service::Ec2Imds => super::is_credentials_path(r.norm),
        Service::AlibabaImds => at(1) == "meta-data" && at(2) == "ram" && at(3) == "security-credentials",
        // An `--endpoint ...=ecs_task_credentials` is a FULL_URI endpoint: it serves
        // credentials only.
        Service::EcsTaskCredentials => {
            r.method == "GET" && (is_ecs_credentials(r.norm) || hint.is_some_and(|h| h.explicit))
        }
        Service::EksPodIdentity => is_eks_credentials(r.norm),
        Service::GcpMetadata => match (at(0), at(1)) {
            ("computeMetadata", "v1" | "v1beta1") => {
                at(2) == "instance" && at(3) == "service-accounts" && matches!(at(5), "token" | "identity")
            }
            ("0.1", "meta-data") => at(2) == "service-accounts",
            _ => false,
        },
        Service::AzureImds => r.norm.starts_with("/metadata/identity/oauth2/token"),
        Service::OciImds => at(0) == "opc" && at(1).starts_with('v') && at(2) == "identity",
        Service::IbmMetadata => r.norm.starts_with("/instance_identity/v1/iam_token"),
        Service::Unknown => false,
    }
}

/// `/v2/credentials` or below.
fn is_ecs_credentials(norm: &str) -> bool {
    let mut s = segments(norm);
    s.next() == Some("v2") && s.next() == Some("credentials")
}

/// `/v1/credentials` (or below).
fn is_eks_credentials(norm: &str) -> bool {
    let mut s = segments(norm);
    s.next() == Some("v1") && s.next() == Some("credentials")
}

/// The ECS credential id in `/v2/credentials/<id>` is the secret that fetches the task's
/// role: a target that names one (however spelt: escapes, `//`, `..`, an absolute form) is
/// recorded as `/v2/credentials/[REDACTED]`, its query kept for the usual query redaction.
/// On the ECS service any target mentioning `credentials` is treated so. `None`: nothing to
/// hide (the bare `/v2/credentials`, or no credentials path at all).
pub fn redact_ecs_id(service: Service, norm: &str, target: &str) -> Option<String> {
    let path = super::path::before_query(target);
    let query = &target[path.len()..];
    let by_path = is_ecs_credentials(norm);
    let on_ecs = service == Service::EcsTaskCredentials && contains_ignore_case(path, "credentials");
    if !(by_path || on_ecs) || matches!(path, "/v2/credentials" | "/v2/credentials/") {
        return None;
    }
    Some(format!("/v2/credentials/{}{query}", crate::secret::REDACTED))
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests;
