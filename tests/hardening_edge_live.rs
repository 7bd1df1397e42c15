//! Issue 23, live: classes 1 and 7 against a real Linux server in the namespace topology
//! (captures/netns.sh; the metadata address exists only there, where the mock answers). The
//! truth is the mock's own count of what it served. Needs root and `ip netns`; skips with a
//! printed reason otherwise.

#[path = "support/host.rs"]
mod host;
#[path = "support/live.rs"]
mod live;

use live::{Monitor, Topology, cannot_run, requests, run_client, serial};
use serde_json::Value;

const KEY: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYLIVEKEYVALUE";

/// Class 1: credential fetches carrying another cloud's header, served 200 by the server at
/// 169.254.169.254, are AWS v1 credential fetches (before: azure/gcp/ibm/oci probes, or v2
/// alibaba, and "safe to enforce"). Class 7: the secret key in any spelling on a client's
/// command line is redacted in its record.
#[test]
fn live_other_clouds_headers_on_served_v1_and_secret_keys_on_the_command_line() {
    let test = "live_other_clouds_headers_on_served_v1_and_secret_keys_on_the_command_line";
    let _serial = serial();
    if let Some(why) = cannot_run("h23") {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut topo = Topology::up("h23");
    let counts = tmp.path().join("mock-counts.json");
    topo.start_mock(&counts, &[]);
    let out = tmp.path().join("live.ndjson");
    let mut mon = Monitor::start(&topo, &out, &[]);
    let headers = [
        "Metadata: true",
        "Metadata-Flavor: Google",
        "Metadata-Flavor: ibm",
        "Authorization: Bearer Oracle",
        "X-aliyun-ecs-metadata-token: x",
    ];
    for h in headers {
        let mut c = topo.exec("host");
        c.args(["curl", "-s", "--max-time", "5", "-A", "sneaky/1", "-H", h]);
        c.arg("http://169.254.169.254/latest/meta-data/iam/security-credentials/imdswatch-test-role");
        let (_, o) = run_client(c);
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("AccessKeyId"), "{h}: {o:?}");
    }
    // A client whose command line carries the secret key in each spelling (Python keeps its
    // extra arguments in sys.argv), lingering so that it is named.
    let code = "import urllib.request,time\nurllib.request.urlopen('http://169.254.169.254/latest/meta-data/instance-id',timeout=5).read()\ntime.sleep(0.5)";
    let mut c = topo.exec("host");
    c.args(["python3", "-c", code, "--secret-key", KEY]);
    c.arg(format!("AWS_SECRET_KEY={KEY}"))
        .arg(format!("--secret_key={KEY}"))
        .arg(format!("{{\"SecretAccessKey\":\"{KEY}\"}}"))
        .arg(format!("SecretAccessKey={KEY}"))
        .arg(format!("secretAccessKey: {KEY}"));
    let (py_pid, o) = run_client(c);
    assert!(o.status.success(), "python client: {o:?}");
    let (recs, _) = mon.stop();
    topo.stop_mock();

    // The truth: what the server read and answered.
    let served: Value = serde_json::from_str(&std::fs::read_to_string(&counts).expect("mock counts")).expect("JSON");
    assert_eq!(served["v1"], headers.len() + 1, "{served}");
    assert_eq!(served["by_status"]["200"], headers.len() + 1, "{served}");

    let reqs = requests(&recs);
    let sneaky: Vec<&&Value> = reqs.iter().filter(|r| r["imds"]["user_agent"] == "sneaky/1").collect();
    assert_eq!(sneaky.len(), headers.len(), "{recs:#?}");
    for r in &sneaky {
        let i = &r["imds"];
        assert_eq!(
            (&i["version"], &i["service"], &i["credentials"]),
            (&"v1".into(), &"ec2_imds".into(), &true.into()),
            "{r}"
        );
    }
    let stats = recs.iter().rev().find(|r| r["type"] == "stats").expect("a stats record");
    assert_eq!(stats["verdict"]["safe_to_enforce"], false, "{stats}");

    let all: String = recs.iter().map(Value::to_string).collect();
    assert!(!all.contains(KEY), "the secret key left in a record");
    let py = reqs.iter().find(|r| r["process"]["pid"] == py_pid).expect("the python client's record, attributed");
    let cmd = py["process"]["cmdline"].as_str().unwrap_or("");
    assert_eq!(cmd.matches("[REDACTED]").count(), 6, "{cmd}");
}
