//! Loads Terraform module directories and expands them into resource instances: variables
//! (defaults, `terraform.tfvars`, `*.auto.tfvars`), locals, `count` / `for_each`, and local
//! module calls with the inputs of each call (bounded depth, cycles detected).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::eval::{Caller, Env, ModuleOutputs, ModuleScope, Value, expr_text};
use super::loader::{Loader, Problem, Source, Unfollowed, normalize, source};
use super::parse::{TBlock, TBody};

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
        Env {
            module: &self.scope,
            count_index: self.count_index.clone(),
            each: self.each.clone(),
            iterator: None,
            bound: Vec::new(),
        }
    }
}

/// The call path of a module instance: (directory, address prefix there), root first.
pub type Chain = Vec<(PathBuf, String)>;

/// A module's variables (inputs, defaults, tfvars, type conversion) and locals, with the
/// outputs of the modules it calls registered for `module.NAME.OUTPUT`.
fn scope_for(
    loader: &mut Loader,
    dir: &Path,
    inputs: &BTreeMap<String, Value>,
    callers: BTreeMap<String, Caller>,
    prefix: &str,
    chain: &mut Chain,
) -> Rc<ModuleScope> {
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
    // Outputs of single-instance module calls, in the order they are written (a call may
    // read an earlier one's outputs, as cloudposse's `module.this` does).
    for m in body.blocks("module") {
        let Some(name) = m.labels.first() else { continue };
        if m.body.attr("count").is_some() || m.body.attr("for_each").is_some() {
            continue;
        }
        let Some(child) = child_dir(loader, m, dir, chain, prefix) else { continue };
        if chain.len() >= MAX_MODULE_DEPTH || chain.iter().any(|(d, _)| *d == child) || !child.is_dir() {
            continue;
        }
        let child_prefix = format!("{prefix}module.{name}.");
        let (args, callers) = call_inputs(m, &scope, prefix, &Env::module(&scope));
        chain.push((child.clone(), child_prefix.clone()));
        let child_scope = scope_for(loader, &child, &args, callers, &child_prefix, chain);
        chain.pop();
        let child_body = loader.load(&child);
        let outputs = child_body
            .blocks("output")
            .filter_map(|o| Some((o.labels.first()?.clone(), o.body.attr("value")?.expr.clone())))
            .collect();
        scope.modules.borrow_mut().insert(name.clone(), Rc::new(ModuleOutputs { scope: child_scope, outputs }));
    }
    scope
}

/// The directory a module call's code is in: a local path, or where `terraform init`
/// installed it; `None` for a call not followed.
fn child_dir(loader: &mut Loader, m: &TBlock, dir: &Path, chain: &Chain, prefix: &str) -> Option<PathBuf> {
    let name = m.labels.first()?;
    match source(&m.body, dir) {
        Source::Local(child) => Some(child),
        Source::NotLocal(_) => loader.installed(chain, prefix, name),
    }
}

/// A module call's inputs evaluated in the caller, and the expressions they came from.
fn call_inputs(
    m: &TBlock,
    scope: &Rc<ModuleScope>,
    prefix: &str,
    env: &Env<'_>,
) -> (BTreeMap<String, Value>, BTreeMap<String, Caller>) {
    let inputs = m.body.attrs.iter().filter(|a| {
        !matches!(a.name.as_str(), "source" | "version" | "count" | "for_each" | "providers" | "depends_on")
    });
    let args = inputs.clone().map(|a| (a.name.clone(), env.eval(&a.expr))).collect();
    let callers = inputs
        .map(|a| {
            let c = Caller {
                expr: a.expr.clone(),
                scope: scope.clone(),
                module: prefix.to_string(),
                count_index: env.count_index.clone(),
                each: env.each.clone(),
            };
            (a.name.clone(), c)
        })
        .collect();
    (args, callers)
}

/// Expands one module instance (and, recursively, the module calls whose code is on disk):
/// resources of the judged types become instances, other module calls are noted.
pub fn expand(
    loader: &mut Loader,
    dir: &Path,
    inputs: &BTreeMap<String, Value>,
    callers: BTreeMap<String, Caller>,
    prefix: &str,
    chain: &mut Chain,
    out: &mut Vec<Instance>,
) {
    let body = loader.load(dir);
    let scope = scope_for(loader, dir, inputs, callers, prefix, chain);
    for r in body.blocks("resource") {
        let [rtype, name] = r.labels.as_slice() else {
            continue;
        };
        if !crate::aws_types::judged_in_terraform(rtype) {
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
    let me = normalize(dir);
    for m in body.blocks("module") {
        let Some(name) = m.labels.first() else {
            continue;
        };
        let instances = expansion(&m.body, &Env::module(&scope));
        let Some(child) = child_dir(loader, m, dir, chain, prefix) else {
            // A call with `count = 0` (or an empty `for_each`) creates nothing.
            if let (false, Source::NotLocal(why)) = (instances.is_empty(), source(&m.body, dir)) {
                loader.unfollowed.push(Unfollowed {
                    file: (*m.file).clone(),
                    line: m.line,
                    address: format!("{prefix}module.{name}"),
                    source: source_text(&m.body),
                    reason: why,
                });
            }
            continue;
        };
        // `module "me" { source = "./" }`: the directory itself, whose resources are above.
        if child == me {
            continue;
        }
        let problem = if chain.len() >= MAX_MODULE_DEPTH {
            Some(format!("module.{name}: modules nested deeper than {MAX_MODULE_DEPTH} levels are not followed"))
        } else if chain.iter().any(|(d, _)| *d == child) {
            Some(format!("module.{name}: module cycle through {}", child.display()))
        } else if !child.is_dir() {
            Some(format!("module.{name}: source directory {} not found", child.display()))
        } else {
            None
        };
        if let Some(message) = problem {
            loader.problems.push(Problem { file: (*m.file).clone(), line: m.line, message });
            continue;
        }
        for (key, count_index, each, unknown) in instances {
            let env = Env { module: &scope, count_index, each, iterator: None, bound: Vec::new() };
            let (args, callers) = call_inputs(m, &scope, prefix, &env);
            let child_prefix = format!("{prefix}module.{name}{}.", key_suffix(key.as_ref(), unknown.is_some()));
            chain.push((child.clone(), child_prefix.clone()));
            expand(loader, &child, &args, callers, &child_prefix, chain, out);
            chain.pop();
        }
    }
}

/// A module call's `source` (and `version`) as written, for the list of unresolved modules.
fn source_text(body: &TBody) -> String {
    let text = |n: &str| body.attr(n).map(|a| expr_text(&a.expr));
    match (text("source"), text("version")) {
        (Some(s), Some(v)) => format!("{s} (version {v})"),
        (Some(s), None) => s,
        (None, _) => String::new(),
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
