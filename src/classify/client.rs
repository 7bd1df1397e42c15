//! Which IMDS client a user agent names (SDK and version), and what that means for IMDSv2.
//! Pure functions over the user-agent text; the advice built on them lives in `verdict`.

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
pub fn identify(ua: &str) -> Client {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_classified() {
        let ua = "Boto3/1.17.0 Python/3.8.10 Linux/5.10 Botocore/1.20.0";
        assert!(matches!(identify(ua), Client::OldBoto { ref ua_name, .. } if ua_name == "boto3"));
        assert_eq!(identify("Boto3/1.34.1 Python/3.11 Botocore/1.34.1"), Client::ModernSdk("boto3/botocore"));
        assert!(matches!(identify("Botocore/1.22.9 Python/3.8"), Client::OldBoto { .. }));
        assert!(matches!(identify("aws-cli/1.18.69 Python/3.8 botocore/1.17.0"), Client::OldBoto { .. }));
        assert_eq!(identify("aws-sdk-go/1.44.0 (go1.20; linux; amd64)"), Client::GoV1);
        assert_eq!(identify("aws-sdk-go-v2/1.21.0 os/linux ft/ec2-imds"), Client::ModernSdk("AWS SDK for Go v2"));
        assert_eq!(identify("aws-sdk-java/1.12.500 Linux/5.10"), Client::JavaV1);
        assert_eq!(identify("aws-sdk-js/2.1400.0"), Client::JsV2);
        assert_eq!(identify("curl/7.88.1"), Client::RawHttp("curl/7.88.1".into()));
        assert_eq!(identify("Boto/2.49.0 Python/2.7"), Client::Boto2);
        assert_eq!(identify("weird\u{1b}agent"), Client::Unknown("weird\u{1b}agent".into()));
    }

    #[test]
    fn versions_parse_leniently() {
        assert_eq!(ua_version("Boto3/1.20 x", "boto3"), Some((1, 20, 0)));
        assert_eq!(ua_version("Boto3/abc", "boto3"), None);
        assert_eq!(ua_version("x/1.2.3-rc1", "x"), Some((1, 2, 3)));
    }
}
