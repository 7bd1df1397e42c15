//! NDJSON: one JSON object per line, written as records arrive.
//!
//! serde_json escapes C0 controls but writes every other character raw; a log followed with
//! `tail -f` on an xterm-like terminal would then obey UTF-8 C1 controls (CSI U+009B, OSC
//! U+009D) a client put in its User-Agent. [`TerminalSafe`] escapes, as `\uXXXX`, every
//! non-ASCII character that [`crate::text::is_unsafe`] names: C1, U+2028/2029 (line breaks to
//! JavaScript and some viewers), bidi overrides and isolates, zero-width and tag characters.
//! The JSON value read back is unchanged.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use super::request_json::RequestJson;
use crate::event::RequestRecord;
use crate::text::is_unsafe;

/// serde_json's compact format, with the escapes above.
pub struct TerminalSafe;

impl Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        // serde_json escapes ASCII controls itself: all-ASCII text (nearly every value) is
        // written as it is, without a per-character look (hot path).
        if fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() || !is_unsafe(c) {
                continue;
            }
            CompactFormatter.write_string_fragment(w, &fragment[start..i])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(w, "\\u{u:04x}")?;
            }
            start = i + c.len_utf8();
        }
        CompactFormatter.write_string_fragment(w, &fragment[start..])
    }
}

/// `value` as one line of terminal-safe JSON (without the newline).
pub fn to_writer<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> serde_json::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(w, TerminalSafe))
}

/// Most bytes of a line held before it is written: a request record is ~0.5 KiB, but the
/// closing `verdict` record of a capture with 10,000 clients is ~8 MiB, and a line buffer
/// that doubles up to it was a quarter of `analyze`'s peak memory (issue 29). Past this the
/// line goes out in pieces as it is made.
const LINE_BOUND: usize = 64 * 1024;

/// The line buffer, written through to `w` once it holds [`LINE_BOUND`] bytes. The first
/// write error is kept as it is (a closed pipe stays `BrokenPipe`).
struct Spill<'a, W: Write> {
    line: &'a mut Vec<u8>,
    w: &'a mut W,
    failed: Option<io::Error>,
}

impl<W: Write> Write for Spill<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.failed.is_some() {
            return Err(io::ErrorKind::Other.into());
        }
        self.line.extend_from_slice(buf);
        if self.line.len() >= LINE_BOUND {
            if let Err(e) = self.w.write_all(self.line) {
                let kind = e.kind();
                self.failed = Some(e);
                return Err(kind.into());
            }
            self.line.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub struct Ndjson<W: Write> {
    w: W,
    /// One line, serialized before it is written: write errors keep their kind (a closed
    /// pipe stays `BrokenPipe`), and a line is written whole or not at all.
    line: Vec<u8>,
    /// Flush after every line (live mode: a log shipper sees each request at once).
    flush_each: bool,
    /// Request records, written without serde (the hot path).
    requests: RequestJson,
}

impl<W: Write> Ndjson<W> {
    pub fn new(w: W, flush_each: bool) -> Ndjson<W> {
        Ndjson { w, line: Vec::with_capacity(1024), flush_each, requests: RequestJson::default() }
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        self.line.clear();
        let mut spill = Spill { line: &mut self.line, w: &mut self.w, failed: None };
        let res = to_writer(&mut spill, record);
        if let Some(e) = spill.failed {
            return Err(e);
        }
        res.map_err(io::Error::other)?;
        self.end_line()
    }

    /// A request record: the line [`Ndjson::write`] would write, made without serde. It is
    /// held whole: its text comes from one request head (`http::MAX_HEAD`, 16 KiB, at most
    /// six bytes an escaped byte) and one bounded process description.
    pub fn write_request(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.line.clear();
        self.requests.write(&mut self.line, r)?;
        self.end_line()
    }

    fn end_line(&mut self) -> io::Result<()> {
        self.line.push(b'\n');
        self.w.write_all(&self.line)?;
        if self.line.capacity() > LINE_BOUND {
            self.line = Vec::with_capacity(1024);
        }
        if self.flush_each {
            self.w.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_past_the_bound_is_written_in_pieces_whole_and_errors_keep_their_kind() {
        let big: Vec<String> = (0..20_000).map(|i| format!("client-{i}")).collect();
        let mut out = Ndjson::new(Vec::new(), false);
        out.write(&big).expect("write");
        out.write(&"small").expect("write");
        assert!(out.line.capacity() <= LINE_BOUND, "the line buffer shrinks back");
        let text = String::from_utf8(out.into_inner()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let back: Vec<String> = serde_json::from_str(lines[0]).expect("valid JSON");
        assert_eq!(back, big);

        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Ndjson::new(Closed, false);
        assert_eq!(out.write(&big).expect_err("closed").kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(out.write(&"small").expect_err("closed").kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn c1_line_separators_bidi_and_tags_are_escaped_and_read_back_unchanged() {
        let hostile = "ua\u{9b}31m\u{9d}0;x\u{7}\u{1b}[2J\u{2028}\u{2029}\u{202e}\u{2066}\u{200b}\u{e0041}日本é\"\\";
        let mut line = Vec::new();
        to_writer(&mut line, &serde_json::json!({ "user_agent": hostile })).expect("json");
        let text = String::from_utf8(line).expect("utf-8");
        for raw in [
            '\u{9b}',
            '\u{9d}',
            '\u{7}',
            '\u{1b}',
            '\u{2028}',
            '\u{2029}',
            '\u{202e}',
            '\u{2066}',
            '\u{200b}',
            '\u{e0041}',
        ] {
            assert!(!text.contains(raw), "{raw:?} written raw: {text}");
        }
        for esc in ["\\u009b", "\\u009d", "\\u2028", "\\u2029", "\\u202e", "\\udb40\\udc41", "日本é"] {
            assert!(text.contains(esc), "{esc} missing: {text}");
        }
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back["user_agent"], hostile);
    }
}
