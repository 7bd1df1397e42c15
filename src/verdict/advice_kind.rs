//! What one piece of advice is (its kind and text), apart from how it is chosen (`advice`,
//! and the catalogue's client advice in `remedy`): a leaf both build.

/// One piece of advice: a heading and its lines (commands are lines of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub kind: AdviceKind,
    pub title: String,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdviceKind {
    SdkUpgrade,
    RawHttp,
    HopLimit,
    Fallback,
    NoV1,
    Enforce,
    /// A proxy refused the token request (X-Forwarded-For).
    ProxyRefused,
    /// Nothing to do: other clouds' probes or requests already refused.
    Ignore,
    /// Another cloud's legacy metadata endpoint was used (Alibaba normal mode, OCI `/opc/v1`,
    /// GCP `/0.1/` or `v1beta1`): move to its hardened form.
    Legacy,
}

impl AdviceKind {
    /// The `advice.kind` of the `verdict` record.
    pub fn as_str(self) -> &'static str {
        match self {
            AdviceKind::SdkUpgrade => "sdk_upgrade",
            AdviceKind::RawHttp => "raw_http",
            AdviceKind::HopLimit => "hop_limit",
            AdviceKind::Fallback => "fallback",
            AdviceKind::NoV1 => "no_v1",
            AdviceKind::Enforce => "enforce",
            AdviceKind::ProxyRefused => "proxy_refused",
            AdviceKind::Ignore => "ignore",
            AdviceKind::Legacy => "legacy",
        }
    }
}
