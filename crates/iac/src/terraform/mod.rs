//! Terraform configurations: module directories are expanded from each root (a directory
//! that no other checked directory calls as a local module) and every instance is checked.

pub mod clouds;
pub mod eval;
#[cfg(test)]
mod eval_tests;
pub mod facts;
pub mod funcs;
pub mod modules;
pub mod parse;
pub mod refs;
pub mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::verdict::{Fix, Record, Verdict, display_path};

/// Checks the given module directories; returns one record per resource instance, one
/// `unknown` record per module call that is not followed (non-local source), plus
/// parse-error records.
pub fn check_dirs(dirs: &BTreeSet<PathBuf>) -> Vec<Record> {
    check_with(modules::Loader::default(), dirs)
}

/// Checks one Terraform file given as text (standard input) as a module of its own (its
/// local module calls have no directory to be found in and are reported).
pub fn check_text(name: &Path, text: &str) -> Vec<Record> {
    let mut loader = modules::Loader::default();
    match parse::parse_hcl(name, text) {
        Ok(body) => loader.preload(name, body),
        Err(e) => return vec![Record::parse_error(e.file(), e.line(), e.message())],
    }
    check_with(loader, &BTreeSet::from([name.to_path_buf()]))
}

fn check_with(mut loader: modules::Loader, dirs: &BTreeSet<PathBuf>) -> Vec<Record> {
    let dirs: BTreeSet<PathBuf> = dirs.iter().map(|d| modules::normalize(d)).collect();
    let mut children = BTreeSet::new();
    for d in &dirs {
        let body = loader.load(d);
        children.extend(modules::local_children(&body, d));
    }
    let mut records = Vec::new();
    for root in dirs.iter().filter(|d| !children.contains(*d)) {
        let vars: BTreeMap<_, _> = loader.tfvars(root);
        loader.read_manifest(root);
        let mut instances = Vec::new();
        let mut stack = vec![root.clone()];
        modules::expand(&mut loader, root, &vars, BTreeMap::new(), "", &mut stack, &mut instances);
        let outcomes = crate::rules::judge(&facts::facts(&instances));
        for (inst, o) in instances.iter().zip(outcomes) {
            let Some(mut o) = o else { continue };
            if let Some(why) = &inst.expansion_unknown {
                o.reason.push_str(&format!(" [{why}; checked once for all instances]"));
            }
            records.push(o.into_record(display_path(&inst.block.file), inst.address.clone(), inst.rtype.clone()));
        }
    }
    for u in loader.unfollowed.drain(..) {
        records.push(Record {
            file: display_path(&u.file),
            line: u.line,
            resource: u.address,
            rtype: "module".to_string(),
            verdict: Verdict::Unknown,
            reason: u.reason,
            compensated_by: None,
            inherited_from: None,
            fix: Some(Fix::CheckPlan),
        });
    }
    // Directories only reachable as children of unchecked parents were still loaded above.
    for e in loader.errors.drain(..) {
        records.push(Record::parse_error(e.file(), e.line(), e.message()));
    }
    for p in loader.problems.drain(..) {
        records.push(Record::parse_error(&p.file, p.line, p.message));
    }
    dedup(records)
}

/// A module called twice with identical addresses cannot happen, but the same parse error is
/// reported once even when several roots load the directory.
fn dedup(mut records: Vec<Record>) -> Vec<Record> {
    let mut seen = BTreeSet::new();
    records.retain(|r| seen.insert((r.file.clone(), r.line, r.resource.clone(), r.reason.clone())));
    records
}
