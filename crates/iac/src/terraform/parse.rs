//! Reads `.tf` (hcl-edit) and `.tf.json` files into one small body model with line numbers,
//! so that evaluation and rules do not care which syntax a block came from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl_edit::Span;
use hcl_edit::expr::{Array, Expression, Object, ObjectKey, ObjectValue};
use hcl_edit::structure::{Body, Structure};
use thiserror::Error;

use crate::tree::{self, Kind, Node};

#[derive(Debug, Error)]
pub enum ParseError {
    #[error("{file}:{line}: {message}")]
    Syntax { file: PathBuf, line: usize, message: String },
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ParseError {
    pub fn file(&self) -> &Path {
        match self {
            ParseError::Syntax { file, .. } | ParseError::Io { file, .. } => file,
        }
    }
    pub fn line(&self) -> usize {
        match self {
            ParseError::Syntax { line, .. } => *line,
            ParseError::Io { .. } => 1,
        }
    }
    pub fn message(&self) -> String {
        match self {
            ParseError::Syntax { message, .. } => message.clone(),
            ParseError::Io { source, .. } => source.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TAttr {
    pub name: String,
    pub expr: Expression,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct TBlock {
    pub ident: String,
    pub labels: Vec<String>,
    pub body: TBody,
    pub line: usize,
    pub file: Arc<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct TBody {
    pub attrs: Vec<TAttr>,
    pub blocks: Vec<TBlock>,
}

impl TBody {
    pub fn attr(&self, name: &str) -> Option<&TAttr> {
        self.attrs.iter().find(|a| a.name == name)
    }
    pub fn blocks<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a TBlock> + 'a {
        self.blocks.iter().filter(move |b| b.ident == ident)
    }
    pub fn block(&self, ident: &str) -> Option<&TBlock> {
        self.blocks.iter().find(|b| b.ident == ident)
    }
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty() && self.blocks.is_empty()
    }
}

/// Maps byte offsets to 1-based line numbers.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines(starts)
    }
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset).max(1)
    }
}

/// A Terraform file's text (at most [`crate::input::MAX_TERRAFORM_BYTES`]).
pub fn read(file: &Path) -> Result<String, ParseError> {
    crate::input::read_capped(file, crate::input::MAX_TERRAFORM_BYTES)
        .map_err(|source| ParseError::Io { file: file.to_path_buf(), source })
}

/// Parses one HCL file (`.tf` or `.tfvars`).
/// A file hcl-edit refuses is repaired where Terraform is more lenient (see
/// [`super::lenient`]) and parsed again; the first error is reported when that fails too.
pub fn parse_hcl(file: &Path, text: &str) -> Result<TBody, ParseError> {
    let body: Body = match hcl_edit::parser::parse_body(text) {
        Ok(b) => b,
        Err(first) => lenient_body(text).ok_or_else(|| ParseError::Syntax {
            file: file.to_path_buf(),
            line: first.location().line(),
            message: first.message().to_string(),
        })?,
    };
    let lines = Lines::new(text);
    let file = Arc::new(file.to_path_buf());
    Ok(convert(&body, &lines, &file))
}

fn lenient_body(text: &str) -> Option<Body> {
    let mut text = super::lenient::join_continuations(text).unwrap_or_else(|| text.to_string());
    for n in 0..=super::lenient::MAX_REPAIRS {
        match hcl_edit::parser::parse_body(&text) {
            Ok(b) => return Some(b),
            Err(e) if n < super::lenient::MAX_REPAIRS && e.message().contains("redefined object key") => {
                text = super::lenient::rename_earlier_key(&text, e.location().offset(), n)?;
            }
            Err(_) => return None,
        }
    }
    None
}

fn convert(body: &Body, lines: &Lines, file: &Arc<PathBuf>) -> TBody {
    let mut out = TBody::default();
    for s in body.iter() {
        let line = s.span().map(|r| lines.line(r.start)).unwrap_or(1);
        match s {
            Structure::Attribute(a) => {
                out.attrs.push(TAttr { name: a.key.as_str().to_string(), expr: a.value.clone(), line })
            }
            Structure::Block(b) => out.blocks.push(TBlock {
                ident: b.ident.as_str().to_string(),
                labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
                body: convert(&b.body, lines, file),
                line,
                file: file.clone(),
            }),
        }
    }
    out
}

/// Keys that are nested blocks (not object-valued attributes) in Terraform JSON syntax. Only
/// the blocks that matter to this check need to be known.
const JSON_BLOCKS: &[&str] = &[
    "metadata_options",
    "launch_template",
    "dynamic",
    "content",
    "mixed_instances_policy",
    "launch_template_specification",
    "override",
    "instance_options",
    "instance_details",
    "launch_details",
    "options",
    "node_config",
    "node_pool",
];

/// Parses one `.tf.json` file into the same model (top-level keys become labelled blocks).
pub fn parse_tf_json(file: &Path, text: &str) -> Result<TBody, ParseError> {
    let root = tree::parse(text).map_err(|e| ParseError::Syntax {
        file: file.to_path_buf(),
        line: e.line,
        message: e.message,
    })?;
    let file = Arc::new(file.to_path_buf());
    let mut out = TBody::default();
    let Some(top) = root.as_map() else {
        return Ok(out);
    };
    for (k, v) in top {
        let ident = k.as_str().unwrap_or_default();
        let label_depth = match ident {
            "resource" | "data" => 2,
            "variable" | "module" | "output" | "provider" => 1,
            "locals" => 0,
            _ => continue,
        };
        // `locals` may be an object or a list of objects.
        for v in one_or_many(v) {
            collect_labelled(ident, v, label_depth, &mut Vec::new(), &file, &mut out);
        }
    }
    Ok(out)
}

fn one_or_many(v: &Node) -> Vec<&Node> {
    match &v.kind {
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![v],
    }
}

fn collect_labelled(
    ident: &str,
    v: &Node,
    depth: usize,
    labels: &mut Vec<String>,
    file: &Arc<PathBuf>,
    out: &mut TBody,
) {
    if depth == 0 {
        for v in one_or_many(v) {
            let line = v.line;
            out.blocks.push(TBlock {
                ident: ident.to_string(),
                labels: labels.clone(),
                body: json_body(v, ident == "locals", file),
                line,
                file: file.clone(),
            });
        }
        return;
    }
    for (k, child) in v.as_map().unwrap_or_default() {
        labels.push(k.as_str().unwrap_or_default().to_string());
        collect_labelled(ident, child, depth - 1, labels, file, out);
        labels.pop();
    }
}

fn json_body(v: &Node, all_attrs: bool, file: &Arc<PathBuf>) -> TBody {
    let mut out = TBody::default();
    for (k, child) in v.as_map().unwrap_or_default() {
        let name = k.as_str().unwrap_or_default().to_string();
        if !all_attrs && JSON_BLOCKS.contains(&name.as_str()) {
            if name == "dynamic" {
                // "dynamic": { "metadata_options": { "for_each": ..., "content": {...} } }
                for (label, inner) in child.as_map().unwrap_or_default() {
                    for b in one_or_many(inner) {
                        out.blocks.push(TBlock {
                            ident: name.clone(),
                            labels: vec![label.as_str().unwrap_or_default().to_string()],
                            body: json_body(b, false, file),
                            line: label.line,
                            file: file.clone(),
                        });
                    }
                }
                continue;
            }
            for b in one_or_many(child) {
                out.blocks.push(TBlock {
                    ident: name.clone(),
                    labels: Vec::new(),
                    body: json_body(b, false, file),
                    line: k.line,
                    file: file.clone(),
                });
            }
        } else {
            out.attrs.push(TAttr { name, expr: json_expr(child), line: k.line });
        }
    }
    out
}

/// Converts a JSON value to an HCL expression; strings are parsed as templates (`${...}`).
pub fn json_expr(v: &Node) -> Expression {
    match &v.kind {
        Kind::Scalar { text, quoted } => {
            if !quoted {
                if v.is_null() {
                    return Expression::null();
                }
                if let Ok(b) = text.parse::<bool>() {
                    return Expression::from(b);
                }
                if let Ok(n) = text.parse::<f64>() {
                    return Expression::from(n);
                }
            }
            if (text.contains("${") || text.contains("%{"))
                && let Ok(t) = text.parse::<hcl_edit::template::Template>()
            {
                return Expression::from(hcl_edit::template::StringTemplate::from(t));
            }
            Expression::from(text.clone())
        }
        Kind::Seq(items) => {
            let mut a = Array::new();
            for i in items {
                a.push(json_expr(i));
            }
            Expression::from(a)
        }
        Kind::Map(entries) => {
            let mut o = Object::new();
            for (k, val) in entries {
                let key = k.as_str().unwrap_or_default().to_string();
                o.insert(ObjectKey::Expression(Expression::from(key)), ObjectValue::new(json_expr(val)));
            }
            Expression::from(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_lines() {
        let text =
            "\nresource \"aws_instance\" \"a\" {\n  metadata_options {\n    http_tokens = \"required\"\n  }\n}\n";
        let b = parse_hcl(Path::new("x.tf"), text).unwrap_or_else(|e| panic!("{e}"));
        let r = &b.blocks[0];
        assert_eq!(r.line, 2);
        let mo = r.body.block("metadata_options").unwrap_or_else(|| panic!("mo"));
        assert_eq!(mo.body.attr("http_tokens").map(|a| a.line), Some(4));
    }

    #[test]
    fn json_blocks() {
        let text =
            "{\"resource\": {\"aws_instance\": {\"a\": {\n\"metadata_options\": {\"http_tokens\": \"${var.t}\"}}}}}";
        let b = parse_tf_json(Path::new("x.tf.json"), text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.blocks[0].labels, vec!["aws_instance", "a"]);
        let mo = b.blocks[0].body.block("metadata_options").unwrap_or_else(|| panic!("mo"));
        assert_eq!(mo.line, 2);
        assert!(matches!(mo.body.attr("http_tokens").map(|a| &a.expr), Some(Expression::StringTemplate(_))));
    }
}
