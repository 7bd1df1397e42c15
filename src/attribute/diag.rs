//! Exact socket lookup through netlink `SOCK_DIAG` (what `ss` uses), in the monitor's own
//! network namespace. Reading `/proc/net/tcp` walks the kernel's whole connection hash table
//! (about 4 ms per file on the test VM, whatever the number of sockets); asking for one
//! 4-tuple is a hash lookup, a few microseconds. Safe code only: rustix sockets, the request
//! and answer are plain bytes (`inet_diag_req_v2`, `inet_diag_msg`, native endian).

use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, netlink, recv, send, sockopt};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
const ENOENT: i32 = 2;
const TCP_LISTEN: u8 = 10;
const REQ_LEN: usize = 16 + 56;
/// Offset of `idiag_inode` in an answer: nlmsghdr (16) + inet_diag_msg up to the inode (68).
const INODE_AT: usize = 16 + 68;

#[derive(Debug)]
pub(crate) struct Diag {
    fd: OwnedFd,
    seq: u32,
}

fn put_addr(buf: &mut [u8], ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => buf[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => buf[..16].copy_from_slice(&v6.octets()),
    }
}

/// The request for exactly `local` → `remote` (addresses canonical: v4-mapped as v4).
pub(crate) fn request(local: SocketAddr, remote: SocketAddr, seq: u32) -> [u8; REQ_LEN] {
    let (lip, rip) = (local.ip().to_canonical(), remote.ip().to_canonical());
    let family = if lip.is_ipv4() && rip.is_ipv4() { AF_INET } else { AF_INET6 };
    let (lip, rip) = match (family, lip, rip) {
        (AF_INET6, IpAddr::V4(a), b) => (IpAddr::V6(a.to_ipv6_mapped()), b),
        (AF_INET6, a, IpAddr::V4(b)) => (a, IpAddr::V6(b.to_ipv6_mapped())),
        other => (other.1, other.2),
    };
    let mut b = [0u8; REQ_LEN];
    b[0..4].copy_from_slice(&(REQ_LEN as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    let r = &mut b[16..];
    r[0] = family;
    r[1] = IPPROTO_TCP;
    r[4..8].copy_from_slice(&u32::MAX.to_ne_bytes()); // all states
    r[8..10].copy_from_slice(&local.port().to_be_bytes());
    r[10..12].copy_from_slice(&remote.port().to_be_bytes());
    put_addr(&mut r[12..28], lip);
    put_addr(&mut r[28..44], rip);
    // r[44..48]: interface 0 (any); r[48..56]: cookie = INET_DIAG_NOCOOKIE.
    r[48..56].copy_from_slice(&[0xff; 8]);
    b
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What one answer says: `Ok(Some(inode))`, `Ok(None)` for "no such socket", `Err(errno)`;
/// `None` when the message is not the answer to `seq`. The kernel's lookup falls back on a
/// listening socket, like for an incoming SYN: that is "no such connection" here.
pub(crate) fn parse(msg: &[u8], seq: u32, ports: (u16, u16)) -> Option<Result<Option<u64>, i32>> {
    let kind = u16::from_ne_bytes(msg.get(4..6)?.try_into().ok()?);
    if u32_at(msg, 8)? != seq {
        return None;
    }
    match kind {
        SOCK_DIAG_BY_FAMILY => {
            let state = *msg.get(17)?;
            let sport = u16::from_be_bytes(msg.get(20..22)?.try_into().ok()?);
            let dport = u16::from_be_bytes(msg.get(22..24)?.try_into().ok()?);
            if state == TCP_LISTEN || (sport, dport) != ports {
                return Some(Ok(None));
            }
            Some(Ok(Some(u64::from(u32_at(msg, INODE_AT)?))))
        }
        NLMSG_ERROR => {
            let errno = i32::from_ne_bytes(msg.get(16..20)?.try_into().ok()?);
            Some(if errno == -ENOENT { Ok(None) } else { Err(errno) })
        }
        _ => None,
    }
}

impl Diag {
    /// A SOCK_DIAG socket in the network namespace `ns_path` (e.g. `/proc/PID/ns/net`).
    /// The socket is made on a short-lived thread that joins the namespace: a netlink
    /// socket answers for the namespace it was created in, whatever thread uses it later.
    /// Needs CAP_SYS_ADMIN; `None` without it (the caller reads /proc tables instead).
    pub fn open_in(ns_path: &std::path::Path) -> Option<Diag> {
        let ns = std::fs::File::open(ns_path).ok()?;
        std::thread::scope(|s| {
            s.spawn(|| {
                use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
                move_into_link_name_space(std::os::fd::AsFd::as_fd(&ns), Some(LinkNameSpaceType::Network)).ok()?;
                Diag::open()
            })
            .join()
            .ok()
            .flatten()
        })
    }

    pub fn open() -> Option<Diag> {
        let fd = rustix::net::socket(AddressFamily::NETLINK, SocketType::DGRAM, Some(netlink::SOCK_DIAG)).ok()?;
        sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(Duration::from_millis(50))).ok()?;
        let addr = netlink::SocketAddrNetlink::new(0, 0);
        rustix::net::connect(&fd, &addr).ok()?;
        Some(Diag { fd, seq: 0 })
    }

    /// `Ok(Some(inode))` (0: no file any more, e.g. TIME_WAIT), `Ok(None)`: no such socket.
    /// `Err`: netlink failed; use the /proc tables.
    pub fn find(&mut self, local: SocketAddr, remote: SocketAddr) -> Result<Option<u64>, ()> {
        self.seq = self.seq.wrapping_add(1);
        let req = request(local, remote, self.seq);
        if send(&self.fd, &req, SendFlags::empty()).map_err(drop)? != req.len() {
            return Err(());
        }
        let mut buf = [0u8; 1024];
        // Skip stale answers to earlier requests (a timed-out one).
        for _ in 0..8 {
            let (n, _) = recv(&self.fd, &mut buf, RecvFlags::empty()).map_err(drop)?;
            if let Some(answer) = buf.get(..n).and_then(|m| parse(m, self.seq, (local.port(), remote.port()))) {
                return answer.map_err(drop);
            }
        }
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_diag_request_layout() {
        let l: SocketAddr = "10.1.2.3:40000".parse().unwrap_or_else(|e| panic!("{e}"));
        let r: SocketAddr = "[::ffff:192.0.2.7]:80".parse().unwrap_or_else(|e| panic!("{e}"));
        let b = request(l, r, 7);
        assert_eq!(b[16], AF_INET);
        assert_eq!(&b[24..26], &40000u16.to_be_bytes());
        assert_eq!(&b[28..32], &[10, 1, 2, 3]);
        assert_eq!(&b[44..48], &[192, 0, 2, 7]);
        let l6: SocketAddr = "[2001:db8::1]:1".parse().unwrap_or_else(|e| panic!("{e}"));
        let b = request(l6, r, 8);
        assert_eq!(b[16], AF_INET6);
        assert_eq!(
            &b[44..60],
            &"::ffff:192.0.2.7".parse::<std::net::Ipv6Addr>().map(|a| a.octets()).unwrap_or_default()
        );
    }

    #[test]
    fn attribute_diag_parse_answers() {
        let mut ok = vec![0u8; 16 + 72];
        ok[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        ok[8..12].copy_from_slice(&5u32.to_ne_bytes());
        ok[INODE_AT..INODE_AT + 4].copy_from_slice(&4242u32.to_ne_bytes());
        ok[17] = 1; // ESTABLISHED
        ok[20..22].copy_from_slice(&40000u16.to_be_bytes());
        ok[22..24].copy_from_slice(&80u16.to_be_bytes());
        let ports = (40000, 80);
        assert_eq!(parse(&ok, 5, ports), Some(Ok(Some(4242))));
        assert_eq!(parse(&ok, 6, ports), None);
        // The kernel answered with a listener (or another socket): not this connection.
        assert_eq!(parse(&ok, 5, (40001, 80)), Some(Ok(None)));
        ok[17] = TCP_LISTEN;
        assert_eq!(parse(&ok, 5, ports), Some(Ok(None)));
        let mut err = vec![0u8; 36];
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[8..12].copy_from_slice(&5u32.to_ne_bytes());
        err[16..20].copy_from_slice(&(-ENOENT).to_ne_bytes());
        assert_eq!(parse(&err, 5, (1, 2)), Some(Ok(None)));
        err[16..20].copy_from_slice(&(-22i32).to_ne_bytes());
        assert_eq!(parse(&err, 5, (1, 2)), Some(Err(-22)));
        assert_eq!(parse(&[], 5, (1, 2)), None);
        assert_eq!(parse(&ok[..20], 5, (1, 2)), None);
    }
}
