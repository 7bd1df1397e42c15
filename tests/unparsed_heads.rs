//! Issue 12, class 2: requests a server answers although httparse refuses their head are
//! reported (from a raw scan, `imds.parse_error: true`), never dropped; absolute-form
//! targets are classified by their path.

mod support;

use imdswatch::event::Version;
use support::*;

/// One request on its own connection, answered 200.
fn one(head: &[u8]) -> Vec<imdswatch::event::RequestRecord> {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(head);
    c.server(OK_10);
    c.client_fin();
    c.server_fin();
    run(&c.frames).0
}

const CREDS: &str = "/latest/meta-data/iam/security-credentials/role";

#[test]
fn heads_httparse_refuses_are_reported_with_parse_error() {
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("150 headers", format!("GET {CREDS} HTTP/1.1\r\n{many}\r\n").into_bytes()),
        ("obs-fold", format!("GET {CREDS} HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n").into_bytes()),
        ("ESC in a value", format!("GET {CREDS} HTTP/1.1\r\nUser-Agent: a\x1b[31mb\r\n\r\n").into_bytes()),
        ("control byte in a value", format!("GET {CREDS} HTTP/1.1\r\nX-A: a\x01b\r\n\r\n").into_bytes()),
        ("space before a colon", format!("GET {CREDS} HTTP/1.1\r\nHost : x\r\n\r\n").into_bytes()),
        ("tab in the request line", format!("GET\t{CREDS} HTTP/1.1\r\n\r\n").into_bytes()),
        ("no version", format!("GET {CREDS}\r\nHost: x\r\n\r\n").into_bytes()),
    ];
    for (what, head) in cases {
        let recs = one(&head);
        assert_eq!(recs.len(), 1, "{what}: {recs:?}");
        let r = &recs[0].imds;
        assert!(r.parse_error, "{what}");
        assert_eq!(
            (r.version, r.method.as_str(), r.path.as_str(), r.status),
            (Version::V1, "GET", CREDS, Some(200)),
            "{what}"
        );
        assert!(r.credentials, "{what}");
    }
}

#[test]
fn two_spaces_in_the_request_line_parse_cleanly() {
    let recs = one(format!("GET  {CREDS}  HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    assert_eq!(summary(&recs), [format!("v1 GET {CREDS} 200")]);
    assert!(!recs[0].imds.parse_error);
}

#[test]
fn a_hundred_headers_parse_cleanly() {
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let recs = one(format!("GET {CREDS} HTTP/1.1\r\n{many}X-aws-ec2-metadata-token: t\r\n\r\n").as_bytes());
    assert_eq!(summary(&recs), [format!("v2 GET {CREDS} 200")]);
    assert!(!recs[0].imds.parse_error);
}

#[test]
fn the_raw_scan_sees_the_token_header_and_user_agent() {
    let recs = one(b"GET /latest/meta-data/ HTTP/1.1\r\nX-aws-ec2-metadata-token : t\r\nUser-Agent: ua\x01\r\n\r\n");
    let r = &recs[0].imds;
    assert!(r.parse_error);
    assert_eq!(r.version, Version::V2);
    assert_eq!(r.user_agent.as_deref(), Some("ua\u{1}"));
}

#[test]
fn a_head_over_16_kib_is_still_reported() {
    let pad = format!("X-Pad: {}\r\n", "a".repeat(20_000));
    let recs = one(format!("GET {CREDS} HTTP/1.1\r\n{pad}\r\n").as_bytes());
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert!(recs[0].imds.parse_error && recs[0].imds.credentials);
}

#[test]
fn an_http09_request_is_reported_at_the_end_of_its_connection() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(format!("GET {CREDS}\r\n").as_bytes());
    c.server(b"{\"AccessKeyId\":\"x\"}");
    c.server_fin();
    c.client_fin();
    let (recs, _) = run(&c.frames);
    assert_eq!(summary(&recs), [format!("v1 GET {CREDS} none")]);
    assert!(recs[0].imds.parse_error && recs[0].imds.credentials);
}

#[test]
fn absolute_form_targets_carry_the_credentials_flag_and_token_requests() {
    let recs = one(format!("GET http://169.254.169.254{CREDS} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n").as_bytes());
    assert_eq!(recs[0].imds.version, Version::V1);
    assert!(recs[0].imds.credentials);
    let recs = one(
        b"PUT http://169.254.169.254/latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n",
    );
    assert_eq!(recs[0].imds.version, Version::TokenRequest);
    assert_eq!(recs[0].imds.token_ttl_seconds, Some(21600));
}

#[test]
fn switching_protocols_is_the_answer() {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(b"GET /latest/meta-data/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    c.server(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
    c.client(b"\x81\x85abcdGET / HTTP/1.1\r\n\r\n");
    let (recs, _) = run(&c.frames);
    assert_eq!(summary(&recs), ["v1 GET /latest/meta-data/ 101"]);
}
