//! Secrets out of command lines: `curl -H "X-aws-ec2-metadata-token: AQAE…"` must never reach
//! the output. Inside one argument the rules of [`crate::secret`] apply (key/value forms,
//! escaped and URL-encoded ones, token-shaped strings); across arguments:
//! - the separator ending the argument and the value in the next (`-H` `X-…-token:` `AQAE…`);
//! - a flag `--aws-secret-access-key VALUE`, `--token VALUE` (the whole next argument);
//! - a key name ending an argument and its value in the next, as `aws configure set
//!   aws_secret_access_key VALUE` or a header name and value given as two arguments: the next
//!   argument is taken for a value when it looks like one ([`value_like`]: no leading `-`, no
//!   blank, at least [`MIN_VALUE`] bytes), so `grep -r X-aws-ec2-metadata-token src/` is kept;
//! - after `Authorization:` in its own argument, a scheme word (`Bearer`) is kept and the
//!   argument after it is the value.

use crate::secret::{Next, REDACTED, is_auth_scheme, redact_pairs, token_shaped};

/// Shortest next argument taken for a secret value after a bare key name.
pub const MIN_VALUE: usize = 16;

/// Whether an argument after a bare key name looks like its value.
fn value_like(arg: &str) -> bool {
    arg.len() >= MIN_VALUE && !arg.starts_with('-') && !arg.contains(char::is_whitespace)
}

/// One argument: key/value forms, then token-shaped strings.
fn redact_arg(arg: &str) -> (String, Next) {
    let (pairs, next) = redact_pairs(arg);
    (token_shaped(&pairs).into_owned(), next)
}

/// Joins arguments with spaces, secrets redacted.
pub fn cmdline(args: &[String]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(args.len());
    let mut next = Next::Keep;
    for arg in args {
        match next {
            Next::Secret => {
                // `Authorization:` `Bearer` `VALUE`: the scheme stays, the value goes.
                if is_auth_scheme(arg) {
                    parts.push(arg.clone());
                    continue;
                }
                parts.push(REDACTED.to_string());
                next = Next::Keep;
                continue;
            }
            Next::MaybeSeparator => {
                let t = arg.trim();
                if t == ":" || t == "=" {
                    parts.push(arg.clone());
                    next = Next::Secret;
                    continue;
                }
                if let Some(rest) = t.strip_prefix(':').or_else(|| t.strip_prefix('=')) {
                    let rest = rest.trim_start_matches([' ', '"', '\'']);
                    let sep = &t[..1];
                    parts.push(if rest.is_empty() { arg.clone() } else { format!("{sep}{REDACTED}") });
                    next = if rest.is_empty() { Next::Secret } else { Next::Keep };
                    continue;
                }
                // `--aws-secret-access-key VALUE`: a flag's value; a header name alone is not.
                if (parts.last().is_some_and(|p| p.starts_with("--")) && !arg.starts_with('-')) || value_like(arg) {
                    parts.push(REDACTED.to_string());
                    next = Next::Keep;
                    continue;
                }
            }
            Next::Keep => {}
        }
        let (redacted, n) = redact_arg(arg);
        parts.push(redacted);
        next = n;
    }
    parts.join(" ")
}

/// Cuts `s` to at most `max` bytes on a char boundary, marking the cut with `…`.
pub fn cap(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(args: &[&str]) -> String {
        cmdline(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    const TOK: &str = "AQAEAKHd8sAAAAABc3ZzLWV4YW1wbGUtdG9rZW4tdmFsdWUtaGVyZQ==";

    #[test]
    fn attribute_redact_token_header_one_arg() {
        let url = "http://example.invalid/latest/meta-data/";
        let h = format!("X-aws-ec2-metadata-token: {TOK}");
        assert_eq!(r(&["curl", "-H", &h, url]), format!("curl -H X-aws-ec2-metadata-token: [REDACTED] {url}"));
        let h = format!("x-AWS-EC2-metadata-token:{TOK}");
        assert_eq!(r(&["curl", "-H", &h]), "curl -H x-AWS-EC2-metadata-token:[REDACTED]");
        let h = format!("--header=X-aws-ec2-metadata-token:   {TOK}");
        assert_eq!(r(&["wget", &h]), "wget --header=X-aws-ec2-metadata-token:   [REDACTED]");
    }

    #[test]
    fn attribute_redact_token_header_split_args() {
        let out = r(&["curl", "-H", "X-aws-ec2-metadata-token:", TOK, "-s"]);
        assert_eq!(out, "curl -H X-aws-ec2-metadata-token: [REDACTED] -s");
        let out = r(&["curl", "-H", "X-aws-ec2-metadata-token", ":", TOK]);
        assert_eq!(out, "curl -H X-aws-ec2-metadata-token : [REDACTED]");
        let out = r(&["curl", "-H", "X-aws-ec2-metadata-token", &format!(":{TOK}")]);
        assert_eq!(out, "curl -H X-aws-ec2-metadata-token :[REDACTED]");
    }

    #[test]
    fn attribute_redact_inside_scripts() {
        let script = format!("TOKEN=x; curl -H \"X-aws-ec2-metadata-token: {TOK}\" -s http://h/ && echo ok");
        let out = r(&["sh", "-c", &script]);
        assert!(!out.contains(TOK), "{out}");
        assert!(out.contains("\"X-aws-ec2-metadata-token: [REDACTED]\" -s http://h/ && echo ok"), "{out}");
        let py = format!("requests.get(u, headers={{'X-aws-ec2-metadata-token': '{TOK}'}})");
        let out = r(&["python3", "-c", &py]);
        assert!(!out.contains(TOK), "{out}");
        assert!(out.ends_with("'X-aws-ec2-metadata-token': '[REDACTED]'})"), "{out}");
    }

    #[test]
    fn attribute_redact_aws_secrets() {
        let out = r(&["aws", "configure", "set", "--aws-secret-access-key", "wJalrXUtnFEMI/K7MDENG", "--profile", "p"]);
        assert_eq!(out, "aws configure set --aws-secret-access-key [REDACTED] --profile p");
        let out = r(&["env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "AWS_REGION=eu-west-1", "app"]);
        assert_eq!(out, "env AWS_SECRET_ACCESS_KEY=[REDACTED] AWS_REGION=eu-west-1 app");
        let out = r(&["tool", "aws_session_token=IQoJb3JpZ2luX2Vj", "--aws-session-token=FwoGZXIvYXdz"]);
        assert_eq!(out, "tool aws_session_token=[REDACTED] --aws-session-token=[REDACTED]");
        let out = r(&["sh", "-c", "export AWS_SECRET_ACCESS_KEY=abc; export AWS_SESSION_TOKEN=def; run"]);
        assert_eq!(out, "sh -c export AWS_SECRET_ACCESS_KEY=[REDACTED]; export AWS_SESSION_TOKEN=[REDACTED]; run");
    }

    #[test]
    fn attribute_redact_leaves_the_rest() {
        // The TTL header is not a secret, and neither is a mention without a value.
        let out = r(&["curl", "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 21600", "u"]);
        assert_eq!(out, "curl -X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 21600 u");
        assert_eq!(r(&["grep", "-r", "X-aws-ec2-metadata-token", "src/"]), "grep -r X-aws-ec2-metadata-token src/");
        assert_eq!(r(&["a", "b c", "d"]), "a b c d");
        assert_eq!(r(&[]), "");
        // A value cut at a multi-byte char boundary does not panic.
        assert_eq!(r(&["x", "aws_session_token=é€", "y"]), "x aws_session_token=[REDACTED] y");
        // Empty value at the end of the command line.
        assert_eq!(r(&["curl", "-H", "X-aws-ec2-metadata-token:"]), "curl -H X-aws-ec2-metadata-token:");
    }

    #[test]
    fn attribute_redact_issue_12_forms() {
        let out = r(&["curl", "-H", "Authorization: Bearer eyJhbGciOi.payload.sig", "u"]);
        assert_eq!(out, "curl -H Authorization: Bearer [REDACTED] u");
        let out = r(&["curl", "-H", "Authorization:", "Bearer", "eyJhbGciOi.payload.sig"]);
        assert_eq!(out, "curl -H Authorization: Bearer [REDACTED]");
        assert_eq!(r(&["tool", "--token", "s3cr3t-value", "-v"]), "tool --token [REDACTED] -v");
        let out = r(&["aws", "configure", "set", "aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"]);
        assert_eq!(out, "aws configure set aws_secret_access_key [REDACTED]");
        let out = r(&["aws", "configure", "set", "default.aws_session_token", "IQoJb3JpZ2luX2VjEJr//////////wEa"]);
        assert_eq!(out, "aws configure set default.aws_session_token [REDACTED]");
        assert_eq!(r(&["env", "TOKEN=abc", "MY_TOKEN=def", "run"]), "env TOKEN=[REDACTED] MY_TOKEN=[REDACTED] run");
        let json = format!("{{\\\"X-aws-ec2-metadata-token\\\":\\\"{TOK}\\\"}}");
        let out = r(&["sh", "-c", &format!("curl -H {json} u")]);
        assert!(!out.contains("AQAE") && out.contains("[REDACTED]"), "{out}");
        let out = r(&["fetch", "http://h/?h=X-aws-ec2-metadata-token%3A%20not-token-shaped-value"]);
        assert_eq!(out, "fetch http://h/?h=X-aws-ec2-metadata-token%3A%20[REDACTED]");
        let out = r(&["client", "--header", "X-aws-ec2-metadata-token", "not-token-shaped-but-long-value"]);
        assert!(!out.contains("not-token-shaped"), "{out}");
        let out = r(&["python3", "fetch.py", TOK]);
        assert_eq!(out, "python3 fetch.py [REDACTED]");
    }

    /// Issue 23, class 7: every spelling of the secret key (before: all six kept).
    #[test]
    fn attribute_redact_every_secret_key_spelling() {
        const KEY: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";
        for (args, want) in [
            (vec!["env", &format!("AWS_SECRET_KEY={KEY}"), "app"], "env AWS_SECRET_KEY=[REDACTED] app".to_owned()),
            (vec!["tool", &format!("--secret_key={KEY}")], "tool --secret_key=[REDACTED]".to_owned()),
            (vec!["tool", "--secret-key", KEY, "-v"], "tool --secret-key [REDACTED] -v".to_owned()),
            (vec!["tool", "--secret-key", "short"], "tool --secret-key [REDACTED]".to_owned()),
            (
                vec!["sh", "-c", &format!("echo {{\"SecretAccessKey\":\"{KEY}\"}}")],
                "sh -c echo {\"SecretAccessKey\":\"[REDACTED]\"}".to_owned(),
            ),
            (vec!["run", &format!("SecretAccessKey={KEY}")], "run SecretAccessKey=[REDACTED]".to_owned()),
            (vec!["run", &format!("secretAccessKey: {KEY}")], "run secretAccessKey: [REDACTED]".to_owned()),
            (vec!["run", "secretAccessKey:", KEY], "run secretAccessKey: [REDACTED]".to_owned()),
            (vec!["run", &format!("SECRETKEY={KEY}")], "run SECRETKEY=[REDACTED]".to_owned()),
        ] {
            let out = r(&args);
            assert!(!out.contains(KEY) && !out.contains("short"), "{args:?}: {out}");
            assert_eq!(out, want, "{args:?}");
        }
        // The key's own name in prose is kept; so is an unrelated `--key-file`.
        assert_eq!(r(&["grep", "-r", "secret-key", "src/"]), "grep -r secret-key src/");
    }

    #[test]
    fn attribute_redact_cap() {
        assert_eq!(cap("abc".into(), 10), "abc");
        let s = cap("é".repeat(100), 11);
        assert!(s.len() <= 11 && s.ends_with('…'), "{s}");
        assert_eq!(cap(String::new(), 0), "");
    }
}
