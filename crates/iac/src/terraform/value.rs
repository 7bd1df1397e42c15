//! A Terraform value as the evaluator knows it (known, partly known, or unknown with why),
//! shared by the evaluator and the functions it calls.

use std::collections::BTreeMap;

use hcl_edit::expr::Expression;

/// A Terraform value, or a value that cannot be known before apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// A map whose listed keys are known, and whose other keys cannot be known (`merge(x, {k =
    /// v})` with `x` unknown: `k` is `v` whatever `x` holds).
    Partial {
        known: BTreeMap<String, Value>,
        why: String,
    },
    /// Why it cannot be known (names the expression).
    Unknown(String),
}

impl Value {
    pub fn unknown(expr: &Expression) -> Value {
        Value::Unknown(expr_text(expr))
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }
    /// Why the value is not (wholly) known: an unknown, or the unknown rest of a partial map.
    pub fn unknown_why(&self) -> Option<&str> {
        match self {
            Value::Unknown(w) | Value::Partial { why: w, .. } => Some(w),
            _ => None,
        }
    }
    /// String form for interpolation and comparison; `None` for collections and unknowns.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(fmt_number(*n)),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    pub(crate) fn truthy(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }
    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

/// The source text of an expression, trimmed, for messages.
pub fn expr_text(expr: &Expression) -> String {
    let s = expr.to_string();
    let s = s.trim();
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s.to_string() }
}
