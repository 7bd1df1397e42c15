//! CloudFormation templates (YAML with short-form intrinsics, or JSON): `MetadataOptions` of
//! instances, launch templates and launch configurations, with `Ref` to parameter defaults,
//! `Fn::If` over `Conditions`, `Fn::Sub`, `Fn::Join` and `Fn::FindInMap` resolved.

use std::path::Path;

use crate::iac::tree::{Kind, Node};
use crate::iac::verdict::{Fix, Record, Verdict, display_path};

/// True when the document looks like a CloudFormation template.
pub fn is_template(root: &Node) -> bool {
    root.get("AWSTemplateFormatVersion").is_some()
        || root.get("Resources").and_then(Node::as_map).is_some_and(|r| {
            r.iter().any(|(_, v)| v.get("Type").and_then(Node::as_str).is_some_and(|t| t.contains("::")))
        })
}

/// A resolved value: a node (possibly a mapping), a string, absent, or unknown (with why).
#[derive(Debug, Clone)]
enum Res<'a> {
    Node(&'a Node),
    Str(String),
    Absent,
    Unknown(String),
}

const MAX_DEPTH: usize = 32;

struct Cfn<'a> {
    root: &'a Node,
}

impl<'a> Cfn<'a> {
    /// The intrinsic function a node calls: `!Ref x` or `{"Ref": x}` → ("Ref", arg).
    fn intrinsic(node: &'a Node) -> Option<(String, Arg<'a>)> {
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

    fn resolve(&self, node: &'a Node, depth: usize) -> Res<'a> {
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

    fn condition(&self, name: &str, depth: usize) -> Option<bool> {
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
enum Arg<'a> {
    Tagged(&'a Node),
    Node(&'a Node),
}

impl<'a> Arg<'a> {
    fn node(&self) -> &'a Node {
        match self {
            Arg::Tagged(n) | Arg::Node(n) => n,
        }
    }
    fn items(&self) -> Vec<&'a Node> {
        self.node().as_seq().map(|s| s.iter().collect()).unwrap_or_default()
    }
    fn scalar(&self) -> Option<String> {
        self.node().as_str().map(str::to_string)
    }
    fn scalar_ref(&self) -> Option<&'a str> {
        self.node().as_str()
    }
}

/// Checks every relevant resource of a template: templates first, then instances (which may
/// inherit a template's verdict).
pub fn check(file: &Path, root: &Node) -> Vec<Record> {
    let cfn = Cfn { root };
    let Some(resources) = root.get("Resources").and_then(Node::as_map) else {
        return Vec::new();
    };
    let mut out: Vec<Record> = Vec::new();
    for instances in [false, true] {
        for (id_node, res) in resources {
            let is_instance = res.get("Type").and_then(Node::as_str) == Some("AWS::EC2::Instance");
            if is_instance == instances {
                if let Some(r) = check_one(&cfn, file, id_node, res, resources, &out) {
                    out.push(r);
                }
            }
        }
    }
    out
}

fn check_one(
    cfn: &Cfn<'_>,
    file: &Path,
    id_node: &Node,
    res: &Node,
    resources: &[(Node, Node)],
    done: &[Record],
) -> Option<Record> {
    let id = id_node.as_str()?;
    let rtype = res.get("Type").and_then(Node::as_str).unwrap_or_default();
    let (path, opts_parent): (&str, Option<&Node>) = match rtype {
        "AWS::EC2::Instance" | "AWS::AutoScaling::LaunchConfiguration" => {
            ("Properties.MetadataOptions", res.get("Properties"))
        }
        "AWS::EC2::LaunchTemplate" => (
            "Properties.LaunchTemplateData.MetadataOptions",
            res.get("Properties").and_then(|p| p.get("LaunchTemplateData")),
        ),
        _ => return None,
    };
    if let Some(cond) = res.get("Condition").and_then(Node::as_str) {
        if cfn.condition(cond, 0) == Some(false) {
            return None; // not created
        }
    }
    let mut rec = Record {
        file: display_path(file),
        line: id_node.line,
        resource: id.to_string(),
        rtype: rtype.to_string(),
        verdict: Verdict::Fail,
        reason: String::new(),
        compensated_by: None,
        inherited_from: None,
        fix: Some(Fix::CloudFormation { path: path.to_string() }),
    };
    let opts = opts_parent.and_then(|p| p.get("MetadataOptions")).map(|n| cfn.resolve(n, 0));
    let (verdict, reason) = match opts {
        None | Some(Res::Absent) => {
            if rtype == "AWS::EC2::Instance" {
                if let Some(r) = inherit(cfn, resources, opts_parent, &rec, done) {
                    return Some(r);
                }
            }
            (Verdict::Fail, "no MetadataOptions: HttpTokens defaults to optional, IMDSv1 allowed".to_string())
        }
        Some(Res::Unknown(w)) => (Verdict::Unknown, format!("MetadataOptions cannot be known: {w}")),
        Some(Res::Str(s)) => (Verdict::Unknown, format!("MetadataOptions is not a mapping: {s:?}")),
        Some(Res::Node(m)) => options(cfn, m, &mut rec),
    };
    rec.verdict = verdict;
    rec.reason = reason;
    if verdict == Verdict::Pass {
        rec.fix = None;
    } else if verdict == Verdict::Unknown {
        rec.fix = Some(Fix::MakeKnown);
    }
    Some(rec)
}

fn options(cfn: &Cfn<'_>, m: &Node, rec: &mut Record) -> (Verdict, String) {
    let endpoint = m.get("HttpEndpoint").map(|n| cfn.resolve(n, 0));
    if let Some((k, _)) = m.get_entry("HttpTokens") {
        rec.line = k.line;
    }
    if matches!(&endpoint, Some(Res::Str(s)) if s == "disabled") {
        return (Verdict::Pass, "the metadata service is disabled (HttpEndpoint: disabled)".into());
    }
    let endpoint_unknown = matches!(endpoint, Some(Res::Unknown(_)));
    match m.get("HttpTokens").map(|n| cfn.resolve(n, 0)) {
        Some(Res::Str(s)) if s == "required" => (Verdict::Pass, "HttpTokens: required (IMDSv2 only)".into()),
        Some(Res::Unknown(w)) => (Verdict::Unknown, format!("HttpTokens cannot be known: {w}")),
        _ if endpoint_unknown => {
            (Verdict::Unknown, "HttpTokens is not required and HttpEndpoint cannot be known".into())
        }
        Some(Res::Str(s)) if s.eq_ignore_ascii_case("required") => {
            (Verdict::Fail, format!("HttpTokens: {s:?}: the API is case-sensitive, only \"required\" enforces IMDSv2"))
        }
        Some(Res::Str(s)) => (Verdict::Fail, format!("HttpTokens: {s} allows IMDSv1 (must be required)")),
        Some(Res::Node(_)) => (Verdict::Unknown, "HttpTokens is not a string".into()),
        None | Some(Res::Absent) if m.as_map().is_some_and(<[_]>::is_empty) => {
            (Verdict::Fail, "MetadataOptions is empty: HttpTokens defaults to optional, IMDSv1 allowed".into())
        }
        None | Some(Res::Absent) => {
            (Verdict::Fail, "MetadataOptions does not set HttpTokens: it defaults to optional, IMDSv1 allowed".into())
        }
    }
}

/// An instance without MetadataOptions that names a launch template in the same stack takes
/// the template's verdict. `LaunchTemplateId` is followed through `Ref` / `Fn::GetAtt`;
/// `LaunchTemplateName` also through its value (literal, parameter, `Fn::Sub`...), matched
/// against the templates' own `LaunchTemplateName`.
fn inherit(
    cfn: &Cfn<'_>,
    resources: &[(Node, Node)],
    props: Option<&Node>,
    rec: &Record,
    done: &[Record],
) -> Option<Record> {
    let lt = props?.get("LaunchTemplate")?;
    let (target, by_name) = match (lt.get("LaunchTemplateId"), lt.get("LaunchTemplateName")) {
        (Some(id), _) => (id, false),
        (None, Some(name)) => (name, true),
        (None, None) => return None,
    };
    let mut r = rec.clone();
    let logical = match Cfn::intrinsic(target) {
        Some((f, a)) if f == "Ref" => a.scalar(),
        Some((f, a)) if f == "Fn::GetAtt" => a
            .items()
            .first()
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .or_else(|| a.scalar().and_then(|s| s.split('.').next().map(str::to_string))),
        _ => None,
    }
    .filter(|l| resources.iter().any(|(k, _)| k.as_str() == Some(l)));
    let found = match logical {
        Some(l) => done.iter().find(|x| x.resource == l),
        None if by_name => match cfn.resolve(target, 0) {
            Res::Str(name) => {
                let named = resources.iter().find(|(_, res)| {
                    res.get("Type").and_then(Node::as_str) == Some("AWS::EC2::LaunchTemplate")
                        && res
                            .get("Properties")
                            .and_then(|p| p.get("LaunchTemplateName"))
                            .is_some_and(|n| matches!(cfn.resolve(n, 0), Res::Str(s) if s == name))
                });
                match named.and_then(|(k, _)| k.as_str()) {
                    Some(l) => done.iter().find(|x| x.resource == l),
                    None => {
                        return Some(unknown(
                            r,
                            format!("LaunchTemplateName {name:?} names no launch template defined in this template"),
                        ));
                    }
                }
            }
            Res::Unknown(w) => return Some(unknown(r, format!("LaunchTemplateName cannot be known: {w}"))),
            _ => None,
        },
        None => None,
    };
    let Some(lt_rec) = found else {
        return Some(unknown(r, "LaunchTemplate does not reference a launch template defined in this template".into()));
    };
    r.verdict = lt_rec.verdict;
    r.reason = format!("launches {} ({}:{}): {}", lt_rec.resource, lt_rec.file, lt_rec.line, lt_rec.reason);
    r.inherited_from = Some(lt_rec.resource.clone());
    r.fix = (lt_rec.verdict != Verdict::Pass).then(|| Fix::Template { address: lt_rec.resource.clone() });
    Some(r)
}

fn unknown(mut r: Record, reason: String) -> Record {
    r.verdict = Verdict::Unknown;
    r.reason = reason;
    r.fix = Some(Fix::MakeKnown);
    r
}
