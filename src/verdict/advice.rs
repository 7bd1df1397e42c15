//! Remediation advice for one client: the concrete change that moves it to IMDSv2 (SDK
//! upgrade named from its user agent, raw-HTTP token recipe, hop limit, proxy), or the
//! enforcement command once no client on the host would break.

use super::{ClientSummary, Verdict, verdict};
use crate::classify::client::{Client, identify};
use crate::event::Service;

/// One piece of advice: a heading and its lines (commands are lines of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub kind: AdviceKind,
    pub title: String,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdviceKind {
    SdkUpgrade,
    RawHttp,
    HopLimit,
    Fallback,
    NoV1,
    Enforce,
    /// A proxy refused the token request (X-Forwarded-For).
    ProxyRefused,
    /// Nothing to do: other clouds' probes or requests already refused.
    Ignore,
    /// Another cloud's legacy metadata endpoint was used (Alibaba normal mode, OCI `/opc/v1`,
    /// GCP `/0.1/` or `v1beta1`): move to its hardened form.
    Legacy,
}

const RAW_RECIPE: [&str; 4] = [
    "TOKEN=$(curl -s -X PUT http://169.254.169.254/latest/api/token \\",
    "  -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600')",
    "curl -s -H \"X-aws-ec2-metadata-token: $TOKEN\" \\",
    "  http://169.254.169.254/latest/meta-data/...",
];

/// The advice that fits a client, most specific first. `host_safe`: no client on the host
/// would break (then the enforcement command is added).
pub fn advise(s: &ClientSummary, host_safe: bool) -> Vec<Advice> {
    let mut out = Vec::new();
    let v = verdict(s);
    match v {
        Verdict::Ready => out.push(Advice {
            kind: AdviceKind::NoV1,
            title: "Nothing to change here: no IMDSv1 from this row".into(),
            lines: vec![format!(
                "{} IMDSv2 requests and {} token requests, all with tokens.",
                s.v2,
                s.token_ok + s.token_unanswered + s.token_forbidden + s.token_failed
            )],
        }),
        Verdict::ProbeOnly => out.push(ignore(s)),
        _ => client_advice(s, v, &mut out),
    }
    if host_safe {
        out.extend(enforce_switches(s).into_iter().map(enforce_service));
    }
    out
}

/// The services whose enforcement switch concerns this client: those with a legacy form that
/// answered it (present on this host); the EC2 IMDS when none (the default advice).
fn enforce_switches(s: &ClientSummary) -> Vec<Service> {
    let v: Vec<Service> = s.served_services.iter().filter(|x| x.has_legacy_form()).collect();
    if v.is_empty() { vec![Service::Ec2Imds] } else { v }
}

/// Advice for a client whose IMDSv1 use would break: the cause first, then its software;
/// other clouds' legacy endpoints get their own advice.
fn client_advice(s: &ClientSummary, v: Verdict, out: &mut Vec<Advice>) {
    out.extend(s.legacy_services.iter().filter_map(legacy));
    if !s.legacy_services.is_empty() && !s.legacy_services.contains(Service::Ec2Imds) {
        return;
    }
    match v {
        Verdict::HopLimit => out.push(hop_limit()),
        Verdict::ProxyRefused => out.push(proxy_refused()),
        _ => {}
    }
    let mut clients: Vec<Client> = s.user_agents.iter().map(|(ua, _)| identify(ua)).collect();
    if s.no_user_agent > 0 || clients.is_empty() {
        clients.push(Client::Unknown(String::new()));
    }
    clients.dedup();
    let mut raw_done = false;
    let mut fallback_done = false;
    for c in clients {
        match sdk_advice(&c) {
            Some(a) => {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
            None if matches!(c, Client::ModernSdk(_)) => {
                if !fallback_done && !matches!(v, Verdict::HopLimit | Verdict::ProxyRefused) {
                    out.push(fallback(&c));
                }
                fallback_done = true;
            }
            None => {
                if !raw_done {
                    out.push(raw_http(&c));
                }
                raw_done = true;
            }
        }
    }
}

fn ignore(s: &ClientSummary) -> Advice {
    let mut lines = Vec::new();
    if s.probes > 0 {
        lines.push(format!("{} requests of other clouds' metadata protocols (cloud detection).", s.probes));
    }
    if s.services.contains(Service::EcsTaskCredentials) || s.services.contains(Service::EksPodIdentity) {
        lines.push("ECS task credentials and EKS Pod Identity have no legacy form: enforcement changes".into());
        lines.push("nothing for them.".into());
    }
    if s.v1_failed > 0 {
        lines.push(format!(
            "{} IMDSv1 requests already refused or unanswered: enforcement changes nothing.",
            s.v1_failed
        ));
    }
    Advice { kind: AdviceKind::Ignore, title: "Nothing to change: probes or already refused".into(), lines }
}

fn proxy_refused() -> Advice {
    Advice {
        kind: AdviceKind::ProxyRefused,
        title: "Proxy: the token request was refused (403), then IMDSv1 was used".into(),
        lines: vec![
            "IMDS refuses a token request carrying X-Forwarded-For: a proxy in the path".into(),
            "(kube2iam/kiam-style DNAT proxy) added it. Fix or replace the proxy,".into(),
            "e.g. EKS Pod Identity or IRSA for pods.".into(),
        ],
    }
}

fn sdk_advice(c: &Client) -> Option<Advice> {
    let (title, lines): (String, Vec<String>) = match c {
        Client::OldBoto { ua_name, version } => (
            format!("Upgrade {ua_name} {version}: boto3 >= 1.20 uses IMDSv2"),
            vec![
                "pip install --upgrade 'boto3>=1.20' 'botocore>=1.23'".into(),
                "(AWS CLI: install v2, or awscli >= 1.22)".into(),
            ],
        ),
        Client::Boto2 => (
            "Replace boto 2 (IMDSv1 only) with boto3 >= 1.20".into(),
            vec!["pip install 'boto3>=1.20' and port the boto calls to boto3".into()],
        ),
        Client::GoV1 => (
            "Move to the AWS SDK for Go v2 (uses IMDSv2 by default)".into(),
            vec!["go get github.com/aws/aws-sdk-go-v2/config".into()],
        ),
        Client::JavaV1 => (
            "Move to the AWS SDK for Java v2 (uses IMDSv2 by default)".into(),
            vec!["software.amazon.awssdk:* 2.x replaces com.amazonaws:aws-java-sdk-*".into()],
        ),
        Client::JsV2 => (
            "Move to the AWS SDK for JavaScript v3 (uses IMDSv2 by default)".into(),
            vec!["npm install @aws-sdk/credential-providers (replaces aws-sdk v2)".into()],
        ),
        Client::ModernSdk(_) | Client::RawHttp(_) | Client::Unknown(_) => return None,
    };
    Some(Advice { kind: AdviceKind::SdkUpgrade, title, lines })
}

fn raw_http(c: &Client) -> Advice {
    let who = match c {
        Client::RawHttp(n) | Client::Unknown(n) if !n.is_empty() => format!(" ({n})"),
        _ => " (no SDK named in the User-Agent)".into(),
    };
    let mut lines = vec!["Request a session token first, then send it with every request:".into()];
    lines.extend(RAW_RECIPE.iter().map(|s| (*s).to_string()));
    if matches!(c, Client::Unknown(n) if n.is_empty()) {
        lines.push("(The AWS SDK for JavaScript v3 sends no User-Agent: if it is that, see".into());
        lines.push(" the hop limit; it falls back to v1 when its token request fails.)".into());
    }
    Advice { kind: AdviceKind::RawHttp, title: format!("Raw HTTP caller{who}: get a token"), lines }
}

fn hop_limit() -> Advice {
    Advice {
        kind: AdviceKind::HopLimit,
        title: "Hop limit: token answers never arrived, then IMDSv1 was used".into(),
        lines: vec![
            "The token response (IP TTL = hop limit, often 1) dies one hop away,".into(),
            "e.g. in a container on a bridge network. Raise the hop limit to 2:".into(),
            "aws ec2 modify-instance-metadata-options --instance-id <id> \\".into(),
            "  --http-put-response-hop-limit 2 --http-endpoint enabled".into(),
            "Terraform: metadata_options { http_put_response_hop_limit = 2 }".into(),
            "(or run the container with host networking)".into(),
        ],
    }
}

fn fallback(c: &Client) -> Advice {
    let name = match c {
        Client::ModernSdk(n) => *n,
        _ => "the SDK",
    };
    Advice {
        kind: AdviceKind::Fallback,
        title: format!("{name} uses IMDSv2 by default: find why it fell back"),
        lines: vec![
            "It uses v1 only when its token request fails (403/404/405 or timeout).".into(),
            "Check for a proxy adding X-Forwarded-For and the hop limit; set".into(),
            "AWS_EC2_METADATA_V1_DISABLED=true to make the failure visible.".into(),
        ],
    }
}

/// The enforcement switch of a service with a legacy form, as advice once nothing would
/// break.
fn enforce_service(svc: Service) -> Advice {
    let (title, lines): (&str, [&str; 3]) = match svc {
        Service::AlibabaImds => (
            "No client would break this session: enforce Alibaba's hardened mode",
            [
                "aliyun ecs ModifyInstanceMetadataOptions --InstanceId <id> \\",
                "  --HttpTokens required",
                "Terraform: http_tokens = \"required\" on alicloud_instance",
            ],
        ),
        Service::OciImds => (
            "No client would break this session: disable OCI's legacy IMDS endpoints",
            [
                "oci compute instance update --instance-id <id> \\",
                "  --instance-options '{\"areLegacyImdsEndpointsDisabled\": true}'",
                "Terraform: instance_options { are_legacy_imds_endpoints_disabled = true }",
            ],
        ),
        Service::GcpMetadata => (
            "No client would break this session: disable GCP's legacy metadata endpoints",
            [
                "gcloud compute instances add-metadata <name> \\",
                "  --metadata disable-legacy-endpoints=true",
                "Terraform: metadata = { disable-legacy-endpoints = \"true\" }",
            ],
        ),
        _ => (
            "No client would break this session: enforce IMDSv2",
            [
                "aws ec2 modify-instance-metadata-options --instance-id <id> \\",
                "  --http-tokens required --http-endpoint enabled",
                "Terraform: metadata_options { http_tokens = \"required\" }",
            ],
        ),
    };
    Advice { kind: AdviceKind::Enforce, title: title.into(), lines: lines.map(String::from).to_vec() }
}

/// What to change for a client served by another cloud's legacy endpoint (none for EC2:
/// its advice names the SDK), and the switch that will refuse it.
fn legacy(svc: Service) -> Option<Advice> {
    let (title, lines): (&str, &[&str]) = match svc {
        Service::AlibabaImds => (
            "Alibaba normal mode (no token): use hardened mode before enforcing",
            &[
                "TOKEN=$(curl -s -X PUT http://100.100.100.200/latest/api/token \\",
                "  -H 'X-aliyun-ecs-metadata-token-ttl-seconds: 21600')",
                "curl -s -H \"X-aliyun-ecs-metadata-token: $TOKEN\" http://100.100.100.200/latest/meta-data/...",
                "Breaks under: aliyun ecs ModifyInstanceMetadataOptions --HttpTokens required",
            ],
        ),
        Service::OciImds => (
            "OCI legacy endpoint (/opc/v1, /openstack): move to /opc/v2",
            &[
                "curl -s -H 'Authorization: Bearer Oracle' http://169.254.169.254/opc/v2/instance/",
                "(current OCI SDKs and agents use /opc/v2: upgrade old ones)",
                "Breaks under: instance_options { are_legacy_imds_endpoints_disabled = true }",
            ],
        ),
        Service::GcpMetadata => (
            "GCP legacy endpoint (/0.1/, v1beta1): move to /computeMetadata/v1/",
            &[
                "curl -s -H 'Metadata-Flavor: Google' \\",
                "  http://metadata.google.internal/computeMetadata/v1/instance/...",
                "Breaks under: metadata disable-legacy-endpoints=true",
            ],
        ),
        _ => return None,
    };
    Some(Advice {
        kind: AdviceKind::Legacy,
        title: title.into(),
        lines: lines.iter().map(|l| (*l).to_string()).collect(),
    })
}
