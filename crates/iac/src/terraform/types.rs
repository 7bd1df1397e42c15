//! Terraform's type conversion at a module boundary, for the parts that decide values:
//! `optional(type, default)` attributes of `object(...)` types get their defaults when absent
//! or null (also inside `map(...)`, `list(...)` and `set(...)`, and in a variable's own
//! default), as Terraform ≥ 1.3 does. Anything else is passed through unchanged.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey};

use super::eval::{Env, ModuleScope, Value};

/// Type expressions nested deeper than this are not converted further.
const MAX_DEPTH: usize = 32;

/// Converts `v` to the type `ty` (a variable's `type` expression).
pub fn convert(v: Value, ty: &Expression) -> Value {
    convert_depth(v, ty, 0)
}

fn convert_depth(v: Value, ty: &Expression, depth: usize) -> Value {
    let Expression::FuncCall(f) = ty else { return v };
    if depth > MAX_DEPTH || !f.name.namespace.is_empty() {
        return v;
    }
    let arg = f.args.iter().next();
    match (f.name.name.as_str(), v, arg) {
        ("object", Value::Map(m), Some(Expression::Object(o))) => {
            let mut m: BTreeMap<String, Value> = m;
            let empty = ModuleScope::default();
            for (k, attr) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(i) => i.as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                    ObjectKey::Expression(_) => continue,
                };
                let (inner, default) = match attr.expr() {
                    Expression::FuncCall(o) if o.name.name.as_str() == "optional" && o.name.namespace.is_empty() => {
                        let mut a = o.args.iter();
                        (a.next(), a.next())
                    }
                    other => (Some(other), None),
                };
                let cur = m.remove(&key).unwrap_or(Value::Null);
                let cur = match (cur, default) {
                    (Value::Null, Some(d)) => Env::module(&empty).eval(d),
                    (c, _) => c,
                };
                let cur = match inner {
                    Some(t) => convert_depth(cur, t, depth + 1),
                    None => cur,
                };
                m.insert(key, cur);
            }
            Value::Map(m)
        }
        ("map", Value::Map(m), Some(t)) => {
            Value::Map(m.into_iter().map(|(k, v)| (k, convert_depth(v, t, depth + 1))).collect())
        }
        ("list" | "set", Value::List(l), Some(t)) => {
            Value::List(l.into_iter().map(|v| convert_depth(v, t, depth + 1)).collect())
        }
        (_, v, _) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> Expression {
        hcl_edit::parser::parse_expr(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn optional_attributes_get_their_defaults() {
        let t = ty("object({ http_tokens = optional(string, \"required\"), http_endpoint = optional(string) })");
        let v = convert(Value::Map(BTreeMap::new()), &t);
        assert_eq!(
            v,
            Value::Map(BTreeMap::from([("http_endpoint".into(), Value::Null), ("http_tokens".into(), s("required"))]))
        );
        let given = Value::Map(BTreeMap::from([("http_tokens".into(), s("optional"))]));
        let v = convert(given, &t);
        assert_eq!(
            v,
            Value::Map(BTreeMap::from([("http_endpoint".into(), Value::Null), ("http_tokens".into(), s("optional"))]))
        );
    }

    #[test]
    fn nested_in_maps_and_objects() {
        let t = ty(
            "map(object({ use_lt = optional(bool, true), mo = optional(object({ t = optional(string, \"required\") }), {}) }))",
        );
        let v = convert(Value::Map(BTreeMap::from([("a".into(), Value::Map(BTreeMap::new()))])), &t);
        let a = match v {
            Value::Map(m) => m.get("a").cloned(),
            _ => None,
        };
        let want = Value::Map(BTreeMap::from([
            ("mo".into(), Value::Map(BTreeMap::from([("t".into(), s("required"))]))),
            ("use_lt".into(), Value::Bool(true)),
        ]));
        assert_eq!(a, Some(want));
    }

    #[test]
    fn other_values_pass_through() {
        assert_eq!(convert(s("x"), &ty("object({ a = string })")), s("x"));
        assert_eq!(convert(Value::Unknown("u".into()), &ty("map(string)")), Value::Unknown("u".into()));
    }
}
