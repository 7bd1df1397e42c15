//! Packet sources: capture files (`file`) and, in live mode, libpcap (`live`).
//! Both hand the engine the same thing: a timestamp, the link type, and the frame's bytes.

pub mod ethtool;
pub mod file;
pub mod iface;
mod legacy;
pub mod live;

use crate::time::Timestamp;

/// Link layers imdswatch decodes, chosen from the capture's link type, never guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II, with 802.1Q / QinQ tags.
    Ethernet,
    /// DLT_LINUX_SLL: Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux cooked capture v2 (`tcpdump -i any` today).
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_IPV4 / LINKTYPE_IPV6: the frame starts with the IP header.
    RawIp,
    /// DLT_NULL: BSD loopback, 4-byte address family in the writer's byte order.
    Null,
    /// DLT_LOOP: OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
}

impl LinkType {
    /// Maps a pcap LINKTYPE_/DLT_ value; `None` for link types imdswatch cannot decode.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            // LINKTYPE_RAW (101), DLT_RAW on most systems (12, 14), LINKTYPE_IPV4/IPV6.
            101 | 12 | 14 | 228 | 229 => LinkType::RawIp,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            _ => return None,
        })
    }
}

/// The pcap file header's link-type field: the link type in its low 26 bits (libpcap's
/// `LT_LINKTYPE`, mask 0x03FFFFFF), and, when the P bit (0x04000000) is set, the length of
/// the frame check sequence appended to every frame in its top 4 bits, in 16-bit words
/// (pcap file format, "LinkType and additional information"). Returns (link type, FCS bytes).
/// Without the P bit the top bits say nothing: libpcap ignores them, and so does this.
pub fn split_linktype_field(field: u32) -> (i32, usize) {
    let dlt = (field & 0x03FF_FFFF) as i32;
    let fcs = if field & 0x0400_0000 != 0 { ((field >> 28) * 2) as usize } else { 0 };
    (dlt, fcs)
}

/// One captured frame, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_type_field_masks_fcs_bits() {
        assert_eq!(split_linktype_field(1), (1, 0));
        assert_eq!(split_linktype_field(0x3000_0001), (1, 0)); // no P bit: FCS bits ignored
        assert_eq!(split_linktype_field(0x2400_0001), (1, 4)); // P bit: 2 words
        assert_eq!(split_linktype_field(0x0400_00e4), (228, 0));
        assert_eq!(split_linktype_field(0xffff_ffff), (0x03ff_ffff, 30));
    }
}
