//! Terraform configurations: module directories are expanded from each root (a directory
//! that no other checked directory calls as a local module) and every instance is checked.

pub mod built_images;
pub mod clouds;
pub mod eval;
#[cfg(test)]
mod eval_tests;
pub mod facts;
pub mod funcs;
pub mod lenient;
pub mod loader;
pub mod modules;
pub mod parse;
pub mod reading;
pub mod refs;
pub mod types;
pub mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::verdict::{Record, Unresolved, display_path};

/// What checking Terraform directories found: records (resources and parse errors) and the
/// module calls whose code was not on disk.
#[derive(Debug, Default)]
pub struct Checked {
    pub records: Vec<Record>,
    pub unresolved: Vec<Unresolved>,
}

/// Checks the given module directories; returns one record per resource instance and
/// parse-error records, and one note per module call that is not followed (a remote source
/// not installed).
pub fn check_dirs(dirs: &BTreeSet<PathBuf>) -> Checked {
    check_with(loader::Loader::default(), dirs, &[])
}

/// As [`check_dirs`], with the images Packer templates of the checked tree build: a resource
/// that boots one by name (`data "aws_ami"`) gets its `imds_support` as an AMI control.
pub fn check_dirs_with_images(dirs: &BTreeSet<PathBuf>, images: &[crate::fact::BuiltImage]) -> Checked {
    check_with(loader::Loader::default(), dirs, images)
}

/// Checks one Terraform file given as text (standard input) as a module of its own (its
/// local module calls have no directory to be found in and are reported).
pub fn check_text(name: &Path, text: &str) -> Checked {
    let mut loader = loader::Loader::default();
    match parse::parse_hcl(name, text) {
        Ok(body) => loader.preload(name, body),
        Err(e) => {
            return Checked {
                records: vec![Record::parse_error(e.file(), e.line(), e.message())],
                ..Checked::default()
            };
        }
    }
    check_with(loader, &BTreeSet::from([name.to_path_buf()]), &[])
}

fn check_with(mut loader: loader::Loader, dirs: &BTreeSet<PathBuf>, images: &[crate::fact::BuiltImage]) -> Checked {
    let dirs: BTreeSet<PathBuf> = dirs.iter().map(|d| loader::normalize(d)).collect();
    let mut children = BTreeSet::new();
    for d in &dirs {
        let body = loader.load(d);
        children.extend(loader::local_children(&body, d));
    }
    let mut records = Vec::new();
    for root in dirs.iter().filter(|d| !children.contains(*d)) {
        let vars: BTreeMap<_, _> = loader.tfvars(root);
        let mut instances = Vec::new();
        let mut chain = vec![(root.clone(), String::new())];
        modules::expand(&mut loader, root, &vars, BTreeMap::new(), "", &mut chain, &mut instances);
        let mut facts = facts::facts(&instances);
        if !images.is_empty() {
            built_images::link(&mut loader, &instances, &mut facts, images);
        }
        // Facts past the instances (linked images) get no record of their own.
        let outcomes = crate::rules::judge(&facts);
        for (inst, o) in instances.iter().zip(outcomes) {
            let Some(mut o) = o else { continue };
            if let Some(why) = &inst.expansion_unknown {
                o.reason.push_str(&format!(" [{why}; checked once for all instances]"));
            }
            records.push(o.into_record(display_path(&inst.block.file), inst.address.clone(), inst.rtype.clone()));
        }
    }
    // One note per call site, however many instances or roots reach it.
    let mut unresolved: Vec<Unresolved> = Vec::new();
    let mut sites = BTreeSet::new();
    for u in loader.unfollowed.drain(..) {
        if sites.insert((u.file.clone(), u.line)) {
            unresolved.push(Unresolved {
                file: display_path(&u.file),
                line: u.line,
                module: u.address,
                source: u.source,
                reason: u.reason,
            });
        }
    }
    unresolved.sort();
    // Directories only reachable as children of unchecked parents were still loaded above.
    for e in loader.errors.drain(..) {
        records.push(Record::parse_error(e.file(), e.line(), e.message()));
    }
    for p in loader.problems.drain(..) {
        records.push(Record::parse_error(&p.file, p.line, p.message));
    }
    Checked { records: dedup(records), unresolved }
}

/// A module called twice with identical addresses cannot happen, but the same parse error is
/// reported once even when several roots load the directory.
fn dedup(mut records: Vec<Record>) -> Vec<Record> {
    let mut seen = BTreeSet::new();
    records.retain(|r| seen.insert((r.file.clone(), r.line, r.resource.clone(), r.reason.clone())));
    records
}
