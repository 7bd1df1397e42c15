//! Evaluates the subset of Terraform expressions that decide `http_tokens`: literals,
//! variables, locals, `count.index`, `each.*`, dynamic-block iterators, conditionals,
//! interpolation, operators and a few pure functions. Anything else is `Unknown`, naming
//! the expression, and never guessed.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use hcl_edit::expr::{BinaryOperator, Expression, ForExpr, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::template::{Element, Template};

pub use super::value::{Value, expr_text};

/// Deepest chain of locals referring to locals that is followed.
const MAX_LOCAL_DEPTH: usize = 32;

/// Most items a `for` expression iterates over (a larger collection is unknown).
const MAX_FOR_ITEMS: usize = 10_000;

/// Where a module input came from: the expression in the calling module block, evaluated
/// there (so a template passed in by reference can be followed to the caller's resource).
#[derive(Debug)]
pub struct Caller {
    pub expr: Expression,
    pub scope: std::rc::Rc<ModuleScope>,
    /// The calling module's address prefix (`""` for the root).
    pub module: String,
    pub count_index: Option<Value>,
    pub each: Option<(Value, Value)>,
}

/// Variables and locals of one module instance.
#[derive(Debug, Default)]
pub struct ModuleScope {
    pub vars: BTreeMap<String, Value>,
    pub locals: BTreeMap<String, Expression>,
    /// The calling module's expression for each input given.
    pub callers: BTreeMap<String, Caller>,
    /// Module calls of this module whose outputs can be read (`module.NAME.OUTPUT`): those
    /// without `count` / `for_each` whose code is on disk (local, or installed by `terraform
    /// init`).
    pub modules: RefCell<BTreeMap<String, std::rc::Rc<ModuleOutputs>>>,
    cache: RefCell<BTreeMap<String, Value>>,
    active: RefCell<HashSet<String>>,
}

/// A called module's outputs, evaluated in its own scope when read.
#[derive(Debug)]
pub struct ModuleOutputs {
    pub scope: std::rc::Rc<ModuleScope>,
    pub outputs: BTreeMap<String, Expression>,
}

impl ModuleScope {
    pub fn new(vars: BTreeMap<String, Value>, locals: BTreeMap<String, Expression>) -> Self {
        ModuleScope { vars, locals, ..Default::default() }
    }

    /// `module.NAME.OUTPUT`: the output's value expression, evaluated in the called module.
    fn output(&self, name: &str, output: &str, depth: usize) -> Value {
        let called = self.modules.borrow().get(name).cloned();
        let Some(m) = called else {
            return Value::Unknown(format!("`module.{name}.{output}` is only known after apply"));
        };
        let Some(expr) = m.outputs.get(output) else {
            return Value::Unknown(format!("module.{name} has no output {output:?}"));
        };
        if depth > MAX_LOCAL_DEPTH {
            return Value::Unknown(format!("module.{name}.{output}: references nested too deeply"));
        }
        Env::module(&m.scope).eval_depth(expr, depth + 1)
    }

    fn local(&self, name: &str, depth: usize) -> Value {
        if let Some(v) = self.cache.borrow().get(name) {
            return v.clone();
        }
        let Some(expr) = self.locals.get(name) else {
            return Value::Unknown(format!("local.{name} is not defined"));
        };
        if depth > MAX_LOCAL_DEPTH {
            return Value::Unknown(format!("local.{name}: references nested too deeply"));
        }
        if !self.active.borrow_mut().insert(name.to_string()) {
            return Value::Unknown(format!("local.{name} refers to itself (cycle)"));
        }
        let v = Env::module(self).eval_depth(expr, depth + 1);
        self.active.borrow_mut().remove(name);
        self.cache.borrow_mut().insert(name.to_string(), v.clone());
        v
    }
}

/// Everything an expression can refer to at one place.
#[derive(Debug, Clone)]
pub struct Env<'a> {
    pub module: &'a ModuleScope,
    /// `count.index`, when inside a resource with `count`.
    pub count_index: Option<Value>,
    /// `each.key` / `each.value`, when inside a resource with `for_each`.
    pub each: Option<(Value, Value)>,
    /// Iterator variable of a `dynamic` block: name, key, value.
    pub iterator: Option<(String, Value, Value)>,
    /// Variables of the enclosing `for` expressions, innermost last.
    pub bound: Vec<(String, Value)>,
}

impl<'a> Env<'a> {
    pub fn module(module: &'a ModuleScope) -> Env<'a> {
        Env { module, count_index: None, each: None, iterator: None, bound: Vec::new() }
    }

    pub fn eval(&self, expr: &Expression) -> Value {
        self.eval_depth(expr, 0)
    }

    fn eval_depth(&self, expr: &Expression, depth: usize) -> Value {
        match expr {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => n.value().as_f64().map_or_else(|| Value::unknown(expr), Value::Number),
            Expression::String(s) => Value::String(s.value().clone()),
            Expression::Array(a) => Value::List(a.iter().map(|e| self.eval_depth(e, depth)).collect()),
            Expression::Object(o) => {
                let mut m = BTreeMap::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(e) => match self.eval_depth(e, depth).as_text() {
                            Some(s) => s,
                            None => return Value::unknown(expr),
                        },
                    };
                    m.insert(key, self.eval_depth(v.expr(), depth));
                }
                Value::Map(m)
            }
            Expression::StringTemplate(t) => self.template(t, expr, depth),
            Expression::HeredocTemplate(h) => self.template(&h.template, expr, depth),
            Expression::Parenthesis(p) => self.eval_depth(p.inner(), depth),
            Expression::Variable(v) => match self.bound(v.as_str()) {
                Some(b) => b.clone(),
                None => Value::Unknown(format!("{} is not a known value", v.as_str())),
            },
            Expression::Conditional(c) => {
                let cond = self.eval_depth(&c.cond_expr, depth);
                match cond.truthy() {
                    Some(true) => self.eval_depth(&c.true_expr, depth),
                    Some(false) => self.eval_depth(&c.false_expr, depth),
                    None => {
                        let (t, f) = (self.eval_depth(&c.true_expr, depth), self.eval_depth(&c.false_expr, depth));
                        if t == f && !t.is_unknown() {
                            t
                        } else {
                            Value::Unknown(format!("condition `{}` cannot be known", expr_text(&c.cond_expr)))
                        }
                    }
                }
            }
            Expression::Traversal(t) => self.traversal(&t.expr, &t.operators, expr, depth),
            Expression::UnaryOp(u) => {
                let v = self.eval_depth(&u.expr, depth);
                match (u.operator.value(), &v) {
                    (UnaryOperator::Not, _) => v.truthy().map_or_else(|| unknown_from(&v, expr), |b| Value::Bool(!b)),
                    (UnaryOperator::Neg, _) => v.number().map_or_else(|| unknown_from(&v, expr), |n| Value::Number(-n)),
                }
            }
            Expression::BinaryOp(b) => {
                let l = self.eval_depth(&b.lhs_expr, depth);
                let r = self.eval_depth(&b.rhs_expr, depth);
                binary(*b.operator.value(), &l, &r).unwrap_or_else(|| {
                    if l.is_unknown() {
                        l.clone()
                    } else if r.is_unknown() {
                        r.clone()
                    } else {
                        Value::unknown(expr)
                    }
                })
            }
            Expression::FuncCall(f) => {
                if !f.name.namespace.is_empty() {
                    return Value::unknown(expr);
                }
                let args: Vec<Value> = f.args.iter().map(|a| self.eval_depth(a, depth)).collect();
                super::funcs::call(f.name.name.as_str(), &args).unwrap_or_else(|| {
                    args.iter().find(|a| a.is_unknown()).cloned().unwrap_or_else(|| Value::unknown(expr))
                })
            }
            Expression::ForExpr(f) => self.for_expr(f, expr, depth),
        }
    }

    fn bound(&self, name: &str) -> Option<&Value> {
        self.bound.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// `[for k, v in coll : x if c]` and `{for k, v in coll : key => x... if c}`, as Terraform
    /// evaluates them (a list's keys are its indexes; a map is iterated in key order).
    fn for_expr(&self, f: &ForExpr, whole: &Expression, depth: usize) -> Value {
        let items: Vec<(Value, Value)> = match self.eval_depth(&f.intro.collection_expr, depth) {
            Value::List(l) => l.into_iter().enumerate().map(|(i, v)| (Value::Number(i as f64), v)).collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::Unknown(w) | Value::Partial { why: w, .. } => return Value::Unknown(w),
            _ => return Value::unknown(whole),
        };
        if items.len() > MAX_FOR_ITEMS {
            return Value::Unknown(format!("`{}` iterates over more than {MAX_FOR_ITEMS} items", expr_text(whole)));
        }
        let key_var = f.intro.key_var.as_ref().map(|k| k.as_str().to_string());
        let value_var = f.intro.value_var.as_str().to_string();
        let (mut list, mut map) = (Vec::new(), BTreeMap::new());
        for (k, v) in items {
            let mut env = self.clone();
            if let Some(kv) = &key_var {
                env.bound.push((kv.clone(), k));
            }
            env.bound.push((value_var.clone(), v));
            if let Some(c) = &f.cond {
                match env.eval_depth(&c.expr, depth).truthy() {
                    Some(true) => {}
                    Some(false) => continue,
                    None => {
                        return Value::Unknown(format!("the condition of `{}` cannot be known", expr_text(whole)));
                    }
                }
            }
            let value = env.eval_depth(&f.value_expr, depth);
            let Some(key_expr) = &f.key_expr else {
                list.push(value);
                continue;
            };
            let key = env.eval_depth(key_expr, depth);
            let Some(key) = key.as_text() else { return unknown_from(&key, whole) };
            if f.grouping {
                if let Value::List(l) = map.entry(key).or_insert_with(|| Value::List(Vec::new())) {
                    l.push(value);
                }
            } else if map.insert(key, value).is_some() {
                // Terraform: "Duplicate object key" without `...`.
                return Value::Unknown(format!("`{}` produces a key twice (Terraform refuses it)", expr_text(whole)));
            }
        }
        if f.key_expr.is_some() { Value::Map(map) } else { Value::List(list) }
    }

    fn template(&self, t: &Template, whole: &Expression, depth: usize) -> Value {
        let elements: Vec<&Element> = t.iter().collect();
        // "${x}" alone yields x's own value, not its string form.
        if let [Element::Interpolation(i)] = elements.as_slice() {
            return self.eval_depth(&i.expr, depth);
        }
        let mut out = String::new();
        for e in elements {
            match e {
                Element::Literal(l) => out.push_str(l.value()),
                Element::Interpolation(i) => {
                    let v = self.eval_depth(&i.expr, depth);
                    match v.as_text() {
                        Some(s) => out.push_str(&s),
                        None if v.is_unknown() => return v,
                        None => return Value::unknown(whole),
                    }
                }
                Element::Directive(_) => return Value::unknown(whole),
            }
        }
        Value::String(out)
    }

    fn traversal(
        &self,
        root: &Expression,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        whole: &Expression,
        depth: usize,
    ) -> Value {
        let mut ops = ops.iter().map(|o| o.value());
        let value = match root {
            Expression::Variable(v) if self.bound(v.as_str()).is_some() => self.eval_depth(root, depth),
            Expression::Variable(v) => {
                let name = v.as_str();
                let first = match ops.next() {
                    Some(TraversalOperator::GetAttr(a)) => a.as_str().to_string(),
                    _ => return self.eval_depth(root, depth),
                };
                match (name, first.as_str()) {
                    ("var", n) => self
                        .module
                        .vars
                        .get(n)
                        .cloned()
                        .unwrap_or_else(|| Value::Unknown(format!("var.{n} is not declared"))),
                    ("local", n) => self.module.local(n, depth),
                    ("module", n) => match ops.next() {
                        Some(TraversalOperator::GetAttr(o)) => self.module.output(n, o.as_str(), depth),
                        _ => return Value::Unknown(format!("`{}` is only known after apply", expr_text(whole))),
                    },
                    ("count", "index") => self.count_index.clone().unwrap_or_else(|| Value::unknown(whole)),
                    ("each", "key") => self.each.as_ref().map_or_else(|| Value::unknown(whole), |e| e.0.clone()),
                    ("each", "value") => self.each.as_ref().map_or_else(|| Value::unknown(whole), |e| e.1.clone()),
                    (it, "key") if self.iterator.as_ref().is_some_and(|i| i.0 == it) => {
                        self.iterator.as_ref().map_or(Value::Null, |i| i.1.clone())
                    }
                    (it, "value") if self.iterator.as_ref().is_some_and(|i| i.0 == it) => {
                        self.iterator.as_ref().map_or(Value::Null, |i| i.2.clone())
                    }
                    _ => {
                        return Value::Unknown(format!("`{}` is only known after apply", expr_text(whole)));
                    }
                }
            }
            other => self.eval_depth(other, depth),
        };
        let rest: Vec<&TraversalOperator> = ops.collect();
        self.apply(value, &rest, whole, depth)
    }

    /// Applies traversal operators to a value; a splat (`[*]`, `.*`) applies the rest to each
    /// element of a list (a single non-null value counts as a list of one, as in Terraform).
    fn apply(&self, mut value: Value, ops: &[&TraversalOperator], whole: &Expression, depth: usize) -> Value {
        for (i, op) in ops.iter().enumerate() {
            if value.is_unknown() {
                return value;
            }
            value = match op {
                TraversalOperator::GetAttr(a) => index(&value, &Value::String(a.as_str().to_string())),
                TraversalOperator::Index(e) => index(&value, &self.eval_depth(e, depth)),
                TraversalOperator::LegacyIndex(n) => index(&value, &Value::Number(*n.value() as f64)),
                TraversalOperator::FullSplat(_) | TraversalOperator::AttrSplat(_) => {
                    let items = match value {
                        Value::List(l) => l,
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    let rest = &ops[i + 1..];
                    return Value::List(items.into_iter().map(|v| self.apply(v, rest, whole, depth)).collect());
                }
            }
            .unwrap_or_else(|| Value::unknown(whole));
        }
        value
    }
}

fn unknown_from(v: &Value, expr: &Expression) -> Value {
    if v.is_unknown() { v.clone() } else { Value::unknown(expr) }
}

fn index(v: &Value, key: &Value) -> Option<Value> {
    match (v, key) {
        (_, Value::Unknown(_)) => Some(key.clone()),
        (Value::Partial { known, why }, k) => {
            Some(known.get(&k.as_text()?).cloned().unwrap_or_else(|| Value::Unknown(why.clone())))
        }
        (Value::Map(m), k) => m.get(&k.as_text()?).cloned(),
        (Value::List(l), k) => {
            let i = k.number()?;
            (i >= 0.0 && i.fract() == 0.0).then(|| l.get(i as usize).cloned()).flatten()
        }
        _ => None,
    }
}

fn binary(op: BinaryOperator, l: &Value, r: &Value) -> Option<Value> {
    use BinaryOperator as B;
    if l.is_unknown() || r.is_unknown() {
        // `false && x` and `true || x` are known without x.
        return match (op, l.truthy(), r.truthy()) {
            (B::And, Some(false), _) | (B::And, _, Some(false)) => Some(Value::Bool(false)),
            (B::Or, Some(true), _) | (B::Or, _, Some(true)) => Some(Value::Bool(true)),
            _ => None,
        };
    }
    Some(match op {
        B::Eq => Value::Bool(loose_eq(l, r)),
        B::NotEq => Value::Bool(!loose_eq(l, r)),
        B::And => Value::Bool(l.truthy()? && r.truthy()?),
        B::Or => Value::Bool(l.truthy()? || r.truthy()?),
        _ => {
            let (a, b) = (l.number()?, r.number()?);
            match op {
                B::Plus => Value::Number(a + b),
                B::Minus => Value::Number(a - b),
                B::Mul => Value::Number(a * b),
                B::Div if b != 0.0 => Value::Number(a / b),
                B::Mod if b != 0.0 => Value::Number(a % b),
                B::Less => Value::Bool(a < b),
                B::LessEq => Value::Bool(a <= b),
                B::Greater => Value::Bool(a > b),
                B::GreaterEq => Value::Bool(a >= b),
                _ => return None,
            }
        }
    })
}

fn loose_eq(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => a == b,
        _ => l == r,
    }
}
