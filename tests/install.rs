//! Issue 27, item 3: `cargo install --locked --path .` works on the declared `rust-version`.
//! Only one toolchain is installed here, so this checks the declaration against the locked
//! graph instead: no locked crate (any platform, dev-dependencies included) asks for a newer
//! Rust than the workspace's `rust-version` (before: 1.85 declared, ratatui 0.30.2 locked,
//! which needs 1.88). And the release profile strips its binary, while the `profiling`
//! profile keeps symbols.

use std::process::Command;

use serde_json::Value;

fn version(s: &str) -> (u64, u64, u64) {
    let mut it = s.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[test]
fn rust_version_covers_every_locked_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // Offline with crates never downloaded here (other platforms' dependencies).
        if err.contains("offline") || err.contains("download") {
            eprintln!("SKIPPED rust_version_covers_every_locked_crate: cargo metadata needs the network: {err}");
            return;
        }
        panic!("cargo metadata --locked failed (Cargo.lock out of date?): {err}");
    }
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let members: Vec<&str> =
        meta["workspace_members"].as_array().expect("members").iter().filter_map(Value::as_str).collect();
    let packages = meta["packages"].as_array().expect("packages");
    let declared: Vec<(u64, u64, u64)> = packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or("")))
        .map(|p| version(p["rust_version"].as_str().expect("every workspace member declares rust-version")))
        .collect();
    let msrv = declared[0];
    assert!(declared.iter().all(|d| *d == msrv), "members disagree: {declared:?}");
    let mut newer: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            (version(rv) > msrv).then(|| format!("{} {} needs {rv}", p["name"], p["version"]))
        })
        .collect();
    newer.sort();
    assert!(
        newer.is_empty(),
        "rust-version {}.{}.{} is not true for the locked graph: {newer:?}",
        msrv.0,
        msrv.1,
        msrv.2
    );
    assert!(packages.len() > 50, "the locked graph: {} packages", packages.len());
}

#[test]
fn release_is_stripped_and_profiling_keeps_symbols() {
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).expect("Cargo.toml");
    let section = |name: &str| -> String {
        let start = toml.find(&format!("[profile.{name}]")).unwrap_or_else(|| panic!("no [profile.{name}]"));
        let rest = &toml[start..];
        let end = rest[1..].find("\n[").map_or(rest.len(), |e| e + 1);
        rest[..end].to_string()
    };
    let release = section("release");
    assert!(release.contains("strip = \"symbols\""), "{release}");
    assert!(release.contains("debug = false"), "{release}");
    let profiling = section("profiling");
    assert!(profiling.contains("inherits = \"release\"") && profiling.contains("strip = \"none\""), "{profiling}");
}
