//! Packer templates for the Amazon plugin (hashicorp/packer-plugin-amazon): HCL2 `source`
//! blocks in `.pkr.hcl` files and legacy JSON `builders[]`, of the builders that launch a build
//! instance: `amazon-ebs`, `amazon-ebssurrogate`, `amazon-ebsvolume`, `amazon-instance`.
//!
//! - `metadata_options { http_tokens }` "Defaults to \"optional\"" (`builder/common/run_config.go`,
//!   `MetadataOptions`; `Prepare` sets `HttpTokens = "optional"` when empty) and is sent with
//!   the build instance's `RunInstances` — only when `http_endpoint` is `enabled`
//!   (`step_run_source_instance.go`: `if s.HttpEndpoint == "enabled" { runOpts.MetadataOptions = … }`).
//!   So `http_endpoint = "disabled"` sends no metadata options at all: EC2's defaults apply to
//!   the build instance (endpoint enabled, IMDSv1 allowed) — a fail, with that reason.
//! - `imds_support = "v2.0"` (`ami_config.go`) marks the AMI the build produces: instances
//!   launched from it without metadata options of their own require IMDSv2. It is reported as a
//!   record of its own (an AMI control), also for `amazon-chroot`, which launches no instance.
//! - Variables: `var.x` / `local.x` (HCL) and `{{user `x`}}` (JSON) are read from the
//!   variable's default (`variable` blocks of the directory's `.pkr.hcl` files, the JSON
//!   `variables` object) and `*.auto.pkrvars.hcl`; `-var` flags and other expressions cannot be
//!   known: unknown, with the reason.

use std::collections::HashMap;
use std::path::Path;

use hcl_edit::expr::Expression;

use super::{Item, Tool, launcher, set};
use crate::fact::{BuiltImage, Fact, FactKind, Options, Own, Syntax, Val, name_pattern};
use crate::terraform::parse::{self, TBody};
use crate::tree::Node;
use crate::verdict::{Fix, Record};

/// Builders that run a build instance.
const INSTANCE_BUILDERS: &[&str] = &["amazon-ebs", "amazon-ebssurrogate", "amazon-ebsvolume", "amazon-instance"];
/// Builders that only produce an AMI (their `imds_support` is still an AMI control).
const AMI_ONLY: &[&str] = &["amazon-chroot"];
/// Sibling files read for variable defaults.
const MAX_SIBLINGS: usize = 64;

pub fn is_hcl(name: &str) -> bool {
    name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl")
}

const HCL_BLOCK: &str = "metadata_options {\n  http_tokens = \"required\"\n}";

/// A `.pkr.hcl` file: its amazon sources (a `.pkrvars.hcl` file has none).
/// A `.pkr.hcl` file: records, and the images its amazon sources build (for the resources that
/// boot them by name).
pub fn check_hcl(file: &Path, display: &str, text: &str) -> (Vec<Record>, Vec<BuiltImage>) {
    let body = match parse::parse_hcl(file, text) {
        Ok(b) => b,
        Err(e) => return (vec![Record::parse_error(file, e.line(), e.message())], vec![]),
    };
    let mut images = Vec::new();
    let vars = variables(file, &body);
    let mut items = Vec::new();
    for b in body.blocks("source") {
        let (Some(kind), Some(name)) = (b.labels.first(), b.labels.get(1)) else { continue };
        let address = format!("source.{kind}.{name}");
        if let Some(a) = b.body.attr("ami_name") {
            let text = match &a.expr {
                Expression::String(s) => s.value().clone(),
                e => e.to_string().trim().trim_matches('"').to_string(),
            };
            let v2 = matches!(b.body.attr("imds_support").map(|i| hcl_val(&i.expr, &vars)), Some(Val::Str(v)) if v == "v2.0");
            images.push(BuiltImage {
                pattern: name_pattern(&text),
                address: address.clone(),
                file: display.to_string(),
                line: b.line,
                v2,
            });
        }
        let get = |k: &str| b.body.attr(k).map(|a| (hcl_val(&a.expr, &vars), a.line));
        let mo = b.body.block("metadata_options");
        let mo_get = |k: &str| mo.and_then(|m| m.body.attr(k)).map(|a| (hcl_val(&a.expr, &vars), a.line));
        let block = mo.map(|m| (m.line, m.body.is_empty()));
        let via = mo
            .and_then(|m| m.body.attr("http_tokens"))
            .filter(|a| !matches!(a.expr, Expression::String(_)))
            .map(|a| a.expr.to_string().trim().to_string());
        let opts = Opts { block, tokens: mo_get("http_tokens"), endpoint: mo_get("http_endpoint"), via };
        push(&mut items, display, kind, address, b.line, opts, get("imds_support"), set("", HCL_BLOCK));
    }
    (super::records(items), images)
}

/// A legacy JSON template: `builders` with an amazon builder.
pub fn is_json_template(doc: &Node) -> bool {
    doc.get("builders").and_then(Node::as_seq).is_some_and(|b| {
        b.iter().any(|b| b.get("type").and_then(Node::as_str).is_some_and(|t| t.starts_with("amazon-")))
    })
}

/// A legacy JSON template: records, and the images its amazon builders build.
pub fn check_json(display: &str, doc: &Node) -> (Vec<Record>, Vec<BuiltImage>) {
    let mut images = Vec::new();
    let vars: HashMap<String, String> = doc
        .get("variables")
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
        .collect();
    let mut items = Vec::new();
    for (i, b) in doc.get("builders").and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
        let Some(kind) = b.get("type").and_then(Node::as_str) else { continue };
        let name = b.get("name").and_then(Node::as_str).unwrap_or(kind);
        let address = format!("builders[{i}].{name}");
        if let Some(n) = b.get("ami_name").and_then(Node::as_str) {
            let v2 = b.get("imds_support").is_some_and(|v| json_val(v, &vars) == Val::Str("v2.0".into()));
            images.push(BuiltImage {
                pattern: name_pattern(n),
                address: address.clone(),
                file: display.to_string(),
                line: b.line,
                v2,
            });
        }
        let get = |n: &Node, k: &str| n.get_entry(k).map(|(key, v)| (json_val(v, &vars), key.line));
        let mo = b.get_entry("metadata_options").filter(|(_, v)| !v.is_null());
        let block = mo.map(|(k, v)| (k.line, v.as_map().is_some_and(<[_]>::is_empty)));
        let opts = Opts {
            block,
            tokens: mo.and_then(|(_, m)| get(m, "http_tokens")),
            endpoint: mo.and_then(|(_, m)| get(m, "http_endpoint")),
            via: mo
                .and_then(|(_, m)| m.get("http_tokens"))
                .and_then(Node::as_str)
                .filter(|t| t.contains("{{"))
                .map(str::to_string),
        };
        let fix = set("", "\"metadata_options\": {\n  \"http_tokens\": \"required\"\n}");
        push(&mut items, display, kind, address, b.line, opts, get(b, "imds_support"), fix);
    }
    (super::records(items), images)
}

/// The metadata options block of a source: (its line, empty), and its settings with lines.
struct Opts {
    block: Option<(usize, bool)>,
    tokens: Option<(Val, usize)>,
    endpoint: Option<(Val, usize)>,
    /// The tokens expression when it is not a literal (`var.tokens`, `{{user `x`}}`).
    via: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn push(
    items: &mut Vec<Item>,
    file: &str,
    kind: &str,
    address: String,
    line: usize,
    o: Opts,
    imds: Option<(Val, usize)>,
    fix: Fix,
) {
    let rtype = format!("packer/{kind}");
    if INSTANCE_BUILDERS.contains(&kind) {
        let own = match (&o.block, &o.endpoint) {
            (None, _) => Own::NoBlock,
            (Some(_), Some((Val::Str(e), l))) if e == "disabled" => Own::Unsupported(format!(
                "http_endpoint = \"disabled\" (line {l}): Packer then sends no metadata options for the build instance (step_run_source_instance.go), so EC2's defaults apply, endpoint enabled"
            )),
            (Some((bl, empty)), _) => Own::Block(Options {
                endpoint: o.endpoint.as_ref().map_or(Val::Absent, |(v, _)| v.clone()),
                tokens: o.tokens.as_ref().map_or(Val::Absent, |(v, _)| v.clone()),
                via: o.via.clone(),
                line: o.tokens.as_ref().map_or(*bl, |(_, l)| *l),
                empty: *empty,
            }),
        };
        items.push(Item::new(launcher(Tool::Packer, address.clone(), file, line, own, fix), rtype.clone()));
    } else if !AMI_ONLY.contains(&kind) {
        return;
    }
    if let Some((Val::Str(v), l)) = imds
        && v == "v2.0"
    {
        let fact = Fact {
            address: format!("{address}:ami"),
            file: file.to_string(),
            line: l,
            syntax: Syntax::Tool(Tool::Packer),
            block: None,
            default_required: false,
            fix: Fix::MakeKnown,
            kind: FactKind::Image { v2: true },
        };
        items.push(Item::new(fact, format!("{rtype}.ami")));
    }
}

/// Variable defaults and locals of the directory's `.pkr.hcl` files (this one included), then
/// `*.auto.pkrvars.hcl` assignments.
fn variables(file: &Path, own: &TBody) -> HashMap<String, Expression> {
    let mut bodies = vec![own.clone()];
    let mut auto = Vec::new();
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Standard input has no directory of its own.
    let entries = if file.as_os_str() == crate::STDIN_NAME { None } else { std::fs::read_dir(dir).ok() };
    if let Some(entries) = entries {
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths.into_iter().take(MAX_SIBLINGS) {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if p == file || !(name.ends_with(".pkr.hcl") || name.ends_with(".auto.pkrvars.hcl")) {
                continue;
            }
            let Ok(text) = crate::input::read_capped(&p, crate::input::MAX_TERRAFORM_BYTES) else { continue };
            let Ok(b) = parse::parse_hcl(&p, &text) else { continue };
            if name.ends_with(".auto.pkrvars.hcl") { auto.push(b) } else { bodies.push(b) }
        }
    }
    let mut vars = HashMap::new();
    for b in &bodies {
        for v in b.blocks("variable") {
            if let (Some(n), Some(d)) = (v.labels.first(), v.body.attr("default")) {
                vars.insert(format!("var.{n}"), d.expr.clone());
            }
        }
        for l in b.blocks("locals") {
            for a in &l.body.attrs {
                vars.insert(format!("local.{}", a.name), a.expr.clone());
            }
        }
    }
    for b in &auto {
        for a in &b.attrs {
            vars.insert(format!("var.{}", a.name), a.expr.clone());
        }
    }
    vars
}

fn hcl_val(e: &Expression, vars: &HashMap<String, Expression>) -> Val {
    hcl_val_depth(e, vars, 0)
}

fn hcl_val_depth(e: &Expression, vars: &HashMap<String, Expression>, depth: usize) -> Val {
    let text = e.to_string().trim().to_string();
    match e {
        Expression::String(s) => Val::Str(s.value().clone()),
        Expression::Null(_) => Val::Null,
        Expression::Bool(b) => Val::Other(b.value().to_string()),
        _ => {
            // `var.x`, `local.x`, or a template that is only `"${var.x}"`.
            let name = text.strip_prefix("\"${").and_then(|s| s.strip_suffix("}\"")).unwrap_or(&text).trim();
            match vars.get(name) {
                Some(v) if depth < 8 => match hcl_val_depth(v, vars, depth + 1) {
                    Val::Str(s) => Val::Str(s),
                    Val::Unknown { why, .. } => Val::Unknown { expr: Some(text), why },
                    other => other,
                },
                Some(_) => Val::Unknown { expr: Some(text), why: "variables refer to each other too deeply".into() },
                None if name.starts_with("var.")
                    && name[4..].chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
                {
                    Val::Unknown {
                        expr: Some(text.clone()),
                        why: format!(
                            "{name} has no default here: it is set with -var or a .pkrvars.hcl file when building"
                        ),
                    }
                }
                None => Val::Unknown { expr: Some(text), why: "an expression Packer evaluates when building".into() },
            }
        }
    }
}

fn json_val(v: &Node, vars: &HashMap<String, String>) -> Val {
    let Some(text) = v.as_str() else { return Val::Other("a collection".into()) };
    if v.is_null() {
        return Val::Null;
    }
    if !text.contains("{{") {
        return Val::Str(text.to_string());
    }
    let inner = text.trim().strip_prefix("{{").and_then(|s| s.strip_suffix("}}")).map(str::trim);
    let user = inner.and_then(|s| s.strip_prefix("user")).map(|s| s.trim().trim_matches('`').trim_matches('"'));
    match user {
        Some(u) => match vars.get(u) {
            Some(d) if !d.contains("{{") => Val::Str(d.clone()),
            _ => Val::Unknown {
                expr: Some(text.to_string()),
                why: format!(
                    "user variable {u} has no literal default: it is set with -var or -var-file when building"
                ),
            },
        },
        None => Val::Unknown {
            expr: Some(text.to_string()),
            why: "a template function Packer evaluates when building".into(),
        },
    }
}
