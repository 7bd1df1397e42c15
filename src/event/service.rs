//! `imds.service`: which metadata or credential service a request is for, and sets of them
//! (`--service`, the host verdict's `breaking_services`). Split from `event` to keep files
//! short; re-exported there.

use serde::Serialize;

use super::Provider;

/// Which metadata or credential service a request is for (`imds.service`). Decided from the
/// server address when it is a well-known one or an `--endpoint ADDR:PORT=SERVICE` hint,
/// otherwise from the request (see `classify::service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// The EC2 instance metadata service (169.254.169.254, fd00:ec2::254).
    Ec2Imds,
    /// ECS task role credentials (169.254.170.2, `GET /v2/credentials/<id>`).
    EcsTaskCredentials,
    /// The EKS Pod Identity agent (169.254.170.23, fd00:ec2::23, `GET /v1/credentials`).
    EksPodIdentity,
    /// Alibaba Cloud ECS metadata (100.100.100.200).
    AlibabaImds,
    /// Oracle Cloud instance metadata (`/opc/v1`, `/opc/v2`, `/openstack`).
    OciImds,
    /// Google Cloud metadata server (`/computeMetadata/`, `/0.1/`).
    GcpMetadata,
    /// Azure Instance Metadata Service (`/metadata/`).
    AzureImds,
    /// IBM Cloud VPC metadata (`/instance_identity/`).
    IbmMetadata,
    /// Marks of more than one provider.
    Unknown,
}

impl Service {
    /// Every service, in the order of the README's table.
    pub const ALL: [Service; 9] = [
        Service::Ec2Imds,
        Service::EcsTaskCredentials,
        Service::EksPodIdentity,
        Service::AlibabaImds,
        Service::OciImds,
        Service::GcpMetadata,
        Service::AzureImds,
        Service::IbmMetadata,
        Service::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ec2Imds => "ec2_imds",
            Service::EcsTaskCredentials => "ecs_task_credentials",
            Service::EksPodIdentity => "eks_pod_identity",
            Service::AlibabaImds => "alibaba_imds",
            Service::OciImds => "oci_imds",
            Service::GcpMetadata => "gcp_metadata",
            Service::AzureImds => "azure_imds",
            Service::IbmMetadata => "ibm_metadata",
            Service::Unknown => "unknown",
        }
    }

    /// The service of a name as written in `imds.service` (case-insensitive).
    pub fn parse(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The cloud whose service this is (`imds.provider`).
    pub fn provider(self) -> Provider {
        match self {
            Service::Ec2Imds | Service::EcsTaskCredentials | Service::EksPodIdentity => Provider::Aws,
            Service::AlibabaImds => Provider::Alibaba,
            Service::OciImds => Provider::Oracle,
            Service::GcpMetadata => Provider::Gcp,
            Service::AzureImds => Provider::Azure,
            Service::IbmMetadata => Provider::Ibm,
            Service::Unknown => Provider::Unknown,
        }
    }

    /// The service has a legacy form (`imds.version` `v1`) that a setting turns off.
    pub fn has_legacy_form(self) -> bool {
        matches!(self, Service::Ec2Imds | Service::AlibabaImds | Service::OciImds | Service::GcpMetadata)
    }

    /// A short bit for sets of services ([`ServiceSet`]).
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of services (a bit set: copied freely, no allocation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ServiceSet(u16);

impl ServiceSet {
    pub fn all() -> ServiceSet {
        ServiceSet(Service::ALL.iter().fold(0, |b, s| b | s.bit()))
    }

    pub fn insert(&mut self, s: Service) {
        self.0 |= s.bit();
    }

    pub fn contains(self, s: Service) -> bool {
        self.0 & s.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn is_empty_ref(&self) -> bool {
        self.0 == 0
    }

    /// The services in the set, in [`Service::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Service> {
        Service::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses a comma-separated list of service names (`ec2_imds,oci_imds`).
    pub fn parse_list(list: &str) -> Result<ServiceSet, String> {
        let mut set = ServiceSet::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Service::parse(name) {
                Some(s) => set.insert(s),
                None => return Err(format!("unknown service '{}': expected {}", name, service_names())),
            }
        }
        if set.is_empty() {
            return Err(format!("empty service list: expected {}", service_names()));
        }
        Ok(set)
    }
}

impl Serialize for ServiceSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The service names, comma-separated (for messages and help).
pub fn service_names() -> String {
    Service::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
