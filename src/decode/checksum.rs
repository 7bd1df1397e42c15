//! Checksums, as the receiving host checks them (issue 12: a decoy segment with a bad TCP
//! checksum is dropped by the server's kernel, so imdswatch must drop it too).
//!
//! The rule, for a capture taken on the client host:
//! - an IPv4 header with a wrong header checksum is dropped (never offloaded on send);
//! - a TCP segment with the right checksum is kept;
//! - a TCP checksum field holding the pseudo-header sum alone is what checksum offload leaves
//!   in a locally sent packet (the NIC fills it in after the capture point): the segment is
//!   kept, and counted as unverified;
//! - a TCP checksum field of 0 is wrong (issue 23, class 3) unless the checksum is zero
//!   (written 0x0000 or 0xffff: one's complement's two zeros): offload never leaves 0 (Linux
//!   writes the pseudo-header sum, `tcp_v4_send_check`/`__tcp_v4_send_check`), and unlike
//!   UDP, TCP has no "no checksum" value, so the receiving kernel drops it
//!   (`tcp_checksum_complete` in `tcp_v4_rcv`); a decoy with a zeroed field is dropped;
//! - anything else is dropped and counted (`tcp_bad_checksums`).
//!
//! An attacker who writes the pseudo-header sum into a decoy gets it kept as unverified;
//! if it then disagrees with the real segment, reassembly reports the conflict.

use std::net::IpAddr;

use etherparse::{IpSlice, TcpSlice};

/// What the checksums of a segment say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Valid,
    /// The field holds what checksum offload leaves on the sending host.
    Offloaded,
    Bad,
}

/// Whether an IPv4 header's checksum is right (IPv6 has none).
pub fn ip_header_ok(ip: &IpSlice<'_>) -> bool {
    match ip {
        // The one's-complement sum of the whole header, its checksum field included, is
        // all ones when the field is right (RFC 1071), as Linux's `ip_fast_csum` checks it;
        // summed in place (etherparse copied the header out to recompute the field).
        IpSlice::Ipv4(v4) => {
            let b = v4.header().slice();
            let mut sum: u32 = b.chunks_exact(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            sum == 0xffff
        }
        IpSlice::Ipv6(_) => true,
    }
}

/// Checks the TCP checksum of a segment between `src` and `dst`.
pub fn verify_tcp(src: IpAddr, dst: IpAddr, tcp: &TcpSlice<'_>) -> Checksum {
    let len = tcp.slice().len();
    let (computed, pseudo) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let Ok(c) = tcp.calc_checksum_ipv4(s.octets(), d.octets()) else { return Checksum::Bad };
            (c, pseudo_sum(&[&s.octets(), &d.octets()], len))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let Ok(c) = tcp.calc_checksum_ipv6(s.octets(), d.octets()) else { return Checksum::Bad };
            (c, pseudo_sum(&[&s.octets(), &d.octets()], len))
        }
        _ => return Checksum::Bad,
    };
    let field = tcp.checksum();
    // One's complement has two zeros: when the checksum comes out as one (1 segment in
    // 65,536), a sender may write either, and the receiver's sum accepts both.
    let zero = |c: u16| c == 0 || c == 0xffff;
    if field == computed || (zero(field) && zero(computed)) {
        Checksum::Valid
    } else if field != 0 && (field == pseudo || field == !pseudo) {
        Checksum::Offloaded
    } else {
        Checksum::Bad
    }
}

/// The folded (not complemented) sum of the TCP pseudo-header: what Linux writes in the
/// checksum field of a segment whose checksum the NIC will compute (CHECKSUM_PARTIAL).
fn pseudo_sum(addrs: &[&[u8]], len: usize) -> u16 {
    let mut sum: u64 = 6 + len as u64;
    for a in addrs {
        for w in a.chunks(2) {
            sum += u64::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_sum_is_what_offload_leaves() {
        // From captures/keepalive-pipelined.pcap: a 40-byte SYN, field 0x6001.
        assert_eq!(pseudo_sum(&[&[10, 213, 1, 1], &[169, 254, 169, 254]], 40), 0x6001);
    }

    /// A segment whose checksum is zero, written as 0x0000 and as 0xffff: both are what a
    /// Linux receiver accepts (found on a generated capture where 14 of 1.3 M segments came
    /// out this way and their requests went missing).
    #[test]
    fn both_zeros_of_ones_complement_are_valid() {
        let (src, dst) = ([10, 0, 0, 1], [169, 254, 169, 254]);
        let mut seg = vec![0u8; 22];
        seg[..4].copy_from_slice(&[0xc3, 0x50, 0x00, 0x50]); // ports 50000 -> 80
        seg[12] = 5 << 4; // data offset: 5 words
        seg[13] = 0x18; // PSH|ACK
        let check = |seg: &[u8]| {
            let tcp = TcpSlice::from_slice(seg).expect("tcp");
            tcp.calc_checksum_ipv4(src, dst).expect("sum")
        };
        // The payload word that makes the sum all ones: the checksum without it.
        let c = check(&seg);
        seg[20..22].copy_from_slice(&c.to_be_bytes());
        assert!(matches!(check(&seg), 0 | 0xffff), "the checksum is zero now");
        for field in [0x0000u16, 0xffff] {
            seg[16..18].copy_from_slice(&field.to_be_bytes());
            let tcp = TcpSlice::from_slice(&seg).expect("tcp");
            assert_eq!(verify_tcp(src.into(), dst.into(), &tcp), Checksum::Valid, "field {field:#06x}");
        }
        seg[16..18].copy_from_slice(&0x1234u16.to_be_bytes());
        let tcp = TcpSlice::from_slice(&seg).expect("tcp");
        assert_eq!(verify_tcp(src.into(), dst.into(), &tcp), Checksum::Bad);
    }
}
