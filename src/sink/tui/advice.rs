//! Remediation advice for one row: which IMDS client its user agents name, and the concrete
//! change that moves it to IMDSv2 (SDK upgrade, raw-HTTP token recipe, hop limit), or the
//! enforcement command once the whole session saw no IMDSv1.

use super::model::RowStats;

/// The client a user agent names, with what matters for IMDSv2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// boto3 / botocore / AWS CLI v1 older than IMDSv2-by-default (boto3 < 1.20, botocore < 1.23,
    /// aws-cli < 1.22).
    OldBoto { ua_name: String, version: String },
    /// boto 2: IMDSv1 only.
    Boto2,
    /// AWS SDK for Go v1.
    GoV1,
    /// AWS SDK for Java v1.
    JavaV1,
    /// AWS SDK for JavaScript v2.
    JsV2,
    /// An SDK that uses IMDSv2 by default; v1 from it means its token request failed.
    ModernSdk(&'static str),
    /// curl, wget, python-requests, Go's net/http, ... : the caller builds the requests itself.
    RawHttp(String),
    /// A user agent not recognized.
    Unknown(String),
}

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
}

/// `(major, minor, patch)` from the version after `name/` in a user agent (case-insensitive).
pub fn ua_version(ua: &str, name: &str) -> Option<(u32, u32, u32)> {
    let lower = ua.to_ascii_lowercase();
    let needle = format!("{}/", name.to_ascii_lowercase());
    let start = lower.split(|c: char| c.is_whitespace()).find_map(|tok| tok.strip_prefix(needle.as_str()))?;
    let mut parts = start.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>().ok());
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

fn version_token(ua: &str, name: &str) -> String {
    ua_version(ua, name).map_or_else(String::new, |(a, b, c)| format!("{a}.{b}.{c}"))
}

/// Names the client behind a user agent.
pub fn classify(ua: &str) -> Client {
    let l = ua.to_ascii_lowercase();
    let has = |p: &str| l.split_whitespace().any(|t| t.starts_with(p));
    let old = |name: &str, min: (u32, u32, u32)| ua_version(ua, name).is_some_and(|v| v < min);
    if old("boto3", (1, 20, 0)) {
        return Client::OldBoto { ua_name: "boto3".into(), version: version_token(ua, "boto3") };
    }
    if old("botocore", (1, 23, 0)) {
        let version = version_token(ua, "botocore");
        return Client::OldBoto { ua_name: "botocore".into(), version };
    }
    if old("aws-cli", (1, 22, 0)) {
        return Client::OldBoto { ua_name: "aws-cli".into(), version: version_token(ua, "aws-cli") };
    }
    if has("boto/") {
        return Client::Boto2;
    }
    if has("boto3/") || has("botocore/") || has("aws-cli/") {
        return Client::ModernSdk("boto3/botocore");
    }
    if has("aws-sdk-go-v2/") {
        return Client::ModernSdk("AWS SDK for Go v2");
    }
    if has("aws-sdk-go/") {
        return Client::GoV1;
    }
    if has("aws-sdk-java/") {
        return match ua_version(ua, "aws-sdk-java") {
            Some((1, ..)) => Client::JavaV1,
            _ => Client::ModernSdk("AWS SDK for Java v2"),
        };
    }
    if has("aws-sdk-js/") {
        return match ua_version(ua, "aws-sdk-js") {
            Some((2, ..)) => Client::JsV2,
            _ => Client::ModernSdk("AWS SDK for JavaScript v3"),
        };
    }
    if has("aws-sdk-rust/") || has("aws-sdk-js-v3") || has("aws-sdk-java-v2") {
        return Client::ModernSdk("an AWS SDK");
    }
    const RAW: &[&str] = &[
        "curl/",
        "wget/",
        "python-requests/",
        "python-urllib",
        "go-http-client/",
        "okhttp/",
        "java/",
        "node-fetch",
        "axios/",
        "httpie/",
        "libwww-perl",
        "ruby",
    ];
    match RAW.iter().find(|p| has(p)) {
        Some(_) => Client::RawHttp(first_token(ua)),
        None => Client::Unknown(first_token(ua)),
    }
}

fn first_token(ua: &str) -> String {
    ua.split_whitespace().next().unwrap_or("").to_string()
}

const RAW_RECIPE: [&str; 4] = [
    "TOKEN=$(curl -s -X PUT http://169.254.169.254/latest/api/token \\",
    "  -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600')",
    "curl -s -H \"X-aws-ec2-metadata-token: $TOKEN\" \\",
    "  http://169.254.169.254/latest/meta-data/...",
];

/// The advice that fits a row, most specific first. `session_v1` is the session's IMDSv1 total.
pub fn advise(row: &RowStats, session_v1: u64) -> Vec<Advice> {
    let mut out = Vec::new();
    if row.counts.v1 > 0 {
        if row.hop_limit_suspect() {
            out.push(hop_limit());
        }
        let mut clients: Vec<Client> = row.user_agents.iter().map(|(ua, _)| classify(ua)).collect();
        if row.no_user_agent > 0 || clients.is_empty() {
            clients.push(Client::Unknown(String::new()));
        }
        clients.dedup();
        let mut raw_done = false;
        let mut fallback_done = false;
        for c in clients {
            match sdk_advice(&c) {
                Some(a) => {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                None if matches!(c, Client::ModernSdk(_)) => {
                    if !fallback_done && !row.hop_limit_suspect() {
                        out.push(fallback(&c));
                    }
                    fallback_done = true;
                }
                None => {
                    if !raw_done {
                        out.push(raw_http(&c));
                    }
                    raw_done = true;
                }
            }
        }
    } else {
        out.push(Advice {
            kind: AdviceKind::NoV1,
            title: "Nothing to change here: no IMDSv1 from this row".into(),
            lines: vec![format!(
                "{} IMDSv2 requests and {} token requests, all with tokens.",
                row.counts.v2, row.counts.token_request
            )],
        });
    }
    if session_v1 == 0 {
        out.push(enforce());
    }
    out
}

fn sdk_advice(c: &Client) -> Option<Advice> {
    let (title, lines): (String, Vec<String>) = match c {
        Client::OldBoto { ua_name, version } => (
            format!("Upgrade {ua_name} {version}: boto3 >= 1.20 uses IMDSv2"),
            vec![
                "pip install --upgrade 'boto3>=1.20' 'botocore>=1.23'".into(),
                "(AWS CLI: install v2, or awscli >= 1.22)".into(),
            ],
        ),
        Client::Boto2 => (
            "Replace boto 2 (IMDSv1 only) with boto3 >= 1.20".into(),
            vec!["pip install 'boto3>=1.20' and port the boto calls to boto3".into()],
        ),
        Client::GoV1 => (
            "Move to the AWS SDK for Go v2 (uses IMDSv2 by default)".into(),
            vec!["go get github.com/aws/aws-sdk-go-v2/config".into()],
        ),
        Client::JavaV1 => (
            "Move to the AWS SDK for Java v2 (uses IMDSv2 by default)".into(),
            vec!["software.amazon.awssdk:* 2.x replaces com.amazonaws:aws-java-sdk-*".into()],
        ),
        Client::JsV2 => (
            "Move to the AWS SDK for JavaScript v3 (uses IMDSv2 by default)".into(),
            vec!["npm install @aws-sdk/credential-providers (replaces aws-sdk v2)".into()],
        ),
        Client::ModernSdk(_) | Client::RawHttp(_) | Client::Unknown(_) => return None,
    };
    Some(Advice { kind: AdviceKind::SdkUpgrade, title, lines })
}

fn raw_http(c: &Client) -> Advice {
    let who = match c {
        Client::RawHttp(n) | Client::Unknown(n) if !n.is_empty() => format!(" ({n})"),
        _ => " (no SDK named in the User-Agent)".into(),
    };
    let mut lines = vec!["Request a session token first, then send it with every request:".into()];
    lines.extend(RAW_RECIPE.iter().map(|s| (*s).to_string()));
    if matches!(c, Client::Unknown(n) if n.is_empty()) {
        lines.push("(The AWS SDK for JavaScript v3 sends no User-Agent: if it is that, see".into());
        lines.push(" the hop limit; it falls back to v1 when its token request fails.)".into());
    }
    Advice { kind: AdviceKind::RawHttp, title: format!("Raw HTTP caller{who}: get a token"), lines }
}

fn hop_limit() -> Advice {
    Advice {
        kind: AdviceKind::HopLimit,
        title: "Hop limit: token answers never arrived, then IMDSv1 was used".into(),
        lines: vec![
            "The token response (IP TTL = hop limit, often 1) dies one hop away,".into(),
            "e.g. in a container on a bridge network. Raise the hop limit to 2:".into(),
            "aws ec2 modify-instance-metadata-options --instance-id <id> \\".into(),
            "  --http-put-response-hop-limit 2 --http-endpoint enabled".into(),
            "Terraform: metadata_options { http_put_response_hop_limit = 2 }".into(),
            "(or run the container with host networking)".into(),
        ],
    }
}

fn fallback(c: &Client) -> Advice {
    let name = match c {
        Client::ModernSdk(n) => *n,
        _ => "the SDK",
    };
    Advice {
        kind: AdviceKind::Fallback,
        title: format!("{name} uses IMDSv2 by default: find why it fell back"),
        lines: vec![
            "It uses v1 only when its token request fails (403/404/405 or timeout).".into(),
            "Check for a proxy adding X-Forwarded-For and the hop limit; set".into(),
            "AWS_EC2_METADATA_V1_DISABLED=true to make the failure visible.".into(),
        ],
    }
}

fn enforce() -> Advice {
    Advice {
        kind: AdviceKind::Enforce,
        title: "No IMDSv1 seen this session: enforce IMDSv2".into(),
        lines: vec![
            "aws ec2 modify-instance-metadata-options --instance-id <id> \\".into(),
            "  --http-tokens required --http-endpoint enabled".into(),
            "Terraform: metadata_options { http_tokens = \"required\" }".into(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_classified() {
        let ua = "Boto3/1.17.0 Python/3.8.10 Linux/5.10 Botocore/1.20.0";
        assert!(matches!(classify(ua), Client::OldBoto { ref ua_name, .. } if ua_name == "boto3"));
        assert_eq!(classify("Boto3/1.34.1 Python/3.11 Botocore/1.34.1"), Client::ModernSdk("boto3/botocore"));
        assert!(matches!(classify("Botocore/1.22.9 Python/3.8"), Client::OldBoto { .. }));
        assert!(matches!(classify("aws-cli/1.18.69 Python/3.8 botocore/1.17.0"), Client::OldBoto { .. }));
        assert_eq!(classify("aws-sdk-go/1.44.0 (go1.20; linux; amd64)"), Client::GoV1);
        assert_eq!(classify("aws-sdk-go-v2/1.21.0 os/linux ft/ec2-imds"), Client::ModernSdk("AWS SDK for Go v2"));
        assert_eq!(classify("aws-sdk-java/1.12.500 Linux/5.10"), Client::JavaV1);
        assert_eq!(classify("aws-sdk-js/2.1400.0"), Client::JsV2);
        assert_eq!(classify("curl/7.88.1"), Client::RawHttp("curl/7.88.1".into()));
        assert_eq!(classify("Boto/2.49.0 Python/2.7"), Client::Boto2);
        assert_eq!(classify("weird\u{1b}agent"), Client::Unknown("weird\u{1b}agent".into()));
    }

    #[test]
    fn versions_parse_leniently() {
        assert_eq!(ua_version("Boto3/1.20 x", "boto3"), Some((1, 20, 0)));
        assert_eq!(ua_version("Boto3/abc", "boto3"), None);
        assert_eq!(ua_version("x/1.2.3-rc1", "x"), Some((1, 2, 3)));
    }
}
