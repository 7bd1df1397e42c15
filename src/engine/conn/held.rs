//! The held segments of a connection (engine/doubt.rs): holding one, and settling it when
//! the capture tells whether it was a decoy or the capture's own loss.

use super::{Conn, Ctx};
use crate::decode::Segment;
use crate::engine::doubt::Doubt;
use crate::flow::Direction;

impl Conn {
    /// Holds a segment whose ACK covers data the capture never showed (engine/doubt.rs).
    /// When the other direction holds one too, this segment's sequence number may show that
    /// the capture lost its sender's bytes that the other one acknowledged: then the other
    /// is replayed first and this one judged again.
    pub(super) fn hold(&mut self, seg: &Segment<'_>, dir: Direction, cx: &mut Ctx<'_>) -> bool {
        let (i, other) = (dir as usize, 1 - dir as usize);
        let to_server = dir == Direction::ToServer;
        if self.doubts[other].is_some() && self.tcp.saw_sent(seg.seq, to_server) {
            let sent = self.tcp.sent_up_to(to_server);
            if self.doubts[other].as_ref().is_some_and(|d| !after(d.ack, sent))
                && let Some(d) = self.doubts[other].take()
            {
                cx.sh.stats.accept.replayed += 1;
                let back = if to_server { Direction::ToClient } else { Direction::ToServer };
                let mut new_v1 = self.on_segment(&d.segment(true), back, cx);
                d.release(&mut cx.sh.ooo_budget);
                if self.closed_at.is_none() {
                    new_v1 |= self.on_segment(seg, dir, cx);
                }
                return new_v1;
            }
        }
        let Some(ack) = seg.ack else { return false };
        if let Some(old) = self.doubts[i].take() {
            old.release(&mut cx.sh.ooo_budget);
        }
        self.doubts[i] = Doubt::hold(seg, ack, &mut cx.sh.ooo_budget);
        false
    }

    /// After an accepted segment: a held one of the same sender that it covers was a decoy;
    /// one of the other sender whose ACK it now shows sent was genuine, and is replayed.
    pub(super) fn resolve(&mut self, seg: &Segment<'_>, dir: Direction, cx: &mut Ctx<'_>) -> bool {
        let (i, other) = (dir as usize, 1 - dir as usize);
        if self.doubts[i].as_ref().is_some_and(|d| d.superseded_by(seg))
            && let Some(d) = self.doubts[i].take()
        {
            d.release(&mut cx.sh.ooo_budget);
        }
        let sent = self.tcp.sent_up_to(dir == Direction::ToServer);
        if self.closed_at.is_some() || self.doubts[other].as_ref().is_none_or(|d| after(d.ack, sent)) {
            return false;
        }
        let Some(d) = self.doubts[other].take() else { return false };
        cx.sh.stats.accept.replayed += 1;
        let back = if dir == Direction::ToServer { Direction::ToClient } else { Direction::ToServer };
        let new_v1 = self.on_segment(&d.segment(true), back, cx);
        d.release(&mut cx.sh.ooo_budget);
        new_v1
    }
}

/// `a` is after `b` in sequence space.
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}
