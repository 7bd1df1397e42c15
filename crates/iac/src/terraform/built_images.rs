//! Images that Packer templates of the checked tree build, linked to the Terraform resources
//! that boot them by name: `ami = data.aws_ami.NAME.id` (`image_id` for templates and launch
//! configurations) where that data source's `filter { name = "name", values = [...] }` is the
//! Packer `ami_name` (template parts such as `{{timestamp}}` or `${local.ts}` read as `*`, as
//! the filter's own wildcards). When every Packer build of that name sets
//! `imds_support = "v2.0"`, the AMI is a compensating control for the resource, through the
//! one rule (an `Image` fact, as an `aws_ami` with `imds_support`); a build without it, or a
//! name that is not a literal of at least three characters, links nothing (no silent pass).

use super::loader::Loader;
use super::modules::Instance;
use super::value::Value;
use crate::fact::{BuiltImage, Fact, FactKind, Syntax, name_pattern};
use crate::verdict::Fix;

/// Appends an image fact per linked build and adds it to the resource's images.
pub fn link(loader: &mut Loader, instances: &[Instance], facts: &mut Vec<Fact>, images: &[BuiltImage]) {
    for (i, inst) in instances.iter().enumerate() {
        let attr = match inst.rtype.as_str() {
            "aws_instance" | "aws_spot_instance_request" => "ami",
            "aws_launch_template" | "aws_launch_configuration" => "image_id",
            _ => continue,
        };
        let Some(a) = inst.block.body.attr(attr) else { continue };
        let text = a.expr.to_string();
        let Some(name) = data_ami(&text) else { continue };
        let Some(dir) = inst.block.file.parent() else { continue };
        let body = loader.load(dir);
        let Some(data) =
            body.blocks("data").find(|d| d.labels.len() == 2 && d.labels[0] == "aws_ami" && d.labels[1] == name)
        else {
            continue;
        };
        let env = inst.env();
        let is_name = |f: &&super::parse::TBlock| {
            f.body.attr("name").is_some_and(|n| env.eval(&n.expr) == Value::String("name".into()))
        };
        let patterns: Vec<String> = data
            .body
            .blocks("filter")
            .filter(is_name)
            .filter_map(|f| f.body.attr("values"))
            .flat_map(|v| match env.eval(&v.expr) {
                Value::List(l) => l,
                other => vec![other],
            })
            .filter_map(|v| match v {
                Value::String(s) => Some(name_pattern(&s)),
                _ => None,
            })
            .collect();
        let matched: Vec<&BuiltImage> =
            images.iter().filter(|b| literal_len(&b.pattern) >= 3 && patterns.contains(&b.pattern)).collect();
        let Some(first) = matched.first() else { continue };
        if !matched.iter().all(|b| b.v2) {
            continue;
        }
        let idx = facts.len();
        facts.push(Fact {
            address: format!(
                "{} ({}:{}, ami_name matched by data.aws_ami.{name})",
                first.address, first.file, first.line
            ),
            file: first.file.clone(),
            line: first.line,
            syntax: Syntax::Tool(crate::tools::Tool::Packer),
            block: None,
            default_required: false,
            fix: Fix::MakeKnown,
            kind: FactKind::Image { v2: true },
        });
        if let Some(FactKind::Launcher { image, .. }) = facts.get_mut(i).map(|f| &mut f.kind) {
            image.push(idx);
        }
    }
}

/// `NAME` of `data.aws_ami.NAME.id` / `.image_id`.
fn data_ami(text: &str) -> Option<&str> {
    let rest = text.trim().strip_prefix("data.aws_ami.")?;
    let (name, attr) = rest.split_once('.')?;
    (matches!(attr, "id" | "image_id") && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
        .then_some(name)
}

/// The longest run of literal characters in a pattern.
fn literal_len(p: &str) -> usize {
    p.split('*').map(str::len).max().unwrap_or(0)
}
