//! Secrets out of every text that reaches an output (a leaf: the engine redacts paths and user
//! agents with it, `attribute` command lines). Three kinds of rule:
//! - a value after a secret key (case-insensitive, `-` and `_` alike): `key: value`,
//!   `key=value`, `key = value`, `'key': 'value'`, `{\"key\":\"value\"}` (backslash-escaped
//!   JSON), `key%3A%20value` (URL-encoded); the value runs to whitespace, a quote, a
//!   backslash, `;`, `&`, `,`, `)` or `}`. After `Authorization:` a scheme word (`Bearer`,
//!   `Basic`...) is kept and what follows is the value;
//! - every query-string value of a request path ([`path`]);
//! - anything shaped like an IMDSv2 session token: `AQAE` followed by a run of at least
//!   [`TOKEN_RUN`] base64 characters, wherever it is (a path segment, a user agent, an
//!   argument) ([`token_shaped`]).

use std::borrow::Cow;

/// Key names whose value is secret, compared with `-` and `_` alike.
const SECRET_KEYS: [&str; 11] = [
    "x-aws-ec2-metadata-token",
    "aws-secret-access-key",
    "aws-session-token",
    "aws-security-token",
    "secret-access-key",
    // Every other spelling of the secret key (issue 23, class 7): `AWS_SECRET_KEY=…`,
    // `--secret_key=…`, `--secret-key …`; the IMDS credential document's own
    // `{"SecretAccessKey":"…"}`, `SecretAccessKey=…`, `secretAccessKey: …` (case-insensitive).
    "secret-key",
    "secretaccesskey",
    "secretkey",
    "aws-access-key-id",
    "authorization",
    // Also `--token VALUE`, `TOKEN=…`, `GITHUB_TOKEN=…`: a whole word ending the name.
    "token",
];

/// Authorization schemes kept in front of the credential they introduce.
const AUTH_SCHEMES: [&str; 6] = ["bearer", "basic", "token", "digest", "negotiate", "aws4-hmac-sha256"];

pub const REDACTED: &str = "[REDACTED]";

/// Shortest base64 run after `AQAE` taken for a token (real ones have about 50).
pub const TOKEN_RUN: usize = 20;

fn norm(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        b => b.to_ascii_lowercase(),
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Per key, its next whole-name occurrence found so far (`None`: none left), so that a text
/// full of keys is scanned once per key, not once per hit: linear in its length.
type KeyCache = [Option<Option<(usize, usize)>>; SECRET_KEYS.len()];

/// Where the first secret key in `s` from `from` starts and ends.
fn find_key(s: &[u8], from: usize, cache: &mut KeyCache) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (key, slot) in KEY_FINDERS.iter().zip(cache.iter_mut()) {
        let hit = match *slot {
            Some(Some((start, end))) if start >= from => Some((start, end)),
            Some(None) => None,
            _ => next_key(s, from, key),
        };
        *slot = Some(hit);
        if let Some((start, end)) = hit
            && best.is_none_or(|(b, _)| start < b)
        {
            best = Some((start, end));
        }
    }
    best
}

/// A searcher per secret key, built once: `memmem::find` built one per call, 2.4% of
/// `analyze` on a dense IMDS capture (issue 29).
static KEY_FINDERS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; SECRET_KEYS.len()]> =
    std::sync::LazyLock::new(|| SECRET_KEYS.map(|k| memchr::memmem::Finder::new(k.as_bytes())));

/// The next whole-name occurrence of `k`'s key from `from`, in `lower` (the text through
/// [`norm`], byte for byte, so offsets are the text's).
fn next_key(lower: &[u8], from: usize, k: &memchr::memmem::Finder<'_>) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(at) = k.find(lower.get(i..)?) {
        let start = i + at;
        let end = start + k.needle().len();
        // Whole name only: `x-aws-ec2-metadata-token-ttl-seconds` is not the token.
        if lower.get(end).is_none_or(|&b| !is_name_byte(b)) {
            return Some((start, end));
        }
        i = start + 1;
    }
    None
}

fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'\\' | b';' | b'&' | b',' | b')' | b'}')
}

/// Skips blanks and quotes (plain, backslash-escaped, URL-encoded) from `i`.
fn skip_blank(s: &[u8], mut i: usize) -> usize {
    loop {
        match s.get(i) {
            Some(b) if b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'\\' | b'+') => i += 1,
            Some(b'%') if pct(s, i, &["20", "22", "27", "5c", "5C"]) => i += 3,
            _ => return i,
        }
    }
}

/// A separator `:` or `=` (or `%3A`, `%3D`) at `i`: where it ends.
fn separator(s: &[u8], i: usize) -> Option<usize> {
    match s.get(i) {
        Some(b':' | b'=') => Some(i + 1),
        Some(b'%') if pct(s, i, &["3a", "3A", "3d", "3D"]) => Some(i + 3),
        _ => None,
    }
}

fn pct(s: &[u8], i: usize, codes: &[&str]) -> bool {
    s.get(i + 1..i + 3).is_some_and(|c| codes.iter().any(|k| k.as_bytes() == c))
}

/// What the next argument of a command line is, after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Keep,
    /// The value follows in the next argument.
    Secret,
    /// A separator or a value may still follow (`key` `:` `value`, `--key value`).
    MaybeSeparator,
}

/// Redacts key/value forms inside one text (an argument, a user agent); says whether a
/// command line's next argument holds a value. Token-shaped strings are left to
/// [`token_shaped`].
pub fn redact_pairs(text: &str) -> (Cow<'_, str>, Next) {
    let s = text.as_bytes();
    if !may_hold_key(s) {
        return (Cow::Borrowed(text), Next::Keep);
    }
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut pos, mut next) = (0, 0, Next::Keep);
    let mut cache: KeyCache = [None; SECRET_KEYS.len()];
    let lower: Vec<u8> = s.iter().map(|&b| norm(b)).collect();
    while let Some((key_start, end)) = find_key(&lower, pos, &mut cache) {
        let i = skip_blank(s, end);
        let Some(sep_end) = separator(s, i) else {
            pos = end;
            if i == s.len() {
                next = Next::MaybeSeparator;
            }
            continue;
        };
        let mut start = skip_blank(s, sep_end);
        if norm(s[key_start]) == b'a' && s[key_start..end].eq_ignore_ascii_case(b"authorization") {
            start = skip_scheme(s, start);
        }
        let mut i = start;
        while s.get(i).is_some_and(|&b| !ends_value(b)) {
            i += 1;
        }
        if i == start {
            next = if start == s.len() { Next::Secret } else { Next::Keep };
            pos = i.max(end);
            continue;
        }
        // start and i are at ASCII bytes or the ends, so they are char boundaries.
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = i;
        pos = i;
        next = Next::Keep;
    }
    if copied == 0 {
        return (Cow::Borrowed(text), next);
    }
    out.push_str(&text[copied..]);
    (Cow::Owned(out), next)
}

/// False when `s` cannot hold a secret key: every key has its `k` in `token` or `key`, or
/// its `z` in `authorization`. Most paths and user agents (`aws-sdk-go`, `Boto3/…`) are
/// settled here without a key search (a fast path; found by profiling, issue 29).
fn may_hold_key(s: &[u8]) -> bool {
    let around = |i: usize, before: usize, word: &[u8]| {
        i.checked_sub(before).and_then(|a| s.get(a..a + word.len())).is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    memchr::memchr2_iter(b'k', b'K', s).any(|i| around(i, 2, b"token") || around(i, 0, b"key"))
        || memchr::memchr2_iter(b'z', b'Z', s).any(|i| around(i, 7, b"authorization"))
}

/// After `Authorization:`, skips a scheme word and the blanks after it.
fn skip_scheme(s: &[u8], start: usize) -> usize {
    let mut i = start;
    while s.get(i).is_some_and(|&b| is_name_byte(b)) {
        i += 1;
    }
    let word = &s[start..i];
    if AUTH_SCHEMES.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(word)) && i < s.len() {
        skip_blank(s, i)
    } else {
        start
    }
}

/// Whether a word is an authorization scheme (kept, with the credential in the next word).
pub fn is_auth_scheme(word: &str) -> bool {
    AUTH_SCHEMES.iter().any(|k| k.eq_ignore_ascii_case(word.trim()))
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// Replaces every token-shaped run (`AQAE` + at least [`TOKEN_RUN`] base64 characters) and
/// every ECS task credential id (what follows `/v2/credentials/`, e.g. in a command line
/// `curl 169.254.170.2/v2/credentials/<id>` or `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=…`).
pub fn token_shaped(text: &str) -> Cow<'_, str> {
    match ecs_ids(text) {
        Cow::Borrowed(t) => aqae_runs(t),
        Cow::Owned(t) => Cow::Owned(aqae_runs(&t).into_owned()),
    }
}

/// The ECS credential id after `/v2/credentials/`, up to a blank, a quote, a backslash or
/// a query, fragment or list separator (issue 17: the id fetches the task role's keys).
pub fn ecs_ids(text: &str) -> Cow<'_, str> {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"/v2/credentials/"));
    let stop = |b: u8| b.is_ascii_whitespace() || b"\"'\\?#&;,)}".contains(&b);
    redact_after(text, &FINDER, true, |b| !stop(b), |run| !run.is_empty() && run != REDACTED)
}

fn aqae_runs(text: &str) -> Cow<'_, str> {
    if memchr::memchr(b'Q', text.as_bytes()).is_none() {
        return Cow::Borrowed(text); // no `AQAE` (a one-byte search is the cheapest)
    }
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"AQAE"));
    redact_after(text, &FINDER, false, is_b64, |run| run.len() >= TOKEN_RUN)
}

/// Replaces, at every match of `marker`, the run of `in_run` bytes that follows it when
/// `accept(run)`: after the marker (`keep_marker`) or together with it.
fn redact_after<'t>(
    text: &'t str,
    marker: &memchr::memmem::Finder<'_>,
    keep_marker: bool,
    in_run: impl Fn(u8) -> bool,
    accept: impl Fn(&str) -> bool,
) -> Cow<'t, str> {
    let s = text.as_bytes();
    let mut out = String::new();
    let (mut copied, mut from) = (0, 0);
    while let Some(at) = marker.find(&s[from..]).map(|p| p + from) {
        let run = at + marker.needle().len();
        let mut end = run;
        while s.get(end).is_some_and(|&b| in_run(b)) {
            end += 1;
        }
        // On char boundaries: the marker is ASCII and a run ends next to an ASCII byte or the end.
        if accept(&text[run..end]) {
            let cut = if keep_marker { run } else { at };
            out.push_str(&text[copied..cut]);
            out.push_str(REDACTED);
            copied = end;
        }
        from = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// A free text (a user agent): key/value forms and token-shaped strings redacted.
pub fn text(s: &str) -> String {
    text_cow(s).into_owned()
}

/// [`text`] of a text already owned: given back as it is when nothing is secret (no copy
/// per request; issue 29).
pub fn text_owned(s: String) -> String {
    let changed = match text_cow(&s) {
        Cow::Borrowed(_) => None,
        Cow::Owned(t) => Some(t),
    };
    changed.unwrap_or(s)
}

fn text_cow(s: &str) -> Cow<'_, str> {
    // A key's value is only redacted after a separator (`:`, `=`, `%3A`, `%3D`): without
    // one (most paths and user agents) there is no pair to look for (issue 29).
    if memchr::memchr3(b':', b'=', b'%', s.as_bytes()).is_none() {
        return token_shaped(s);
    }
    match redact_pairs(s).0 {
        Cow::Borrowed(t) => token_shaped(t),
        Cow::Owned(t) => Cow::Owned(token_shaped(&t).into_owned()),
    }
}

/// [`path`] of a path already owned (see [`text_owned`]).
pub fn path_owned(p: String) -> String {
    if p.contains('?') { path(&p) } else { text_owned(p) }
}

/// A request path: every query-string value redacted (`?token=…&a=1` becomes
/// `?token=[REDACTED]&a=[REDACTED]`), then the rules of [`text`] (a token as a path segment).
pub fn path(p: &str) -> String {
    let (head, query) = match p.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (p, None),
    };
    let Some(q) = query else { return text(p) };
    let mut out = head.to_owned();
    {
        out.push('?');
        for part in q.split_inclusive(['&', ';']) {
            let (pair, sep) = match part.strip_suffix(['&', ';']) {
                Some(pair) => (pair, &part[pair.len()..]),
                None => (part, ""),
            };
            match pair.split_once('=') {
                Some((k, v)) if !v.is_empty() => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
            out.push_str(sep);
        }
    }
    text(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_forms_redact_like_the_borrowed_ones() {
        for t in [
            "aws-sdk-go/1.44.0",
            "/latest/meta-data/",
            "/x?token=abc&b=",
            "GITHUB_TOKEN=ghp_abcdef",
            "ua AQAEAAAAAAAAAAAAAAAAAAAAAAAAAA tail",
            "/v2/credentials/a8d8f2c4-5d2e-4a59-9f0e-2b6c1d3e4f50",
        ] {
            assert_eq!(text_owned(t.to_owned()), text(t), "{t}");
            assert_eq!(path_owned(t.to_owned()), path(t), "{t}");
        }
    }

    #[test]
    fn the_key_prefilter_passes_every_key_in_any_case() {
        for k in SECRET_KEYS {
            for form in [k.to_owned(), k.to_uppercase(), k.replace('-', "_"), format!("x {k}=v")] {
                assert!(may_hold_key(form.as_bytes()), "{form}");
            }
        }
        for clean in
            ["aws-sdk-go/1.44.0 (go1.20; linux; amd64)", "Boto3/1.28.0 md/Botocore#1.31.0", "/latest/meta-data/"]
        {
            assert!(!may_hold_key(clean.as_bytes()), "{clean}");
            assert_eq!(redact_pairs(clean), (Cow::Borrowed(clean), Next::Keep));
        }
    }

    #[test]
    fn ecs_credential_ids_are_redacted_anywhere() {
        let id = "a8d8f2c4-5d2e-4a59-9f0e-2b6c1d3e4f50";
        for (t, want) in [
            (format!("curl -s 169.254.170.2/v2/credentials/{id}"), "curl -s 169.254.170.2/v2/credentials/[REDACTED]"),
            (
                format!("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/{id} app"),
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/[REDACTED] app",
            ),
            (format!("'/v2/credentials/{id}'?x"), "'/v2/credentials/[REDACTED]'?x"),
            ("/v2/credentials/[REDACTED]".to_string(), "/v2/credentials/[REDACTED]"),
            ("/v2/credentials/".to_string(), "/v2/credentials/"),
        ] {
            assert_eq!(token_shaped(&t), want);
            assert_eq!(text(&t), want);
        }
        assert_eq!(path(&format!("/v2/credentials/{id}?a=b")), "/v2/credentials/[REDACTED]?a=[REDACTED]");
    }

    const TOK: &str = "AQAEAKHd8sAAAAABc3ZzLWV4YW1wbGUtdG9rZW4tdmFsdWUtaGVyZQ==";

    #[test]
    fn query_values_and_token_segments_leave_paths() {
        assert_eq!(path(&format!("/latest/meta-data/?token={TOK}")), "/latest/meta-data/?token=[REDACTED]");
        assert_eq!(
            path(&format!("/latest/meta-data/?X-aws-ec2-metadata-token={TOK}&a=1&flag")),
            "/latest/meta-data/?X-aws-ec2-metadata-token=[REDACTED]&a=[REDACTED]&flag"
        );
        // base64 has `/`: the run goes on through the path (more is hidden, never less).
        assert_eq!(path(&format!("/{TOK}/meta-data/")), "/[REDACTED]");
        assert_eq!(path("/x?a=1;b=2&&c="), "/x?a=[REDACTED];b=[REDACTED]&&c=");
        assert_eq!(path("/latest/meta-data/iam/security-credentials/"), "/latest/meta-data/iam/security-credentials/");
        assert_eq!(path("/latest/api/token"), "/latest/api/token");
    }

    #[test]
    fn tokens_in_user_agents() {
        assert_eq!(text(&format!("X-aws-ec2-metadata-token: {TOK}")), "X-aws-ec2-metadata-token: [REDACTED]");
        assert_eq!(text(&format!("agent/1.0 ({TOK})")), "agent/1.0 ([REDACTED])");
        assert_eq!(text("Botocore/1.35.0 AQAE-short"), "Botocore/1.35.0 AQAE-short");
        assert_eq!(text("aws-cli/2.15 token.json"), "aws-cli/2.15 token.json");
    }

    #[test]
    fn a_text_full_of_keys_is_redacted_in_one_pass() {
        // Quadratic rescanning would take minutes here; one pass per key is immediate.
        let s = "token=a&".repeat(50_000);
        assert_eq!(text(&s).matches(REDACTED).count(), 50_000);
        let p = format!("/x?{}", "a=1&".repeat(50_000));
        assert_eq!(path(&p).matches(REDACTED).count(), 50_000);
    }

    #[test]
    fn escaped_encoded_and_authorization_forms() {
        let json = format!("{{\\\"X-aws-ec2-metadata-token\\\":\\\"{TOK}\\\"}}");
        assert_eq!(redact_pairs(&json).0, "{\\\"X-aws-ec2-metadata-token\\\":\\\"[REDACTED]\\\"}");
        let enc = "h=X-aws-ec2-metadata-token%3A%20secretvalue123&x=1";
        assert_eq!(redact_pairs(enc).0, "h=X-aws-ec2-metadata-token%3A%20[REDACTED]&x=1");
        assert_eq!(redact_pairs("Authorization: Bearer abc.def.ghi").0, "Authorization: Bearer [REDACTED]");
        assert_eq!(redact_pairs("authorization:s3cr3t").0, "authorization:[REDACTED]");
        assert_eq!(redact_pairs("GITHUB_TOKEN=ghp_abcdef").0, "GITHUB_TOKEN=[REDACTED]");
        assert_eq!(
            redact_pairs("x-aws-ec2-metadata-token-ttl-seconds: 21600").0,
            "x-aws-ec2-metadata-token-ttl-seconds: 21600"
        );
    }
}
