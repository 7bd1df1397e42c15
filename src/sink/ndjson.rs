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

pub struct Ndjson<W: Write> {
    w: W,
    /// One line, serialized before it is written: write errors keep their kind (a closed
    /// pipe stays `BrokenPipe`), and a line is written whole or not at all.
    line: Vec<u8>,
    /// Flush after every line (live mode: a log shipper sees each request at once).
    flush_each: bool,
}

impl<W: Write> Ndjson<W> {
    pub fn new(w: W, flush_each: bool) -> Ndjson<W> {
        Ndjson { w, line: Vec::with_capacity(1024), flush_each }
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        self.line.clear();
        to_writer(&mut self.line, record).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.w.write_all(&self.line)?;
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
