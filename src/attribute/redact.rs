//! Secrets out of command lines: `curl -H "X-aws-ec2-metadata-token: AQAE…"` must never reach
//! the output. The value after any of `SECRET_KEYS` (case-insensitive, `-` and `_` alike) is
//! replaced by `[REDACTED]`, in the forms
//! - `key: value`, `key:value`, `key=value`, `key = value` inside one argument (a shell
//!   script in `sh -c` included: the value runs to whitespace, a quote, `;`, `&`, `,` or `)`);
//! - the separator ending the argument and the value in the next (`-H` `X-…-token:` `AQAE…`);
//! - a flag `--aws-secret-access-key VALUE` (the whole next argument).

/// Key names whose value is secret, compared with `-` and `_` alike.
const SECRET_KEYS: [&str; 5] = [
    "x-aws-ec2-metadata-token",
    "aws-secret-access-key",
    "aws-session-token",
    "aws-security-token",
    "secret-access-key",
];

pub const REDACTED: &str = "[REDACTED]";

fn norm(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        b => b.to_ascii_lowercase(),
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Where a secret key ends in `s`, starting the search at `from`.
fn find_key(s: &[u8], from: usize) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for key in SECRET_KEYS {
        let k = key.as_bytes();
        let mut i = from;
        while i + k.len() <= s.len() {
            let hit = s[i..i + k.len()].iter().zip(k).all(|(&a, &b)| norm(a) == b);
            let end = i + k.len();
            // Whole name only: `x-aws-ec2-metadata-token-ttl-seconds` is not the token.
            if hit && s.get(end).is_none_or(|&b| !is_name_byte(b)) {
                if best.is_none_or(|(start, _)| i < start) {
                    best = Some((i, end));
                }
                break;
            }
            i += 1;
        }
    }
    best.map(|(_, end)| end)
}

fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b';' | b'&' | b',' | b')' | b'}')
}

/// What the next argument is, after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Keep,
    /// The value follows in the next argument.
    Secret,
    /// A separator may still follow (`key` `:` `value` or `--key value`).
    MaybeSeparator,
}

/// Redacts inside one argument; says whether the next argument holds a value.
fn redact_arg(arg: &str) -> (String, Next) {
    let s = arg.as_bytes();
    let mut out = String::with_capacity(arg.len());
    let mut copied = 0;
    let mut pos = 0;
    let mut next = Next::Keep;
    while let Some(end) = find_key(s, pos) {
        let mut i = end;
        // Whitespace, or the quote closing a quoted key (`'X-…-token': 'value'`).
        while s.get(i).is_some_and(|b| b.is_ascii_whitespace() || *b == b'"' || *b == b'\'') {
            i += 1;
        }
        if !matches!(s.get(i), Some(b':' | b'=')) {
            pos = end;
            if i == s.len() {
                next = Next::MaybeSeparator;
            }
            continue;
        }
        i += 1;
        while s.get(i).is_some_and(|b| b.is_ascii_whitespace() || *b == b'"' || *b == b'\'') {
            i += 1;
        }
        let start = i;
        while s.get(i).is_some_and(|&b| !ends_value(b)) {
            i += 1;
        }
        if i == start {
            next = if start == s.len() { Next::Secret } else { Next::Keep };
            pos = i.max(end);
            continue;
        }
        // start and i are at ASCII bytes or the ends, so they are char boundaries.
        out.push_str(&arg[copied..start]);
        out.push_str(REDACTED);
        copied = i;
        pos = i;
        next = Next::Keep;
    }
    out.push_str(&arg[copied..]);
    (out, next)
}

/// Joins arguments with spaces, secrets redacted.
pub fn cmdline(args: &[String]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(args.len());
    let mut next = Next::Keep;
    for arg in args {
        match next {
            Next::Secret => {
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
                if parts.last().is_some_and(|p| p.starts_with("--")) && !arg.starts_with('-') {
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
    fn attribute_redact_cap() {
        assert_eq!(cap("abc".into(), 10), "abc");
        let s = cap("é".repeat(100), 11);
        assert!(s.len() <= 11 && s.ends_with('…'), "{s}");
        assert_eq!(cap(String::new(), 0), "");
    }
}
