//! One direction of a TCP connection, put back in order.
//!
//! Written for this job: IMDS connections are short and small, so the reassembler keeps a
//! handful of out-of-order segments and nothing else. Sequence numbers are mapped to 64-bit
//! stream offsets relative to the next expected byte, which makes wrap-around a non-event.
//!
//! Rules:
//! - bytes already delivered are never delivered again (retransmissions, duplicates captured
//!   twice, overlaps: the first copy wins, as in Linux, whose socket already holds it); a
//!   re-sent copy whose bytes differ from the delivered ones over the whole overlap, or
//!   reach before the last [`MAX_RECENT`] bytes kept (streams that keep them), raises
//!   [`Stream::take_conflict`];
//! - two waiting segments with the same start: the longer is kept (Linux's choice);
//! - the urgent byte (URG) is taken out of the stream, as Linux does without SO_OOBINLINE;
//! - a segment ahead of the next expected byte waits in a small ordered buffer (bounded per
//!   stream in segments and bytes, and by the table-wide [`Budget`]);
//! - when that buffer is full, or the connection ends with a hole, the hole is skipped and
//!   reported as a [`Chunk::Gap`] so the HTTP layer can resynchronise.

use std::collections::BTreeMap;

/// Out-of-order segments kept per stream.
pub const MAX_OOO_SEGMENTS: usize = 32;
/// Out-of-order bytes kept per stream.
pub const MAX_OOO_BYTES: usize = 64 * 1024;

/// Delivered bytes kept by a stream that checks re-sent copies against them (a request
/// direction holds at most `MAX_RECENT * 5 / 4` of them).
pub const MAX_RECENT: usize = 4096;

/// Bytes buffered by all streams of a flow table together. Reserving fails past the limit.
#[derive(Debug, Clone)]
pub struct Budget {
    used: usize,
    limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { used: 0, limit }
    }

    pub fn try_reserve(&mut self, n: usize) -> bool {
        if self.used.saturating_add(n) > self.limit {
            return false;
        }
        self.used += n;
        true
    }

    pub fn release(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }

    pub fn used(&self) -> usize {
        self.used
    }

    /// Bytes still free.
    pub fn available(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }
}

/// What a stream hands to the layer above, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    Data(&'a [u8]),
    /// This many bytes were never captured and are skipped.
    Gap(u64),
}

/// Counters of what reassembly absorbed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReasmStats {
    /// Segments whose bytes had all been delivered already (retransmissions, double captures).
    pub duplicates: u64,
    /// Segments that partly overlapped delivered bytes (the first copy was kept).
    pub overlaps: u64,
    /// Segments that arrived ahead of a hole and waited.
    pub out_of_order: u64,
    /// Holes skipped because they never filled.
    pub gaps: u64,
    /// Holes skipped early because the stream's or the table's buffer was full.
    pub forced_skips: u64,
}

#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of the next byte to deliver; `None` until the first segment.
    next_seq: Option<u32>,
    /// Stream offset of `next_seq` (bytes delivered or skipped so far).
    next_off: u64,
    /// Segments ahead of `next_off`, by stream offset.
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: usize,
    /// FIN seen.
    pub fin: bool,
    /// The stream did not start with a SYN (the capture began mid-connection).
    pub midstream: bool,
    /// Sequence number of the urgent byte still to come (the latest URG wins, as in Linux).
    urgent: Option<u32>,
    /// The last delivered bytes (at most 5/4 × `recent_cap`), to compare re-sent copies with.
    recent: Vec<u8>,
    /// 0: no comparison (the default); else [`MAX_RECENT`].
    recent_cap: usize,
    /// A re-sent copy disagreed with the bytes delivered before it.
    conflict: bool,
}

impl Stream {
    /// A stream that keeps its last [`MAX_RECENT`] delivered bytes and reports a re-sent copy
    /// that differs from them (the request direction: a decoy followed by the real bytes).
    pub fn checking_overlaps() -> Stream {
        Stream { recent_cap: MAX_RECENT, ..Stream::default() }
    }

    /// True (once) when a re-sent copy disagreed with what was delivered or waiting.
    pub fn take_conflict(&mut self) -> bool {
        std::mem::take(&mut self.conflict)
    }

    /// The segment starting at `seq` carries the urgent pointer to `urgent` (the sequence
    /// number of the urgent byte). Ignored when that byte was delivered already.
    pub fn mark_urgent(&mut self, urgent: u32) {
        if self.next_seq.is_none_or(|n| urgent.wrapping_sub(n) as i32 >= 0) {
            self.urgent = Some(urgent);
        }
    }

    /// Compares a re-sent copy with the delivered bytes it overlaps, the whole overlap
    /// (issue 23, class 3: a 3 KiB decoy escaped a comparison of the last 1,024 bytes). Bytes
    /// of the overlap older than the kept ones cannot be compared: that is reported as a
    /// conflict too, never taken for agreement.
    fn check_overlap(&mut self, rel: i64, payload: &[u8]) {
        if self.recent_cap == 0 || rel >= 0 {
            return;
        }
        let back = usize::try_from(-rel).unwrap_or(usize::MAX); // bytes before next_off
        let n = back.min(payload.len());
        let kept = self.recent.len();
        if back > kept {
            // The copy reaches before the kept bytes (payloads are never empty here).
            self.conflict = true;
            return;
        }
        let start = kept - back;
        if self.recent[start..start + n] != payload[..n] {
            self.conflict = true;
        }
    }

    /// Whether this direction has seen any segment.
    pub fn started(&self) -> bool {
        self.next_seq.is_some()
    }

    /// Stream offset of the next byte to deliver.
    pub fn offset(&self) -> u64 {
        self.next_off
    }

    /// Sequence number of the next byte to deliver.
    pub fn next_seq(&self) -> Option<u32> {
        self.next_seq
    }

    /// Feeds one segment. In-order bytes (and any waiting segments they make contiguous)
    /// are passed to `out`.
    pub fn push(
        &mut self,
        seq: u32,
        syn: bool,
        payload: &[u8],
        budget: &mut Budget,
        stats: &mut ReasmStats,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        // A SYN occupies one sequence number; data (TCP Fast Open) follows it.
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        let next_seq = match self.next_seq {
            Some(s) => s,
            None => {
                self.midstream = !syn;
                self.next_seq = Some(data_seq);
                data_seq
            }
        };
        if payload.is_empty() {
            return;
        }
        let rel = i64::from(data_seq.wrapping_sub(next_seq) as i32);
        let end = rel + payload.len() as i64;
        self.check_overlap(rel, payload);
        if end <= 0 {
            stats.duplicates += 1;
            return;
        }
        if rel <= 0 {
            if rel < 0 {
                stats.overlaps += 1;
            }
            let skip = usize::try_from(-rel).unwrap_or(0);
            self.deliver(&payload[skip..], out);
            self.drain(budget, stats, out);
            return;
        }
        // Ahead of a hole: wait, within bounds.
        let off = self.next_off + rel as u64;
        stats.out_of_order += 1;
        if let Some(have) = self.ooo.get_mut(&off) {
            let n = have.len().min(payload.len());
            if self.recent_cap > 0 && have[..n] != payload[..n] {
                self.conflict = true;
            }
            stats.duplicates += 1;
            let more = payload.len().saturating_sub(have.len());
            if more > 0 && self.ooo_bytes + more <= MAX_OOO_BYTES && budget.try_reserve(more) {
                // Linux keeps the longer of two out-of-order copies with the same start.
                self.ooo_bytes += more;
                have.extend_from_slice(&payload[have.len()..]);
            }
            return;
        }
        let fits = self.ooo.len() < MAX_OOO_SEGMENTS && self.ooo_bytes + payload.len() <= MAX_OOO_BYTES;
        if fits && budget.try_reserve(payload.len()) {
            self.ooo_bytes += payload.len();
            self.ooo.insert(off, payload.to_vec());
            return;
        }
        // Full: the hole is not going to fill in time. Skip it and go on from the data
        // after it; nothing that was captured is thrown away.
        stats.forced_skips += 1;
        if self.ooo.is_empty() {
            stats.gaps += 1;
            out(Chunk::Gap(off - self.next_off));
            self.next_off = off;
            self.recent.clear();
            self.next_seq = Some(data_seq);
            self.deliver(payload, out);
            return;
        }
        self.skip_hole(stats, out);
        self.drain(budget, stats, out);
        // The waiting buffer shrank by at least one segment, so this recursion is bounded
        // by MAX_OOO_SEGMENTS.
        self.push(data_seq, false, payload, budget, stats, out);
    }

    /// Ends the stream: any hole is skipped and what waited behind it is delivered.
    pub fn finish(&mut self, budget: &mut Budget, stats: &mut ReasmStats, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.ooo.is_empty() {
            self.skip_hole(stats, out);
            self.drain(budget, stats, out);
        }
    }

    /// Gives back every buffered byte (the flow is being dropped).
    pub fn release(&mut self, budget: &mut Budget) {
        budget.release(self.ooo_bytes);
        self.ooo_bytes = 0;
        self.ooo.clear();
        self.recent = Vec::new();
    }

    fn deliver(&mut self, data: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if data.is_empty() {
            return;
        }
        if let (Some(u), Some(n)) = (self.urgent, self.next_seq) {
            let at = u.wrapping_sub(n) as usize;
            if at < data.len() {
                // The urgent byte is read out of band: the stream goes on without it.
                self.urgent = None;
                self.deliver(&data[..at], out);
                self.advance(1, &[]);
                self.deliver(&data[at + 1..], out);
                return;
            }
        }
        self.advance(data.len(), data);
        out(Chunk::Data(data));
    }

    /// Moves past `n` delivered bytes, remembering them when the stream compares overlaps.
    fn advance(&mut self, n: usize, data: &[u8]) {
        self.next_off += n as u64;
        if let Some(s) = self.next_seq.as_mut() {
            *s = s.wrapping_add(n as u32);
        }
        if self.recent_cap > 0 {
            // `recent` ends at `next_off`: after a byte not delivered (urgent) it starts over.
            if data.len() != n {
                self.recent.clear();
            }
            self.recent.extend_from_slice(data);
            if self.recent.len() > self.recent_cap + self.recent_cap / 4 {
                let cut = self.recent.len() - self.recent_cap;
                self.recent.drain(..cut);
            }
        }
    }

    /// Jumps `next_off` to the first waiting segment, reporting the hole.
    fn skip_hole(&mut self, stats: &mut ReasmStats, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some((&first, _)) = self.ooo.iter().next()
            && first > self.next_off
        {
            let gap = first - self.next_off;
            stats.gaps += 1;
            out(Chunk::Gap(gap));
            self.next_seq = self.next_seq.map(|s| s.wrapping_add(gap as u32));
            self.next_off = first;
            self.recent.clear();
        }
    }

    /// Delivers waiting segments that have become contiguous.
    fn drain(&mut self, budget: &mut Budget, stats: &mut ReasmStats, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.ooo.first_entry() {
            let off = *entry.key();
            if off > self.next_off {
                break;
            }
            let seg = entry.remove();
            self.ooo_bytes -= seg.len();
            budget.release(seg.len());
            let end = off + seg.len() as u64;
            if end <= self.next_off {
                stats.duplicates += 1;
                continue;
            }
            let skip = (self.next_off - off) as usize;
            if skip > 0 {
                stats.overlaps += 1;
            }
            self.deliver(&seg[skip..], out);
        }
    }
}
