//! Capture files: pcap (micro- and nanosecond) and pcapng (several interfaces and link
//! types): pcap walked by `legacy`, pcapng read with pcap-parser's streaming reader, each
//! in one fixed buffer.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::{Block, EnhancedPacketBlock};
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

use super::{LinkType, Packet, legacy};
use crate::time::Timestamp;

/// Read buffer: large enough for any record up to `MAX_RECORD`, and for sequential
/// reads at disk speed. The one buffer a file reader holds.
const BUFFER_SIZE: usize = 1 << 20;

/// Most bytes asked of the input per `read` call. The reader would otherwise fill its whole
/// buffer, as large as the L2 cache here, and parse records that the copy has already pushed
/// out of it; a quarter of it stays hot. Measured on a 1 GiB and a 2 GiB capture: 0.90x the
/// time of whole-buffer reads (median of 21 paired runs each, benches/README.md).
const READ_SIZE: usize = 1 << 18;

/// Caps each `read` at [`READ_SIZE`].
struct Paced(Box<dyn Read + Send>);

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(READ_SIZE);
        self.0.read(&mut buf[..n])
    }
}

/// What went wrong with a capture file. Printed as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a pcap or pcapng capture file")]
    NotCapture { path: PathBuf },
    #[error("{path}: is a directory; give the capture files in it (e.g. {path}/*.pcap)")]
    Directory { path: PathBuf },
    #[error("{path}: {kind}-compressed; decompress it first (e.g. {tool} -dc FILE | imdswatch analyze -)")]
    Compressed { path: PathBuf, kind: &'static str, tool: &'static str },
    #[error("{path}: read error at byte {offset}")]
    Read { path: PathBuf, offset: u64 },
    #[error("{path}: corrupt record at byte {offset}")]
    Corrupt { path: PathBuf, offset: u64 },
    #[error(
        "{path}: unsupported link type {dlt} (imdswatch decodes Ethernet, Linux cooked v1/v2, raw IP and loopback)"
    )]
    UnknownLinkType { path: PathBuf, dlt: i32 },
}

/// How a file ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The last record was complete.
    Clean,
    /// The file stopped in the middle of a record (a capture cut short): results so far stand.
    Truncated { offset: u64 },
}

/// Per-interface state of a pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: Option<LinkType>,
    dlt: i32,
    /// Timestamp units per second.
    resolution: u64,
    offset_secs: i64,
    /// Snapshot length; 0 for none.
    snaplen: u32,
    /// Packets the capturing tool said it dropped on this interface so far (its statistics
    /// blocks hold running totals).
    drops: u64,
}

/// Counters of what the reader skipped without failing.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadStats {
    pub records: u64,
    pub bytes: u64,
    /// pcapng packets on interfaces whose link type imdswatch cannot decode.
    pub unsupported_link: u64,
    /// pcapng blocks of unknown or irrelevant types.
    pub other_blocks: u64,
    /// pcapng blocks of a type the pcapng specification does not define (skipped).
    pub unknown_blocks: u64,
    /// Records captured longer than their file's or interface's snapshot length: a bad
    /// writer or a crafted file. Read anyway (never more than the record holds).
    pub over_snaplen: u64,
    /// Packets the capturing tool recorded as dropped (pcapng interface statistics,
    /// `isb_ifdrop` + `isb_osdrop`; dumpcap writes the kernel's drops as `isb_ifdrop`).
    /// They may have held a served IMDSv1 request: the verdict is then incomplete.
    pub capture_drops: u64,
}

/// Opens `path` (or standard input for `-`) and calls `each` for every packet, in file order.
pub fn read_file(path: &Path, stats: &mut ReadStats, each: &mut dyn FnMut(&Packet<'_>)) -> Result<End, FileError> {
    read(path, open(path)?, stats, each)
}

/// Opens `path` for [`read`], or standard input for `-`.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, FileError> {
    if path.as_os_str() == "-" {
        return decompress(path, Box::new(std::io::stdin()));
    }
    let f = File::open(path).map_err(|source| FileError::Open { path: path.into(), source })?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(FileError::Directory { path: path.into() });
    }
    decompress(path, Box::new(f))
}

/// gzip input is decompressed on the fly (flate2); other compressions are named.
fn decompress(path: &Path, input: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, FileError> {
    use std::io::BufRead;
    let mut r = std::io::BufReader::with_capacity(64 * 1024, input);
    let head = match r.fill_buf() {
        Ok(b) => b.get(..4).map(|h| [h[0], h[1], h[2], h[3]]),
        Err(_) => None,
    };
    let (kind, tool) = match head {
        Some([0x1f, 0x8b, _, _]) => return Ok(Box::new(flate2::read::MultiGzDecoder::new(r))),
        Some([0x28, 0xb5, 0x2f, 0xfd]) => ("zstd", "zstd"),
        Some([0xfd, b'7', b'z', b'X']) => ("xz", "xz"),
        Some([b'B', b'Z', b'h', _]) => ("bzip2", "bzip2"),
        Some([0x04, 0x22, 0x4d, 0x18]) => ("lz4", "lz4"),
        _ => return Ok(Box::new(r)),
    };
    Err(FileError::Compressed { path: path.into(), kind, tool })
}

/// Reads a capture from any reader; `path` only names it in errors. pcap files are walked
/// by `legacy`; pcapng (and anything else, which it refuses) goes to pcap-parser.
pub fn read(
    path: &Path,
    mut input: Box<dyn Read + Send>,
    stats: &mut ReadStats,
    each: &mut dyn FnMut(&Packet<'_>),
) -> Result<End, FileError> {
    // Enough of the input to tell the format: a pipe may hand it over a few bytes at a time.
    let mut head = Vec::with_capacity(NG_HEAD);
    fill(path, &mut input, &mut head, legacy::FILE_HEADER)?;
    match legacy::header(&head) {
        Some(h) => read_legacy(path, &h, head, &mut input, stats, each),
        None => {
            // pcap-parser reads its first block header from what its first read returns.
            fill(path, &mut input, &mut head, NG_HEAD)?;
            read_ng(path, Box::new(std::io::Cursor::new(head).chain(input)), stats, each)
        }
    }
}

/// Bytes pcap-parser is given on its first read: more than any section header block of a
/// real capture (pcap-parser refuses a file whose first block is not whole there).
const NG_HEAD: usize = 64 * 1024;

/// Reads `input` into `head` until it holds `want` bytes or the input ends.
fn fill(path: &Path, input: &mut dyn Read, head: &mut Vec<u8>, want: usize) -> Result<(), FileError> {
    let mut chunk = [0u8; 4096];
    while head.len() < want {
        let n = chunk.len().min(want - head.len());
        match legacy::read_retrying(input, &mut chunk[..n]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(_) => return Err(FileError::Read { path: path.into(), offset: head.len() as u64 }),
        }
    }
    Ok(())
}

/// A pcap file, its header in `head`.
fn read_legacy(
    path: &Path,
    h: &legacy::Header,
    head: Vec<u8>,
    input: &mut dyn Read,
    stats: &mut ReadStats,
    each: &mut dyn FnMut(&Packet<'_>),
) -> Result<End, FileError> {
    let (dlt, fcs) = super::split_linktype_field(h.network);
    let link = LinkType::from_dlt(dlt).ok_or(FileError::UnknownLinkType { path: path.into(), dlt })?;
    stats.records += 1;
    // The walk's one buffer: its capacity is the largest record taken.
    let mut head = head;
    head.reserve_exact(BUFFER_SIZE.saturating_sub(head.len()));
    let stop = legacy::walk(h, head, input, READ_SIZE, &mut |b| {
        stats.records += 1;
        // The FCS trails a frame captured whole; a frame cut by the snapshot length lost it
        // already.
        let data = match b.data.len().checked_sub(fcs) {
            Some(n) if fcs > 0 && b.caplen >= b.origlen => &b.data[..n],
            _ => b.data,
        };
        if h.snaplen > 0 && b.caplen > h.snaplen {
            stats.over_snaplen += 1;
        }
        let frac_us = if h.nanosecond { b.ts_frac / 1000 } else { b.ts_frac };
        stats.bytes += data.len() as u64;
        each(&Packet { ts: Timestamp::from_parts(u64::from(b.ts_sec), frac_us), link, data });
    });
    match stop {
        legacy::Stop::Clean => Ok(End::Clean),
        legacy::Stop::Truncated { offset } => Ok(End::Truncated { offset }),
        legacy::Stop::Corrupt { offset } => Err(FileError::Corrupt { path: path.into(), offset }),
        legacy::Stop::Read { offset } => Err(FileError::Read { path: path.into(), offset }),
    }
}

/// pcapng, through pcap-parser's streaming reader.
fn read_ng(
    path: &Path,
    input: Box<dyn Read + Send>,
    stats: &mut ReadStats,
    each: &mut dyn FnMut(&Packet<'_>),
) -> Result<End, FileError> {
    let mut reader = match create_reader(BUFFER_SIZE, Paced(input)) {
        Ok(r) => r,
        Err(PcapError::ReadError) => return Err(FileError::Read { path: path.into(), offset: 0 }),
        Err(_) => return Err(FileError::NotCapture { path: path.into() }),
    };
    let mut r = Reader { path, stats, ifaces: Vec::new(), section_big_endian: None, offset: 0 };
    loop {
        if let Some(big) = r.section_big_endian
            && below_minimum_block(reader.data(), big)
        {
            return Err(r.corrupt());
        }
        match reader.next() {
            Ok((len, block)) => {
                r.stats.records += 1;
                r.block(block, each)?;
                reader.consume(len);
                r.offset += len as u64;
            }
            Err(PcapError::Eof) => return Ok(End::Clean),
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    return Ok(End::Truncated { offset: r.offset });
                }
                if reader.refill().is_err() {
                    return Err(FileError::Read { path: path.into(), offset: r.offset });
                }
            }
            Err(PcapError::UnexpectedEof) => return Ok(End::Truncated { offset: r.offset }),
            Err(PcapError::ReadError) => return Err(FileError::Read { path: path.into(), offset: r.offset }),
            Err(PcapError::HeaderNotRecognized) => return Err(FileError::NotCapture { path: path.into() }),
            Err(_) => return Err(r.corrupt()),
        }
    }
}

/// What a capture file has said so far about how to read its records.
struct Reader<'a> {
    /// Names the file in errors.
    path: &'a Path,
    stats: &'a mut ReadStats,
    /// pcapng: the interfaces of the current section.
    ifaces: Vec<Interface>,
    /// pcapng: the byte order of the current section, once its header block is read.
    section_big_endian: Option<bool>,
    /// Where the current record starts.
    offset: u64,
}

impl Reader<'_> {
    fn corrupt(&self) -> FileError {
        FileError::Corrupt { path: self.path.into(), offset: self.offset }
    }

    /// One record: remembers what a header says, hands a packet to `each`.
    #[inline]
    fn block(&mut self, block: PcapBlockOwned<'_>, each: &mut dyn FnMut(&Packet<'_>)) -> Result<(), FileError> {
        match block {
            // pcap files are walked by `legacy`; pcap-parser sees only pcapng here.
            PcapBlockOwned::LegacyHeader(_) | PcapBlockOwned::Legacy(_) => return Err(self.corrupt()),
            PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                self.section_big_endian = Some(shb.big_endian());
                self.ifaces.clear();
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.ifaces.push(Interface {
                    link: LinkType::from_dlt(idb.linktype.0),
                    dlt: idb.linktype.0,
                    resolution: ts_resolution(idb.if_tsresol),
                    offset_secs: idb.ts_offset(),
                    snaplen: idb.snaplen,
                    drops: 0,
                });
            }
            PcapBlockOwned::NG(Block::InterfaceStatistics(isb)) => {
                self.stats.other_blocks += 1;
                let big_endian = self.section_big_endian.unwrap_or(false);
                let total = isb_drops(&isb.options, big_endian);
                if let Some(iface) = self.ifaces.get_mut(isb.if_id as usize)
                    && total > iface.drops
                {
                    self.stats.capture_drops += total - iface.drops;
                    iface.drops = total;
                }
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => self.enhanced_packet(&epb, each)?,
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                // No timestamp; interface 0 by definition.
                match self.ifaces.first().and_then(|i| i.link) {
                    Some(link) => {
                        self.stats.bytes += spb.data.len() as u64;
                        each(&Packet { ts: Timestamp(0), link, data: spb.data });
                    }
                    None => self.stats.unsupported_link += 1,
                }
            }
            PcapBlockOwned::NG(Block::Unknown(_)) => {
                self.stats.other_blocks += 1;
                self.stats.unknown_blocks += 1;
            }
            PcapBlockOwned::NG(_) => self.stats.other_blocks += 1,
        }
        Ok(())
    }

    /// A pcapng packet: its interface gives the link type, timestamp units and snaplen.
    #[inline]
    fn enhanced_packet(
        &mut self,
        epb: &EnhancedPacketBlock<'_>,
        each: &mut dyn FnMut(&Packet<'_>),
    ) -> Result<(), FileError> {
        let Some(iface) = self.ifaces.get(epb.if_id as usize).copied() else {
            return Err(self.corrupt());
        };
        let Some(link) = iface.link else {
            if self.ifaces.iter().all(|i| i.link.is_none()) {
                return Err(FileError::UnknownLinkType { path: self.path.into(), dlt: iface.dlt });
            }
            self.stats.unsupported_link += 1;
            return Ok(());
        };
        if iface.snaplen > 0 && epb.caplen > iface.snaplen {
            self.stats.over_snaplen += 1;
        }
        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
        let secs = (raw / iface.resolution).saturating_add_signed(iface.offset_secs);
        let frac = raw % iface.resolution;
        // In u128: a binary resolution up to 2^63 units a second times 10^6 needs 83 bits.
        let micros = u32::try_from(u128::from(frac) * 1_000_000 / u128::from(iface.resolution)).unwrap_or(0);
        let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
        self.stats.bytes += data.len() as u64;
        each(&Packet { ts: Timestamp::from_parts(secs, micros), link, data });
        Ok(())
    }
}

/// `isb_ifdrop` (5) + `isb_osdrop` (7) of an interface statistics block (pcapng, section
/// 4.6): 64-bit counts in the section's byte order. A malformed option counts as none.
fn isb_drops(options: &[pcap_parser::PcapNGOption<'_>], big_endian: bool) -> u64 {
    options
        .iter()
        .filter(|o| matches!(o.code.0, 5 | 7) && o.len == 8)
        .filter_map(|o| <[u8; 8]>::try_from(o.value.get(..8)?).ok())
        .map(|b| if big_endian { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) })
        .fold(0u64, u64::saturating_add)
}

/// Timestamp units per second from an interface's `if_tsresol` (pcapng, section 4.2): the
/// top bit clear, 10^-n s; set, 2^-n s (n = the low 7 bits). pcap-parser 0.17's
/// `ts_resolution` refuses every binary value (it compares the whole byte with 63), which
/// read a 2^-20 s capture as microseconds (issue 23, class 8). A value out of range (10^-20
/// and finer, 2^-64 and finer) is read as the default, microseconds.
fn ts_resolution(tsresol: u8) -> u64 {
    let n = u32::from(tsresol & 0x7f);
    let units = if tsresol & 0x80 == 0 { 10u64.checked_pow(n) } else { 1u64.checked_shl(n) };
    units.unwrap_or(1_000_000).max(1)
}

/// The smallest pcapng block: type, length and the length repeated.
const MIN_BLOCK: u32 = 12;
/// A section header block's type, the same in either byte order.
const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// True when the next pcapng block says it is shorter than any block can be. pcap-parser
/// 0.17 subtracts 12 from a Process Information Block's length unchecked (a panic with
/// overflow checks on, found by fuzzing: tests/regressions.rs), so such a block is refused
/// as corrupt before the parser sees it.
fn below_minimum_block(data: &[u8], big_endian: bool) -> bool {
    if data.starts_with(&SHB_MAGIC) {
        return false; // a new section, perhaps in the other byte order: its parser checks it
    }
    let Some(len) = data.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        return false; // not enough bytes yet: the parser asks for more
    };
    let len = if big_endian { u32::from_be_bytes(len) } else { u32::from_le_bytes(len) };
    len < MIN_BLOCK
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use pcap_parser::{OptionCode, PcapNGOption};

    use super::isb_drops;

    fn opt(code: u16, value: &[u8]) -> PcapNGOption<'static> {
        PcapNGOption { code: OptionCode(code), len: value.len() as u16, value: Cow::Owned(value.to_vec()) }
    }

    #[test]
    fn statistics_drops_are_read_in_the_sections_byte_order() {
        let le = [opt(5, &3u64.to_le_bytes()), opt(7, &4u64.to_le_bytes()), opt(4, &9u64.to_le_bytes())];
        assert_eq!(isb_drops(&le, false), 7);
        let be = [opt(5, &3u64.to_be_bytes()), opt(7, &4u64.to_be_bytes())];
        assert_eq!(isb_drops(&be, true), 7);
        // A short or absurd option is no count; a saturating sum never wraps.
        assert_eq!(isb_drops(&[opt(5, &[1, 2, 3])], false), 0);
        assert_eq!(isb_drops(&[opt(5, &[0xff; 8]), opt(7, &[0xff; 8])], false), u64::MAX);
    }
}
