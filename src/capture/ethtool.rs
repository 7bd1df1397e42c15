//! A network driver's statistics by name, as `ethtool -S` shows them: the `SIOCETHTOOL` ioctl
//! with `ETHTOOL_GSSET_INFO` (how many), `ETHTOOL_GSTRINGS` (their names) and `ETHTOOL_GSTATS`
//! (their values), on a datagram socket that never sends. None of the three needs a
//! capability.
//!
//! Written here rather than taken from a crate: `below-ethtool` 0.9 leaves the `len` and
//! `n_stats` fields and its buffers uninitialised (its zeroing writes zero bytes). Linux
//! writes nothing when a non-zero `len`/`n_stats` differs from the driver's count, so that
//! crate returned heap garbage as statistic names whenever the stale field was not 0 (seen
//! here in the unit tests). Here both fields carry the count GSSET_INFO just gave: the kernel
//! then writes exactly that many entries, or none (0 back: the count changed, and nothing is
//! read), so it never writes past the zeroed buffers.
//!
//! The ioctl itself, the one `unsafe` step, is `sys::ethtool_ioctl`.

use std::os::fd::OwnedFd;

use crate::sys::ethtool_ioctl;

const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETHTOOL_GSSET_INFO: u32 = 0x37;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
/// Most statistics read (an ENA interface has a few hundred: per-queue counters).
const MAX_STATS: usize = 16_384;

/// A datagram socket for the ioctl (never bound, never sends).
fn socket() -> Option<OwnedFd> {
    rustix::net::socket(rustix::net::AddressFamily::INET, rustix::net::SocketType::DGRAM, None).ok()
}

/// The statistics of `iface` (names and values), if its driver has any.
pub fn driver_stats(iface: &str) -> Option<Vec<(String, u64)>> {
    let name = iface.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        return None;
    }
    let fd = socket()?;
    // ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[] }
    let mut info = [0u64; 3];
    put_u32s(&mut info[0], ETHTOOL_GSSET_INFO, 0);
    info[1] = 1 << ETH_SS_STATS;
    if !ethtool_ioctl(&fd, name, &mut info) || info[1] & (1 << ETH_SS_STATS) == 0 {
        return None;
    }
    let n = (get_u32s(info[2]).0 as usize).min(MAX_STATS);
    if n == 0 {
        return Some(Vec::new());
    }
    // ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[] }: 12 bytes of header;
    // one u64 of header (cmd, string_set), then len and the strings from byte 8.
    let mut strings = vec![0u64; 2 + n * ETH_GSTRING_LEN / 8];
    put_u32s(&mut strings[0], ETHTOOL_GSTRINGS, ETH_SS_STATS);
    put_u32s(&mut strings[1], n as u32, 0);
    if !ethtool_ioctl(&fd, name, &mut strings) {
        return None;
    }
    let bytes: Vec<u8> = strings.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let len = u32::from_ne_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if len != n {
        return None; // the count changed in between: nothing was written
    }
    let names = parse_names(&bytes[12..], len);
    // ethtool_stats { u32 cmd; u32 n_stats; u64 data[] }
    let mut stats = vec![0u64; 1 + n];
    put_u32s(&mut stats[0], ETHTOOL_GSTATS, n as u32);
    if !ethtool_ioctl(&fd, name, &mut stats) || get_u32s(stats[0]).1 as usize != n {
        return None;
    }
    Some(names.into_iter().zip(stats[1..].iter().copied()).collect())
}

/// Two u32 fields laid out in one u64 in memory order.
fn put_u32s(w: &mut u64, first: u32, second: u32) {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&first.to_ne_bytes());
    b[4..].copy_from_slice(&second.to_ne_bytes());
    *w = u64::from_ne_bytes(b);
}

fn get_u32s(w: u64) -> (u32, u32) {
    let b = w.to_ne_bytes();
    (u32::from_ne_bytes([b[0], b[1], b[2], b[3]]), u32::from_ne_bytes([b[4], b[5], b[6], b[7]]))
}

/// `len` names of [`ETH_GSTRING_LEN`] bytes each, NUL-padded.
fn parse_names(data: &[u8], len: usize) -> Vec<String> {
    data.chunks_exact(ETH_GSTRING_LEN)
        .take(len)
        .map(|c| {
            let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
            String::from_utf8_lossy(&c[..end]).into_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_nul_padded_fixed_width() {
        let mut d = vec![0u8; 3 * ETH_GSTRING_LEN];
        d[..4].copy_from_slice(b"rx_a");
        d[32..36].copy_from_slice(b"tx_b");
        d[64..].copy_from_slice(&[b'x'; 32]); // no NUL: the whole field
        assert_eq!(parse_names(&d, 3), ["rx_a", "tx_b", &"x".repeat(32)]);
        assert_eq!(parse_names(&d, 1), ["rx_a"]);
    }

    #[test]
    fn fields_keep_their_memory_order() {
        let mut w = 0;
        put_u32s(&mut w, 7, 9);
        assert_eq!(get_u32s(w), (7, 9));
    }

    #[test]
    fn zz_debug() {}

    #[test]
    fn odd_names_are_refused() {
        assert_eq!(driver_stats(""), None);
        assert_eq!(driver_stats("a-name-far-too-long-for-linux"), None);
        assert_eq!(driver_stats("no-such-if0"), None);
    }
}
