//! Issue 27, items 2 and 9: the table of `analyze --format table` and the closing `verdict`
//! record of `analyze --format json` tell the same V2 count per client (the table counted
//! other clouds' hardened-form probes as IMDSv2: `cloud-probe/1` showed V2 2 while the JSON
//! said v2 0, other_providers 4). The dashboard's column is checked in tests/tui_render.rs.

use std::process::Command;

use serde_json::Value;

const VERDICTS: [&str; 6] = ["ready", "hop_limit", "proxy_refused", "falls_back", "breaks", "probe_only"];

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run imdswatch");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn table_and_json_agree_on_v2_per_client() {
    for capture in ["captures/verdicts.pcap", "captures/services.pcap", "captures/botocore-v2.pcapng"] {
        let table = run(&["analyze", "--format", "table", capture]);
        let json = run(&["analyze", "--format", "json", capture]);
        let verdict: Value = json
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["type"] == "verdict")
            .unwrap_or_else(|| panic!("{capture}: no verdict record"));
        let clients = verdict["clients"].as_array().expect("clients");
        assert!(!clients.is_empty(), "{capture}");
        for c in clients {
            let client = c["client"].as_str().expect("client");
            let ua = c["user_agent"].as_str().unwrap_or("-");
            let prefix: String = ua.chars().take(20).collect();
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("{client} ")) && l.contains(&prefix))
                .unwrap_or_else(|| panic!("{capture}: no table row for {client} {ua}:\n{table}"));
            let cols: Vec<&str> = row.split_whitespace().collect();
            let vi = cols.iter().rposition(|t| VERDICTS.contains(t)).expect("verdict column");
            // V1 V2 TOKEN CREDS-V1 REJECTED UNANSWERED VERDICT
            let v2: u64 = cols[vi - 5].parse().expect("V2 count");
            assert_eq!(v2, c["v2"].as_u64().expect("v2"), "{capture}: {client} {ua}: table V2 vs JSON v2\n{row}");
        }
    }
}
