//! The few pure Terraform functions that show up around `http_tokens`. `None` means "not
//! evaluated here" and the caller reports the call as unknown.

use super::value::Value;

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
        "merge" => return merge(args),
        _ => {}
    }
    if args.iter().any(Value::is_unknown) {
        return None;
    }
    let text = |i: usize| args.get(i).and_then(Value::as_text);
    Some(match (name, args) {
        ("lower", [_]) => Value::String(text(0)?.to_lowercase()),
        ("upper", [_]) => Value::String(text(0)?.to_uppercase()),
        ("title", [_]) => Value::String(title(&text(0)?)),
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
        ("lookup", [Value::Partial { known, why }, k, ..]) => {
            known.get(&k.as_text()?).cloned().unwrap_or_else(|| Value::Unknown(why.clone()))
        }
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
        ("one", [Value::List(l)]) if l.len() <= 1 => l.first().cloned().unwrap_or(Value::Null),
        ("concat", lists) => {
            let mut out = Vec::new();
            for l in lists {
                let Value::List(l) = l else { return None };
                out.extend(l.iter().cloned());
            }
            Value::List(out)
        }
        ("flatten", [Value::List(l)]) => Value::List(flatten(l, 0)?),
        ("compact", [Value::List(l)]) => Value::List(
            l.iter().filter(|v| !matches!(v, Value::Null) && v.as_text().as_deref() != Some("")).cloned().collect(),
        ),
        ("distinct", [Value::List(l)]) => {
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Value::List(out)
        }
        ("keys", [Value::Map(m)]) => Value::List(m.keys().map(|k| Value::String(k.clone())).collect()),
        ("values", [Value::Map(m)]) => Value::List(m.values().cloned().collect()),
        ("zipmap", [Value::List(k), Value::List(v)]) if k.len() == v.len() => {
            let keys: Option<Vec<String>> = k.iter().map(Value::as_text).collect();
            Value::Map(keys?.into_iter().zip(v.iter().cloned()).collect())
        }
        ("coalescelist", lists) => {
            lists.iter().find(|l| matches!(l, Value::List(x) if !x.is_empty())).cloned().unwrap_or(Value::List(vec![]))
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

/// `merge()` key by key: a key set by a later known map is known even when an earlier
/// argument is not (its other keys are then unknown: a `Value::Partial`).
fn merge(args: &[Value]) -> Option<Value> {
    let mut out = std::collections::BTreeMap::new();
    let mut why: Option<String> = None;
    for a in args {
        match a {
            Value::Map(m) => out.extend(m.clone()),
            Value::Null => {}
            // An unknown map may set any key: what came before is no longer known.
            Value::Unknown(w) => {
                out.clear();
                why = Some(w.clone());
            }
            Value::Partial { known, why: w } => {
                out.clear();
                out.extend(known.clone());
                why = Some(w.clone());
            }
            _ => return None,
        }
    }
    Some(match why {
        Some(why) => Value::Partial { known: out, why },
        None => Value::Map(out),
    })
}

/// Most list nesting `flatten()` follows.
const MAX_FLATTEN_DEPTH: usize = 32;

fn flatten(l: &[Value], depth: usize) -> Option<Vec<Value>> {
    if depth > MAX_FLATTEN_DEPTH {
        return None;
    }
    let mut out = Vec::new();
    for v in l {
        match v {
            Value::List(inner) => out.extend(flatten(inner, depth + 1)?),
            other => out.push(other.clone()),
        }
    }
    Some(out)
}

/// `title()`: the first letter of each word upper-cased (words split at non-letters).
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}
