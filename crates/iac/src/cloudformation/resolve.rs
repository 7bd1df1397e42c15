//! Resolves CloudFormation intrinsics statically: `Ref` to parameter defaults, `Fn::If` over
//! `Conditions`, `Fn::Sub`, `Fn::Join` and `Fn::FindInMap`; anything else is unknown.

use crate::tree::{Kind, Node};

/// A resolved value: a node (possibly a mapping), a string, absent, or unknown (with why).
#[derive(Debug, Clone)]
pub(super) enum Res<'a> {
    Node(&'a Node),
    Str(String),
    Absent,
    Unknown(String),
}

const MAX_DEPTH: usize = 32;

pub(super) struct Cfn<'a> {
    pub(super) root: &'a Node,
}

impl<'a> Cfn<'a> {
    /// The intrinsic function a node calls: `!Ref x` or `{"Ref": x}` → ("Ref", arg).
    pub(super) fn intrinsic(node: &'a Node) -> Option<(String, Arg<'a>)> {
        if let Some(tag) = &node.tag {
            let name = match tag.as_str() {
                "Ref" | "Condition" => tag.clone(),
                other => format!("Fn::{other}"),
            };
            return Some((name, Arg::Tagged(node)));
        }
        match node.as_map()? {
            [(k, v)] => {
                let k = k.as_str()?;
                (k == "Ref" || k == "Condition" || k.starts_with("Fn::")).then(|| (k.to_string(), Arg::Node(v)))
            }
            _ => None,
        }
    }

    // Over 80 lines on purpose: one arm per intrinsic function.
    pub(super) fn resolve(&self, node: &'a Node, depth: usize) -> Res<'a> {
        if depth > MAX_DEPTH {
            return Res::Unknown("intrinsics nested too deeply".into());
        }
        let Some((func, arg)) = Self::intrinsic(node) else {
            return match &node.kind {
                Kind::Scalar { .. } if node.is_null() => Res::Absent,
                Kind::Scalar { text, .. } => Res::Str(text.clone()),
                _ => Res::Node(node),
            };
        };
        let args = arg.items();
        match func.as_str() {
            "Ref" => {
                let Some(name) = arg.scalar() else {
                    return Res::Unknown("Ref without a name".into());
                };
                self.reference(&name)
            }
            "Fn::If" => {
                let [cond, t, f] = args.as_slice() else {
                    return Res::Unknown("Fn::If needs 3 arguments".into());
                };
                let Some(cond_name) = cond.as_str() else {
                    return Res::Unknown("Fn::If condition is not a name".into());
                };
                match self.condition(cond_name, depth + 1) {
                    Some(true) => self.resolve(t, depth + 1),
                    Some(false) => self.resolve(f, depth + 1),
                    None => {
                        let (a, b) = (self.resolve(t, depth + 1), self.resolve(f, depth + 1));
                        match (&a, &b) {
                            (Res::Str(x), Res::Str(y)) if x == y => a,
                            _ => Res::Unknown(format!("condition {cond_name} cannot be known")),
                        }
                    }
                }
            }
            "Fn::Sub" => {
                let (template, vars) = match args.as_slice() {
                    [t, v] => (t.as_str(), Some(*v)),
                    [t] => (t.as_str(), None),
                    _ => (arg.scalar_ref(), None),
                };
                let Some(template) = template else {
                    return Res::Unknown("Fn::Sub template is not a string".into());
                };
                self.sub(template, vars, depth)
            }
            "Fn::Join" => {
                let [sep, list] = args.as_slice() else {
                    return Res::Unknown("Fn::Join needs 2 arguments".into());
                };
                let mut parts = Vec::new();
                for item in list.as_seq().unwrap_or_default() {
                    match self.resolve(item, depth + 1) {
                        Res::Str(s) => parts.push(s),
                        Res::Unknown(w) => return Res::Unknown(w),
                        _ => return Res::Unknown("Fn::Join of a non-string".into()),
                    }
                }
                Res::Str(parts.join(sep.as_str().unwrap_or_default()))
            }
            "Fn::FindInMap" => {
                let [map, k1, k2, ..] = args.as_slice() else {
                    return Res::Unknown("Fn::FindInMap needs 3 arguments".into());
                };
                let keys: Vec<Res<'a>> = [*map, *k1, *k2].iter().map(|n| self.resolve(n, depth + 1)).collect();
                match keys.as_slice() {
                    [Res::Str(m), Res::Str(a), Res::Str(b)] => self
                        .root
                        .get("Mappings")
                        .and_then(|ms| ms.get(m))
                        .and_then(|x| x.get(a))
                        .and_then(|x| x.get(b))
                        .map_or_else(
                            || Res::Unknown(format!("mapping {m}.{a}.{b} not found")),
                            |n| self.resolve(n, depth + 1),
                        ),
                    _ => Res::Unknown("Fn::FindInMap with keys that cannot be known".into()),
                }
            }
            other => Res::Unknown(format!("{other} cannot be evaluated statically")),
        }
    }

    fn reference(&self, name: &str) -> Res<'a> {
        if name == "AWS::NoValue" {
            return Res::Absent;
        }
        if name.starts_with("AWS::") {
            return Res::Unknown(format!("pseudo parameter {name} is only known at deploy time"));
        }
        match self.root.get("Parameters").and_then(|p| p.get(name)) {
            Some(p) => match p.get("Default") {
                Some(d) => self.resolve(d, 1),
                None => Res::Unknown(format!("parameter {name} has no Default")),
            },
            None => Res::Unknown(format!("Ref {name} is not a parameter")),
        }
    }

    fn sub(&self, template: &str, vars: Option<&'a Node>, depth: usize) -> Res<'a> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            if let Some(lit) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(lit);
                out.push('}');
            } else {
                let v = match vars.and_then(|v| v.get(name)) {
                    Some(n) => self.resolve(n, depth + 1),
                    None if name.contains('.') => {
                        Res::Unknown(format!("${{{name}}} (GetAtt) is only known at deploy time"))
                    }
                    None => self.reference(name),
                };
                match v {
                    Res::Str(s) => out.push_str(&s),
                    Res::Unknown(w) => return Res::Unknown(w),
                    _ => return Res::Unknown(format!("${{{name}}} is not a string")),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Res::Str(out)
    }

    pub(super) fn condition(&self, name: &str, depth: usize) -> Option<bool> {
        let c = self.root.get("Conditions")?.get(name)?;
        self.cond_expr(c, depth + 1)
    }

    fn cond_expr(&self, node: &'a Node, depth: usize) -> Option<bool> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (func, arg) = Self::intrinsic(node)?;
        let items = arg.items();
        match func.as_str() {
            "Fn::Equals" => {
                let [a, b] = items.as_slice() else {
                    return None;
                };
                match (self.resolve(a, depth + 1), self.resolve(b, depth + 1)) {
                    (Res::Str(x), Res::Str(y)) => Some(x == y),
                    _ => None,
                }
            }
            "Fn::Not" => items.first().and_then(|n| self.cond_expr(n, depth + 1)).map(|b| !b),
            "Fn::And" => items.iter().map(|n| self.cond_expr(n, depth + 1)).try_fold(true, |acc, b| Some(acc && b?)),
            "Fn::Or" => items.iter().map(|n| self.cond_expr(n, depth + 1)).try_fold(false, |acc, b| Some(acc || b?)),
            "Condition" => self.condition(arg.scalar()?.as_str(), depth + 1),
            _ => None,
        }
    }
}

/// The argument of an intrinsic, either a tagged node itself or the value under the key.
pub(super) enum Arg<'a> {
    Tagged(&'a Node),
    Node(&'a Node),
}

impl<'a> Arg<'a> {
    fn node(&self) -> &'a Node {
        match self {
            Arg::Tagged(n) | Arg::Node(n) => n,
        }
    }
    pub(super) fn items(&self) -> Vec<&'a Node> {
        self.node().as_seq().map(|s| s.iter().collect()).unwrap_or_default()
    }
    pub(super) fn scalar(&self) -> Option<String> {
        self.node().as_str().map(str::to_string)
    }
    fn scalar_ref(&self) -> Option<&'a str> {
        self.node().as_str()
    }
}
