//! The pcap (libpcap "legacy") record walk: a 24-byte file header, then records of a 16-byte
//! header (24 in the "modified" format) and the frame. Walked in place in one buffer that
//! the input is read into a quarter at a time, so a record is parsed while the bytes the
//! kernel just copied are still in the cache. pcapng goes through pcap-parser (`file`).
//!
//! Why not pcap-parser here too: its streaming reader hands out each record as an owned enum
//! through a trait object and a nom parser; on a 1 GiB capture of mixed traffic that was 65%
//! of analyze's user time, at ~47 ns a packet (benches/README.md, issue 29, fourth round).

use std::io::Read;

/// The magic numbers of a pcap file, as its first four bytes.
const MAGIC_US_LE: [u8; 4] = [0xd4, 0xc3, 0xb2, 0xa1];
const MAGIC_NS_LE: [u8; 4] = [0x4d, 0x3c, 0xb2, 0xa1];
const MAGIC_US_BE: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
const MAGIC_NS_BE: [u8; 4] = [0xa1, 0xb2, 0x3c, 0x4d];
/// Alexey Kuznetsov's "modified" pcap: 8 more bytes per record header (ifindex, protocol,
/// packet type, padding). Little-endian only, as pcap-parser and libpcap read it.
const MAGIC_MODIFIED_LE: [u8; 4] = [0x34, 0xcd, 0xb2, 0xa1];

/// The file header's length.
pub const FILE_HEADER: usize = 24;

/// What a pcap file header says.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub big_endian: bool,
    pub nanosecond: bool,
    /// Bytes of each record header: 16, or 24 in the modified format.
    pub record_header: usize,
    pub snaplen: u32,
    /// The link-type field, FCS bits and all.
    pub network: u32,
}

/// Reads a pcap file header; `None` when `b` does not start with one.
pub fn header(b: &[u8]) -> Option<Header> {
    let h: &[u8; FILE_HEADER] = b.get(..FILE_HEADER)?.try_into().ok()?;
    let magic = [h[0], h[1], h[2], h[3]];
    let (big_endian, nanosecond, record_header) = match magic {
        MAGIC_US_LE => (false, false, 16),
        MAGIC_NS_LE => (false, true, 16),
        MAGIC_US_BE => (true, false, 16),
        MAGIC_NS_BE => (true, true, 16),
        MAGIC_MODIFIED_LE => (false, false, 24),
        _ => return None,
    };
    let u32_at = |at: usize| {
        let w = [h[at], h[at + 1], h[at + 2], h[at + 3]];
        if big_endian { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }
    };
    Some(Header { big_endian, nanosecond, record_header, snaplen: u32_at(16), network: u32_at(20) })
}

/// One record as the walk hands it out.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub ts_sec: u32,
    /// Micro- or nanoseconds, as the file header says.
    pub ts_frac: u32,
    pub caplen: u32,
    pub origlen: u32,
    pub data: &'a [u8],
}

/// How a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// End of input on a record boundary.
    Clean,
    /// End of input inside the record at `offset`.
    Truncated { offset: u64 },
    /// The record at `offset` says it is longer than the buffer (no capture writes that).
    Corrupt { offset: u64 },
    /// The input failed while the record at `offset` was being read.
    Read { offset: u64 },
}

/// Walks the records that follow the file header. `buf` holds what was read of the input
/// so far, starting with the file header; its capacity is the walk's one buffer (the
/// largest record it takes), of which at most `read_size` bytes are asked for per `read`.
/// Calls `each` per record with its byte offset in the file.
pub fn walk(
    h: &Header,
    mut buf: Vec<u8>,
    input: &mut dyn Read,
    read_size: usize,
    each: &mut dyn FnMut(&Record<'_>),
) -> Stop {
    let cap = buf.capacity().max(read_size + 64 * 1024);
    let hl = h.record_header;
    let len = buf.len();
    buf.resize(cap, 0);
    let (mut start, mut end) = (FILE_HEADER.min(len), len);
    // File offset of buf[0].
    let mut base = 0u64;
    let mut exhausted = false;
    loop {
        // Every whole record in buf[start..end].
        while end - start >= hl {
            let r = &buf[start..end];
            let u32_at = |at: usize| {
                let w = [r[at], r[at + 1], r[at + 2], r[at + 3]];
                if h.big_endian { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }
            };
            let caplen = u32_at(8);
            let total = hl.saturating_add(caplen as usize);
            if total >= cap {
                return Stop::Corrupt { offset: base + start as u64 };
            }
            if r.len() < total {
                break;
            }
            each(&Record { ts_sec: u32_at(0), ts_frac: u32_at(4), caplen, origlen: u32_at(12), data: &r[hl..total] });
            start += total;
        }
        if exhausted {
            return if start == end { Stop::Clean } else { Stop::Truncated { offset: base + start as u64 } };
        }
        // Keep the part record at the front; read behind it.
        buf.copy_within(start..end, 0);
        base += start as u64;
        end -= start;
        start = 0;
        let want = (cap - end).min(read_size);
        match read_retrying(input, &mut buf[end..end + want]) {
            Ok(0) => exhausted = true,
            Ok(n) => end += n,
            Err(_) => return Stop::Read { offset: base },
        }
    }
}

/// One `read`, retried when a signal interrupted it.
pub fn read_retrying(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(big_endian: bool, records: &[(u32, &[u8])]) -> Vec<u8> {
        let w = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut f = Vec::new();
        f.extend(w(0xa1b2_c3d4));
        f.extend(if big_endian { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
        f.extend([0; 8]);
        f.extend(w(65535));
        f.extend(w(1));
        for (i, (caplen, data)) in records.iter().enumerate() {
            f.extend(w(i as u32));
            f.extend(w(7));
            f.extend(w(*caplen));
            f.extend(w(data.len() as u32));
            f.extend(*data);
        }
        f
    }

    fn run(f: &[u8], first: usize, read_size: usize) -> (Vec<(u32, Vec<u8>)>, Stop) {
        let h = header(f).expect("a pcap header");
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(&f[..first]);
        let mut rest = &f[first..];
        let mut got = Vec::new();
        let stop = walk(&h, buf, &mut rest, read_size, &mut |r| got.push((r.ts_sec, r.data.to_vec())));
        (got, stop)
    }

    #[test]
    fn walks_records_across_reads_in_both_byte_orders() {
        let recs: Vec<(u32, Vec<u8>)> = (0..50u8).map(|i| (u32::from(i) * 3, vec![i; usize::from(i) * 3])).collect();
        let refs: Vec<(u32, &[u8])> = recs.iter().map(|(c, d)| (*c, d.as_slice())).collect();
        for be in [false, true] {
            let f = file(be, &refs);
            assert_eq!(header(&f).expect("a pcap header").big_endian, be);
            for (first, rs) in [(24, 7), (30, 100), (f.len(), 1000), (24, 1)] {
                let (got, stop) = run(&f, first, rs);
                assert_eq!(stop, Stop::Clean);
                assert_eq!(got.len(), 50);
                for (i, (ts, d)) in got.iter().enumerate() {
                    assert_eq!((*ts as usize, d.len()), (i, i * 3));
                }
            }
        }
    }

    #[test]
    fn a_cut_record_is_truncated_at_its_offset_and_a_huge_one_corrupt() {
        let f = file(false, &[(4, b"abcd"), (4, b"efgh")]);
        let cut = &f[..f.len() - 2];
        assert_eq!(run(cut, 24, 5).1, Stop::Truncated { offset: 24 + 20 });
        assert_eq!(run(&f[..24 + 20 + 3], 24, 5).1, Stop::Truncated { offset: 44 });
        let huge = file(false, &[(u32::MAX, b"x")]);
        assert_eq!(run(&huge, 24, 5).1, Stop::Corrupt { offset: 24 });
        assert!(header(b"\x0a\x0d\x0d\x0a").is_none());
    }
}
