//! The set of IMDS endpoints to watch.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// IMDS endpoints: by default 169.254.169.254:80 and [fd00:ec2::254]:80.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    addrs: Vec<SocketAddr>,
}

pub const IMDS_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
pub const IMDS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints { addrs: vec![SocketAddr::new(IpAddr::V4(IMDS_V4), 80), SocketAddr::new(IpAddr::V6(IMDS_V6), 80)] }
    }
}

impl Endpoints {
    /// Parses `ADDR:PORT` strings; an empty list gives the defaults.
    pub fn parse(specs: &[String]) -> Result<Endpoints, String> {
        if specs.is_empty() {
            return Ok(Endpoints::default());
        }
        let mut addrs = Vec::with_capacity(specs.len());
        for s in specs {
            let a: SocketAddr = s.parse().map_err(|_| {
                format!("invalid --endpoint '{s}': expected ADDR:PORT, e.g. 169.254.169.254:80 or [fd00:ec2::254]:80")
            })?;
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        Ok(Endpoints { addrs })
    }

    pub fn contains(&self, a: &SocketAddr) -> bool {
        self.addrs.iter().any(|e| e == a)
    }

    /// True when some endpoint has this IP (any port): the cheap first filter.
    pub fn has_ip(&self, ip: IpAddr) -> bool {
        self.addrs.iter().any(|e| e.ip() == ip)
    }

    pub fn iter(&self) -> impl Iterator<Item = &SocketAddr> {
        self.addrs.iter()
    }

    /// A BPF filter matching TCP traffic to and from the endpoints.
    pub fn bpf_filter(&self) -> String {
        let parts: Vec<String> =
            self.addrs.iter().map(|a| format!("(host {} and tcp port {})", a.ip(), a.port())).collect();
        parts.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parsing() {
        let d = Endpoints::parse(&[]).expect("defaults");
        assert!(d.contains(&"169.254.169.254:80".parse().expect("addr")));
        assert!(d.contains(&"[fd00:ec2::254]:80".parse().expect("addr")));
        assert!(!d.contains(&"169.254.169.254:8080".parse().expect("addr")));
        let e = Endpoints::parse(&["127.0.0.1:1338".into()]).expect("one");
        assert!(e.contains(&"127.0.0.1:1338".parse().expect("addr")));
        assert!(!e.contains(&"169.254.169.254:80".parse().expect("addr")));
        assert!(Endpoints::parse(&["169.254.169.254".into()]).is_err());
        assert_eq!(d.bpf_filter(), "(host 169.254.169.254 and tcp port 80) or (host fd00:ec2::254 and tcp port 80)");
    }
}
