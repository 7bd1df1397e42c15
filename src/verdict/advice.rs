//! Remediation advice for one client: the concrete change that moves it to IMDSv2 (the
//! client's own advice from the catalogue: `remedy`; hop limit, proxy), or the enforcement
//! command once no client on the host would break.

pub use super::advice_kind::{Advice, AdviceKind};
use super::{ClientSummary, Verdict, verdict};
use crate::event::Service;

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
    super::remedy::client_advice(s, v, out);
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
