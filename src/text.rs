//! Terminal-safe text, shared by every output that reaches a terminal (the dashboard, the
//! `analyze` table, messages on stderr). A leaf: it imports nothing from the data path.
//!
//! Text from the wire, a command line or a file name may carry controls that move the cursor,
//! retitle or recolour the terminal (C0, DEL, C1 such as CSI U+009B and OSC U+009D), reorder
//! what follows (bidi overrides and isolates), or hide (zero-width, tag characters). Each is
//! replaced by `?`; columns are then measured in display width, not characters.

use std::path::Path;

use unicode_width::UnicodeWidthChar;

/// Whether `c` must not reach a terminal as is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `s` with every unsafe character replaced by `?`.
pub fn sanitize(s: &str) -> String {
    s.chars().map(|c| if is_unsafe(c) { '?' } else { c }).collect()
}

/// A message for stderr: like [`sanitize`], but its line breaks are kept.
pub fn sanitize_message(s: &str) -> String {
    s.split('\n').map(sanitize).collect::<Vec<_>>().join("\n")
}

/// A file name for a message: lossy UTF-8, sanitized.
pub fn safe_path(p: &Path) -> String {
    sanitize(&p.to_string_lossy())
}

/// Display width of `s` in terminal columns.
pub fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` followed by spaces up to `cols` display columns (nothing added if it is wider).
pub fn pad(s: &str, cols: usize) -> String {
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(width(s))));
    out
}

/// Keeps the start of `s` within `max` columns, marking the cut with `…`.
pub fn clip_right(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 1;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_of_unsafe_character_is_replaced() {
        let hostile = "a\x1b]0;t\x07b\u{9b}31m\u{9d}c\u{202E}d\u{2066}e\u{2069}f\u{200B}g\u{2028}h\u{E0041}i\u{FEFF}j";
        assert_eq!(sanitize(hostile), "a?]0;t?b?31m?c?d?e?f?g?h?i?j");
        assert_eq!(sanitize("日本 ok/é"), "日本 ok/é");
    }

    #[test]
    fn padding_counts_columns() {
        assert_eq!(pad("日本", 6), "日本  ");
        assert_eq!(pad("abc", 2), "abc");
        assert_eq!(width("a\u{301}"), 1);
    }
}
