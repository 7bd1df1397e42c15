//! Finds the files to check: walks directories (skipping `.terraform/` and `.git/`; symlinked
//! directories are followed, each real directory once, so a link back up the tree ends there)
//! and sorts files into Terraform module directories and single documents.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DiscoverError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Directories holding `.tf` / `.tf.json` files (each one a Terraform module).
    pub tf_dirs: BTreeSet<PathBuf>,
    /// Standalone `.json`, `.yaml`, `.yml`, `.template` files: CloudFormation or plan JSON.
    pub documents: BTreeSet<PathBuf>,
    /// Source files that may be AWS CDK apps (`.ts`, `.py`), outside dependency directories.
    pub sources: BTreeSet<PathBuf>,
    /// Paths that could not be read.
    pub errors: Vec<DiscoverError>,
}

const SKIP_DIRS: &[&str] = &[".terraform", ".git"];
/// Directories of installed dependencies: their `.ts`/`.py` files are not the app's CDK source.
const DEPENDENCY_DIRS: &[&str] = &["node_modules", ".venv", "venv", "site-packages", "cdk.out", "__pycache__"];
/// Guard against absurd trees; real repositories are far shallower.
const MAX_WALK_DEPTH: usize = 64;

pub fn is_tf_file(name: &str) -> bool {
    name.ends_with(".tf") || name.ends_with(".tf.json")
}

fn is_document(name: &str) -> bool {
    !name.ends_with(".tf.json")
        && !name.ends_with(".tfvars.json")
        && [".json", ".yaml", ".yml", ".template"].iter().any(|ext| name.ends_with(ext))
}

pub fn discover(paths: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs::default();
    let mut seen = HashSet::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, 0, false, &mut seen, &mut inputs),
            Ok(_) => add_file(p, true, false, &mut inputs),
            Err(source) => inputs.errors.push(DiscoverError::Io { path: super::verdict::display_path(p), source }),
        }
    }
    inputs
}

/// `in_deps`: the file is under a dependency directory of the walk (not of the path given).
fn add_file(p: &Path, explicit: bool, in_deps: bool, inputs: &mut Inputs) {
    let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    if is_tf_file(&name) {
        let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
        inputs.tf_dirs.insert(if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir });
    } else if crate::tools::cdk::is_source(&name) {
        if !in_deps {
            inputs.sources.insert(p.to_path_buf());
        }
    } else if is_document(&name) || crate::tools::packer::is_hcl(&name) || explicit {
        inputs.documents.insert(p.to_path_buf());
    }
}

/// Walks `dir` unless its real path was walked already (`seen`: loops through symlinks end).
fn walk(dir: &Path, depth: usize, in_deps: bool, seen: &mut HashSet<PathBuf>, inputs: &mut Inputs) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match std::fs::canonicalize(dir) {
        Ok(real) => {
            if !seen.insert(real) {
                return;
            }
        }
        Err(source) => {
            inputs.errors.push(DiscoverError::Io { path: super::verdict::display_path(dir), source });
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            inputs.errors.push(DiscoverError::Io { path: super::verdict::display_path(dir), source });
            return;
        }
    };
    let mut paths: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            // file_type() does not follow symlinks; a symlink counts as what it points to.
            let ft = e.file_type().ok()?;
            let is_dir = ft.is_dir() || (ft.is_symlink() && e.path().is_dir());
            let is_file = ft.is_file() || (ft.is_symlink() && e.path().is_file());
            (is_dir || is_file).then(|| (e.path(), is_dir))
        })
        .collect();
    paths.sort();
    for (p, is_dir) in paths {
        let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if is_dir {
            if !SKIP_DIRS.contains(&name.as_str()) {
                let deps = in_deps || DEPENDENCY_DIRS.contains(&name.as_str());
                walk(&p, depth + 1, deps, seen, inputs);
            }
        } else {
            add_file(&p, false, in_deps, inputs);
        }
    }
}
