//! The few pure Terraform functions that show up around `http_tokens`. `None` means "not
//! evaluated here" and the caller reports the call as unknown.

use super::eval::Value;

pub fn call(name: &str, args: &[Value]) -> Option<Value> {
    // try() and coalesce() can succeed with some unknown arguments; the rest need all known.
    match name {
        "try" => return args.iter().find(|a| !a.is_unknown()).cloned(),
        "coalesce" => {
            for a in args {
                match a {
                    Value::Unknown(_) => return None,
                    Value::Null => continue,
                    Value::String(s) if s.is_empty() => continue,
                    other => return Some(other.clone()),
                }
            }
            return None;
        }
        _ => {}
    }
    if args.iter().any(Value::is_unknown) {
        return None;
    }
    let text = |i: usize| args.get(i).and_then(Value::as_text);
    Some(match (name, args) {
        ("lower", [_]) => Value::String(text(0)?.to_lowercase()),
        ("upper", [_]) => Value::String(text(0)?.to_uppercase()),
        ("trimspace", [_]) => Value::String(text(0)?.trim().to_string()),
        ("tostring", [_]) => Value::String(text(0)?),
        ("tobool", [v]) => match v.as_text()?.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return None,
        },
        ("tonumber", [_]) => Value::Number(text(0)?.parse().ok()?),
        ("tolist" | "toset", [Value::List(l)]) => Value::List(l.clone()),
        ("tomap", [Value::Map(m)]) => Value::Map(m.clone()),
        ("length", [Value::List(l)]) => Value::Number(l.len() as f64),
        ("length", [Value::Map(m)]) => Value::Number(m.len() as f64),
        ("length", [Value::String(s)]) => Value::Number(s.chars().count() as f64),
        ("contains", [Value::List(l), v]) => Value::Bool(l.contains(v)),
        ("lookup", [Value::Map(m), k]) => m.get(&k.as_text()?).cloned()?,
        ("lookup", [Value::Map(m), k, default]) => m.get(&k.as_text()?).cloned().unwrap_or_else(|| default.clone()),
        ("element", [Value::List(l), i]) if !l.is_empty() => {
            let i = i.as_text()?.parse::<usize>().ok()?;
            l.get(i % l.len())?.clone()
        }
        ("format", [f, rest @ ..]) => Value::String(format_simple(&f.as_text()?, rest)?),
        ("join", [sep, Value::List(l)]) => {
            let parts: Option<Vec<String>> = l.iter().map(Value::as_text).collect();
            Value::String(parts?.join(&sep.as_text()?))
        }
        ("merge", maps) => {
            let mut out = std::collections::BTreeMap::new();
            for m in maps {
                match m {
                    Value::Map(m) => out.extend(m.clone()),
                    Value::Null => {}
                    _ => return None,
                }
            }
            Value::Map(out)
        }
        _ => return None,
    })
}

/// `format` with `%s`, `%d`, `%v` and `%%` only.
fn format_simple(f: &str, args: &[Value]) -> Option<String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = f.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            's' | 'd' | 'v' => out.push_str(&args.next()?.as_text()?),
            _ => return None,
        }
    }
    Some(out)
}
