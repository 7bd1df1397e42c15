//! What Terraform accepts and hcl-edit refuses, repaired before a second parse (only after the
//! first one failed, so well-formed files are read as they are):
//!
//! - an expression continued on the next line by a leading `?`, `:`, `=>`, `&&` or `||`
//!   (cloudposse null-label's `generated_tags`: a conditional inside a `for` expression):
//!   Terraform ignores newlines inside brackets; the continuation is joined to the line before
//!   and a blank line keeps every later line number;
//! - a key written twice in an object literal (`{ a = 1, a = 2 }`): Terraform keeps the last
//!   one; the earlier key is renamed out of the way (at most [`MAX_REPAIRS`] times).
//!
//! Where this differs from Terraform: a continuation after a line that ends in a comment, or
//! inside a heredoc, is not joined (the file stays refused); a duplicate key is looked for
//! textually (the nearest earlier `key =` or `key :`), so a nested object holding the same key
//! between the two may be renamed instead, and the file is then refused as before.

/// Duplicate keys repaired in one file before giving up.
pub const MAX_REPAIRS: usize = 64;

const CONTINUATIONS: &[&str] = &["?", "=>", "&&", "||"];

/// The text with continuation lines joined to the line before; `None` when nothing changed.
pub fn join_continuations(text: &str) -> Option<String> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut heredoc: Option<String> = None;
    let mut last: Option<usize> = None;
    let mut changed = false;
    for i in 0..lines.len() {
        let trimmed = lines[i].trim().to_string();
        if let Some(end) = &heredoc {
            if trimmed == *end {
                heredoc = None;
                last = None;
            }
            continue;
        }
        let continues = CONTINUATIONS.iter().any(|c| trimmed.starts_with(c))
            || (trimmed.starts_with(':') && !trimmed.starts_with("::"));
        match last {
            Some(j) if continues && !has_comment(&lines[j]) => {
                let joined = format!("{} {trimmed}", lines[j].trim_end());
                lines[j] = joined;
                lines[i].clear();
                changed = true;
            }
            _ if !trimmed.is_empty() => last = Some(i),
            _ => continue,
        }
        if let Some(j) = last {
            heredoc = heredoc_start(&lines[j]);
        }
    }
    changed.then(|| lines.join("\n"))
}

/// `<<EOF` / `<<-EOF` at the end of a line: the heredoc's closing word.
fn heredoc_start(line: &str) -> Option<String> {
    let i = line.rfind("<<")?;
    let word = line[i + 2..].trim_start_matches('-').trim();
    (!word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then(|| word.to_string())
}

/// A `#` or `//` comment on the line (outside a string, roughly: before any quote).
fn has_comment(line: &str) -> bool {
    let code = line.split('"').step_by(2).collect::<String>();
    code.contains('#') || code.contains("//")
}

/// For "redefined object key" at byte `offset` (the second key): the text with the nearest
/// earlier `KEY =` / `KEY:` renamed, so that the later definition wins as in Terraform.
pub fn rename_earlier_key(text: &str, offset: usize, n: usize) -> Option<String> {
    let at_error = text.get(offset..)?;
    let offset = offset + (at_error.len() - at_error.trim_start().len());
    let rest = text.get(offset..)?;
    let key_len = if let Some(r) = rest.strip_prefix('"') {
        r.find('"')? + 2
    } else {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))?
    };
    let key = &rest[..key_len];
    if key.is_empty() {
        return None;
    }
    let before = &text[..offset];
    let mut search = before.len();
    while let Some(at) = before[..search].rfind(key) {
        search = at;
        let boundary = at == 0 || !before[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-');
        let after = before[at + key.len()..].trim_start_matches([' ', '\t']);
        let assigns = (after.starts_with('=') && !after.starts_with("==")) || after.starts_with(':');
        if boundary && assigns {
            let renamed = match key.strip_suffix('"') {
                Some(k) => format!("{k}__imdswatch_duplicate_{n}\""),
                None => format!("{key}__imdswatch_duplicate_{n}"),
            };
            return Some(format!("{}{renamed}{}", &text[..at], &text[at + key.len()..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_join_and_keep_line_numbers() {
        let text = "a = {\n  for l in x :\n  c ? l\n  : u\n  => 1\n}\nb = 2\n";
        let joined = join_continuations(text).unwrap_or_else(|| panic!("joined"));
        assert_eq!(joined.lines().count(), text.lines().count());
        assert!(joined.contains("c ? l : u => 1"), "{joined}");
        assert_eq!(joined.lines().nth(6), Some("b = 2"));
    }

    #[test]
    fn heredocs_and_comments_are_left_alone() {
        assert_eq!(join_continuations("u = <<EOF\n: keep\nEOF\n"), None);
        assert_eq!(join_continuations("a = b # note\n  ? c : d\n"), None);
    }

    #[test]
    fn the_earlier_duplicate_is_renamed() {
        let text = "x = { a = 1, a = 2 }";
        let fixed = rename_earlier_key(text, text.rfind("a =").unwrap_or(0), 1).unwrap_or_default();
        assert_eq!(fixed, "x = { a__imdswatch_duplicate_1 = 1, a = 2 }");
    }
}
