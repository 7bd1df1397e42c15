//! Writes pcap and pcapng files for tests (little-endian, microsecond or nanosecond pcap).
#![allow(dead_code)]

pub const DLT_NULL: u32 = 0;
pub const DLT_EN10MB: u32 = 1;
pub const DLT_LOOP: u32 = 108;
pub const DLT_RAW: u32 = 101;
pub const DLT_LINUX_SLL: u32 = 113;
pub const DLT_LINUX_SLL2: u32 = 276;

/// A classic pcap file. `ts` in microseconds since the epoch.
pub fn pcap(linktype: u32, frames: &[(u64, Vec<u8>)], nanos: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    v.extend(magic.to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(4u16.to_le_bytes());
    v.extend(0i32.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(262_144u32.to_le_bytes());
    v.extend(linktype.to_le_bytes());
    for (ts, data) in frames {
        let secs = (ts / 1_000_000) as u32;
        let frac = if nanos { (ts % 1_000_000) as u32 * 1000 } else { (ts % 1_000_000) as u32 };
        v.extend(secs.to_le_bytes());
        v.extend(frac.to_le_bytes());
        v.extend((data.len() as u32).to_le_bytes());
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
    }
    v
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    let mut v = Vec::new();
    v.extend(kind.to_le_bytes());
    v.extend(len.to_le_bytes());
    v.extend(body);
    v.extend(std::iter::repeat_n(0u8, pad));
    v.extend(len.to_le_bytes());
    v
}

/// A pcapng file: one section, one interface per link type, packets as (interface, ts µs,
/// frame). `extra` blocks (type, body) are written after the interfaces.
pub fn pcapng(links: &[u32], packets: &[(u32, u64, Vec<u8>)], extra: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    v.extend(block(0x0a0d_0d0a, &shb));
    for &l in links {
        let mut idb = Vec::new();
        idb.extend((l as u16).to_le_bytes());
        idb.extend(0u16.to_le_bytes());
        idb.extend(262_144u32.to_le_bytes());
        v.extend(block(1, &idb));
    }
    for (kind, body) in extra {
        v.extend(block(*kind, body));
    }
    for (iface, ts, data) in packets {
        let mut epb = Vec::new();
        epb.extend(iface.to_le_bytes());
        epb.extend(((ts >> 32) as u32).to_le_bytes());
        epb.extend((*ts as u32).to_le_bytes());
        epb.extend((data.len() as u32).to_le_bytes());
        epb.extend((data.len() as u32).to_le_bytes());
        epb.extend(data);
        v.extend(block(6, &epb));
    }
    v
}
