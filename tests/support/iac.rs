//! Helpers shared by the `iac` tests: run `imdswatch iac` on the fixtures under
//! tests/fixtures/iac and read its JSON records.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

pub const FIX: &str = "tests/fixtures/iac";

pub fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .arg("iac")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("run imdswatch: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// resource → (verdict, file, line) from `--format json`.
pub fn records(path: &str) -> (i32, BTreeMap<String, (String, String, u64)>, Value) {
    let (code, out) = run(&["--format", "json", path]);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("json: {e}\n{out}"));
    let mut map = BTreeMap::new();
    for r in doc["records"].as_array().unwrap_or_else(|| panic!("records")) {
        let key = match r["resource"].as_str() {
            Some("") | None => format!("ERROR {}", r["file"].as_str().unwrap_or_default()),
            Some(s) => s.to_string(),
        };
        let v = (
            r["verdict"].as_str().unwrap_or_default().to_string(),
            r["file"].as_str().unwrap_or_default().to_string(),
            r["line"].as_u64().unwrap_or(0),
        );
        assert!(map.insert(key.clone(), v).is_none(), "duplicate record {key}");
    }
    (code, map, doc)
}

/// The JSON record of one resource.
pub fn record(doc: &Value, resource: &str) -> Value {
    doc["records"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == resource))
        .cloned()
        .unwrap_or_else(|| panic!("no record for {resource}"))
}

/// Asserts the exact set of records: (resource, verdict, file suffix, line).
pub fn expect(path: &str, code: i32, want: &[(&str, &str, &str, u64)]) -> Value {
    let (got_code, got, doc) = records(path);
    for (res, verdict, file, line) in want {
        let Some((v, f, l)) = got.get(*res) else { panic!("{res} not reported; got {got:#?}") };
        assert_eq!((v.as_str(), *l), (*verdict, *line), "{res} ({f})");
        assert!(f.ends_with(file), "{res}: file {f} does not end with {file}");
    }
    assert_eq!(got.len(), want.len(), "unexpected extra records: {got:#?}");
    assert_eq!(got_code, code, "exit code for {path}");
    doc
}

/// (`compensated_by`, `inherited_from`) of one resource's JSON record.
pub fn provenance(doc: &Value, resource: &str) -> (Option<String>, Option<String>) {
    let r = record(doc, resource);
    let field = |k: &str| r.get(k).map(|v| v.as_str().unwrap_or_else(|| panic!("{resource}: {k} = {v}")).to_string());
    (field("compensated_by"), field("inherited_from"))
}

pub fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// (module, file suffix from `tests/fixtures/iac/`, line) of each module call not followed.
pub fn unresolved(doc: &Value) -> Vec<(String, String, u64)> {
    doc["unresolved"]
        .as_array()
        .map(|u| {
            u.iter()
                .map(|u| {
                    let file = u["file"].as_str().unwrap_or_default();
                    (
                        u["module"].as_str().unwrap_or_default().to_string(),
                        file.strip_prefix("tests/fixtures/iac/").unwrap_or(file).to_string(),
                        u["line"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
