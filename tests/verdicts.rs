//! Issue 13 at the engine and verdict level: timely answers (a client FIN settles what waits),
//! requests after the server's FIN (`server_closed`), other clouds' probes, and
//! `breaks_when_enforced`. Real clients against the mock are in tests/captures.rs and
//! tests/live_e2e.rs and tests/live_verdicts_e2e.rs.

mod support;
mod tui_fixtures;

use imdswatch::capture::Packet;
use imdswatch::engine::{Engine, EngineConfig, EngineEvent};
use imdswatch::event::{Outcome, Provider, RequestCounts, RequestRecord, Version};
use imdswatch::verdict::{ClientSummary, Verdict, verdict};
use support::*;

/// Feeds frames one by one; returns each record with the index of the frame that released it
/// (`frames.len()` = only at the end of input).
fn run_timed(frames: &[Frame]) -> Vec<(usize, RequestRecord)> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        engine.packet(&Packet { ts: f.ts, link: f.link, data: &f.data }, &mut |ev| {
            if let EngineEvent::Request { record, .. } = ev {
                out.push((i, *record));
            }
        });
    }
    engine.finish(&mut |ev| {
        if let EngineEvent::Request { record, .. } = ev {
            out.push((frames.len(), *record));
        }
    });
    out
}

#[test]
fn a_client_fin_settles_an_unanswered_token_request_at_once() {
    let mut c = Conv::new("172.17.0.2:40000", "169.254.169.254:80", 1000, 5000);
    c.handshake();
    c.client(PUT_TOKEN);
    c.wait(1_000_000); // the SDK's 1 s timeout
    c.client_fin();
    let fin = c.frames.len() - 1;
    // Nothing more from the server for a long time (no idle timeout reached either).
    let recs = run_timed(&c.frames);
    assert_eq!(recs.len(), 1);
    let (at, r) = &recs[0];
    assert_eq!(*at, fin, "settled by the client's FIN, not at the end of input");
    assert_eq!(r.imds.outcome, Outcome::NoResponse);
    assert_eq!(r.imds.breaks_when_enforced, None);
}

#[test]
fn a_client_fin_settles_a_token_answer_it_never_acknowledged() {
    let mut c = Conv::new("172.17.0.2:40001", "169.254.169.254:80", 1000, 5000);
    c.handshake();
    c.client(PUT_TOKEN);
    // The answer is captured with TTL 1 (hop limit): it only counts once acknowledged.
    let ans = c.frames.len();
    let before = c.sseq;
    c.server(OK_10);
    let f = &mut c.frames[ans];
    f.data[14 + 8] = 1; // IPv4 TTL of the answer
    // Fix the IPv4 header checksum after changing the TTL.
    f.data[24] = 0;
    f.data[25] = 0;
    let sum = ipv4_checksum(&f.data[14..34]);
    f.data[24..26].copy_from_slice(&sum.to_be_bytes());
    c.wait(1_000_000);
    let sent = std::mem::replace(&mut c.sseq, before);
    c.client_fin(); // it never acknowledged the answer
    c.sseq = sent;
    let fin = c.frames.len() - 1;
    let recs = run_timed(&c.frames);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0, fin, "settled at the FIN");
    assert_eq!(recs[0].1.imds.outcome, Outcome::NoResponse);
    assert_eq!(recs[0].1.imds.answer_ttl, Some(1));
}

#[test]
fn a_new_v1_request_settles_the_same_clients_undelivered_token_answer() {
    let mut a = Conv::new("172.17.0.2:40010", "169.254.169.254:80", 1000, 5000);
    a.handshake();
    a.client(PUT_TOKEN);
    let ans = a.frames.len();
    a.server(OK_10);
    let f = &mut a.frames[ans];
    f.data[14 + 8] = 1;
    f.data[24] = 0;
    f.data[25] = 0;
    let sum = ipv4_checksum(&f.data[14..34]);
    f.data[24..26].copy_from_slice(&sum.to_be_bytes());
    // The client gives up without closing, and asks with IMDSv1 on a new connection.
    let mut b = Conv::new("172.17.0.2:40011", "169.254.169.254:80", 9000, 7000);
    b.now = a.now + 1_000_000;
    b.handshake();
    b.client(GET_V1);
    let v1_at = a.frames.len() + b.frames.len() - 1;
    let mut frames = std::mem::take(&mut a.frames);
    frames.append(&mut b.frames);
    let recs = run_timed(&frames);
    let token = recs.iter().find(|(_, r)| r.imds.version == Version::TokenRequest).expect("token");
    assert_eq!(token.0, v1_at, "settled when the v1 request arrived");
    assert_eq!(token.1.imds.outcome, Outcome::NoResponse);
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn a_request_after_the_servers_fin_is_server_closed_and_kept_out_of_counts() {
    let mut c = Conv::new("10.0.0.9:40002", "169.254.169.254:80", 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\ni-01234567");
    c.server_fin();
    let late = c.frames.len();
    c.client(GET_V1); // the keep-alive race: sent after the server closed
    let recs = run_timed(&c.frames);
    let outcomes: Vec<Outcome> = recs.iter().map(|(_, r)| r.imds.outcome).collect();
    assert_eq!(outcomes, [Outcome::Ok, Outcome::ServerClosed]);
    assert_eq!(recs[1].0, late, "reported at once");
    let mut counts = RequestCounts::default();
    let mut s = ClientSummary::default();
    for (_, r) in &recs {
        counts.add(r);
        s.add(r);
    }
    assert_eq!((counts.v1, counts.server_closed), (1, 1));
    assert_eq!((s.v1_served, s.server_closed), (1, 1));
    assert_eq!(verdict(&s), Verdict::Breaks);
}

#[test]
fn requests_waiting_when_the_server_closes_or_resets_are_server_closed() {
    // Seen from the client's side: the second request leaves before the server's FIN arrives.
    let mut c = Conv::new("10.0.0.9:40004", "169.254.169.254:80", 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.client(GET_V1);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\ni-01234567");
    c.server_fin();
    let fin = c.frames.len() - 1;
    let recs = run_timed(&c.frames);
    let got: Vec<(usize, Outcome)> = recs.iter().map(|(i, r)| (*i, r.imds.outcome)).collect();
    assert_eq!(got, [(fin - 1, Outcome::Ok), (fin, Outcome::ServerClosed)]);
    // The server closed with the next request unread: a reset after its answer.
    let mut c = Conv::new("10.0.0.9:40005", "169.254.169.254:80", 1000, 5000);
    c.handshake();
    c.client(GET_V1);
    c.server(OK_10);
    c.client(GET_V1);
    let sseq = c.sseq;
    c.frames.push(Frame {
        ts: imdswatch::time::Timestamp(c.now + 100),
        link: imdswatch::capture::LinkType::Ethernet,
        data: eth_tcp(c.server, c.client, sseq, RST, b""),
    });
    let recs = run_timed(&c.frames);
    let outcomes: Vec<Outcome> = recs.iter().map(|(_, r)| r.imds.outcome).collect();
    assert_eq!(outcomes, [Outcome::Ok, Outcome::ServerClosed]);
}

fn one(req: &[u8], answer: &[u8]) -> RequestRecord {
    let mut c = Conv::new("10.0.0.7:40003", "169.254.169.254:80", 1000, 5000);
    c.handshake();
    c.client(req);
    c.server(answer);
    let (recs, _) = run(&c.frames);
    assert_eq!(recs.len(), 1);
    recs.into_iter().next().expect("one record")
}

const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

#[test]
fn other_clouds_probes_are_not_imdsv1_and_do_not_break() {
    // Issue 17: GCP's /computeMetadata/v1 with its header and OCI's /opc/v2 are those
    // services' hardened form (v2); answered 404 on an AWS host they stay probes.
    for (req, want, version) in [
        (&b"GET /computeMetadata/v1/instance/id HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Flavor: Google\r\n\r\n"[..], Provider::Gcp, Version::V2),
        (b"GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n", Provider::Azure, Version::Unversioned),
        (b"GET /opc/v2/instance/ HTTP/1.1\r\nHost: 169.254.169.254\r\nAuthorization: Bearer Oracle\r\n\r\n", Provider::Oracle, Version::V2),
        (b"PUT /instance_identity/v1/token?version=2022-03-01 HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Flavor: ibm\r\n\r\n", Provider::Ibm, Version::Unversioned),
    ] {
        let r = one(req, NOT_FOUND);
        assert_eq!(r.imds.provider, want);
        assert_eq!(r.imds.version, version);
        assert_eq!(r.imds.breaks_when_enforced, Some(false));
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["imds"]["version"].is_null(), version == Version::Unversioned, "{json}");
        assert_eq!(json["imds"]["provider"], want.as_str());
        let mut s = ClientSummary::default();
        s.add(&r);
        assert_eq!(verdict(&s), Verdict::ProbeOnly);
        let mut counts = RequestCounts::default();
        counts.add(&r);
        assert_eq!(counts.v1, 0);
    }
}

#[test]
fn breaks_when_enforced_follows_the_answer() {
    let r = one(GET_V1, OK_10);
    assert_eq!((r.imds.provider, r.imds.breaks_when_enforced), (Provider::Aws, Some(true)));
    // Tokens already required: v1 gets 401, nothing changes under enforcement.
    let r = one(GET_V1, UNAUTHORIZED);
    assert_eq!((r.imds.outcome, r.imds.breaks_when_enforced), (Outcome::Rejected, Some(false)));
    let mut s = ClientSummary::default();
    s.add(&r);
    assert_eq!(verdict(&s), Verdict::ProbeOnly, "already refused");
    let r = one(GET_V2, OK_10);
    assert_eq!(r.imds.breaks_when_enforced, Some(false));
    let r = one(b"PUT http://169.254.169.254/latest/api/token HTTP/1.1\r\nHost: x\r\n\r\n", OK_10);
    assert_eq!((r.imds.version, r.imds.breaks_when_enforced), (Version::TokenRequest, Some(false)));
}

fn analyze(capture: &str, format: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures").join(capture);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imdswatch"))
        .args(["analyze", "--quiet", "--format", format])
        .arg(&path)
        .output()
        .expect("run imdswatch");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Real clients against the mock (captures/make-captures.sh `cap_verdicts`).
#[test]
fn bundled_capture_of_real_clients_gives_one_verdict_each() {
    let json = analyze("verdicts.pcap", "json");
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let reqs: Vec<&serde_json::Value> = lines.iter().filter(|v| v["type"] == "request").collect();
    // The four cloud probes: their provider and service, nothing breaks (GCP's and OCI's
    // hardened forms are v2, Azure and IBM have no version).
    let probes: Vec<&&serde_json::Value> = reqs.iter().filter(|r| r["imds"]["provider"] != "aws").collect();
    let mut services: Vec<(&str, &str, Option<&str>)> = probes
        .iter()
        .map(|r| {
            let i = &r["imds"];
            (i["provider"].as_str().unwrap_or("?"), i["service"].as_str().unwrap_or("?"), i["version"].as_str())
        })
        .collect();
    services.sort_unstable();
    assert_eq!(
        services,
        [
            ("azure", "azure_imds", None),
            ("gcp", "gcp_metadata", Some("v2")),
            ("ibm", "ibm_metadata", None),
            ("oracle", "oci_imds", Some("v2"))
        ]
    );
    assert!(probes.iter().all(|r| r["imds"]["breaks_when_enforced"] == false));
    // Tokens required: v1 refused with 401, enforcement changes nothing.
    let refused = reqs.iter().find(|r| r["imds"]["user_agent"] == "already-refused/1").expect("refused v1");
    assert_eq!(refused["imds"]["outcome"], "rejected");
    assert_eq!(refused["imds"]["breaks_when_enforced"], false);
    // The request after the server's FIN.
    let late: Vec<&str> = reqs
        .iter()
        .filter(|r| r["imds"]["user_agent"] == "late-client/1")
        .filter_map(|r| r["imds"]["outcome"].as_str())
        .collect();
    assert_eq!(late, ["ok", "server_closed"]);
    // The closing verdict record.
    let verdict = lines.last().expect("lines");
    assert_eq!(verdict["type"], "verdict");
    let by_ua = |ua: &str| {
        verdict["clients"]
            .as_array()
            .expect("clients")
            .iter()
            .find(|c| c["user_agent"] == ua)
            .map(|c| c["verdict"].clone())
    };
    assert_eq!(by_ua("cloud-probe/1"), Some("probe_only".into()));
    assert_eq!(by_ua("fallback-client/1"), Some("falls_back".into()));
    assert_eq!(by_ua("Python-urllib/3.11"), Some("breaks".into()), "boto 2.49");
    assert_eq!(by_ua("already-refused/1"), Some("probe_only".into()));
    // Behind a proxy adding X-Forwarded-For: token 403, then v1 through the proxy.
    assert_eq!(by_ua("pod-client/1"), Some("proxy_refused".into()));
    let pod: Vec<(&str, bool)> = reqs
        .iter()
        .filter(|r| r["imds"]["user_agent"] == "pod-client/1")
        .map(|r| (r["imds"]["outcome"].as_str().unwrap_or("?"), r["imds"]["forwarded"] == true))
        .collect();
    assert_eq!(pod, [("rejected", true), ("ok", true)]);
    assert_eq!(verdict["server_closed"], 1);
    assert_eq!(verdict["safe_to_enforce"], false);
    let table = analyze("verdicts.pcap", "table");
    assert!(table.contains("4 clients would break: "), "{table}");
    assert!(table.contains("1 request(s) sent after the server closed the connection"), "{table}");
}

#[test]
fn bundled_hop_limit_capture_says_hop_limit_and_the_fix() {
    let table = analyze("container-hop-limit.pcap", "table");
    assert!(table.contains("1 client would break: 10.213.0.2 Botocore/1.44.5 Python/… (hop_limit)."), "{table}");
    let json = analyze("container-hop-limit.pcap", "json");
    let verdict: serde_json::Value = serde_json::from_str(json.lines().last().expect("line")).expect("json");
    let c = &verdict["clients"][0];
    assert_eq!(c["verdict"], "hop_limit");
    assert!(c["advice"][0].as_str().is_some_and(|a| a.starts_with("Hop limit")), "{c}");
    // The table says what to change, not only who (issue 11 item 3, issue 13).
    assert!(table.contains("http_put_response_hop_limit = 2"), "{table}");
    assert!(table.contains("--http-put-response-hop-limit 2"), "{table}");
    let botocore = analyze("botocore-v2.pcapng", "table");
    assert!(botocore.contains("Safe to enforce IMDSv2"), "{botocore}");
    assert!(botocore.contains("--http-tokens required"), "the enforcement command: {botocore}");
}

/// Every engine event with the index of the frame that released it: `P` for a token request
/// announced pending, `R` for a finished record, with the request's time and client.
fn events(frames: &[Frame], cfg: EngineConfig) -> Vec<(usize, char, String, u64, Option<u16>)> {
    let mut engine = Engine::new(cfg);
    let mut out = Vec::new();
    let mut push = |i: usize, ev: EngineEvent| match ev {
        EngineEvent::TokenPending { record, .. } => {
            out.push((i, 'P', record.network.client.to_string(), record.timestamp.0, record.imds.status))
        }
        EngineEvent::Request { record, .. } => {
            out.push((i, 'R', record.network.client.to_string(), record.timestamp.0, record.imds.status))
        }
        EngineEvent::FlowOpened { .. } => {}
    };
    for (i, f) in frames.iter().enumerate() {
        engine.packet(&Packet { ts: f.ts, link: f.link, data: &f.data }, &mut |ev| push(i, ev));
    }
    engine.finish(&mut |ev| push(frames.len(), ev));
    out
}

/// Issue 13, part 5: live, a token request is announced when it is seen (for the dashboard's
/// "pending"), and its finished record, same client and time, settles it; an analysis (the
/// default configuration) gets no such event.
#[test]
fn a_token_request_is_announced_pending_then_settled_by_its_record() {
    let mut c = Conv::new("172.17.0.2:40100", "169.254.169.254:80", 1000, 5000);
    c.handshake();
    let put = c.frames.len();
    c.client(PUT_TOKEN);
    c.wait(800_000);
    let answer = c.frames.len();
    c.server(OK_10);
    c.client(GET_V2);
    c.server(OK_10);
    // A second token request that is never answered: the client gives up (FIN).
    let put2 = c.frames.len();
    c.client(PUT_TOKEN);
    c.wait(1_000_000);
    let fin = c.frames.len();
    c.client_fin();
    let live = EngineConfig { announce_pending: true, ..EngineConfig::default() };
    let ev = events(&c.frames, live);
    let kinds: Vec<(usize, char, Option<u16>)> = ev.iter().map(|e| (e.0, e.1, e.4)).collect();
    assert_eq!(
        kinds,
        [(put, 'P', None), (answer, 'R', Some(200)), (answer + 2, 'R', Some(200)), (put2, 'P', None), (fin, 'R', None)]
    );
    // Each announcement is settled by the record with its client and time.
    for p in ev.iter().filter(|e| e.1 == 'P') {
        assert_eq!(ev.iter().filter(|r| r.1 == 'R' && r.2 == p.2 && r.3 == p.3).count(), 1, "{p:?}");
    }
    let offline = events(&c.frames, EngineConfig::default());
    assert!(offline.iter().all(|e| e.1 == 'R'), "{offline:?}");
    assert_eq!(offline.len(), 3);
}

/// Issue 13 and 22: live, the Driver judges a request whose process was named with its
/// process client (executable + command line + user agent + container): two programs behind
/// one address and one user agent get their own verdicts; offline (address + user agent)
/// they are one client that falls back.
#[test]
fn live_verdicts_are_per_process_client() {
    use imdswatch::sink::{Driver, RunStats};
    use tui_fixtures::{by, token, v1, v2};
    let (exe, ua) = ("/usr/bin/python3", Some("sdk-test/1.0"));
    let recs = [
        by(token(1, Outcome::Ok, ua), 10, exe, "python3 sdk.py boto3", None),
        by(v2(2, "/latest/meta-data/instance-id", ua), 10, exe, "python3 sdk.py boto3", None),
        by(v1(3, "/latest/meta-data/instance-id", ua), 11, exe, "python3 sdk.py boto2", None),
    ];
    struct Null;
    impl imdswatch::sink::Sink for Null {
        fn record(&mut self, _: &RequestRecord) -> std::io::Result<()> {
            Ok(())
        }
        fn finish(&mut self, _: &imdswatch::event::StatsRecord) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut live = Driver::new(Null).live();
    let mut offline = Driver::new(Null);
    for r in &recs {
        live.record(r);
        offline.record(r);
    }
    let by_verdict = |d: &Driver<Null>| d.host().clients_by_verdict.into_iter().collect::<Vec<_>>();
    assert_eq!(by_verdict(&live), [("breaks", 1), ("ready", 1)]);
    assert_eq!(by_verdict(&offline), [("falls_back", 1)]);
    let rec = live.clients().record(imdswatch::time::Timestamp(4));
    let processes: Vec<Option<&str>> = rec.clients.iter().map(|c| c.process.as_deref()).collect();
    assert_eq!(processes, [Some("/usr/bin/python3 sdk.py boto2"), Some("/usr/bin/python3 sdk.py boto3")]);
    let _ = live.finish(&RunStats::default());
}
