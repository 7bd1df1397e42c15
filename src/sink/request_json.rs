//! A request record as one line of JSON, written field by field: the bytes serde writes
//! through [`TerminalSafe`], at a fraction of the cost.
//!
//! Serde escaped every key and wrote each piece through the line's `Write` adapter: 19% of
//! `analyze` on a dense capture (issue 29). Here the keys are constants, text that needs no
//! escape (nearly all of it) is copied as it is, and the rest goes through serde and
//! [`TerminalSafe`] exactly as before: numbers through the same `Formatter` methods, rare
//! parts (credentials, the live fields, the capture file) through serde itself. The test
//! below compares the two writers on records that use every field, variant and escape.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

use super::ndjson::TerminalSafe;
use crate::event::{Imds, Network, RequestRecord, Version};
use crate::time::Timestamp;

/// Appends `r` as JSON (no newline) to `out`. Remembers the last second it formatted.
#[derive(Default)]
pub struct RequestJson {
    /// The last whole second written and its `YYYY-MM-DDTHH:MM:SS` (records come in time order).
    second: Option<(u64, String)>,
}

impl RequestJson {
    pub fn write(&mut self, out: &mut Vec<u8>, r: &RequestRecord) -> io::Result<()> {
        out.extend_from_slice(br#"{"type":"request","timestamp":""#);
        self.timestamp(out, r.timestamp);
        out.extend_from_slice(br#"","imds":"#);
        imds(out, &r.imds)?;
        out.extend_from_slice(br#","network":"#);
        network(out, &r.network)?;
        if let Some(c) = &r.credentials {
            out.extend_from_slice(br#","credentials":"#);
            serde_value(out, c)?;
        }
        if let Some(live) = &r.live {
            // Flattened: the object's fields, without its braces.
            let at = out.len();
            serde_value(out, live)?;
            if out.len() - at <= 2 {
                out.truncate(at);
            } else {
                out[at] = b',';
                out.pop();
            }
        }
        if let Some(c) = &r.capture {
            out.extend_from_slice(br#","capture":"#);
            serde_value(out, c)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// As `Timestamp`'s `Display`: the seconds part formatted once per second.
    fn timestamp(&mut self, out: &mut Vec<u8>, t: Timestamp) {
        const MAX: u64 = 253_402_300_799_999_999; // as `Display` clamps
        let t = Timestamp(t.0.min(MAX));
        let (secs, micros) = (t.secs(), t.0 % 1_000_000);
        let prefix = match &self.second {
            Some((s, p)) if *s == secs => p,
            _ => {
                let mut p = Timestamp(secs * 1_000_000).to_string();
                p.truncate(p.len() - ".000000Z".len());
                &self.second.insert((secs, p)).1
            }
        };
        out.extend_from_slice(prefix.as_bytes());
        out.push(b'.');
        let mut digits = [b'0'; 6];
        let mut m = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'Z');
    }
}

fn imds(out: &mut Vec<u8>, i: &Imds) -> io::Result<()> {
    out.extend_from_slice(br#"{"version":"#);
    match i.version {
        Version::Unversioned => out.extend_from_slice(b"null"),
        v => quoted(out, v.as_str()),
    }
    out.extend_from_slice(br#","method":"#);
    string(out, &i.method)?;
    out.extend_from_slice(br#","path":"#);
    string(out, &i.path)?;
    out.extend_from_slice(br#","status":"#);
    or_null(out, i.status, |o, s| TerminalSafe.write_u16(o, s))?;
    out.extend_from_slice(br#","outcome":"#);
    quoted(out, i.outcome.as_str());
    out.extend_from_slice(br#","credentials":"#);
    boolean(out, i.credentials);
    out.extend_from_slice(br#","token_ttl_seconds":"#);
    or_null(out, i.token_ttl_seconds, |o, s| TerminalSafe.write_u32(o, s))?;
    out.extend_from_slice(br#","user_agent":"#);
    or_null(out, i.user_agent.as_deref(), string)?;
    out.extend_from_slice(br#","forwarded":"#);
    boolean(out, i.forwarded);
    out.extend_from_slice(br#","response_ms":"#);
    // serde writes NaN and infinities as null too.
    or_null(out, i.response_ms.filter(|ms| ms.is_finite()), |o, ms| TerminalSafe.write_f64(o, ms))?;
    out.extend_from_slice(br#","answer_ttl":"#);
    or_null(out, i.answer_ttl, |o, t| TerminalSafe.write_u8(o, t))?;
    out.extend_from_slice(br#","provider":"#);
    quoted(out, i.provider.as_str());
    out.extend_from_slice(br#","service":"#);
    quoted(out, i.service.as_str());
    out.extend_from_slice(br#","breaks_when_enforced":"#);
    or_null(out, i.breaks_when_enforced, |o, b| {
        boolean(o, b);
        Ok(())
    })?;
    if i.parse_error {
        out.extend_from_slice(br#","parse_error":true"#);
    }
    if i.conflict {
        out.extend_from_slice(br#","conflict":true"#);
    }
    out.push(b'}');
    Ok(())
}

fn network(out: &mut Vec<u8>, n: &Network) -> io::Result<()> {
    out.extend_from_slice(br#"{"client":"#);
    address(out, n.client);
    out.extend_from_slice(br#","server":"#);
    address(out, n.server);
    out.extend_from_slice(br#","client_ttl":"#);
    TerminalSafe.write_u8(out, n.client_ttl)?;
    out.push(b'}');
    Ok(())
}

/// `ip:port`, IPv6 in brackets, as the address's `Display` writes it.
fn address(out: &mut Vec<u8>, a: std::net::SocketAddr) {
    use std::io::Write;
    out.push(b'"');
    match a {
        std::net::SocketAddr::V4(v4) => {
            for (i, o) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                decimal(out, o.into());
            }
            out.push(b':');
            decimal(out, v4.port());
        }
        // Hex digits, colons, dots, brackets and a scope id (digits): ASCII, nothing to escape.
        v6 => {
            let _ = write!(out, "{v6}"); // writing to a Vec cannot fail
        }
    }
    out.push(b'"');
}

/// `v` in decimal, without leading zeros.
fn decimal(out: &mut Vec<u8>, v: u16) {
    let mut digits = [0u8; 5];
    let (mut at, mut v) = (digits.len(), v);
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `write(v)`, or `null` for `None`.
fn or_null<T>(
    out: &mut Vec<u8>,
    v: Option<T>,
    write: impl FnOnce(&mut Vec<u8>, T) -> io::Result<()>,
) -> io::Result<()> {
    match v {
        Some(v) => write(out, v),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// A string known to need no escape (an enum's name).
fn quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// A string from the wire: copied when it is printable ASCII without `"` or `\`, otherwise
/// escaped by serde and [`TerminalSafe`].
fn string(out: &mut Vec<u8>, s: &str) -> io::Result<()> {
    if plain(s.as_bytes()) {
        quoted(out, s);
        Ok(())
    } else {
        serde_value(out, s)
    }
}

/// Whether every byte is printable ASCII other than `"` and `\`: eight bytes a step.
fn plain(b: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Non-zero when some byte of `x` is zero (the classic test: exact for "any byte").
    let zero = |x: u64| x.wrapping_sub(LOW) & !x & HIGH;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        // 0x80 and above (x itself), 0x7f (x + 1 reaches the high bit), controls below 0x20
        // (x - 0x20 borrows), `"` and `\\` (equal bytes xor to zero). Carries between bytes
        // can flag a good byte next to a bad one (serde then writes it: the same bytes), never
        // hide a bad one; the test compares it with the byte-by-byte rule.
        let bad = (x | x.wrapping_add(LOW) | x.wrapping_sub(0x2020_2020_2020_2020) & !x) & HIGH
            | zero(x ^ 0x2222_2222_2222_2222)
            | zero(x ^ 0x5c5c_5c5c_5c5c_5c5c);
        if bad != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

fn serde_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> io::Result<()> {
    super::ndjson::to_writer(out, v).map_err(io::Error::other)
}

#[cfg(test)]
mod tests;
