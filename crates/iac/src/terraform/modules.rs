//! Loads Terraform module directories and expands them into resource instances: variables
//! (defaults, `terraform.tfvars`, `*.auto.tfvars`), locals, `count` / `for_each`, and local
//! module calls with the inputs of each call (bounded depth, cycles detected).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use super::eval::{Caller, Env, ModuleScope, Value, expr_text};
use super::parse::{self, ParseError, TBlock, TBody};
use crate::discover::is_tf_file;
use crate::tree;

/// Resource types the rules look at.
pub const TYPES: &[&str] = &[
    "aws_instance",
    "aws_launch_template",
    "aws_launch_configuration",
    "aws_autoscaling_group",
    "aws_eks_node_group",
    "aws_ec2_instance_metadata_defaults",
    "aws_ami",
    "aws_spot_instance_request",
    "aws_spot_fleet_request",
    "aws_ec2_fleet",
    "aws_batch_compute_environment",
    "aws_imagebuilder_infrastructure_configuration",
];

const MAX_MODULE_DEPTH: usize = 16;

/// One resource instance after expansion.
#[derive(Debug, Clone)]
pub struct Instance {
    pub rtype: String,
    pub name: String,
    /// Full address, e.g. `module.app.aws_instance.web[0]`.
    pub address: String,
    /// Module path prefix (`module.app.`), for resolving references within the module.
    pub module: String,
    /// Instance key (`0`, `"a"`) when expanded with count / for_each.
    pub key: Option<Value>,
    pub block: TBlock,
    pub scope: Rc<ModuleScope>,
    pub count_index: Option<Value>,
    pub each: Option<(Value, Value)>,
    /// Set when count / for_each cannot be known: the instance stands for all of them.
    pub expansion_unknown: Option<String>,
}

impl Instance {
    pub fn env(&self) -> Env<'_> {
        Env { module: &self.scope, count_index: self.count_index.clone(), each: self.each.clone(), iterator: None }
    }
}

/// A problem in the configuration that is not a parse error of a file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// A module call that is not followed (registry, git or other non-local source): its
/// resources are not checked, and it is reported as `unknown`.
#[derive(Debug, Clone)]
pub struct Unfollowed {
    pub file: PathBuf,
    pub line: usize,
    /// `module.NAME`, with the calling module's prefix.
    pub address: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Loader {
    dirs: HashMap<PathBuf, Rc<TBody>>,
    /// The current root's `.terraform/modules/modules.json`: module key (`eks.node_group`) →
    /// directory `terraform init` installed it in.
    manifest: BTreeMap<String, PathBuf>,
    pub errors: Vec<ParseError>,
    pub problems: Vec<Problem>,
    pub unfollowed: Vec<Unfollowed>,
}

impl Loader {
    /// Reads `ROOT/.terraform/modules/modules.json` (written by `terraform init`), so that
    /// registry and git module calls of this root are followed into the installed code.
    pub fn read_manifest(&mut self, root: &Path) {
        self.manifest.clear();
        let Ok(text) = std::fs::read_to_string(root.join(".terraform/modules/modules.json")) else {
            return;
        };
        let Ok(doc) = tree::parse(&text) else { return };
        for m in doc.get("Modules").and_then(tree::Node::as_seq).unwrap_or_default() {
            let (Some(key), Some(dir)) =
                (m.get("Key").and_then(tree::Node::as_str), m.get("Dir").and_then(tree::Node::as_str))
            else {
                continue;
            };
            if !key.is_empty() && !Path::new(dir).is_absolute() {
                self.manifest.insert(key.to_string(), normalize(&root.join(dir)));
            }
        }
    }

    /// The installed directory of the module call `name` made from the module at `prefix`.
    fn installed(&self, prefix: &str, name: &str) -> Option<PathBuf> {
        let mut depth = 0usize;
        let plain: String = prefix
            .chars()
            .filter(|c| {
                match c {
                    '[' => depth += 1,
                    ']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                depth == 0 && *c != ']'
            })
            .collect();
        let mut key: Vec<&str> = plain.split('.').filter(|p| !p.is_empty() && *p != "module").collect();
        key.push(name);
        self.manifest.get(&key.join(".")).filter(|d| d.is_dir()).cloned()
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

/// Where a module call's code comes from.
enum Source {
    /// `./x` or `../x`, resolved against the calling directory.
    Local(PathBuf),
    /// Anything else (registry, git, S3, HTTP, absolute path): why it is not followed.
    NotLocal(String),
}

/// Local module sources (`./x`, `../x`) called from a directory, resolved against it.
pub fn local_children(body: &TBody, dir: &Path) -> Vec<PathBuf> {
    body.blocks("module")
        .filter_map(|m| match source(&m.body, dir) {
            Source::Local(p) => Some(p),
            Source::NotLocal(_) => None,
        })
        .collect()
}

fn source(body: &TBody, dir: &Path) -> Source {
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
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

// Over 80 lines on purpose: variables, locals, resources, then module calls, in one pass over
// a module as Terraform reads it.
/// Expands one module instance (and, recursively, its local module calls).
pub fn expand(
    loader: &mut Loader,
    dir: &Path,
    inputs: &BTreeMap<String, Value>,
    callers: BTreeMap<String, Caller>,
    prefix: &str,
    stack: &mut Vec<PathBuf>,
    out: &mut Vec<Instance>,
) {
    let body = loader.load(dir);
    let empty = ModuleScope::default();
    let mut vars = BTreeMap::new();
    for v in body.blocks("variable") {
        let Some(name) = v.labels.first() else {
            continue;
        };
        let default = || v.body.attr("default").map(|d| Env::module(&empty).eval(&d.expr));
        let non_nullable =
            v.body.attr("nullable").is_some_and(|a| Env::module(&empty).eval(&a.expr) == Value::Bool(false));
        // A null input to a `nullable = false` variable takes the default, as in Terraform.
        let value = match inputs.get(name) {
            Some(Value::Null) if non_nullable => default(),
            Some(given) => Some(given.clone()),
            None => default(),
        };
        let value = match (value, v.body.attr("type")) {
            (Some(val), Some(t)) => Some(super::types::convert(val, &t.expr)),
            (val, _) => val,
        };
        let value = value.unwrap_or_else(|| {
            Value::Unknown(format!("var.{name} has no default and no value is given (tfvars or module input)"))
        });
        vars.insert(name.clone(), value);
    }
    let mut locals = BTreeMap::new();
    for l in body.blocks("locals") {
        for a in &l.body.attrs {
            locals.insert(a.name.clone(), a.expr.clone());
        }
    }
    let mut scope = ModuleScope::new(vars, locals);
    scope.callers = callers;
    let scope = Rc::new(scope);

    for r in body.blocks("resource") {
        let [rtype, name] = r.labels.as_slice() else {
            continue;
        };
        if !TYPES.contains(&rtype.as_str()) && crate::clouds::rule(rtype).is_none() {
            continue;
        }
        for (key, count_index, each, unknown) in expansion(&r.body, &Env::module(&scope)) {
            out.push(Instance {
                rtype: rtype.clone(),
                name: name.clone(),
                address: format!("{prefix}{rtype}.{name}{}", key_suffix(key.as_ref(), unknown.is_some())),
                module: prefix.to_string(),
                key,
                block: r.clone(),
                scope: scope.clone(),
                count_index,
                each,
                expansion_unknown: unknown,
            });
        }
    }

    for m in body.blocks("module") {
        let Some(name) = m.labels.first() else {
            continue;
        };
        let child = match source(&m.body, dir) {
            Source::Local(child) => child,
            Source::NotLocal(_) if loader.installed(prefix, name).is_some() => {
                loader.installed(prefix, name).unwrap_or_default()
            }
            Source::NotLocal(why) => {
                // A call with `count = 0` (or an empty `for_each`) creates nothing.
                if !expansion(&m.body, &Env::module(&scope)).is_empty() {
                    loader.unfollowed.push(Unfollowed {
                        file: (*m.file).clone(),
                        line: m.line,
                        address: format!("{prefix}module.{name}"),
                        reason: format!(
                            "{why}, so its resources were not checked; \
                             checking the `terraform show -json` plan covers them \
                             (or run `terraform init`: installed modules are followed)"
                        ),
                    });
                }
                continue;
            }
        };
        if stack.len() >= MAX_MODULE_DEPTH {
            loader.problems.push(Problem {
                file: (*m.file).clone(),
                line: m.line,
                message: format!(
                    "module.{name}: modules nested deeper than {MAX_MODULE_DEPTH} levels are not followed"
                ),
            });
            continue;
        }
        if stack.contains(&child) {
            loader.problems.push(Problem {
                file: (*m.file).clone(),
                line: m.line,
                message: format!("module.{name}: module cycle through {}", child.display()),
            });
            continue;
        }
        if !child.is_dir() {
            loader.problems.push(Problem {
                file: (*m.file).clone(),
                line: m.line,
                message: format!("module.{name}: source directory {} not found", child.display()),
            });
            continue;
        }
        for (key, count_index, each, unknown) in expansion(&m.body, &Env::module(&scope)) {
            let inputs = m.body.attrs.iter().filter(|a| {
                !matches!(a.name.as_str(), "source" | "version" | "count" | "for_each" | "providers" | "depends_on")
            });
            let env = Env { module: &scope, count_index: count_index.clone(), each: each.clone(), iterator: None };
            let args: BTreeMap<String, Value> = inputs.clone().map(|a| (a.name.clone(), env.eval(&a.expr))).collect();
            let callers = inputs
                .map(|a| {
                    let c = Caller {
                        expr: a.expr.clone(),
                        scope: scope.clone(),
                        module: prefix.to_string(),
                        count_index: count_index.clone(),
                        each: each.clone(),
                    };
                    (a.name.clone(), c)
                })
                .collect();
            let child_prefix = format!("{prefix}module.{name}{}.", key_suffix(key.as_ref(), unknown.is_some()));
            stack.push(child.clone());
            expand(loader, &child, &args, callers, &child_prefix, stack, out);
            stack.pop();
        }
    }
}

type Expansion = (Option<Value>, Option<Value>, Option<(Value, Value)>, Option<String>);

/// The instances `count` / `for_each` create: (key, count.index, each, unknown reason).
fn expansion(body: &TBody, env: &Env<'_>) -> Vec<Expansion> {
    if let Some(c) = body.attr("count") {
        return match env.eval(&c.expr) {
            Value::Number(n) if n >= 0.0 => (0..(n as usize).min(10_000))
                .map(|i| (Some(Value::Number(i as f64)), Some(Value::Number(i as f64)), None, None))
                .collect(),
            Value::Bool(b) => {
                if b {
                    vec![(Some(Value::Number(0.0)), Some(Value::Number(0.0)), None, None)]
                } else {
                    vec![]
                }
            }
            other => {
                let why = match other {
                    Value::Unknown(w) => w,
                    _ => format!("`{}`", expr_text(&c.expr)),
                };
                vec![(
                    None,
                    Some(Value::Unknown(format!("count.index (count unknown: {why})"))),
                    None,
                    Some(format!("count cannot be known ({why})")),
                )]
            }
        };
    }
    if let Some(f) = body.attr("for_each") {
        return match env.eval(&f.expr) {
            Value::Map(m) => m
                .into_iter()
                .map(|(k, v)| (Some(Value::String(k.clone())), None, Some((Value::String(k), v)), None))
                .collect(),
            Value::List(l) => {
                let keys: BTreeSet<String> = l.iter().filter_map(Value::as_text).collect();
                if keys.len() != l.len() {
                    let why = format!("for_each `{}` is not a set of known strings", expr_text(&f.expr));
                    return vec![(
                        None,
                        None,
                        Some((Value::Unknown(why.clone()), Value::Unknown(why.clone()))),
                        Some(why),
                    )];
                }
                keys.into_iter()
                    .map(|k| {
                        (Some(Value::String(k.clone())), None, Some((Value::String(k.clone()), Value::String(k))), None)
                    })
                    .collect()
            }
            other => {
                let why = match other {
                    Value::Unknown(w) => w,
                    _ => format!("`{}`", expr_text(&f.expr)),
                };
                let each = Value::Unknown(format!("each (for_each unknown: {why})"));
                vec![(None, None, Some((each.clone(), each)), Some(format!("for_each cannot be known ({why})")))]
            }
        };
    }
    vec![(None, None, None, None)]
}

fn key_suffix(key: Option<&Value>, unknown: bool) -> String {
    match key {
        Some(Value::Number(n)) => format!("[{}]", *n as i64),
        Some(Value::String(s)) => format!("[{s:?}]"),
        _ if unknown => "[*]".to_string(),
        _ => String::new(),
    }
}
