//! Link layers: strip the frame header and say what protocol follows.
//! Written by hand because each is a few bytes and etherparse has no SLL2 or BSD loopback.

use crate::capture::LinkType;

/// Ethertypes of the network layer imdswatch reads.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// Most VLAN tags followed before a frame counts as malformed.
const MAX_VLAN_TAGS: usize = 4;

/// Why a frame has no IP payload to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Shorter than its link header.
    Truncated,
    /// Not IPv4 or IPv6 (ARP, LLDP, ...): not ours, not an anomaly.
    NotIp,
    /// More VLAN tags than any real network stacks.
    TooManyTags,
}

/// Returns the IP packet inside a frame.
pub fn ip_payload(link: LinkType, frame: &[u8]) -> Result<&[u8], LinkError> {
    match link {
        LinkType::Ethernet => {
            let mut ethertype = be16(frame, 12)?;
            let mut off = 14;
            let mut tags = 0;
            while matches!(
                ethertype,
                ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
            ) {
                tags += 1;
                if tags > MAX_VLAN_TAGS {
                    return Err(LinkError::TooManyTags);
                }
                ethertype = be16(frame, off + 2)?;
                off += 4;
            }
            ip_by_ethertype(ethertype, frame, off)
        }
        // SLL: packet type(2) arphrd(2) addr len(2) addr(8) protocol(2).
        LinkType::LinuxSll => ip_by_ethertype(be16(frame, 14)?, frame, 16),
        // SLL2: protocol(2) reserved(2) ifindex(4) arphrd(2) packet type(1) addr len(1) addr(8).
        LinkType::LinuxSll2 => ip_by_ethertype(be16(frame, 0)?, frame, 20),
        LinkType::RawIp => match frame.first().map(|b| b >> 4) {
            Some(4 | 6) => Ok(frame),
            Some(_) => Err(LinkError::NotIp),
            None => Err(LinkError::Truncated),
        },
        LinkType::Null | LinkType::Loop => {
            let fam = frame.get(..4).ok_or(LinkError::Truncated)?;
            // DLT_NULL is in the writer's byte order; the family values are small, so one of
            // the two readings is.
            let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let family = if link == LinkType::Loop {
                be
            } else {
                le.min(be)
            };
            match family {
                // AF_INET; AF_INET6 on BSDs (24), FreeBSD (28), macOS (30).
                2 | 24 | 28 | 30 => Ok(&frame[4..]),
                _ => Err(LinkError::NotIp),
            }
        }
    }
}

fn ip_by_ethertype(ethertype: u16, frame: &[u8], off: usize) -> Result<&[u8], LinkError> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => frame.get(off..).ok_or(LinkError::Truncated),
        _ => Err(LinkError::NotIp),
    }
}

fn be16(b: &[u8], off: usize) -> Result<u16, LinkError> {
    match b.get(off..off + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(LinkError::Truncated),
    }
}
