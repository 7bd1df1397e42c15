//! The harness of tests/clients_real.rs (issue 24): a real client in the test namespaces
//! under `imdswatch live`, what it sent, and the record in captures/clients/observed/.
//! Included with `#[path = "support/clients.rs"] mod clients;` after `mod host;` and `mod live;`.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::host::root;
use crate::live::{Monitor, Topology, cannot_run, requests, run_client, serial, summary_of};

/// One real client in one situation.
pub struct Case {
    /// Shown in the record and docs/client-catalogue.md.
    client: &'static str,
    /// The lab part it needs (captures/.clients/PART.ok), or `deb-PACKAGE`.
    part: &'static str,
    /// `host` (the answer's TTL 1 arrives) or `ctr` (one routed hop: it dies).
    ns: &'static str,
    tokens: &'static str,
    cmd: Vec<String>,
    /// Catalogue rows that may name it (the first is the one expected; a second is allowed
    /// when a short-lived process may go unnamed and the user agent names it instead).
    products: &'static [&'static str],
    verdict: &'static str,
    advice: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Observed {
    client: String,
    ns: String,
    tokens: String,
    user_agents: Vec<String>,
    requests: Vec<String>,
    verdict: String,
    product_id: String,
    version: Option<String>,
    fixed_in: Option<String>,
    advice_kind: String,
    advice: String,
}

pub fn lab() -> PathBuf {
    root().join("captures/.clients")
}

pub fn script(name: &str) -> String {
    root().join("captures/clients/real").join(name).display().to_string()
}

pub fn py(part: &str, mode: &str) -> Vec<String> {
    vec![lab().join(part).join("bin/python").display().to_string(), script("real_python.py"), mode.into()]
}

pub fn node(part: &str, mode: &str) -> Vec<String> {
    vec![
        "node".into(),
        script("real_node.js"),
        mode.into(),
        lab().join(part).join("node_modules").display().to_string(),
    ]
}

pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

/// Why a lab part is missing, if it is.
fn missing(part: &str) -> Option<String> {
    if let Some(pkg) = part.strip_prefix("deb-") {
        let ok = Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]).output();
        return match ok {
            Ok(o) if String::from_utf8_lossy(&o.stdout).contains("install ok installed") => None,
            _ => Some(format!("Debian package {pkg} not installed (scripts/clients-lab.sh debian)")),
        };
    }
    if lab().join(format!("{part}.ok")).exists() {
        return None;
    }
    let why = std::fs::read_to_string(lab().join(format!("{part}.skip"))).unwrap_or_default();
    Some(format!("lab part {part} missing: {} (run scripts/clients-lab.sh)", why.trim()))
}

fn run_case(t: &Topology, c: &Case, tmp: &Path, n: usize) -> Observed {
    let out = tmp.join(format!("case{n}.ndjson"));
    let mut mon = Monitor::start(t, &out, &[]);
    let mut cmd = t.exec(c.ns);
    let home = tmp.join("home");
    let _ = std::fs::create_dir_all(&home);
    cmd.arg("env")
        .arg("-i")
        .arg("PATH=/usr/local/bin:/usr/bin:/bin")
        .arg(format!("HOME={}", home.display()))
        .args([
            "AWS_CONFIG_FILE=/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
            "AWS_DEFAULT_REGION=us-east-1",
        ])
        .args(&c.cmd);
    let (_, o) = run_client(cmd);
    let (recs, _) = mon.stop();
    let mut reqs: Vec<&Value> = requests(&recs);
    reqs.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    // The kernel release in a user agent is this machine's, not the client's: recorded as
    // `Linux/<kernel>`.
    let kernel = |ua: &str| -> String {
        ua.split(' ').map(|w| if w.starts_with("Linux/") { "Linux/<kernel>" } else { w }).collect::<Vec<_>>().join(" ")
    };
    let mut uas: Vec<String> =
        reqs.iter().map(|r| r["imds"]["user_agent"].as_str().map_or("(none)".to_owned(), kernel)).collect();
    uas.sort();
    uas.dedup();
    let mut seq: Vec<String> = Vec::new();
    for r in &reqs {
        let s = summary_of(r);
        if !seq.contains(&s) {
            seq.push(s);
        }
    }
    assert!(
        !reqs.is_empty(),
        "{}: no request seen; client said: {} {}",
        c.client,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let verdict = recs.iter().rev().find(|r| r["type"] == "verdict").expect("a verdict record");
    let clients = verdict["clients"].as_array().cloned().unwrap_or_default();
    // The client the case is about: the one a catalogue row names as expected, else the first.
    let pick = clients
        .iter()
        .find(|x| c.products.iter().any(|p| x["product_id"] == *p))
        .or(clients.first())
        .cloned()
        .unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    Observed {
        client: c.client.into(),
        ns: c.ns.into(),
        tokens: c.tokens.into(),
        user_agents: uas,
        requests: seq,
        verdict: s(&pick["verdict"]),
        product_id: s(&pick["product_id"]),
        version: pick["version"].as_str().map(str::to_owned),
        fixed_in: pick["fixed_in"].as_str().map(str::to_owned),
        advice_kind: s(&pick["advice_details"][0]["kind"]),
        advice: s(&pick["advice_details"][0]["title"]),
    }
}

/// Runs the cases (grouped by the mock's token mode), checks each, and compares or writes
/// the record `captures/clients/observed/NAME.json`.
pub fn run(name: &str, cases: Vec<Case>) {
    if let Some(why) = cannot_run(name) {
        println!("SKIPPED {name}: {why}");
        return;
    }
    let _g = serial();
    let mut runnable = Vec::new();
    for c in cases {
        match missing(c.part) {
            Some(why) => println!("SKIPPED {name}: {} not installed: {why}", c.client),
            None => runnable.push(c),
        }
    }
    if runnable.is_empty() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut seen = Vec::new();
    // `token405`: tokens optional, every token request answered 405 (a refused token endpoint).
    for (mode, mock) in [
        ("optional", &["--tokens", "optional"][..]),
        ("required", &["--tokens", "required"][..]),
        ("token405", &["--tokens", "optional", "--token-status", "405"][..]),
    ] {
        let group: Vec<&Case> = runnable.iter().filter(|c| c.tokens == mode).collect();
        if group.is_empty() {
            continue;
        }
        let mut t = Topology::up(&format!("cl{}", &mode[..1]));
        t.start_mock(&tmp.path().join(format!("counts-{mode}.json")), mock);
        for c in group {
            let o = run_case(&t, c, tmp.path(), seen.len());
            eprintln!("{name}: {o:?}");
            assert!(
                c.products.contains(&o.product_id.as_str()),
                "{}: named {:?}, want {:?}: {o:?}",
                c.client,
                o.product_id,
                c.products
            );
            assert_eq!((o.verdict.as_str(), o.advice_kind.as_str()), (c.verdict, c.advice), "{}: {o:?}", c.client);
            seen.push(o);
        }
    }
    let file = root().join("captures/clients/observed").join(format!("{name}.json"));
    if std::env::var_os("IMDSWATCH_RECORD_CLIENTS").is_some() {
        std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
        std::fs::write(&file, serde_json::to_string_pretty(&seen).expect("json") + "\n").expect("write the record");
        return;
    }
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let recorded: Vec<Observed> = serde_json::from_str(&text).expect("the record parses");
    for o in &seen {
        let r = recorded
            .iter()
            .find(|r| (&r.client, &r.ns, &r.tokens) == (&o.client, &o.ns, &o.tokens))
            .unwrap_or_else(|| panic!("{} not in {}: rerun with IMDSWATCH_RECORD_CLIENTS=1", o.client, file.display()));
        // What the client sent is what the record (and docs/client-catalogue.md) says.
        assert_eq!(
            (&o.user_agents, &o.requests),
            (&r.user_agents, &r.requests),
            "{}: drifted from {}",
            o.client,
            file.display()
        );
    }
}

#[allow(clippy::too_many_arguments)] // one line per case reads best in the table below
pub fn case(
    client: &'static str,
    part: &'static str,
    ns: &'static str,
    tokens: &'static str,
    cmd: Vec<String>,
    products: &'static [&'static str],
    verdict: &'static str,
    advice: &'static str,
) -> Case {
    Case { client, part, ns, tokens, cmd, products, verdict, advice }
}
