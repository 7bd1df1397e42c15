//! Layers point one way (ARCHITECTURE.md): a module of the data path uses only the modules
//! before it, and the leaves. Read from the `crate::` paths in the source, so a new import
//! against the flow fails here, naming the file.

use std::path::Path;

/// The data path in order; each may use the ones before it.
const ORDER: &[&str] = &[
    "capture",
    "decode",
    "flow",
    "http",
    "classify",
    "engine",
    "verdict",
    "attribute",
    "sink",
    "ui",
    "analyze",
    "live",
    "cli",
];
/// Usable from anywhere.
const LEAVES: &[&str] = &["time", "endpoint", "event", "exit", "signals", "notify", "secret", "text", "bell", "sys"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules named by `crate::NAME` in `text`.
fn uses(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(at, _)| text[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect()
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    for (rank, module) in ORDER.iter().enumerate() {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "src/{module} has no files");
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            for used in uses(&text) {
                let allowed =
                    used == *module || LEAVES.contains(&used.as_str()) || ORDER[..rank].contains(&used.as_str());
                if !allowed {
                    bad.push(format!("{} uses crate::{used}", f.strip_prefix(&src).unwrap_or(&f).display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "imports against the data path:\n{}", bad.join("\n"));
}

#[test]
fn iac_is_its_own_crate_and_shares_nothing_with_the_packet_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(!root.join("src/iac").exists(), "src/iac is back: the IaC check lives in crates/iac");
    let manifest = std::fs::read_to_string(root.join("crates/iac/Cargo.toml")).expect("crates/iac/Cargo.toml");
    assert!(!manifest.contains("imdswatch ="), "the IaC crate depends on the packet path:\n{manifest}");
    let mut files = Vec::new();
    rust_files(&root.join("crates/iac/src"), &mut files);
    assert!(!files.is_empty(), "crates/iac/src has no files");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        assert!(!text.contains("imdswatch::"), "{} uses the imdswatch crate", f.display());
    }
}

/// The only `unsafe` code is in `src/sys/` (the system calls that need it): no other file
/// allows it or opens an `unsafe` block.
#[test]
fn unsafe_code_lives_only_in_sys() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let sys = src.join("sys");
    let mut bad = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&sys)) {
        let text = std::fs::read_to_string(f).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("allow(unsafe_code)") || code.contains("unsafe {") || code.contains("unsafe fn") {
                bad.push(format!("{}:{}", f.strip_prefix(&src).unwrap_or(f).display(), n + 1));
            }
        }
    }
    assert!(bad.is_empty(), "unsafe outside src/sys: {bad:?}");
}
