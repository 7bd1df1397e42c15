//! Issue 17: every metadata and credential service at its real address, fed to the engine as
//! synthetic conversations (no packet is sent anywhere), then the real binary on a pcap
//! written from them: `imds.service`, provider, version, outcome, credentials,
//! `breaks_when_enforced`, per-client verdicts and advice, the ECS credential id's
//! redaction in every output, `--service` and `--endpoint ADDR:PORT=SERVICE`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imdswatch::engine::EngineConfig;
use imdswatch::event::{Outcome, Provider, RequestRecord, Service, Version};
use imdswatch::time::Timestamp;
use imdswatch::verdict::{Clients, Verdict};
use support::cli::{Run, analyze, imdswatch};
use support::pcapfile::{DLT_EN10MB, pcap};
use support::*;

const ALIBABA: &str = "100.100.100.200:80";
const ECS: &str = "169.254.170.2:80";
const EKS: &str = "169.254.170.23:80";
const EKS6: &str = "[fd00:ec2::23]:80";

/// Secrets that must never reach any output.
const ECS_ID: &str = "a8d8f2c4-5d2e-4a59-9f0e-2b6c1d3e4f50";
const EKS_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkVLU1NFQ1JFVCJ9.cG9kLXRva2Vu.c2lnbmF0dXJl";
const ALIYUN_TOKEN: &str = "ALIYUN-SECRET-TOKEN-VALUE-0123456789";

fn ok(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

fn status(code: u16, reason: &str) -> String {
    format!("HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n\r\n")
}

/// One request of one client to one server, with its answer.
struct Case {
    client: &'static str,
    server: &'static str,
    request: String,
    answer: String,
    /// provider, service, version (None = null), outcome, credentials, breaks_when_enforced
    want: (Provider, Service, Option<&'static str>, Outcome, bool, bool),
}

fn get(path: &str, ua: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n{headers}\r\n")
}

fn put(path: &str, ua: &str, headers: &str) -> String {
    format!("PUT {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n{headers}\r\n")
}

fn case(
    client: &'static str,
    server: &'static str,
    request: String,
    answer: String,
    want: (Provider, Service, Option<&'static str>, Outcome, bool, bool),
) -> Case {
    Case { client, server, request, answer, want }
}

/// Every service's legacy, hardened, refused and credentials cases. One client address per
/// behaviour, so that the verdicts below are per behaviour.
fn cases() -> Vec<Case> {
    use Outcome::*;
    use Provider as P;
    use Service as S;
    let aliyun_ttl = "X-aliyun-ecs-metadata-token-ttl-seconds: 21600\r\n";
    let aliyun_tok = format!("X-aliyun-ecs-metadata-token: {ALIYUN_TOKEN}\r\n");
    let oracle = "Authorization: Bearer Oracle\r\n";
    let google = "Metadata-Flavor: Google\r\n";
    let eks_auth = format!("Authorization: {EKS_TOKEN}\r\n");
    vec![
        // EC2 IMDS, unchanged: a v1 credential fetch that enforcement breaks.
        case(
            "10.0.0.1:40001",
            IMDS,
            get("/latest/meta-data/iam/security-credentials/r", "curl/8.5.0", ""),
            ok("r"),
            (P::Aws, S::Ec2Imds, Some("v1"), Ok, true, true),
        ),
        // Alibaba normal mode (legacy): plain GETs, no aliyun header.
        case(
            "10.0.1.1:40001",
            ALIBABA,
            get("/latest/meta-data/ram/security-credentials/ecs-role", "aliyun-legacy/1", ""),
            ok("{}"),
            (P::Alibaba, S::AlibabaImds, Some("v1"), Ok, true, true),
        ),
        // Alibaba hardened mode: token PUT, then a GET with the token.
        case(
            "10.0.1.2:40001",
            ALIBABA,
            put("/latest/api/token", "aliyun-hardened/1", aliyun_ttl),
            ok(ALIYUN_TOKEN),
            (P::Alibaba, S::AlibabaImds, Some("token_request"), Ok, false, false),
        ),
        case(
            "10.0.1.2:40002",
            ALIBABA,
            get("/latest/meta-data/instance-id", "aliyun-hardened/1", &aliyun_tok),
            ok("i-ali"),
            (P::Alibaba, S::AlibabaImds, Some("v2"), Ok, false, false),
        ),
        // Alibaba refusals: bad TTL (400), forwarded (403), invalid token (401).
        case(
            "10.0.1.3:40001",
            ALIBABA,
            put("/latest/api/token", "aliyun-refused/1", "X-aliyun-ecs-metadata-token-ttl-seconds: 0\r\n"),
            status(400, "Bad Request"),
            (P::Alibaba, S::AlibabaImds, Some("token_request"), ClientError, false, false),
        ),
        case(
            "10.0.1.3:40002",
            ALIBABA,
            put("/latest/api/token", "aliyun-refused/1", &format!("{aliyun_ttl}X-Forwarded-For: 10.9.9.9\r\n")),
            status(403, "Forbidden"),
            (P::Alibaba, S::AlibabaImds, Some("token_request"), Rejected, false, false),
        ),
        case(
            "10.0.1.3:40003",
            ALIBABA,
            get("/latest/meta-data/", "aliyun-refused/1", &aliyun_tok),
            status(401, "Unauthorized"),
            (P::Alibaba, S::AlibabaImds, Some("v2"), Rejected, false, false),
        ),
        // OCI legacy endpoints, served and (legacy disabled) 404.
        case(
            "10.0.2.1:40001",
            IMDS,
            get("/opc/v1/instance/", "oci-legacy/1", ""),
            ok("{}"),
            (P::Oracle, S::OciImds, Some("v1"), Ok, false, true),
        ),
        case(
            "10.0.2.1:40002",
            IMDS,
            get("/openstack/latest/meta_data.json", "oci-legacy/1", ""),
            ok("{}"),
            (P::Oracle, S::OciImds, Some("v1"), Ok, false, true),
        ),
        case(
            "10.0.2.3:40001",
            IMDS,
            get("/opc/v1/instance/", "oci-disabled/1", ""),
            status(404, "Not Found"),
            (P::Oracle, S::OciImds, Some("v1"), ClientError, false, false),
        ),
        // OCI hardened: /opc/v2 with the header (identity: credentials), without it 401.
        case(
            "10.0.2.2:40001",
            IMDS,
            get("/opc/v2/identity/cert.pem", "oci-v2/1", oracle),
            ok("pem"),
            (P::Oracle, S::OciImds, Some("v2"), Ok, true, false),
        ),
        case(
            "10.0.2.2:40002",
            IMDS,
            get("/opc/v2/instance/", "oci-v2/1", ""),
            status(401, "Unauthorized"),
            (P::Oracle, S::OciImds, Some("v2"), Rejected, false, false),
        ),
        // GCP legacy endpoints (served), hardened, and refused without the header.
        case(
            "10.0.3.1:40001",
            IMDS,
            get("/computeMetadata/v1beta1/instance/id", "gcp-legacy/1", ""),
            ok("1"),
            (P::Gcp, S::GcpMetadata, Some("v1"), Ok, false, true),
        ),
        case(
            "10.0.3.1:40002",
            IMDS,
            get("/0.1/meta-data/service-accounts/default/acquire", "gcp-legacy/1", ""),
            ok("{}"),
            (P::Gcp, S::GcpMetadata, Some("v1"), Ok, true, true),
        ),
        case(
            "10.0.3.2:40001",
            IMDS,
            get("/computeMetadata/v1/instance/service-accounts/default/token", "gcp-v1/1", google),
            ok("{}"),
            (P::Gcp, S::GcpMetadata, Some("v2"), Ok, true, false),
        ),
        case(
            "10.0.3.3:40001",
            IMDS,
            get("/computeMetadata/v1/instance/id", "gcp-noheader/1", ""),
            status(403, "Forbidden"),
            (P::Gcp, S::GcpMetadata, None, Rejected, false, false),
        ),
        // Azure: Metadata: true required (400 without); managed identity tokens.
        case(
            "10.0.4.1:40001",
            IMDS,
            get("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x", "azure/1", "Metadata: true\r\n"),
            ok("{}"),
            (P::Azure, S::AzureImds, None, Ok, true, false),
        ),
        case(
            "10.0.4.2:40001",
            IMDS,
            get("/metadata/instance?api-version=2021-02-01", "azure-noheader/1", ""),
            status(400, "Bad Request"),
            (P::Azure, S::AzureImds, None, ClientError, false, false),
        ),
        // ECS task credentials: the id in the path is the secret.
        case(
            "10.0.5.1:40001",
            ECS,
            get(&format!("/v2/credentials/{ECS_ID}"), "aws-sdk-ecs/1", ""),
            ok("{}"),
            (P::Aws, S::EcsTaskCredentials, None, Ok, true, false),
        ),
        // EKS Pod Identity: served, missing token (400), wrong address (403), throttled (429).
        case(
            "10.0.5.1:40002",
            EKS,
            get("/v1/credentials", "aws-sdk-ecs/1", &eks_auth),
            ok("{}"),
            (P::Aws, S::EksPodIdentity, None, Ok, true, false),
        ),
        case(
            "10.0.6.1:40001",
            EKS,
            get("/v1/credentials", "eks-refused/1", ""),
            status(400, "Bad Request"),
            (P::Aws, S::EksPodIdentity, None, ClientError, true, false),
        ),
        case(
            "10.0.6.1:40002",
            EKS,
            get("/v1/credentials", "eks-refused/1", &eks_auth),
            status(403, "Forbidden"),
            (P::Aws, S::EksPodIdentity, None, Rejected, true, false),
        ),
        case(
            "[fd00::6:1]:40003",
            EKS6,
            get("/v1/credentials", "eks-refused/1", &eks_auth),
            status(429, "Too Many Requests"),
            (P::Aws, S::EksPodIdentity, None, ClientError, true, false),
        ),
    ]
}

/// All cases as frames, one connection each, in order.
fn frames(cases: &[Case]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut now = 1_700_000_000_000_000u64;
    for (i, c) in cases.iter().enumerate() {
        let mut conv = Conv::new(c.client, c.server, 1000 + i as u32, 50_000 + i as u32);
        conv.now = now;
        conv.handshake();
        conv.client(c.request.as_bytes());
        conv.server(c.answer.as_bytes());
        conv.client_fin();
        conv.server_fin();
        now = conv.now + 1000;
        out.extend(conv.frames);
    }
    out
}

fn records() -> Vec<RequestRecord> {
    let (mut recs, _) = run(&frames(&cases()));
    recs.sort_by_key(|r| r.timestamp);
    recs
}

fn version_str(v: Version) -> Option<&'static str> {
    (v != Version::Unversioned).then(|| v.as_str())
}

#[test]
fn every_service_at_its_address_is_classified() {
    let cases = cases();
    let recs = records();
    assert_eq!(recs.len(), cases.len());
    for (c, r) in cases.iter().zip(&recs) {
        let i = &r.imds;
        let got = (i.provider, i.service, version_str(i.version), i.outcome, i.credentials, i.breaks_when_enforced);
        let (p, s, v, o, cred, brk) = c.want;
        assert_eq!(
            got,
            (p, s, v, o, cred, Some(brk)),
            "{} -> {}: {}",
            c.client,
            c.server,
            c.request.lines().next().unwrap_or("")
        );
        assert_eq!(r.network.server.to_string(), c.server);
    }
    // The Alibaba token request keeps its TTL; the forwarded one says so.
    let ttl: Vec<Option<u32>> =
        recs.iter().filter(|r| r.imds.service == Service::AlibabaImds).map(|r| r.imds.token_ttl_seconds).collect();
    assert!(ttl.contains(&Some(21600)) && ttl.contains(&Some(0)), "{ttl:?}");
    assert!(recs.iter().any(|r| r.imds.service == Service::AlibabaImds && r.imds.forwarded));
    // The ECS id never reaches the record.
    let ecs = recs.iter().find(|r| r.imds.service == Service::EcsTaskCredentials).expect("ecs");
    assert_eq!(ecs.imds.path, "/v2/credentials/[REDACTED]");
    let json: String = recs.iter().map(|r| serde_json::to_string(r).expect("json")).collect();
    for secret in [ECS_ID, EKS_TOKEN, ALIYUN_TOKEN] {
        assert!(!json.contains(secret), "{secret} leaked");
    }
}

#[test]
fn verdicts_per_client_count_each_services_legacy_form() {
    let mut t = Clients::<()>::default();
    for r in records() {
        t.add(&r);
    }
    let v = t.record(Timestamp(1));
    let by: BTreeMap<&str, (Verdict, &[String])> =
        v.clients.iter().map(|c| (c.client.as_str(), (c.verdict, c.advice.as_slice()))).collect();
    let verdict = |ip: &str| by.get(ip).map(|x| x.0);
    let advice = |ip: &str| by.get(ip).map(|x| x.1.join(" | ")).unwrap_or_default();
    assert_eq!(verdict("10.0.0.1"), Some(Verdict::Breaks));
    assert_eq!(verdict("10.0.1.1"), Some(Verdict::Breaks));
    assert!(advice("10.0.1.1").contains("Alibaba normal mode"), "{}", advice("10.0.1.1"));
    assert_eq!(verdict("10.0.1.2"), Some(Verdict::Ready));
    assert_eq!(verdict("10.0.2.1"), Some(Verdict::Breaks));
    assert!(advice("10.0.2.1").contains("/opc/v2"), "{}", advice("10.0.2.1"));
    assert!(!advice("10.0.2.1").contains("boto"), "{}", advice("10.0.2.1"));
    // Legacy endpoints already off (404): nothing changes under enforcement.
    assert_eq!(verdict("10.0.2.3"), Some(Verdict::ProbeOnly));
    assert_eq!(verdict("10.0.2.2"), Some(Verdict::Ready));
    assert_eq!(verdict("10.0.3.1"), Some(Verdict::Breaks));
    assert!(advice("10.0.3.1").contains("/computeMetadata/v1/"), "{}", advice("10.0.3.1"));
    assert_eq!(verdict("10.0.3.2"), Some(Verdict::Ready));
    assert_eq!(verdict("10.0.3.3"), Some(Verdict::ProbeOnly));
    assert_eq!(verdict("10.0.4.1"), Some(Verdict::ProbeOnly));
    // ECS and Pod Identity credentials only: nothing enforcement changes.
    assert_eq!(verdict("10.0.5.1"), Some(Verdict::ProbeOnly));
    assert_eq!(verdict("10.0.6.1"), Some(Verdict::ProbeOnly));
    assert!(!v.host.safe_to_enforce);
    let breaking: Vec<Service> = v.host.breaking_services.iter().collect();
    assert_eq!(breaking, [Service::Ec2Imds, Service::AlibabaImds, Service::OciImds, Service::GcpMetadata]);
}

fn write_pcap(dir: &Path, name: &str, frames: &[Frame]) -> PathBuf {
    let p = dir.join(name);
    let fr: Vec<(u64, Vec<u8>)> = frames.iter().map(|f| (f.ts.0, f.data.clone())).collect();
    std::fs::write(&p, pcap(DLT_EN10MB, &fr, false)).expect("write pcap");
    p
}

fn assert_no_secret(what: &str, run: &Run) {
    for secret in [ECS_ID, EKS_TOKEN, ALIYUN_TOKEN] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{what}: {secret} leaked");
    }
}

#[test]
fn the_binary_reports_every_service_and_hides_the_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_pcap(dir.path(), "services.pcap", &frames(&cases()));
    let json = analyze(&["--format", "json"], &p);
    assert!(json.success(), "{}", json.stderr);
    assert_no_secret("json", &json);
    let recs = json.json();
    assert_eq!(recs.len(), cases().len());
    let mut services: Vec<&str> = recs.iter().filter_map(|r| r["imds"]["service"].as_str()).collect();
    services.sort_unstable();
    services.dedup();
    assert_eq!(
        services,
        [
            "alibaba_imds",
            "azure_imds",
            "ec2_imds",
            "ecs_task_credentials",
            "eks_pod_identity",
            "gcp_metadata",
            "oci_imds"
        ]
    );
    let ecs = recs.iter().find(|r| r["imds"]["service"] == "ecs_task_credentials").expect("ecs");
    assert_eq!(ecs["imds"]["path"], "/v2/credentials/[REDACTED]");
    assert_eq!(ecs["imds"]["provider"], "aws");
    assert_eq!(ecs["imds"]["credentials"], true);
    let verdict = json.all_json().into_iter().find(|v| v["type"] == "verdict").expect("verdict record");
    assert_eq!(
        verdict["breaking_services"],
        serde_json::json!(["ec2_imds", "alibaba_imds", "oci_imds", "gcp_metadata"])
    );

    let table = analyze(&["--format", "table"], &p);
    assert!(table.success(), "{}", table.stderr);
    assert_no_secret("table", &table);
    let head = table.stdout.lines().next().unwrap_or("");
    assert!(head.contains("VERDICT") && head.ends_with("SERVICES"), "{}", table.stdout);
    let ecs_row = table.stdout.lines().find(|l| l.starts_with("10.0.5.1")).expect("ecs row");
    assert!(ecs_row.ends_with("ecs_task_credentials,eks_pod_identity"), "{ecs_row}");
    assert!(ecs_row.contains("probe_only"), "{ecs_row}");
    assert!(
        table.stdout.contains("the switches of ec2_imds, alibaba_imds, oci_imds, gcp_metadata would break"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("Alibaba normal mode"), "{}", table.stdout);
}

#[test]
fn service_filter_keeps_only_those_services_and_counts_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_pcap(dir.path(), "services.pcap", &frames(&cases()));
    let all = cases().len();
    let creds =
        cases().iter().filter(|c| matches!(c.want.1, Service::EcsTaskCredentials | Service::EksPodIdentity)).count();
    let run = analyze(&["--format", "json", "--service", "ecs_task_credentials,eks_pod_identity"], &p);
    assert!(run.success(), "{}", run.stderr);
    let recs = run.json();
    assert_eq!(recs.len(), creds);
    assert!(
        recs.iter().all(|r| r["imds"]["service"]
            .as_str()
            .is_some_and(|s| s.ends_with("credentials") || s == "eks_pod_identity"))
    );
    let left = all - creds;
    assert!(run.stderr.contains(&format!("{left} requests left out by --service")), "{}", run.stderr);
    // Only credential services left: nothing would break.
    let verdict = run.all_json().into_iter().find(|v| v["type"] == "verdict").expect("verdict");
    assert_eq!(verdict["safe_to_enforce"], true, "{verdict}");
    // Repeated and case-insensitive; the table too.
    let table = analyze(&["--format", "table", "--service", "OCI_IMDS", "--service", "gcp_metadata"], &p);
    assert!(table.success(), "{}", table.stderr);
    assert!(table.stdout.contains("10.0.2.1") && !table.stdout.contains("10.0.1.1"), "{}", table.stdout);
    // Unknown names are usage errors, for analyze and live alike (live stops before capturing).
    let file = p.to_string_lossy().into_owned();
    for args in [
        vec!["analyze", "--service", "ecs", &file],
        vec!["analyze", "--service", ",", &file],
        // --duration: should validation ever let it through, it stops on its own.
        vec!["live", "--json", "--duration", "1", "--service", "nope"],
    ] {
        let o = imdswatch().args(&args).output().expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--service"), "{err}");
    }
}

#[test]
fn endpoint_with_a_service_names_a_loopback_credentials_endpoint() {
    // AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8080/creds: any GET there fetches
    // the task's credentials.
    let mut c = Conv::new("127.0.0.1:45000", "127.0.0.1:8080", 1, 9);
    c.handshake();
    c.client(get("/creds", "aws-sdk-go-v2/1", &format!("Authorization: {EKS_TOKEN}\r\n")).as_bytes());
    c.server(ok("{}").as_bytes());
    let cfg = EngineConfig {
        endpoints: imdswatch::endpoint::Endpoints::parse(&["127.0.0.1:8080=ecs_task_credentials".into()])
            .expect("endpoint"),
        ..EngineConfig::default()
    };
    let (recs, _) = run_with(&c.frames, cfg);
    assert_eq!(recs.len(), 1);
    let i = &recs[0].imds;
    assert_eq!(
        (i.service, i.provider, i.credentials, i.version),
        (Service::EcsTaskCredentials, Provider::Aws, true, Version::Unversioned)
    );
    // The binary: the hint, and errors that say what is expected.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_pcap(dir.path(), "loop.pcap", &c.frames);
    let o = analyze(&["--format", "json", "--endpoint", "127.0.0.1:8080=ecs_task_credentials"], &p);
    assert!(o.success(), "{}", o.stderr);
    assert_eq!(o.json()[0]["imds"]["service"], "ecs_task_credentials");
    assert_no_secret("loopback", &o);
    // Without the hint the same request is an EC2 IMDS one (nothing says otherwise).
    let o = analyze(&["--format", "json", "--endpoint", "127.0.0.1:8080"], &p);
    assert_eq!(o.json()[0]["imds"]["service"], "ec2_imds");
    for (spec, says) in [
        ("127.0.0.1:8080=ecs", "unknown service 'ecs'"),
        ("127.0.0.1=ecs_task_credentials", "expected ADDR:PORT[=SERVICE]"),
    ] {
        let o = analyze(&["--format", "json", "--endpoint", spec], &p);
        assert_eq!(o.code, Some(2), "{spec}: {}", o.stderr);
        assert!(o.stderr.contains(says), "{spec}: {}", o.stderr);
    }
}

/// The dashboard shows the services and never the secrets: every row, its detail view and
/// the service filter, on a wide screen so that nothing is clipped away.
#[test]
fn the_dashboard_names_services_and_hides_the_secrets() {
    use imdswatch::ui::{Action, App, UiEvent, UiMode, render};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut app = App::new(UiMode::Offline, "services.pcap");
    for r in records() {
        app.on_event(UiEvent::Request(Box::new(r)));
    }
    let screen = |app: &App| {
        let mut t = Terminal::new(TestBackend::new(220, 60)).expect("terminal");
        t.draw(|f| render(app, f)).expect("draw");
        t.backend().to_string()
    };
    let mut screens = vec![screen(&app)];
    for _ in 0..app.visible_rows().len() {
        app.update(Action::OpenDetail);
        screens.push(screen(&app));
        app.update(Action::Close);
        app.update(Action::Down);
    }
    let mut seen = Vec::new();
    loop {
        app.update(Action::CycleService);
        let Some(s) = app.service else { break };
        let shown = screen(&app);
        assert!(shown.contains(&format!("service: {}", s.as_str())), "{shown}");
        // The latest requests are narrowed too: each names the service (its first 12
        // characters survive the column's clipping).
        let events = shown.split("Latest requests").nth(1).expect("the latest requests panel");
        let needle = &s.as_str()[..s.as_str().len().min(12)];
        for line in events.lines().filter(|l| l.contains(" GET ") || l.contains(" PUT ")) {
            assert!(line.contains(needle), "service {s:?} filter, yet: {line}");
        }
        seen.push(s);
        screens.push(shown);
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    // A SERVICE column (the row that used two services: the first, +1), every service in the
    // row's details.
    assert!(screens[0].contains("SERVICE"), "{}", screens[0]);
    assert!(screens[0].contains("ecs_task_credentials+1"), "{}", screens[0]);
    assert!(
        screens.iter().any(|s| s.contains("ecs_task_credentials, eks_pod_identity")),
        "no details name both services"
    );
    for s in &screens {
        for secret in [ECS_ID, EKS_TOKEN, ALIYUN_TOKEN] {
            assert!(!s.contains(secret), "{secret} on the dashboard:\n{s}");
        }
    }
}

/// A live record's command line names the ECS id when a shell expanded
/// `$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` into it: it is redacted there too.
#[test]
fn command_lines_never_show_an_ecs_credential_id() {
    let args: Vec<String> = ["curl", "-s", &format!("http://169.254.170.2/v2/credentials/{ECS_ID}")]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let shown = imdswatch::attribute::redact::cmdline(&args);
    assert_eq!(shown, "curl -s http://169.254.170.2/v2/credentials/[REDACTED]");
    let env = format!("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/{ECS_ID}");
    assert!(!imdswatch::attribute::redact::cmdline(&["env".into(), env, "app".into()]).contains(ECS_ID));
}
