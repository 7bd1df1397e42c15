//! Best-effort reading of a head httparse refuses (issue 12): a server may still answer it
//! (more headers than the limit, an obs-fold line, a control byte in a value, a space before
//! a colon, odd spacing or extra words in the request line, no version at all), so it is
//! reported, marked `parse_error`, never dropped.
//!
//! The scan never allocates and looks at each byte a bounded number of times: the head it is
//! given is at most [`super::MAX_HEAD`] bytes.

/// What a raw scan of a request head found. Borrowed from the head's bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRequest<'a> {
    /// The first word, when it is an HTTP token (RFC 9110 tchar); empty otherwise.
    pub method: &'a [u8],
    /// Everything between the method and the version (or the end of the line), trimmed,
    /// as Zeek reads it: `CONNECT host:25 / HTTP/1.0` has the target `host:25 /`.
    pub target: &'a [u8],
    /// A header line named `X-aws-ec2-metadata-token` (any case, spaces before the colon).
    pub token_header: bool,
    /// Value of `X-aws-ec2-metadata-token-ttl-seconds`.
    pub ttl: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub forwarded: bool,
    /// Body framing read from the headers (`None`: contradictory).
    pub framing: Option<Framing>,
}

/// How long the body after a head is, as the raw scan read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    /// No length given (a response body then runs to the end of the connection).
    Unknown,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits a head into lines (LF or CRLF ends), without the line ends.
fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// The request line split Zeek's way: method, target, version (if the last word is one).
fn request_line(line: &[u8]) -> (&[u8], &[u8]) {
    let line = line.trim_ascii();
    let m_end = line.iter().position(|&b| is_space(b)).unwrap_or(line.len());
    let method = &line[..m_end];
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return (b"", b"");
    }
    let mut rest = line[m_end..].trim_ascii();
    if let Some(sp) = rest.iter().rposition(|&b| is_space(b)) {
        if rest[sp + 1..].starts_with(b"HTTP/") {
            rest = rest[..sp].trim_ascii();
        }
    } else if rest.starts_with(b"HTTP/") {
        rest = b""; // `OPTIONS HTTP/1.1`: a version, no target
    }
    (method, rest)
}

/// Scans a request head (request line and header lines, up to the blank line or the end).
pub fn scan_request(head: &[u8]) -> RawRequest<'_> {
    let mut it = lines(head).skip_while(|l| l.is_empty());
    let (method, target) = it.next().map(request_line).unwrap_or_default();
    let mut r = RawRequest { method, target, ..RawRequest::default() };
    r.framing = scan_headers(it, |name, value| {
        if name.eq_ignore_ascii_case(b"x-aws-ec2-metadata-token") {
            r.token_header = true;
        } else if name.eq_ignore_ascii_case(b"x-aws-ec2-metadata-token-ttl-seconds") {
            r.ttl = Some(value);
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            r.user_agent = Some(value);
        } else if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            r.forwarded = true;
        }
    });
    r
}

/// Scans a response head: its status code (`None` without a status line) and framing.
pub fn scan_response(head: &[u8]) -> Option<(u16, Option<Framing>)> {
    let mut it = lines(head).skip_while(|l| l.is_empty());
    let line = it.next()?.trim_ascii();
    let rest = line.strip_prefix(b"HTTP/")?;
    let sp = rest.iter().position(|&b| is_space(b))?;
    let code = rest[sp..].trim_ascii_start().get(..3)?;
    let code = std::str::from_utf8(code).ok()?.parse::<u16>().ok()?;
    let framing = scan_headers(it, |_, _| {});
    Some((code, framing))
}

/// Calls `each(name, value)` for every header line (names trimmed, folded continuation
/// lines skipped) and returns the body framing they give.
fn scan_headers<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    mut each: impl FnMut(&'a [u8], &'a [u8]),
) -> Option<Framing> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut bad = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.first().is_some_and(|&b| is_space(b)) {
            continue; // obs-fold: continues the previous value
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        each(name, value);
        if name.eq_ignore_ascii_case(b"content-length") {
            match std::str::from_utf8(value).ok().and_then(|v| v.parse::<u64>().ok()) {
                Some(v) if length.is_none_or(|l| l == v) => length = Some(v),
                _ => bad = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked =
                value.rsplit(|&b| b == b',').next().is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        }
    }
    match (chunked, length, bad) {
        (true, _, _) => Some(Framing::Chunked),
        (false, _, true) => None,
        (false, Some(n), false) => Some(Framing::Length(n)),
        (false, None, false) => Some(Framing::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_read_as_zeek_reads_them() {
        let cases: [(&[u8], &str, &str); 8] = [
            (b"GET /a HTTP/1.1\r\n\r\n", "GET", "/a"),
            (b"GET  /a \tHTTP/1.1\r\n\r\n", "GET", "/a"),
            (b"CONNECT host:25 / HTTP/1.0\r\n\r\n", "CONNECT", "host:25 /"),
            (b"GET /HTTP/1.1\r\n\r\n", "GET", "/HTTP/1.1"),
            (b"OPTIONS HTTP/1.1\r\n\r\n", "OPTIONS", ""),
            (b"GET/ HTTP/1.1\r\n\r\n", "", ""),
            (b"\x16\x03\x01 / HTTP/1.1\r\n\r\n", "", ""),
            (b"GET /zeek.html\r\n", "GET", "/zeek.html"),
        ];
        for (head, m, t) in cases {
            let r = scan_request(head);
            assert_eq!((r.method, r.target), (m.as_bytes(), t.as_bytes()), "{head:?}");
        }
    }

    #[test]
    fn headers_httparse_refuses_are_still_read() {
        let r = scan_request(
            b"GET /latest/meta-data/ HTTP/1.1\r\nX-Aws-Ec2-Metadata-Token : AQAE\r\nUser-Agent: a\x1bb\r\n folded\r\n\r\n",
        );
        assert!(r.token_header);
        assert_eq!(r.user_agent, Some(&b"a\x1bb"[..]));
        assert_eq!(r.framing, Some(Framing::Unknown));
        let r = scan_request(b"PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
        assert_eq!(r.framing, None);
    }

    #[test]
    fn response_status_lines() {
        assert_eq!(
            scan_response(b"HTTP/1.1 206 Partial\r\nX : y\r\nContent-Length: 7\r\n\r\n"),
            Some((206, Some(Framing::Length(7))))
        );
        assert_eq!(scan_response(b"<html>\r\n\r\n"), None);
        assert_eq!(scan_response(b"HTTP/1.1 2x\r\n\r\n"), None);
    }
}
