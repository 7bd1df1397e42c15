//! One IMDS connection: both directions reassembled, HTTP framed, requests classified and
//! matched to their answers in order.

mod body;
mod held;
mod record;

use std::collections::VecDeque;

use super::dedup::Member;
use super::doubt::Doubt;
use super::{EngineEvent, EngineStats, Shared};
use crate::classify::{AwsForm, Classified, classify_head};
use crate::decode::Segment;
use crate::endpoint::Hint;
use crate::event::{Outcome, RequestRecord, Version};
use crate::flow::accept::{Acceptance, Reject, Tcp};
use crate::flow::reassembly::{Budget, Chunk, ReasmStats, Stream};
use crate::flow::table::Activity;
use crate::flow::{Direction, FlowKey};
use crate::http::{Head, HttpStream, NoBody, Role};
use crate::time::Timestamp;
use record::emit;

/// Request-head bytes each connection holds outside the shared head budget (issue 23,
/// class 6): a split head of an ordinary request fits, whatever other connections hold.
pub const HEAD_RESERVE: usize = 2048;

/// Requests awaiting an answer on one connection (pipelining). Past this, the oldest is
/// reported `unmatched` and its answer, when it comes, is skipped.
pub const MAX_PENDING: usize = 32;

/// An answer captured with TTL <= 1 may not be delivered (the next router drops it): it
/// counts only once the client acknowledges it.
const FRAGILE_TTL: u8 = 1;

/// What every step of a connection needs: which connection, when, the engine's shared state
/// and where events go. Built once per packet (or close) by the engine.
pub struct Ctx<'a> {
    pub key: FlowKey,
    pub ts: Timestamp,
    pub sh: &'a mut Shared,
    pub out: &'a mut dyn FnMut(EngineEvent),
}

/// A request waiting for its answer.
#[derive(Debug)]
struct Pending {
    /// Boxed once, where it is made: it moves through the queue and out as a pointer.
    record: Box<RequestRecord>,
    sent: Timestamp,
    head_method: bool,
    /// Its place among copies of the same request on other flows (NAT): decides at
    /// settlement which copy is reported (engine/dedup.rs).
    group: Option<Member>,
    /// What it is on EC2's IMDS if answered 2xx (`classify::answered`).
    aws_if_answered: Option<AwsForm>,
}

#[derive(Debug)]
pub struct Conn {
    /// What Linux's acceptance checks need to know of both ends (flow/accept.rs).
    tcp: Tcp,
    /// A segment per direction (to the server, to the client) that acknowledged data the
    /// capture never showed, held until the capture tells (engine/doubt.rs).
    doubts: [Option<Box<Doubt>>; 2],
    c2s: Stream,
    s2c: Stream,
    req: HttpStream,
    resp: HttpStream,
    pending: VecDeque<Pending>,
    /// Answers still to come for requests already reported as unmatched.
    orphans: usize,
    /// Answers seen with TTL <= 1, waiting for the client's ACK of this sequence number.
    unconfirmed: VecDeque<(Pending, u16, u32)>,
    /// Issue 28: a credential fetch answered 2xx whose body (the credential's identity) is
    /// still being read; reported when it is complete, or without identity when it cannot be.
    awaiting_body: Option<(Pending, u16)>,
    /// IP TTL / hop limit of the client's last packet.
    client_ttl: u8,
    /// The server has answered at least once on this connection.
    answers_seen: bool,
    last_seen: Timestamp,
    /// The service its server address stands for (`--endpoint ...=SERVICE`, well-known ones).
    hint: Option<Hint>,
    /// When the connection ended (FIN both ways or RST). Kept briefly as a tombstone so that
    /// late copies of its packets are absorbed, not taken for a new connection.
    pub closed_at: Option<Timestamp>,
}

impl Activity for Conn {
    fn last_seen(&self) -> Timestamp {
        self.last_seen
    }
}

impl Conn {
    pub fn new(ts: Timestamp, hint: Option<Hint>) -> Conn {
        Conn {
            tcp: Tcp::default(),
            doubts: [None, None],
            c2s: Stream::checking_overlaps(),
            s2c: Stream::default(),
            req: HttpStream::with_reserve(Role::Request, HEAD_RESERVE),
            resp: HttpStream::new(Role::Response),
            pending: VecDeque::new(),
            orphans: 0,
            unconfirmed: VecDeque::new(),
            awaiting_body: None,
            client_ttl: 0,
            answers_seen: false,
            last_seen: ts,
            hint,
            closed_at: None,
        }
    }

    /// Feeds one segment of this connection. Returns true when it carried a new IMDSv1
    /// request (the engine then settles the same client's undelivered token answers).
    pub fn on_segment(&mut self, seg: &Segment<'_>, dir: Direction, cx: &mut Ctx<'_>) -> bool {
        // Issue 23, class 3: a segment the receiving kernel discards never enters the stream.
        let stripped;
        let seg = match self.tcp.check(seg, dir == Direction::ToServer, &mut cx.sh.stats.accept) {
            Acceptance::Accept => seg,
            Acceptance::SynOnly => {
                stripped = Segment { payload: &[], urgent: None, ..*seg };
                &stripped
            }
            Acceptance::Drop(Reject::AckUnsent) => return self.hold(seg, dir, cx),
            Acceptance::Drop(_) => return false,
        };
        let new_v1 = self.process(seg, dir, cx);
        new_v1 | self.resolve(seg, dir, cx)
    }

    /// Takes an accepted segment.
    fn process(&mut self, seg: &Segment<'_>, dir: Direction, cx: &mut Ctx<'_>) -> bool {
        let mut new_v1 = false;
        self.last_seen = cx.ts;
        let answered = match dir {
            Direction::ToServer => {
                self.client_ttl = seg.ttl;
                if let Some(u) = seg.urgent {
                    self.c2s.mark_urgent(u);
                }
                let answered = self.confirm(seg.ack);
                let requests = self.read_requests(cx.sh, |c2s, budget, reasm, f| {
                    c2s.push(seg.seq, seg.syn, seg.payload, budget, reasm, f)
                });
                for c in requests {
                    new_v1 |= c.version == Version::V1;
                    self.push_request(c, Some(seg.seq), seg.ttl, cx);
                }
                self.note_conflict(cx.sh);
                if seg.fin && !self.c2s.fin {
                    self.client_gave_up(cx);
                }
                self.c2s.fin |= seg.fin;
                answered
            }
            Direction::ToClient => {
                let answered = self.read_answers(seg, cx.ts, cx.sh);
                self.answers_seen |= !answered.is_empty() || !self.unconfirmed.is_empty();
                // A FIN that answers the client's own FIN is an ordinary close: what still
                // waits stays waiting (settled `no_response` at the close).
                if (seg.fin && !self.c2s.fin) || (seg.rst && self.answers_seen) {
                    // After its FIN the server can send nothing more, and a reset after an
                    // earlier answer is a close with the next request unread (`Connection:
                    // close`, the keep-alive race): what still waits was never processed.
                    self.server_closed_before(cx);
                }
                answered
            }
        };
        for (p, status, outcome) in answered {
            emit(p, status, outcome, cx);
        }
        if self.rst_closes(seg, dir, cx.sh) || (self.c2s.fin && self.s2c.fin) {
            self.close(Outcome::NoResponse, cx);
        }
        new_v1
    }

    /// RFC 5961, as Linux: a RST closes only at the exact next sequence number; any other
    /// gets a challenge ACK and the connection goes on (counted).
    fn rst_closes(&self, seg: &Segment<'_>, dir: Direction, sh: &mut Shared) -> bool {
        if !seg.rst {
            return false;
        }
        let sender = if dir == Direction::ToServer { &self.c2s } else { &self.s2c };
        let after = seg.seq.wrapping_add(seg.payload.len() as u32);
        let ok = sender
            .next_seq()
            .is_none_or(|n| n == seg.seq || n == after || (sender.fin && n.wrapping_add(1) == seg.seq));
        sh.stats.rst_ignored += u64::from(!ok);
        ok
    }

    /// Two versions of the request bytes were captured: the server read one of them, which
    /// is not known. The request parsed from them is reported with `conflict` (counted).
    fn note_conflict(&mut self, sh: &mut Shared) {
        if self.c2s.take_conflict() {
            sh.stats.conflicts += 1;
            if let Some(p) = self.pending.back_mut() {
                p.record.imds.conflict = true;
            }
        }
    }

    /// The server closed (FIN, or a reset after answering) with requests still waiting:
    /// they get `server_closed` at once and stay out of the counts and verdicts.
    fn server_closed_before(&mut self, cx: &mut Ctx<'_>) {
        while let Some(mut p) = self.pending.pop_front() {
            p.record.imds.outcome = Outcome::ServerClosed;
            emit(p, None, Outcome::ServerClosed, cx);
        }
    }

    /// Head-budget bytes its half-read request head holds (0 once closed).
    pub fn head_charged(&self) -> usize {
        if self.closed_at.is_some() { 0 } else { self.req.charged_bytes() }
    }

    /// Drops its half-read request head for another connection's (the engine evicts the
    /// oldest idle first); a request line in it is still reported, and waits for its answer.
    pub fn evict_head(&mut self, cx: &mut Ctx<'_>) {
        let mut requests = Vec::new();
        let hint = self.hint;
        let sh = &mut *cx.sh;
        self.req.evict_head(&mut sh.head_budget, &mut sh.stats.http, &mut |head| {
            requests.extend(classify_head(&head, hint));
            NoBody(false)
        });
        let ttl = self.client_ttl;
        for c in requests {
            self.push_request(c, None, ttl, cx);
        }
    }

    /// Answers captured at TTL <= 1 still waiting for the client's ACK.
    pub fn has_unconfirmed(&self) -> bool {
        !self.unconfirmed.is_empty()
    }

    /// The same client sent a new IMDSv1 request elsewhere: it gave up on the token answers
    /// this connection holds unacknowledged, so they are settled `no_response` now.
    pub fn settle_unconfirmed(&mut self, cx: &mut Ctx<'_>) {
        while let Some((p, _, _)) = self.unconfirmed.pop_front() {
            cx.sh.stats.answers_not_delivered += 1;
            emit(p, None, Outcome::NoResponse, cx);
        }
    }

    /// The client closed its side (FIN). Token requests and IMDSv2 requests still waiting at
    /// the front are settled `no_response` at once, as a client that gave up (`close()`
    /// after its timeout) never reads their answers; answers that come later for them are
    /// skipped (counted as orphans). Everything else waits on (issue 23, class 2): after
    /// `shutdown(SHUT_WR)` a client still reads, and an IMDSv1 request answered after its
    /// FIN is a served IMDSv1 request.
    fn client_gave_up(&mut self, cx: &mut Ctx<'_>) {
        let can_wait =
            |p: &Pending| p.record.imds.version == Version::V1 || p.record.imds.version == Version::Unversioned;
        let mut kept = VecDeque::new();
        while let Some((p, code, need)) = self.unconfirmed.pop_front() {
            if can_wait(&p) {
                kept.push_back((p, code, need));
            } else {
                cx.sh.stats.answers_not_delivered += 1;
                emit(p, None, Outcome::NoResponse, cx);
            }
        }
        self.unconfirmed = kept;
        while self.pending.front().is_some_and(|p| !can_wait(p)) {
            let Some(p) = self.pending.pop_front() else { break };
            self.orphans += 1;
            cx.sh.stats.abandoned += 1;
            emit(p, None, Outcome::NoResponse, cx);
        }
    }

    /// Answers held for the client's ACK (TTL <= 1) that this ACK confirms.
    fn confirm(&mut self, ack: Option<u32>) -> Vec<(Pending, Option<u16>, Outcome)> {
        let mut answered = Vec::new();
        let Some(ack) = ack else { return answered };
        while let Some((_, _, need)) = self.unconfirmed.front()
            && ack.wrapping_sub(*need) as i32 >= 0
        {
            if let Some((p, code, _)) = self.unconfirmed.pop_front() {
                answered.push((p, Some(code), Outcome::from_status(code)));
            }
        }
        answered
    }

    /// The request-feeding step, written once: `drive` hands the client's reassembled bytes
    /// (of a segment, or what waited behind holes at close) to the request parser.
    fn read_requests(
        &mut self,
        sh: &mut Shared,
        drive: impl FnOnce(&mut Stream, &mut Budget, &mut ReasmStats, &mut dyn FnMut(Chunk<'_>)),
    ) -> Vec<Classified> {
        let mut requests: Vec<Classified> = Vec::new();
        let Conn { c2s, req, hint, .. } = self;
        let Shared { ooo_budget, head_budget, stats, .. } = sh;
        let EngineStats { reasm, http, request_gaps, .. } = stats;
        drive(c2s, ooo_budget, reasm, &mut |chunk| {
            if let Chunk::Gap(_) = chunk {
                *request_gaps += 1;
            }
            req.feed(chunk, head_budget, http, &mut |head| {
                requests.extend(classify_head(&head, *hint));
                NoBody(false)
            });
        });
        requests
    }

    /// Reads the server's bytes: answers are matched to waiting requests in order; those
    /// captured at TTL <= 1 wait for the client's ACK.
    fn read_answers(
        &mut self,
        seg: &Segment<'_>,
        seg_ts: Timestamp,
        sh: &mut Shared,
    ) -> Vec<(Pending, Option<u16>, Outcome)> {
        let mut answered: Vec<(Pending, Option<u16>, Outcome)> = Vec::new();
        let mut fragile: Vec<(Pending, u16)> = Vec::new();
        self.arm_body(); // issue 28: a credential answer's body is read for its identity
        // Where in `answered` the request whose body was being read went (a next answer came).
        let mut body_slot: Option<usize> = None;
        let Conn { s2c, resp, pending, orphans, awaiting_body, .. } = self;
        let mut unsolicited = 0;
        let mut tunnel = false;
        s2c.push(seg.seq, seg.syn, seg.payload, &mut sh.ooo_budget, &mut sh.stats.reasm, &mut |chunk| {
            let gap = matches!(chunk, Chunk::Gap(_));
            resp.feed(chunk, &mut sh.head_budget, &mut sh.stats.http, &mut |head| {
                let Head::Response(code) = head else {
                    return NoBody(false);
                };
                if let Some((p, c)) = awaiting_body.take() {
                    body_slot = Some(answered.len()); // its body is complete, or was not read
                    answered.push((p, Some(c), Outcome::from_status(c)));
                }
                if code < 200 && code != 101 {
                    return NoBody(false); // interim (100 Continue): the answer is still to come
                }
                if *orphans > 0 {
                    *orphans -= 1;
                    return NoBody(false);
                }
                match pending.pop_front() {
                    Some(mut p) => {
                        let no_body = NoBody(p.head_method);
                        if code == 101 || (p.record.imds.method == "CONNECT" && code < 300) {
                            tunnel = true; // the request stream is a tunnel now
                        }
                        p.record.imds.answer_ttl = Some(seg.ttl);
                        if seg.ttl <= FRAGILE_TTL {
                            fragile.push((p, code));
                        } else if p.record.imds.credentials && (200..300).contains(&code) {
                            // Timed at its head: the body may come segments later.
                            p.record.imds.response_ms = Some(seg_ts.micros_since(p.sent) as f64 / 1000.0);
                            *awaiting_body = Some((p, code));
                        } else {
                            answered.push((p, Some(code), Outcome::from_status(code)));
                        }
                        no_body
                    }
                    None => {
                        unsolicited += 1;
                        NoBody(false)
                    }
                }
            });
            if gap && resp.desynced() {
                // The capture lost answers: which request they belonged to is unknown.
                answered.extend(pending.drain(..).map(|p| (p, None, Outcome::Unmatched)));
            }
        });
        self.settle_body(&mut answered, body_slot);
        sh.stats.unsolicited_responses += unsolicited;
        if tunnel {
            self.req.switch_protocols(&mut sh.head_budget);
        }
        let need = self.s2c.next_seq().unwrap_or(seg.seq);
        for (p, code) in fragile {
            self.unconfirmed.push_back((p, code, need));
        }
        self.s2c.fin |= seg.fin;
        answered
    }

    /// Ends the connection: holes are skipped, what waited behind them is read, and requests
    /// still waiting are reported with `outcome`.
    pub fn close(&mut self, outcome: Outcome, cx: &mut Ctx<'_>) {
        if self.closed_at.is_some() {
            return;
        }
        // Held bytes the capture never settled are read (engine/doubt.rs); a held FIN is not.
        for dir in [Direction::ToServer, Direction::ToClient] {
            if let Some(d) = self.doubts[dir as usize].take() {
                if d.has_data() {
                    self.process(&d.segment(false), dir, cx);
                }
                d.release(&mut cx.sh.ooo_budget);
            }
        }
        if self.closed_at.is_some() {
            return;
        }
        // Read what waited behind holes: a request there still counts (unanswered).
        let mut requests = self.read_requests(cx.sh, |c2s, budget, reasm, f| c2s.finish(budget, reasm, f));
        let sh = &mut *cx.sh;
        // A head the connection ended in the middle of (HTTP/0.9, no blank line): reported
        // from its request line.
        let hint = self.hint;
        self.req.finish(&mut sh.stats.http, &mut |head| {
            requests.extend(classify_head(&head, hint));
            NoBody(false)
        });
        sh.stats.http.unfinished += u64::from(self.req.mid_message()) + u64::from(self.resp.mid_message());
        let ttl = self.client_ttl;
        for c in requests {
            self.push_request(c, None, ttl, cx);
        }
        // A credential answer whose body never ended.
        if let Some((p, c)) = self.awaiting_body.take() {
            emit(p, Some(c), Outcome::from_status(c), cx);
        }
        // Answers that died on the way (never acknowledged) and requests never answered.
        while let Some((p, _, _)) = self.unconfirmed.pop_front() {
            cx.sh.stats.answers_not_delivered += 1;
            emit(p, None, Outcome::NoResponse, cx);
        }
        while let Some(p) = self.pending.pop_front() {
            emit(p, None, outcome, cx);
        }
        let sh = &mut *cx.sh;
        self.c2s.release(&mut sh.ooo_budget);
        self.s2c.release(&mut sh.ooo_budget);
        self.req.reset_head(&mut sh.head_budget);
        self.resp.reset_head(&mut sh.head_budget);
        // Perf (issue 6): a closed connection stays in the table as a tombstone for a while;
        // it must not keep its head buffers and queues, or a busy capture holds thousands.
        self.req = HttpStream::new(Role::Request);
        self.resp = HttpStream::new(Role::Response);
        self.pending = VecDeque::new();
        self.unconfirmed = VecDeque::new();
        self.closed_at = Some(cx.ts);
    }
}
