//! Segments that acknowledge data the capture never showed (issue 23, class 3).
//!
//! Linux discards a segment whose ACK covers data its socket never sent (`tcp_ack`:
//! `TCP_ACK_UNSENT_DATA`), so a decoy built that way never reaches the server. But a capture
//! that lost the peer's segments shows a genuine segment the same way. Such a segment is held
//! (one per direction, its bytes charged to the out-of-order budget) until the capture says
//! which it was:
//! - the peer's later segments show it did send that far (the capture lost them): the held
//!   segment is replayed as accepted (`tcp_ack_unsent_replayed`);
//! - an accepted segment of the same sender covers the held one's first sequence number (the
//!   real bytes after a decoy): the held one is discarded;
//! - the connection ends first: held bytes are read (a request the capture holds is never
//!   dropped unseen; at worst a decoy is read where nothing else was), a held FIN is not.

use std::net::SocketAddr;

use crate::decode::Segment;
use crate::decode::options::TcpOpts;
use crate::flow::reassembly::Budget;

/// An owned copy of a held segment.
#[derive(Debug)]
pub struct Doubt {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    pub ack: u32,
    syn: bool,
    fin: bool,
    ttl: u8,
    urgent: Option<u32>,
    checksum_unverified: bool,
    opts: TcpOpts,
    payload: Vec<u8>,
}

impl Doubt {
    /// Copies a segment, if the budget has room for its bytes.
    pub fn hold(seg: &Segment<'_>, ack: u32, budget: &mut Budget) -> Option<Box<Doubt>> {
        if !budget.try_reserve(seg.payload.len()) {
            return None;
        }
        Some(Box::new(Doubt {
            src: seg.src,
            dst: seg.dst,
            seq: seg.seq,
            ack,
            syn: seg.syn,
            fin: seg.fin,
            ttl: seg.ttl,
            urgent: seg.urgent,
            checksum_unverified: seg.checksum_unverified,
            opts: seg.opts,
            payload: seg.payload.to_vec(),
        }))
    }

    /// The held segment; `with_fin: false` leaves its FIN out (read at the close).
    pub fn segment(&self, with_fin: bool) -> Segment<'_> {
        Segment {
            src: self.src,
            dst: self.dst,
            seq: self.seq,
            ack: Some(self.ack),
            syn: self.syn,
            fin: self.fin && with_fin,
            rst: false,
            ttl: self.ttl,
            urgent: self.urgent,
            checksum_unverified: self.checksum_unverified,
            opts: self.opts,
            payload: &self.payload,
        }
    }

    pub fn has_data(&self) -> bool {
        !self.payload.is_empty()
    }

    /// Gives its bytes back to the budget.
    pub fn release(self, budget: &mut Budget) {
        budget.release(self.payload.len());
    }

    /// An accepted segment of the same sender that covers this one's first sequence number.
    pub fn superseded_by(&self, seg: &Segment<'_>) -> bool {
        let len = (seg.payload.len() as u32).max(u32::from(seg.fin));
        self.seq.wrapping_sub(seg.seq) < len
    }
}
