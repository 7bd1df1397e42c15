//! Text helpers shared by the model and the renderers: sanitizing untrusted strings, clipping,
//! and the deterministic time formats (`HH:MM:SS` UTC, ages relative to the newest record).

use unicode_width::UnicodeWidthChar;

use crate::text::is_unsafe;
use crate::time::Timestamp;

/// Longest string kept from a record (paths, user agents, command lines), in characters.
pub const MAX_STORED_CHARS: usize = 512;

/// Replaces control characters (C0, DEL, C1, and bidi/zero-width format controls) with `?` and
/// keeps at most [`MAX_STORED_CHARS`] characters, so nothing a client sends can move the cursor,
/// recolor the terminal or grow memory without bound.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_STORED_CHARS));
    for (i, c) in s.chars().enumerate() {
        if i == MAX_STORED_CHARS {
            out.push('…');
            break;
        }
        out.push(if is_unsafe(c) { '?' } else { c });
    }
    out
}

pub use crate::text::{clip_right, width};

/// Keeps the end of `s` within `max` columns, marking the cut with `…` (for paths, whose
/// last segment is the interesting one).
pub fn clip_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut kept: Vec<char> = Vec::new();
    let mut used = 1; // the ellipsis
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > max {
            break;
        }
        used += w;
        kept.push(c);
    }
    let mut out = String::from("…");
    out.extend(kept.into_iter().rev());
    out
}

/// `HH:MM:SS` of a timestamp, in UTC.
pub fn hms(t: Timestamp) -> String {
    let s = t.secs() % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// A short age such as `4s`, `12m`, `3h`, `2d`.
pub fn age(newest: Timestamp, then: Timestamp) -> String {
    let s = newest.micros_since(then) / 1_000_000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// An uptime such as `42s`, `5m07s`, `2h05m`, `3d04h`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Short container id: the first 12 characters, as docker prints it.
pub fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(sanitize("a\x1b[31mb\nc\u{202E}"), "a?[31mb?c?");
    }

    #[test]
    fn clipping_respects_wide_characters() {
        assert_eq!(clip_left("/a/日本語", 5), "…本語");
        assert_eq!(clip_right("日本語abc", 6), "日本…");
        assert_eq!(clip_right("abc", 3), "abc");
    }

    #[test]
    fn times() {
        assert_eq!(hms(Timestamp::from_parts(1_700_000_000, 0)), "22:13:20");
        assert_eq!(age(Timestamp(90_000_000), Timestamp(0)), "1m");
        assert_eq!(duration(3725), "1h02m");
    }
}
