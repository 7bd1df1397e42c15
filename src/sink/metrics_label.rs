//! Prometheus label values taken from outside (process names, images, interfaces): a leaf
//! shared by the request metrics and the link-local ones.

/// Longest label value taken from the wire or /proc (longer ones are cut, marked with `~`).
const MAX_LABEL_LEN: usize = 64;

/// A label value from outside: control characters replaced, length bounded.
pub fn clean(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_LABEL_LEN).map(|c| if c.is_control() { '?' } else { c }).collect();
    if s.chars().count() > MAX_LABEL_LEN {
        out.push('~');
    }
    out
}
