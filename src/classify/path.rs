//! Request targets normalised for classification only (the record keeps the path as sent):
//! an absolute-form target (`http://169.254.169.254/latest/...`) loses its scheme and host,
//! percent-escapes of unreserved characters and `/` are decoded, `//` and `/./` collapse and
//! `/../` goes up, so that odd spellings do not hide a credentials fetch or a token request.

/// The origin-form path of `target`, normalised; query and fragment removed.
pub fn normalize(target: &str) -> std::borrow::Cow<'_, str> {
    let path = before_query(origin_form(target));
    if is_normal(path) {
        return std::borrow::Cow::Borrowed(path); // nearly every request (hot path)
    }
    let decoded = percent_decode(path);
    let mut segs: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for s in &segs {
        out.push('/');
        out.push_str(s);
    }
    // Keep a trailing slash: `/security-credentials/` lists roles.
    if out.is_empty() || (decoded.ends_with('/') && !segs.is_empty()) {
        out.push('/');
    }
    std::borrow::Cow::Owned(out)
}

/// True when [`normalize`] would give `path` back as it is: rooted, no escape, no empty
/// segment but a trailing one, no `.` or `..`.
fn is_normal(path: &str) -> bool {
    // Bytes, not chars: this runs for every request (issue 29).
    let Some(rest) = path.as_bytes().strip_prefix(b"/") else { return false };
    if memchr::memchr(b'%', rest).is_some() {
        return false;
    }
    let mut start = 0;
    loop {
        let end = memchr::memchr(b'/', &rest[start..]).map(|i| start + i);
        let seg = &rest[start..end.unwrap_or(rest.len())];
        if seg == b"." || seg == b".." {
            return false;
        }
        match end {
            Some(_) if seg.is_empty() => return false, // `//`
            Some(e) => start = e + 1,
            None => return true,
        }
    }
}

/// The target before its query or fragment (`?`, `#`).
pub fn before_query(target: &str) -> &str {
    match memchr::memchr2(b'?', b'#', target.as_bytes()) {
        Some(i) => &target[..i], // an ASCII byte: a character boundary
        None => target,
    }
}

/// The non-empty segments of a normalised path. A byte loop: `split('/')` set up a memchr
/// search per segment, eight times a request (2% of `analyze`'s instructions on a dense
/// capture, issue 29).
pub fn segments(norm: &str) -> impl Iterator<Item = &str> {
    let mut rest = norm;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let end = rest.bytes().position(|b| b == b'/').unwrap_or(rest.len());
            // `/` is ASCII: both cuts are on character boundaries.
            let seg = &rest[..end];
            rest = &rest[(end + 1).min(rest.len())..];
            if !seg.is_empty() {
                return Some(seg);
            }
        }
    })
}

/// EC2 IMDS's own path shape: a version segment (`latest` or a date such as `2021-07-15`),
/// alone (the listing of that version) or followed by `meta-data`, `user-data`, `dynamic` or
/// `api`. No other cloud's metadata service at 169.254.169.254 answers these with 2xx.
pub fn aws_shaped(norm: &str) -> bool {
    let mut s = segments(norm);
    let version = s.next().unwrap_or("");
    let dated = version.len() == 10
        && version.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    (version == "latest" || dated) && matches!(s.next(), None | Some("meta-data" | "user-data" | "dynamic" | "api"))
}

/// `http://host[:port]/p` → `/p` (scheme case-insensitive); anything else as is.
fn origin_form(target: &str) -> &str {
    let lower_starts = |p: &str| target.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let rest = if lower_starts("http://") {
        &target[7..]
    } else if lower_starts("https://") {
        &target[8..]
    } else {
        return target;
    };
    match rest.find('/') {
        Some(i) => &rest[i..],
        None => "/",
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept as written; bytes that are not UTF-8 are
/// replaced).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(h).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn odd_spellings_normalise() {
        let want = "/latest/meta-data/iam/security-credentials/";
        for p in [
            "/latest/meta-data/iam/security-credentials/",
            "//latest//meta-data/iam/security-credentials/",
            "/latest/./meta-data/iam/./security-credentials/",
            "/latest/meta-data/x/../iam/security-credentials/",
            "/latest/meta-data/iam/security%2Dcredentials/",
            "/latest%2Fmeta-data%2fiam/security-credentials/",
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "HTTP://[fd00:ec2::254]:80/latest/meta-data/iam/security-credentials/?x",
        ] {
            assert_eq!(normalize(p), want, "{p}");
        }
        assert_eq!(normalize("http://169.254.169.254"), "/");
        assert_eq!(normalize("/%zz/../.."), "/");
        assert_eq!(normalize("%"), "/%");
    }

    #[test]
    fn normal_paths_come_back_borrowed_and_the_rest_rewritten() {
        use std::borrow::Cow;
        for p in ["/", "/latest/", "/latest/meta-data/instance-id", "/a/b.c/..d/", "/v2/credentials/x?q=1"] {
            let n = normalize(p);
            assert!(matches!(n, Cow::Borrowed(_)), "{p}");
            assert_eq!(n, p.split('?').next().unwrap_or(p));
        }
        for (p, want) in
            [("/a//", "/a/"), ("/a/.", "/a"), ("/..", "/"), ("//", "/"), ("a", "/a"), ("", "/"), ("/a/%41", "/a/A")]
        {
            let n = normalize(p);
            assert!(matches!(n, Cow::Owned(_)), "{p}");
            assert_eq!(n, want, "{p}");
        }
    }

    #[test]
    fn aws_shaped_paths() {
        use super::aws_shaped;
        for p in ["/latest/", "/latest/meta-data/iam/", "/2021-07-15/user-data", "/latest/api/token", "/2009-04-04"] {
            assert!(aws_shaped(p), "{p}");
        }
        for p in [
            "/",
            "/metadata/instance",
            "/latest/other",
            "/2021-7-15/meta-data/",
            "/computeMetadata/v1/",
            "/v2/credentials",
        ] {
            assert!(!aws_shaped(p), "{p}");
        }
    }
}
