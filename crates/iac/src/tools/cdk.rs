//! AWS CDK source, best effort (TypeScript `.ts`, Python `.py` files that import
//! `aws-cdk-lib` / `aws_cdk`): each `ec2.Instance` and `ec2.LaunchTemplate` construct.
//!
//! The synthesized templates (`cdk.out/*.template.json`, `assembly-*/`, `*.nested.template.json`)
//! are CloudFormation and are what AWS deploys: they are checked as CloudFormation and are
//! authoritative, because Aspects (`InstanceRequireImdsv2Aspect`,
//! `LaunchTemplateRequireImdsv2Aspect`), feature flags and L2 defaults exist only after synth.
//! From source, `requireImdsv2: true` (`require_imdsv2=True`) on the construct passes (CDK then
//! writes a launch template with `HttpTokens: required`; aws-cdk-lib `aws-ec2` `InstanceProps`
//! / `LaunchTemplateProps.requireImdsv2`, "default: false"), as does an Aspect added in the same
//! file; anything else is unknown, with the reason: the construct's default leaves metadata
//! options unset (EC2's default, `optional`) unless an Aspect elsewhere sets them.

use super::{Item, Tool, launcher, set};
use crate::fact::{Options, Own, Val};
use crate::verdict::{Fix, Record};

/// Source files larger than this are not read (generated bundles, not CDK apps).
pub const MAX_SOURCE_BYTES: u64 = 4 << 20;
/// Characters of a constructor call read for its props.
const MAX_CALL: usize = 20_000;
/// Constructor calls read per file (each reads at most `MAX_CALL` characters); more are one
/// `unknown` record that says how many were not read.
const MAX_CONSTRUCTS: usize = 2_000;

pub fn is_source(name: &str) -> bool {
    (name.ends_with(".ts") && !name.ends_with(".d.ts")) || name.ends_with(".py")
}

/// A CDK app's source: `None` when it does not import the CDK or creates no judged construct.
pub fn check(file: &str, text: &str) -> Option<Vec<Record>> {
    let python = file.ends_with(".py");
    let imports = text.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("import ") || l.starts_with("from ") || l.contains("require("))
            && ["aws-cdk-lib", "@aws-cdk/aws-ec2", "aws_cdk"].iter().any(|m| l.contains(m))
    });
    if !imports {
        return None;
    }
    let mut items = Vec::new();
    let mut skipped = 0usize;
    for (construct, aspect) in
        [("Instance", "InstanceRequireImdsv2Aspect"), ("LaunchTemplate", "LaunchTemplateRequireImdsv2Aspect")]
    {
        let needle = format!("{construct}(");
        let mut from = 0;
        while let Some(pos) = text[from..].find(&needle).map(|p| p + from) {
            from = pos + needle.len();
            if items.len() >= MAX_CONSTRUCTS {
                skipped += 1;
                continue;
            }
            let before = text[..pos].chars().next_back();
            if !matches!(before, Some('.' | ' ' | '\t' | '(' | '=')) {
                continue;
            }
            let head = text[..pos].trim_end_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
            if head.ends_with("def ") || head.ends_with("class ") {
                continue;
            }
            if !python
                && !text[..pos]
                    .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '.')
                    .ends_with("new ")
            {
                continue;
            }
            let line = text[..pos].matches('\n').count() + 1;
            let args = call_args(&text[pos + needle.len() - 1..]);
            let id = construct_id(args).unwrap_or_else(|| format!("{construct}@{line}"));
            let own = own(args, text.contains(aspect), aspect, python, line);
            let fix = set("the construct's props", if python { "require_imdsv2=True" } else { "requireImdsv2: true" });
            let fact = launcher(Tool::Cdk, id, file, line, own, fix);
            items.push(Item::new(fact, format!("cdk/ec2.{construct}")));
        }
    }
    if skipped > 0 {
        let why =
            format!("{skipped} more Instance( / LaunchTemplate( calls past the first {MAX_CONSTRUCTS} were not read");
        let fact = launcher(Tool::Cdk, "(not read)".into(), file, 1, Own::Unknown { why, line: 1 }, Fix::MakeKnown);
        items.push(Item::new(fact, "cdk/ec2.Instance".into()));
    }
    (!items.is_empty()).then(|| super::records(items))
}

/// The text of a call's arguments, from its `(` to the matching `)` (bounded).
fn call_args(s: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in s.char_indices().take(MAX_CALL) {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    &s[..s.char_indices().nth(MAX_CALL).map_or(s.len(), |(i, _)| i)]
}

/// The construct id: the first string literal after the scope argument.
fn construct_id(args: &str) -> Option<String> {
    let rest = &args[args.find(',')? + 1..];
    let rest = rest.trim_start();
    let q = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`'))?;
    let end = rest[1..].find(q)?;
    Some(rest[1..=end].to_string())
}

/// The word after `key:` / `key=` in the props (`true`, `HttpTokens.REQUIRED` → `REQUIRED`).
fn prop(args: &str, key: &str) -> Option<String> {
    let p = args.find(key)?;
    let rest = args[p + key.len()..].trim_start_matches([' ', ':', '=', '\t']);
    let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '_').collect();
    Some(word.rsplit('.').next().unwrap_or_default().to_string())
}

fn own(args: &str, aspect_here: bool, aspect: &str, python: bool, line: usize) -> Own {
    let (key, tokens, endpoint) = if python {
        ("require_imdsv2", "http_tokens", "http_endpoint")
    } else {
        ("requireImdsv2", "httpTokens", "httpEndpoint")
    };
    let required = |via: String| {
        Own::Block(Options {
            endpoint: Val::Absent,
            tokens: Val::Str("required".into()),
            via: Some(via),
            line,
            empty: false,
        })
    };
    let value = prop(args, key);
    match (value.as_deref(), prop(args, tokens).as_deref(), prop(args, endpoint).as_deref()) {
        (Some("true" | "True"), ..) => required(format!("{key}: true")),
        (_, Some("REQUIRED"), _) => required(format!("{tokens}: HttpTokens.REQUIRED")),
        (.., Some("false" | "False")) => Own::Block(Options {
            endpoint: Val::Str("disabled".into()),
            tokens: Val::Absent,
            via: None,
            line,
            empty: false,
        }),
        _ if aspect_here => required(format!("{aspect} added in this file (best effort: check cdk.out)")),
        (Some(v), ..) => Own::Unknown {
            why: format!(
                "{key} is {v} in source; an Aspect or a value elsewhere may change it, and only the synthesized template (cdk.out) is authoritative"
            ),
            line,
        },
        (None, Some(t), _) => Own::Unknown {
            why: format!(
                "{tokens} is {t} in source; an Aspect elsewhere may change it, and only the synthesized template (cdk.out) is authoritative"
            ),
            line,
        },
        _ => Own::Unknown {
            why: format!(
                "{key} is not set here: the construct leaves metadata options unset (EC2 default optional) unless an Aspect ({aspect}) elsewhere sets them; only the synthesized template (cdk.out) is authoritative"
            ),
            line,
        },
    }
}
