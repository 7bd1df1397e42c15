//! The real captures in captures/ (recorded from curl and botocore against a mock IMDS in
//! network namespaces): the binary must find exactly the requests in each `.expected`.

mod support;

use std::path::Path;

use support::cli::{analyze, analyze_files};

fn expected(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read .expected")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Runs `analyze --format json` and returns `version method path status`, in request order.
fn requests(capture: &Path, extra: &[&str]) -> Vec<String> {
    let args: Vec<&str> = ["--format", "json", "--quiet"].into_iter().chain(extra.iter().copied()).collect();
    let out = analyze(&args, capture);
    assert!(out.success(), "{}: {}", capture.display(), out.stderr);
    let mut recs = out.json();
    // Records are written when answered; the files list them by request time.
    recs.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    recs.iter()
        .map(|r| {
            let i = &r["imds"];
            format!(
                "{} {} {} {}",
                // null: another cloud's protocol (no v1/v2 distinction).
                if i["version"].is_null() { "other" } else { i["version"].as_str().unwrap_or("?") },
                i["method"].as_str().unwrap_or("?"),
                i["path"].as_str().unwrap_or("?"),
                i["status"].as_u64().map_or("none".to_owned(), |s| s.to_string())
            )
        })
        .collect()
}

#[test]
fn every_bundled_capture_matches_its_expected_requests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("captures/") {
        let path = entry.expect("entry").path();
        let is_capture = matches!(path.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng"));
        if !is_capture {
            continue;
        }
        let exp_path = path.with_extension("expected");
        assert!(exp_path.exists(), "{} has no .expected", path.display());
        let extra: &[&str] =
            if path.to_string_lossy().contains("loopback") { &["--endpoint", "127.0.0.1:1338"] } else { &[] };
        assert_eq!(requests(&path, extra), expected(&exp_path), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} captures found");
}

#[test]
fn hop_limited_token_answer_that_never_arrived_is_unanswered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let out = analyze(&["--format", "json", "--quiet"], &dir.join("container-hop-limit.pcap"));
    let token: serde_json::Value =
        out.json().into_iter().find(|r| r["imds"]["version"] == "token_request").expect("a token request");
    assert_eq!(token["imds"]["outcome"], "no_response");
    assert_eq!(token["imds"]["answer_ttl"], 1, "the answer was seen with TTL 1 and never acknowledged");
    assert_eq!(token["network"]["client"].as_str().map(|c| c.starts_with("10.213.0.2:")), Some(true));
}

#[test]
fn no_secret_from_the_captures_reaches_any_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("captures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")))
        .collect();
    let asff = ["--format", "asff", "--aws-region", "eu-west-1", "--aws-account", "111122223333"];
    for args in [&["--format", "json"][..], &["--format", "table"], &asff, &["--format", "ocsf"]] {
        let format = args[1];
        let out = analyze_files(args, &files);
        let all = format!("{}{}", out.stdout, out.stderr);
        for marker in ["SECRET-TOKEN-", "SECRET-ACCESS-KEY-", "SECRET-SESSION-TOKEN-"] {
            assert!(!all.contains(marker), "{format} output leaks {marker}");
        }
        // Issue 28: the AccessKeyId of credentials handed out is shown (not a secret), so that
        // CloudTrail can be searched for it.
        assert!(all.contains("ASIAFAKEIMDSWATCH"), "{format} shows the AccessKeyId");
        let sign = match format {
            "json" | "ocsf" => "169.254.169.254",
            "table" => "would break: ",
            _ => "\"SchemaVersion\":\"2018-10-08\"",
        };
        assert!(all.contains(sign), "the {format} output is not empty: {all}");
    }
}
