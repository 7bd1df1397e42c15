//! What to change for a client that used IMDSv1, from the client catalogue
//! (`classify::catalogue`): the product and version seen, the first version with IMDSv2 and
//! the upgrade command for its ecosystem; for a modern SDK that fell back, the cause (hop
//! limit, proxy, token endpoint refused), not an upgrade; for a hand-written caller, a token
//! recipe in its language. `advice::advise` calls [`client_advice`]; the `verdict` record
//! takes [`software`].

use serde::Serialize;

use super::advice_kind::{Advice, AdviceKind};
use super::{ClientSummary, Verdict};
use crate::classify::catalogue::{self, Identified, Imdsv2, Standing};

/// The client software named for the `verdict` record and the metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Software {
    /// The catalogue row's id (the metrics' bounded `product` label).
    pub product_id: &'static str,
    pub product: &'static str,
    pub version: Option<String>,
    /// First version with IMDSv2 (for an IMDSv1-only product: of its replacement).
    pub fixed_in: Option<&'static str>,
}

/// The user agents of a client, most used first, and `None` for requests without one.
fn user_agents(s: &ClientSummary) -> Vec<Option<&str>> {
    let mut uas: Vec<&(String, u64)> = s.user_agents.iter().collect();
    uas.sort_by_key(|u| std::cmp::Reverse(u.1));
    let mut v: Vec<Option<&str>> = uas.into_iter().map(|(u, _)| Some(u.as_str())).collect();
    if s.no_user_agent > 0 || v.is_empty() {
        v.push(None);
    }
    v
}

/// The catalogue's name for this client: the first of its user agents (most used first)
/// that the catalogue knows, with its process.
pub fn software(s: &ClientSummary) -> Option<Software> {
    user_agents(s).into_iter().find_map(|ua| catalogue::identify(ua, s.process.as_ref())).map(|i| Software {
        product_id: i.row.id.as_str(),
        product: i.row.product.as_str(),
        version: i.version.clone(),
        fixed_in: i.row.fixed_in.as_deref(),
    })
}

/// The advice for each distinct client software behind this summary (a row can carry
/// several user agents), after the cause advice (`HopLimit`, `ProxyRefused`) already in
/// `out`. One token recipe and one fallback explanation at most.
pub fn client_advice(s: &ClientSummary, v: Verdict, out: &mut Vec<Advice>) {
    let mut raw_done = false;
    let mut fallback_done = matches!(v, Verdict::HopLimit | Verdict::ProxyRefused);
    for ua in user_agents(s) {
        let id = catalogue::identify(ua, s.process.as_ref());
        let standing = id.as_ref().map_or(Standing::HandWritten, Identified::standing);
        // A client whose version is not known but that did get tokens supports IMDSv2.
        let standing = if standing == Standing::Unknown && s.speaks_v2() { Standing::Modern } else { standing };
        let a = match (standing, &id) {
            (Standing::Old, Some(i)) => upgrade(i),
            (Standing::Unknown, Some(i)) => check_version(i),
            (Standing::Modern, Some(i)) => {
                if fallback_done {
                    continue;
                }
                fallback_done = true;
                fallback(i, s)
            }
            _ => {
                if raw_done {
                    continue;
                }
                raw_done = true;
                if s.speaks_v2() { mixed(ua, s) } else { hand_written(ua, id.as_ref(), s) }
            }
        };
        if !out.contains(&a) {
            out.push(a);
        }
    }
}

fn named(i: &Identified) -> String {
    match &i.version {
        Some(v) => format!("{} {v}", i.row.product),
        None => i.row.product.clone(),
    }
}

fn upgrade(i: &Identified) -> Advice {
    let title = match (i.row.imdsv2, &i.row.fixed_in) {
        (Imdsv2::Never, _) => format!("{} uses IMDSv1 only: replace it", named(i)),
        (_, Some(f)) => format!("Upgrade {}: IMDSv2 from {f}", named(i)),
        _ => format!("Upgrade {}", named(i)),
    };
    let mut lines = i.row.upgrade.clone();
    if i.row.language.is_some() {
        // A generic user agent (`Ruby`): it may be the caller's own code.
        let lang = catalogue::language(Some(i), None);
        lines.push(format!("(If it is your own {lang} code, not the SDK, send a token:)"));
        lines.extend(catalogue::recipe(lang).iter().cloned());
    }
    Advice { kind: AdviceKind::SdkUpgrade, title, lines }
}

fn check_version(i: &Identified) -> Advice {
    let title = match &i.row.fixed_in {
        Some(f) => format!("{}: IMDSv2 from {f}; upgrade if older", i.row.product),
        None => format!("Upgrade {}: current releases use IMDSv2", i.row.product),
    };
    let mut lines = i.row.upgrade.clone();
    lines.push(format!("Seen behaviour: {}.", i.row.on_failure));
    Advice { kind: AdviceKind::SdkUpgrade, title, lines }
}

/// A modern client that used IMDSv1: why its token request failed.
fn fallback(i: &Identified, s: &ClientSummary) -> Advice {
    let since = match (&i.row.fixed_in, i.row.imdsv2) {
        (Some(f), Imdsv2::Since) => format!(" (IMDSv2 since {f})"),
        _ => String::new(),
    };
    let mut lines = Vec::new();
    let b = &s.bare_tokens;
    if s.token_requests() == 0 && b.any() {
        lines.push("Its token requests carry no User-Agent: they are the row of the same process".into());
        lines.push("(or address) without one.".into());
    }
    let failed = s.token_failed + b.failed;
    if failed > 0 {
        lines
            .push(format!("{failed} token requests were refused (401/404/405/5xx): the token endpoint is disabled or"));
        lines.push("something other than IMDS answers it (an emulator, a proxy).".into());
    } else if s.token_requests() == 0 && !b.any() {
        lines.push("No token request of it was seen: it may be configured to skip IMDSv2, or it".into());
        lines.push("asked on a path this capture does not see.".into());
    }
    lines.push("It uses IMDSv1 only when its token request fails (403/404/405 or a timeout):".into());
    lines.push("check the hop limit (2 for containers one hop away) and proxies adding".into());
    lines.push("X-Forwarded-For; AWS_EC2_METADATA_V1_DISABLED=true makes the failure visible.".into());
    Advice {
        kind: AdviceKind::Fallback,
        title: format!("{}{since} uses IMDSv2: find why it fell back, no upgrade needed", named(i)),
        lines,
    }
}

/// A caller not known as an SDK that also used tokens: one of its code paths does not.
fn mixed(ua: Option<&str>, s: &ClientSummary) -> Advice {
    let who = ua.and_then(|u| u.split_whitespace().next()).unwrap_or("no User-Agent");
    Advice {
        kind: AdviceKind::Fallback,
        title: format!("{who} uses tokens too: find the requests that do not"),
        lines: vec![
            format!("{} IMDSv1 requests served beside {} token-bearing ones: a fallback after a", s.v1_served, s.v2),
            "failed token request, or a code path that never asks for one. Send the token".into(),
            "on every request; AWS_EC2_METADATA_V1_DISABLED=true shows SDK fallbacks.".into(),
        ],
    }
}

fn hand_written(ua: Option<&str>, id: Option<&Identified>, s: &ClientSummary) -> Advice {
    let lang = catalogue::language(id, s.process.as_ref());
    let who = match ua.and_then(|u| u.split_whitespace().next()) {
        Some(w) => format!(" ({w})"),
        None => " (no User-Agent)".into(),
    };
    let what = if id.is_some() { format!("Hand-written {lang} caller") } else { "Unrecognised client".into() };
    let mut lines = vec!["Request a session token first, then send it with every request:".into()];
    lines.extend(catalogue::recipe(lang).iter().cloned());
    lines.extend(id.iter().flat_map(|i| i.row.upgrade.iter().cloned()));
    if ua.is_none() {
        lines.push("(The AWS SDK for JavaScript v3 and recent v2 send no User-Agent: if it is".into());
        lines.push(" one, see the hop limit; they fall back to v1 when the token request fails.)".into());
    }
    Advice { kind: AdviceKind::RawHttp, title: format!("{what}{who}: get a token"), lines }
}
