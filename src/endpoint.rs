//! The set of metadata endpoints to watch, and which service each address is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::event::Service;

/// Metadata endpoints: by default the EC2 IMDS (169.254.169.254:80, [fd00:ec2::254]:80),
/// Alibaba's (100.100.100.200:80), ECS task credentials (169.254.170.2:80) and the EKS Pod
/// Identity agent (169.254.170.23:80, [fd00:ec2::23]:80).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    addrs: Vec<SocketAddr>,
    /// The IPv4 and IPv6 addresses of `addrs`, as integers: the per-packet first filter.
    v4: Vec<u32>,
    v6: Vec<u128>,
    /// `--endpoint ADDR:PORT=SERVICE`: the service of an address, given by the user.
    hints: Vec<(SocketAddr, Service)>,
}

pub const IMDS_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
pub const IMDS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
/// Alibaba Cloud ECS metadata.
pub const ALIBABA_V4: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);
/// ECS task credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`).
pub const ECS_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 170, 2);
/// EKS Pod Identity agent.
pub const EKS_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 170, 23);
pub const EKS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0023);

/// The well-known addresses whose service the address alone says.
const WELL_KNOWN: [(IpAddr, Service); 4] = [
    (IpAddr::V4(ALIBABA_V4), Service::AlibabaImds),
    (IpAddr::V4(ECS_V4), Service::EcsTaskCredentials),
    (IpAddr::V4(EKS_V4), Service::EksPodIdentity),
    (IpAddr::V6(EKS_V6), Service::EksPodIdentity),
];

/// What the server address says of a connection's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub service: Service,
    /// Given with `--endpoint ADDR:PORT=SERVICE` (not a well-known address): for ECS this is
    /// an `AWS_CONTAINER_CREDENTIALS_FULL_URI` endpoint, where every GET fetches credentials.
    pub explicit: bool,
}

impl Default for Endpoints {
    fn default() -> Self {
        let addrs = [IpAddr::V4(IMDS_V4), IpAddr::V6(IMDS_V6)]
            .into_iter()
            .chain(WELL_KNOWN.iter().map(|(ip, _)| *ip))
            .map(|ip| SocketAddr::new(ip, 80))
            .collect();
        Endpoints::indexed(addrs, Vec::new())
    }
}

impl Endpoints {
    /// Parses `ADDR:PORT` or `ADDR:PORT=SERVICE` strings; an empty list gives the defaults.
    pub fn parse(specs: &[String]) -> Result<Endpoints, String> {
        if specs.is_empty() {
            return Ok(Endpoints::default());
        }
        let mut addrs: Vec<SocketAddr> = Vec::with_capacity(specs.len());
        let mut hints: Vec<(SocketAddr, Service)> = Vec::new();
        for s in specs {
            let (addr, service) = match s.split_once('=') {
                Some((a, svc)) => (a, Some(svc)),
                None => (s.as_str(), None),
            };
            let a: SocketAddr = addr.trim().parse().map_err(|_| {
                format!(
                    "invalid --endpoint '{s}': expected ADDR:PORT[=SERVICE], e.g. 169.254.169.254:80, \
                     [fd00:ec2::254]:80 or 127.0.0.1:8080=ecs_task_credentials"
                )
            })?;
            if let Some(name) = service {
                let svc = Service::parse(name).filter(|s| *s != Service::Unknown).ok_or_else(|| {
                    format!(
                        "invalid --endpoint '{s}': unknown service '{}': expected one of {}",
                        name.trim(),
                        known_services()
                    )
                })?;
                match hints.iter().find(|(h, _)| *h == a) {
                    Some((_, old)) if *old != svc => {
                        return Err(format!("--endpoint {a} is given as both {} and {}", old.as_str(), svc.as_str()));
                    }
                    Some(_) => {}
                    None => hints.push((a, svc)),
                }
            }
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        Ok(Endpoints::indexed(addrs, hints))
    }

    /// The endpoints with their addresses indexed for [`Endpoints::has_ip`].
    fn indexed(addrs: Vec<SocketAddr>, hints: Vec<(SocketAddr, Service)>) -> Endpoints {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for a in &addrs {
            match a.ip() {
                IpAddr::V4(ip) => v4.push(u32::from(ip)),
                IpAddr::V6(ip) => v6.push(u128::from(ip)),
            }
        }
        Endpoints { addrs, v4, v6, hints }
    }

    pub fn contains(&self, a: &SocketAddr) -> bool {
        // The address as an integer first: the client end of every packet misses here, and
        // this runs four times a packet (issue 29).
        self.has_ip(a.ip()) && self.addrs.iter().any(|e| e == a)
    }

    /// True when some endpoint has this IP (any port): the cheap first filter.
    pub fn has_ip(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.has_v4(u32::from(ip)),
            IpAddr::V6(ip) => self.has_v6(u128::from(ip)),
        }
    }

    /// [`Endpoints::has_ip`] for an IPv4 address as a big-endian integer.
    #[inline]
    pub fn has_v4(&self, ip: u32) -> bool {
        self.v4.contains(&ip)
    }

    /// [`Endpoints::has_ip`] for an IPv6 address as a big-endian integer.
    #[inline]
    pub fn has_v6(&self, ip: u128) -> bool {
        self.v6.contains(&ip)
    }

    pub fn iter(&self) -> impl Iterator<Item = &SocketAddr> {
        self.addrs.iter()
    }

    /// The service a server address stands for: the `--endpoint` hint, else the well-known
    /// address (port 80); `None` for 169.254.169.254 and any other address (decided from
    /// the request: several clouds share 169.254.169.254).
    pub fn hint(&self, server: &SocketAddr) -> Option<Hint> {
        if let Some((_, service)) = self.hints.iter().find(|(a, _)| a == server) {
            return Some(Hint { service: *service, explicit: true });
        }
        if server.port() != 80 {
            return None;
        }
        WELL_KNOWN
            .iter()
            .find(|(ip, _)| *ip == server.ip())
            .map(|(_, service)| Hint { service: *service, explicit: false })
    }

    /// A BPF filter matching TCP traffic to and from the endpoints.
    pub fn bpf_filter(&self) -> String {
        let parts: Vec<String> =
            self.addrs.iter().map(|a| format!("(host {} and tcp port {})", a.ip(), a.port())).collect();
        parts.join(" or ")
    }
}

/// The names `--endpoint ...=SERVICE` accepts.
fn known_services() -> String {
    Service::ALL.iter().filter(|s| **s != Service::Unknown).map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn defaults_and_parsing() {
        let d = Endpoints::parse(&[]).expect("defaults");
        for a in [
            "169.254.169.254:80",
            "[fd00:ec2::254]:80",
            "100.100.100.200:80",
            "169.254.170.2:80",
            "169.254.170.23:80",
            "[fd00:ec2::23]:80",
        ] {
            assert!(d.contains(&sa(a)), "{a}");
        }
        assert!(!d.contains(&sa("169.254.169.254:8080")));
        let e = Endpoints::parse(&["127.0.0.1:1338".into()]).expect("one");
        assert!(e.contains(&sa("127.0.0.1:1338")));
        assert!(!e.contains(&sa("169.254.169.254:80")));
        assert!(Endpoints::parse(&["169.254.169.254".into()]).is_err());
        assert_eq!(
            d.bpf_filter(),
            "(host 169.254.169.254 and tcp port 80) or (host fd00:ec2::254 and tcp port 80) or \
             (host 100.100.100.200 and tcp port 80) or (host 169.254.170.2 and tcp port 80) or \
             (host 169.254.170.23 and tcp port 80) or (host fd00:ec2::23 and tcp port 80)"
        );
    }

    #[test]
    fn well_known_addresses_hint_their_service() {
        let d = Endpoints::default();
        let h = |a: &str| d.hint(&sa(a)).map(|h| (h.service, h.explicit));
        assert_eq!(h("169.254.170.2:80"), Some((Service::EcsTaskCredentials, false)));
        assert_eq!(h("169.254.170.23:80"), Some((Service::EksPodIdentity, false)));
        assert_eq!(h("[fd00:ec2::23]:80"), Some((Service::EksPodIdentity, false)));
        assert_eq!(h("100.100.100.200:80"), Some((Service::AlibabaImds, false)));
        assert_eq!(h("169.254.169.254:80"), None, "several clouds share it: decided per request");
        assert_eq!(h("[fd00:ec2::254]:80"), None);
        assert_eq!(h("169.254.170.2:8080"), None);
    }

    #[test]
    fn endpoint_with_a_service() {
        let e = Endpoints::parse(&[
            "127.0.0.1:8080=ecs_task_credentials".into(),
            "[::1]:80 = eks_pod_identity".into(),
            "127.0.0.1:1338".into(),
        ])
        .expect("parse");
        assert!(e.contains(&sa("127.0.0.1:8080")));
        assert!(e.contains(&sa("[::1]:80")));
        assert_eq!(e.hint(&sa("127.0.0.1:8080")), Some(Hint { service: Service::EcsTaskCredentials, explicit: true }));
        assert_eq!(e.hint(&sa("[::1]:80")).map(|h| h.service), Some(Service::EksPodIdentity));
        assert_eq!(e.hint(&sa("127.0.0.1:1338")), None);
        // An explicit hint wins over the well-known address.
        let e = Endpoints::parse(&["169.254.170.2:80=ec2_imds".into()]).expect("parse");
        assert_eq!(e.hint(&sa("169.254.170.2:80")).map(|h| h.service), Some(Service::Ec2Imds));
        // The same endpoint twice with the same service is fine.
        assert!(Endpoints::parse(&["127.0.0.1:1=oci_imds".into(), "127.0.0.1:1=OCI_IMDS".into()]).is_ok());
    }

    #[test]
    fn endpoint_errors_say_what_is_expected() {
        let err = |s: &str| Endpoints::parse(&[s.into()]).expect_err(s);
        assert!(err("127.0.0.1:80=ecs").contains("unknown service 'ecs'"));
        assert!(err("127.0.0.1:80=ecs").contains("ecs_task_credentials"));
        assert!(err("127.0.0.1:80=unknown").contains("unknown service"));
        assert!(err("127.0.0.1:80=").contains("unknown service ''"));
        assert!(err("localhost:80=ec2_imds").contains("expected ADDR:PORT[=SERVICE]"));
        let e = Endpoints::parse(&["127.0.0.1:80=oci_imds".into(), "127.0.0.1:80=gcp_metadata".into()]);
        assert!(e.expect_err("conflict").contains("both oci_imds and gcp_metadata"));
    }
}
