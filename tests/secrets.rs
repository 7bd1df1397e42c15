//! No secret leaves imdswatch: a capture full of real-looking token and credential answers,
//! with every secret value marked, goes through every output (NDJSON, the table, the stderr
//! summary and warnings, error messages, the dashboard in every view) and no marker may
//! appear in any of them.

mod support;

use std::path::{Path, PathBuf};

use imdswatch::event::{RequestCounts, StatsRecord};
use imdswatch::ui::{Action, App, UiEvent, UiMode, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::pcapfile::*;
use support::*;

/// Every secret value below contains one of these. The AccessKeyId (`ASIAKEYID...`) is not a
/// secret: issue 28 shows it (and the role) so that CloudTrail can be searched for the key.
const MARKERS: [&str; 3] = ["MARK-TOKEN", "MARK-SECRET", "MARK-SESSION"];

/// Every output format of `analyze` (issue 28 added asff and ocsf); asff needs its account.
const FORMATS: [&[&str]; 4] = [
    &["--format", "json"],
    &["--format", "table"],
    &["--format", "asff", "--aws-region", "eu-west-1", "--aws-account", "111122223333"],
    &["--format", "ocsf"],
];

const TOKEN: &str = "MARK-TOKEN-AQAEAFxJ3o8bqG2nXkTmQ4wEqZ7VbR1cYsLpO9uAaDfGhJkL==";

fn token_answer() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\nContent-Length: {}\r\nServer: EC2ws\r\n\r\n{TOKEN}",
        TOKEN.len()
    )
    .into_bytes()
}

fn credentials_answer(n: u32) -> Vec<u8> {
    let body = format!(
        "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2024-01-01T00:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n  \
         \"AccessKeyId\" : \"ASIAKEYID{n:011}\",\n  \"SecretAccessKey\" : \"MARK-SECRET-wJalrXUtnFEMI/K7MDENG/bPxRfiCY{n}\",\n  \
         \"Token\" : \"MARK-SESSION-IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD{n}\",\n  \
         \"Expiration\" : \"2024-01-01T06:00:00Z\"\n}}"
    );
    format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn v2_get(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: Botocore/1.35.0\r\nX-aws-ec2-metadata-token: {TOKEN}\r\n\r\n"
    )
    .into_bytes()
}

/// A v2 client (token, then credentials with the token), a v1 client reading credentials in
/// pieces, and a chunked credentials answer.
fn conversations() -> Vec<Conv> {
    let role = "/latest/meta-data/iam/security-credentials/app-role";
    let mut a = Conv::new(CLIENT, IMDS, 1000, 5000);
    a.handshake();
    a.client(PUT_TOKEN);
    a.server(&token_answer());
    a.client(&v2_get(role));
    a.server(&credentials_answer(1));
    // The token also rides on a request whose answer is a 401 with a body.
    a.client(&v2_get("/latest/meta-data/instance-id"));
    a.server(format!("HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\n\r\n{TOKEN}", TOKEN.len()).as_bytes());
    a.client_fin();
    a.server_fin();

    let mut b = Conv::new("10.0.0.6:40001", IMDS, 77, 99);
    b.now = a.now + 1000;
    b.handshake();
    b.client(GET_CREDS_V1);
    b.server_split(&credentials_answer(2), 7);
    let body = credentials_answer(3);
    let body = &body[body.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 4)..];
    b.client(GET_CREDS_V1);
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.chunks(40) {
        chunked.extend(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend(piece);
        chunked.extend(b"\r\n");
    }
    chunked.extend(b"0\r\n\r\n");
    b.server(&chunked);
    b.client_fin();
    b.server_fin();
    vec![a, b]
}

fn frames(convs: &[Conv]) -> Vec<(u64, Vec<u8>)> {
    let mut v: Vec<(u64, Vec<u8>)> =
        convs.iter().flat_map(|c| c.frames.iter().map(|f| (f.ts.0, f.data.clone()))).collect();
    v.sort_by_key(|(ts, _)| *ts);
    v
}

trait SplitServer {
    fn server_split(&mut self, data: &[u8], n: usize);
}

impl SplitServer for Conv {
    fn server_split(&mut self, data: &[u8], n: usize) {
        for c in data.chunks(n) {
            self.server(c);
        }
    }
}

fn assert_clean(what: &str, text: &str) {
    for m in MARKERS {
        assert!(!text.contains(m), "{what} shows a secret ({m}):\n{text}");
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

fn run(args: &[&str], file: &Path) -> (String, String, Option<i32>) {
    let o = support::cli::analyze(args, file);
    (o.stdout, o.stderr, o.code)
}

/// The capture really carries the secrets, so that their absence from the output means something.
#[test]
fn the_capture_carries_every_marker() {
    let all: Vec<u8> = frames(&conversations()).into_iter().flat_map(|(_, f)| f).collect();
    for m in MARKERS {
        assert!(all.windows(m.len()).any(|w| w == m.as_bytes()), "{m}");
    }
}

#[test]
fn json_table_and_stderr_carry_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let convs = conversations();
    let pcap_file = write(dir.path(), "creds.pcap", &pcap(DLT_EN10MB, &frames(&convs), false));
    let ng: Vec<(u32, u64, Vec<u8>)> = frames(&convs).into_iter().map(|(t, f)| (0, t, f)).collect();
    let ng_file = write(dir.path(), "creds.pcapng", &pcapng(&[DLT_EN10MB], &ng, &[]));
    for file in [&pcap_file, &ng_file] {
        let (out, err, code) = run(&["--format", "json"], file);
        assert_eq!(code, Some(0), "{err}");
        // The records are there: the token request, two v2 and two v1 requests, then the verdict.
        assert_eq!(out.lines().filter(|l| l.starts_with("{\"type\":\"request\"")).count(), 5, "{out}");
        assert!(out.contains("\"version\":\"v2\"") && out.contains("\"version\":\"token_request\""), "{out}");
        assert_clean("--format json", &out);
        assert_clean("stderr", &err);

        // Issue 28: the credential fetches answered whole name their role and key, never the secret.
        let ids: Vec<&str> = out.lines().filter(|l| l.contains("\"credentials\":{")).collect();
        assert_eq!(ids.len(), 2, "the v2 and the split v1 answers (not the chunked one):\n{out}");
        for (line, (n, role)) in ids.iter().zip([("1", "app-role"), ("2", "role")]) {
            let want = format!(
                "\"credentials\":{{\"role\":\"{role}\",\"access_key_id\":\"ASIAKEYID0000000000{n}\",\"expiration\":\"2024-01-01T06:00:00Z\",\"type\":\"AWS-HMAC\"}}"
            );
            assert!(line.contains(&want), "{want}\n{line}");
        }

        for args in FORMATS {
            let (out, err, code) = run(args, file);
            assert_eq!(code, Some(0), "{args:?}: {err}");
            assert!(out.contains("10.0.0.6"), "{args:?}: {out}");
            assert!(args[1] == "json" || out.contains("ASIAKEYID00000000002"), "{args:?} shows the key id: {out}");
            assert_clean(args[1], &out);
            assert_clean("stderr", &err);
        }

        let (out, err, _) = run(&["--format", "json", "--fail-on-v1"], file);
        assert_clean("--fail-on-v1 json", &out);
        assert_clean("--fail-on-v1 stderr", &err);
    }
}

/// Cut inside the credentials body, and with a corrupt record after it: warnings and errors
/// name the file and the offset, never bytes of it.
#[test]
fn warnings_and_errors_carry_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = pcap(DLT_EN10MB, &frames(&conversations()), false);
    let needle = b"MARK-SECRET";
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("marker in file");
    let cut = write(dir.path(), "cut.pcap", &bytes[..at + 5]);
    let (out, err, code) = run(&["--format", "json"], &cut);
    assert_eq!(code, Some(1), "{err}: incomplete");
    assert!(err.contains("middle of a record"), "{err}");
    assert_clean("cut: json", &out);
    assert_clean("cut: stderr", &err);

    // A record header whose length field is made of secret bytes, after the secrets.
    let mut corrupt = bytes[..at].to_vec();
    corrupt.extend(b"MARK-SECRET-MARK-SECRET-MARK-SECRET-");
    let corrupt = write(dir.path(), "corrupt.pcap", &corrupt);
    for args in FORMATS {
        let (out, err, code) = run(args, &corrupt);
        assert!(matches!(code, Some(0 | 1)), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_clean("corrupt: stdout", &out);
        assert_clean("corrupt: stderr", &err);
    }
    // Not a capture at all: a credentials document.
    let json = write(dir.path(), "creds.json", &credentials_answer(9));
    let (out, err, code) = run(&["--format", "json"], &json);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a pcap or pcapng"), "{err}");
    assert_clean("not a capture: stdout", &out);
    assert_clean("not a capture: stderr", &err);
}

/// Every view of the dashboard, fed the engine's records of the capture.
#[test]
fn the_dashboard_shows_no_secret() {
    let convs = conversations();
    let frames: Vec<Frame> = convs.into_iter().flat_map(|c| c.frames).collect();
    let mut frames = frames;
    frames.sort_by_key(|f| f.ts.0);
    let (records, stats) = support::run(&frames);
    assert_eq!(records.len(), 5);
    let mut counts = RequestCounts::default();
    for r in &records {
        counts.add(r);
    }
    for mode in [UiMode::Offline, UiMode::Live] {
        let mut app = App::new(mode, "creds.pcap");
        for r in &records {
            app.on_event(UiEvent::Request(Box::new(r.clone())));
        }
        app.on_event(UiEvent::Stats(StatsRecord {
            packets: stats.packets,
            imds_packets: stats.imds_packets,
            requests: counts,
            anomalies: stats.anomalies(),
            ..StatsRecord::default()
        }));
        let mut screens = Vec::new();
        let mut draw = |app: &App| {
            let mut t = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
            t.draw(|f| render(app, f)).expect("draw");
            screens.push(t.backend().to_string());
        };
        draw(&app);
        for _ in 0..3 {
            app.update(Action::OpenDetail);
            draw(&app);
            app.update(Action::Close);
            app.update(Action::Down);
        }
        app.update(Action::ToggleHelp);
        draw(&app);
        app.update(Action::Close);
        assert!(screens[0].contains("10.0.0.6") || screens[0].contains("Botocore"), "{}", screens[0]);
        for s in &screens {
            assert_clean("dashboard", s);
        }
        // Issue 28: a row's details name the credentials it was handed.
        assert!(screens.iter().any(|s| s.contains("AccessKeyId ASIAKEYID0000000000")), "{}", screens.join("\n"));
    }
}

/// Issue 12, class 5: tokens where no header rule looks. Each value carries a marker that
/// must not reach the JSON or the table: a query-string value (`?token=`, `?X-aws-…-token=`,
/// any other), a token as a path segment, a token and a key/value form in a User-Agent.
#[test]
fn tokens_in_paths_and_user_agents_are_redacted() {
    const SHAPED: &str = "AQAEAMARKSHAPEDc3ZzLWV4YW1wbGUtdG9rZW4tdmFsdWUtaGVyZQ==";
    let heads = [
        "GET /latest/meta-data/?token=MARKQUERY1 HTTP/1.1\r\nUser-Agent: a\r\n\r\n".to_owned(),
        "GET /latest/meta-data/?X-aws-ec2-metadata-token=MARKQUERY2&x=MARKQUERY3 HTTP/1.1\r\n\r\n".to_owned(),
        format!("GET /{SHAPED}/meta-data/ HTTP/1.1\r\n\r\n"),
        format!("GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: X-aws-ec2-metadata-token: {SHAPED}\r\n\r\n"),
        "GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: tool (X-aws-ec2-metadata-token=MARKUAPAIR)\r\n\r\n".to_owned(),
        format!("GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: sdk/1.0 {SHAPED}\r\n\r\n"),
    ];
    let mut frames = Vec::new();
    for (i, head) in heads.iter().enumerate() {
        let mut c = Conv::new(&format!("10.0.0.{}:4100{i}", 20 + i), IMDS, 500 + i as u32, 900);
        c.now += i as u64 * 10_000;
        c.handshake();
        c.client(head.as_bytes());
        c.server(OK_10);
        c.client_fin();
        c.server_fin();
        frames.extend(c.frames.iter().map(|f| (f.ts.0, f.data.clone())));
    }
    frames.sort_by_key(|(t, _)| *t);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "shaped.pcap", &pcap(DLT_EN10MB, &frames, false));
    let markers = ["MARKQUERY", "MARKSHAPED", "MARKUAPAIR"];
    for format in ["json", "table"] {
        let (out, err, code) = run(&["--format", format], &file);
        assert_eq!(code, Some(0), "{err}");
        for m in markers {
            assert!(!out.contains(m) && !err.contains(m), "--format {format} shows {m}:\n{out}");
        }
    }
    let (out, _, _) = run(&["--format", "json"], &file);
    let requests = out.lines().filter(|l| l.starts_with("{\"type\":\"request\"")).count();
    assert_eq!(requests, heads.len(), "every request is still reported:\n{out}");
    assert!(out.contains("?token=[REDACTED]") && out.contains("&x=[REDACTED]"), "{out}");
}
