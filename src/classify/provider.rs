//! Whose metadata protocol a request speaks. Other clouds' agents and SDKs probe
//! 169.254.169.254 during cloud detection; those probes are not IMDSv1 and enforcement does
//! not change them. Marks (headers first, then the normalised path):
//! - GCP: `Metadata-Flavor: Google`; `/computeMetadata/`, `/0.1/`, `/v1beta1/`;
//! - Azure: `Metadata: true`; `/metadata/`;
//! - Oracle: `Authorization: Bearer Oracle`; `/opc/`, `/openstack`;
//! - IBM: `Metadata-Flavor: ibm`; `/instance_identity/` (its token request is a PUT there);
//! - Alibaba: any `X-aliyun-ecs-metadata-token*` header;
//! - AWS: everything else (including AWS's own token headers).
//!
//! Marks of two different providers give `unknown`.

use crate::event::Provider;

/// Prefix of Alibaba Cloud's token headers (`...-token`, `...-token-ttl-seconds`).
const ALIYUN: &str = "x-aliyun-ecs-metadata-token";

/// Header marks seen while reading a request head.
#[derive(Debug, Default, Clone, Copy)]
pub struct Marks {
    found: Option<Provider>,
    conflict: bool,
    /// `Metadata-Flavor: Google` was sent (GCP's hardened form needs it).
    pub google_flavor: bool,
    /// An `Authorization` header was sent (any value; the value is never kept).
    pub authorization: bool,
}

impl Marks {
    fn mark(&mut self, p: Provider) {
        match self.found {
            None => self.found = Some(p),
            Some(q) if q != p => self.conflict = true,
            Some(_) => {}
        }
    }

    /// Looks at one header (name case-insensitive; values trimmed, case-insensitive).
    pub fn header(&mut self, name: &str, value: &[u8]) {
        // Only the provider headers' values matter: the others are not decoded (hot path).
        let v = || std::str::from_utf8(value).unwrap_or("").trim();
        if name.eq_ignore_ascii_case("metadata-flavor") {
            let v = v();
            if v.eq_ignore_ascii_case("google") {
                self.google_flavor = true;
                self.mark(Provider::Gcp);
            } else if v.eq_ignore_ascii_case("ibm") {
                self.mark(Provider::Ibm);
            }
        } else if name.eq_ignore_ascii_case("metadata") && v().eq_ignore_ascii_case("true") {
            self.mark(Provider::Azure);
        } else if name.eq_ignore_ascii_case("authorization") {
            self.authorization = true;
            if v().eq_ignore_ascii_case("bearer oracle") {
                self.mark(Provider::Oracle);
            }
        } else if name.get(..ALIYUN.len()).is_some_and(|n| n.eq_ignore_ascii_case(ALIYUN)) {
            self.mark(Provider::Alibaba);
        }
    }

    /// The provider, given the normalised path too.
    pub fn provider(&self, norm_path: &str) -> Provider {
        let mut m = *self;
        m.decide(norm_path)
    }

    fn decide(&mut self, norm_path: &str) -> Provider {
        if let Some(p) = by_path(norm_path) {
            self.mark(p);
        }
        match (self.found, self.conflict) {
            (_, true) => Provider::Unknown,
            (Some(p), false) => p,
            (None, false) => Provider::Aws,
        }
    }
}

fn by_path(p: &str) -> Option<Provider> {
    let first = super::path::segments(p).next().unwrap_or("");
    match first {
        "computeMetadata" | "0.1" | "v1beta1" => Some(Provider::Gcp),
        "metadata" => Some(Provider::Azure),
        "opc" | "openstack" => Some(Provider::Oracle),
        "instance_identity" => Some(Provider::Ibm),
        _ => None,
    }
}
