//! A small document tree with line numbers for YAML and JSON inputs (CloudFormation,
//! `.tf.json`, plan JSON, `.tfvars.json`), built from `saphyr-parser` events. YAML tags such as
//! CloudFormation's `!Ref` are kept on the node they apply to.

use saphyr_parser::{Event, Parser, ScalarStyle};
use thiserror::Error;

/// Deeper documents are rejected rather than risking unbounded recursion later.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Error)]
#[error("line {line}: {message}")]
pub struct TreeError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar; `quoted` is true when it was written in quotes (so `"true"` stays a string).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// Local tag without the leading `!`, e.g. `Ref` for `!Ref`.
    pub tag: Option<String>,
    /// 1-based line of the node's start.
    pub line: usize,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Looks up a mapping key (first match).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// Looks up a mapping key, returning the key node too (for its line).
    pub fn get_entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, v)| (k, v))
    }

    /// JSON/YAML null: `null`, `~` or empty, when unquoted.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, quoted: false } if matches!(text.as_str(), "null" | "~" | ""))
    }
}

enum Frame {
    Seq(Vec<Node>, Option<String>, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Option<String>, usize),
}

/// Parses the first document of a YAML (or JSON) text.
pub fn parse(text: &str) -> Result<Node, TreeError> {
    parse_docs(text, 1)?.into_iter().next().ok_or(TreeError { line: 1, message: "empty document".into() })
}

/// Documents read from one YAML stream before the rest is ignored.
pub const MAX_DOCUMENTS: usize = 10_000;

/// Parses every document of a YAML stream (`---` separated); empty documents are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, TreeError> {
    let docs = parse_docs(text, MAX_DOCUMENTS)?;
    if docs.is_empty() {
        return Err(TreeError { line: 1, message: "empty document".into() });
    }
    Ok(docs)
}

/// Indentation repairs tried on one document before giving up.
const MAX_REPAIRS: usize = 64;

/// Parses the documents; YAML that saphyr refuses for an indentation PyYAML and CloudFormation
/// accept is repaired and parsed again (only after a first failure):
/// - a flow collection's closing `]` / `}` at (or left of) its key's column;
/// - a quoted scalar's continuation line at its key's column (`'a\nb'` folds the same
///   whatever the continuation's indentation).
///
/// The repair indents the offending line one column past the line before it, so every line
/// number stays. Where this differs from PyYAML: other indentation errors are still refused.
fn parse_docs(text: &str, max: usize) -> Result<Vec<Node>, TreeError> {
    let first = match parse_strict(text, max) {
        Ok(docs) => return Ok(docs),
        Err(e) => e,
    };
    let mut fixed = text.to_string();
    let mut err = TreeError { line: first.line, message: first.message.clone() };
    for _ in 0..MAX_REPAIRS {
        let Some(next) = reindent(&fixed, &err) else { break };
        fixed = next;
        match parse_strict(&fixed, max) {
            Ok(docs) => return Ok(docs),
            Err(e) => err = e,
        }
    }
    Err(first)
}

/// The text with one line indented past the line before it, when the error is one of the
/// indentation cases PyYAML accepts: a closing bracket on the error's line, or the first
/// continuation line (not indented past it) of a quoted scalar starting on the error's line.
fn reindent(text: &str, err: &TreeError) -> Option<String> {
    if !err.message.contains("indentation") {
        return None;
    }
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut lines: Vec<&str> = text.split('\n').collect();
    let at = err.line.checked_sub(1)?;
    let i = if err.message.contains("quoted scalar") {
        let start = indent(lines.get(at)?);
        (at + 1..lines.len()).find(|&j| !lines[j].trim().is_empty() && indent(lines[j]) <= start)?
    } else if lines.get(at)?.trim_start().starts_with([']', '}']) {
        at
    } else {
        return None;
    };
    let prev = lines[..i].iter().rev().find(|l| !l.trim().is_empty())?;
    let want = indent(prev) + 1;
    if indent(lines[i]) >= want {
        return None;
    }
    let padded = format!("{}{}", " ".repeat(want), lines[i].trim_start());
    lines[i] = &padded;
    Some(lines.join("\n"))
}

fn parse_strict(text: &str, max: usize) -> Result<Vec<Node>, TreeError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| TreeError { line: e.marker().line(), message: e.info().to_string() })?;
        let line = span.start.line();
        let node = match event {
            Event::Scalar(value, style, _, tag) => Node {
                kind: Kind::Scalar { text: value.into_owned(), quoted: !matches!(style, ScalarStyle::Plain) },
                tag: tag.map(|t| t.suffix.clone()),
                line,
            },
            Event::SequenceStart(_, ref tag) | Event::MappingStart(_, ref tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(TreeError { line, message: format!("nested deeper than {MAX_DEPTH} levels") });
                }
                let tag = tag.as_ref().map(|t| t.suffix.clone());
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), tag, line)
                } else {
                    Frame::Map(Vec::new(), None, tag, line)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, tag, l)) => Node { kind: Kind::Seq(items), tag, line: l },
                Some(Frame::Map(items, _, tag, l)) => Node { kind: Kind::Map(items), tag, line: l },
                None => continue,
            },
            Event::Alias(_) => {
                return Err(TreeError { line, message: "YAML aliases are not supported".into() });
            }
            Event::DocumentEnd => {
                docs.extend(root.take().filter(|r| !r.is_null()));
                if docs.len() >= max {
                    break;
                }
                continue;
            }
            _ => continue,
        };
        match stack.last_mut() {
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(items, key, ..)) => match key.take() {
                Some(k) => items.push((k, node)),
                None => *key = Some(node),
            },
            None => root = Some(node),
        }
    }
    docs.extend(root.filter(|r| !r.is_null()));
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tags_and_lines() {
        let n = parse("a: 1\nb: !Ref X\nc:\n  - !If [C, x, y]\n").unwrap_or_else(|e| panic!("{e}"));
        let b = n.get("b").unwrap_or_else(|| panic!("b"));
        assert_eq!(b.tag.as_deref(), Some("Ref"));
        assert_eq!(b.line, 2);
        let c = n.get("c").and_then(|c| c.as_seq()).unwrap_or_else(|| panic!("c"));
        assert_eq!(c[0].tag.as_deref(), Some("If"));
        assert_eq!(c[0].line, 4);
    }

    #[test]
    fn parses_json_with_lines() {
        let n = parse("{\n \"a\": {\n  \"b\": \"x\"\n }\n}").unwrap_or_else(|e| panic!("{e}"));
        let b = n.get("a").and_then(|a| a.get_entry("b")).unwrap_or_else(|| panic!("b"));
        assert_eq!(b.0.line, 3);
    }

    #[test]
    fn reads_every_document() {
        let docs = parse_documents("a: 1\n---\nb: 2\n---\n---\nc: 3\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[2].get("c").map(|n| n.line), Some(6));
        assert!(parse_documents("a: 1\n---\nb: [\n").is_err(), "a broken later document is an error");
        assert!(parse("a: 1\n---\nb: [\n").is_ok(), "parse reads the first document only");
    }

    #[test]
    fn rejects_deep_nesting() {
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
    }
}
