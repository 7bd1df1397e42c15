//! Reads Terraform module directories: their files (merged, parse errors collected), their
//! variable files, where their module calls' code is (local paths, or what `terraform init`
//! installed under `.terraform/modules`), and what could not be followed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use super::eval::{Env, ModuleScope, Value, expr_text};
use super::parse::{self, ParseError, TBody};
use crate::discover::is_tf_file;
use crate::tree;

/// A problem in the configuration that is not a parse error of a file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// A module call that is not followed (registry, git or other non-local source that `terraform
/// init` did not install): its resources are not checked; a note about coverage.
#[derive(Debug, Clone)]
pub struct Unfollowed {
    pub file: PathBuf,
    pub line: usize,
    /// `module.NAME`, with the calling module's prefix.
    pub address: String,
    /// The `source` (and `version`) as written.
    pub source: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Loader {
    dirs: HashMap<PathBuf, Rc<TBody>>,
    /// `DIR/.terraform/modules/modules.json` (written by `terraform init`) of each directory
    /// asked about: module key (`eks.node_group`) → directory it installed the module in.
    manifests: HashMap<PathBuf, Rc<BTreeMap<String, PathBuf>>>,
    pub errors: Vec<ParseError>,
    pub problems: Vec<Problem>,
    pub unfollowed: Vec<Unfollowed>,
}

impl Loader {
    /// The modules `terraform init` installed for `dir` as a root (empty when it was not run).
    fn manifest(&mut self, dir: &Path) -> Rc<BTreeMap<String, PathBuf>> {
        if let Some(m) = self.manifests.get(dir) {
            return m.clone();
        }
        let mut out = BTreeMap::new();
        let manifest = dir.join(".terraform/modules/modules.json");
        let text = crate::input::read_capped(&manifest, crate::input::MAX_DOCUMENT_BYTES).unwrap_or_default();
        if let Ok(doc) = tree::parse(&text) {
            for m in doc.get("Modules").and_then(tree::Node::as_seq).unwrap_or_default() {
                let (Some(key), Some(d)) =
                    (m.get("Key").and_then(tree::Node::as_str), m.get("Dir").and_then(tree::Node::as_str))
                else {
                    continue;
                };
                if !key.is_empty() && !Path::new(d).is_absolute() {
                    out.insert(key.to_string(), normalize(&dir.join(d)));
                }
            }
        }
        let rc = Rc::new(out);
        self.manifests.insert(dir.to_path_buf(), rc.clone());
        rc
    }

    /// The installed directory of the module call `name` made from the module at `prefix`.
    /// `chain` is the call path (directory, address prefix there), root first: the root's
    /// manifest is asked first, then that of each directory on the way that `terraform init`
    /// was run in itself (an example a test fixture calls keeps its own installed modules).
    pub fn installed(&mut self, chain: &[(PathBuf, String)], prefix: &str, name: &str) -> Option<PathBuf> {
        for (dir, base) in chain {
            let manifest = self.manifest(dir);
            if manifest.is_empty() {
                continue;
            }
            let Some(rel) = prefix.strip_prefix(base.as_str()) else { continue };
            let mut key = module_key(rel);
            key.push(name);
            if let Some(d) = manifest.get(&key.join(".")).filter(|d| d.is_dir()) {
                return Some(d.clone());
            }
        }
        None
    }

    /// Uses `body` as the module at `dir` (a file read from standard input).
    pub fn preload(&mut self, dir: &Path, body: TBody) {
        self.dirs.insert(dir.to_path_buf(), Rc::new(body));
    }

    /// All `.tf` / `.tf.json` files of a directory, merged (parse errors are collected).
    pub fn load(&mut self, dir: &Path) -> Rc<TBody> {
        if let Some(b) = self.dirs.get(dir) {
            return b.clone();
        }
        let mut merged = TBody::default();
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
        files.sort();
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if !is_tf_file(&name) || !f.is_file() {
                continue;
            }
            let parsed = parse::read(&f).and_then(|text| {
                if name.ends_with(".tf.json") { parse::parse_tf_json(&f, &text) } else { parse::parse_hcl(&f, &text) }
            });
            match parsed {
                Ok(b) => {
                    merged.attrs.extend(b.attrs);
                    merged.blocks.extend(b.blocks);
                }
                Err(e) => self.errors.push(e),
            }
        }
        let rc = Rc::new(merged);
        self.dirs.insert(dir.to_path_buf(), rc.clone());
        rc
    }

    /// Values from `terraform.tfvars(.json)` then `*.auto.tfvars(.json)` in name order.
    pub fn tfvars(&mut self, dir: &Path) -> BTreeMap<String, Value> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().to_string()).collect())
            .unwrap_or_default();
        names.retain(|n| n.ends_with(".auto.tfvars") || n.ends_with(".auto.tfvars.json"));
        names.sort();
        let mut ordered = vec!["terraform.tfvars".to_string(), "terraform.tfvars.json".to_string()];
        ordered.extend(names);
        let empty = ModuleScope::default();
        let mut out = BTreeMap::new();
        for n in ordered {
            let f = dir.join(&n);
            if !f.is_file() {
                continue;
            }
            let text = match parse::read(&f) {
                Ok(t) => t,
                Err(e) => {
                    self.errors.push(e);
                    continue;
                }
            };
            if n.ends_with(".json") {
                match tree::parse(&text) {
                    Ok(root) => {
                        for (k, v) in root.as_map().unwrap_or_default() {
                            let key = k.as_str().unwrap_or_default().to_string();
                            out.insert(key, Env::module(&empty).eval(&parse::json_expr(v)));
                        }
                    }
                    Err(e) => self.errors.push(ParseError::Syntax { file: f, line: e.line, message: e.message }),
                }
            } else {
                match parse::parse_hcl(&f, &text) {
                    Ok(b) => {
                        for a in b.attrs {
                            out.insert(a.name, Env::module(&empty).eval(&a.expr));
                        }
                    }
                    Err(e) => self.errors.push(e),
                }
            }
        }
        out
    }
}

/// `module.a["x"].module.b.` → `["a", "b"]` (the keys of a manifest leave instance keys out).
fn module_key(prefix: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = prefix;
    while let Some(r) = rest.strip_prefix("module.") {
        let end = r.find(['.', '[']).unwrap_or(r.len());
        out.push(&r[..end]);
        rest = &r[end..];
        // Skip an instance key (`[0]`, `["a.b"]`) and the dot after it.
        if rest.starts_with('[') {
            let close = match rest.strip_prefix("[\"") {
                Some(quoted) => quoted.find("\"]").map_or(rest.len(), |i| i + 4),
                None => rest.find(']').map_or(rest.len(), |i| i + 1),
            };
            rest = &rest[close.min(rest.len())..];
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    out
}

/// Where a module call's code comes from.
pub enum Source {
    /// `./x` or `../x`, resolved against the calling directory.
    Local(PathBuf),
    /// Anything else (registry, git, S3, HTTP, absolute path): why it is not followed.
    NotLocal(String),
}

/// Local module sources (`./x`, `../x`) called from a directory, resolved against it. A
/// module that sources its own directory (`source = "./"`) is the directory itself, not a
/// child of it.
pub fn local_children(body: &TBody, dir: &Path) -> Vec<PathBuf> {
    let me = normalize(dir);
    body.blocks("module")
        .filter_map(|m| match source(&m.body, dir) {
            Source::Local(p) if p != me => Some(p),
            _ => None,
        })
        .collect()
}

pub fn source(body: &TBody, dir: &Path) -> Source {
    let src = match body.attr("source").map(|a| &a.expr) {
        Some(hcl_edit::expr::Expression::String(s)) => s.value().clone(),
        Some(e) => {
            return Source::NotLocal(format!("the module's source `{}` is not a string literal", expr_text(e)));
        }
        None => return Source::NotLocal("the module call has no source".to_string()),
    };
    if src.starts_with("./") || src.starts_with("../") {
        Source::Local(normalize(&dir.join(src)))
    } else {
        Source::NotLocal(format!("the module's source {src:?} is not local (registry, git or another remote source)"))
    }
}

/// Lexical normalisation (no filesystem access): removes `.` and resolves `..`.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            // `..` after `..` (or at the start) stays: `../../x` is not `x`.
            Component::ParentDir => {
                if matches!(out.components().next_back(), None | Some(Component::ParentDir)) {
                    out.push("..");
                } else {
                    out.pop();
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_leading_parent_dirs() {
        assert_eq!(normalize(Path::new("../../x")), PathBuf::from("../../x"));
        assert_eq!(normalize(Path::new("a/b/../../../x/./y")), PathBuf::from("../x/y"));
        assert_eq!(normalize(Path::new("a/./")), PathBuf::from("a"));
    }

    #[test]
    fn manifest_keys_leave_instance_keys_out() {
        assert_eq!(module_key("module.a[\"x.y]\"].module.b[0]."), vec!["a", "b"]);
        assert_eq!(module_key(""), Vec::<&str>::new());
    }
}
