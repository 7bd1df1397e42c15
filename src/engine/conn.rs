//! One IMDS connection: both directions reassembled, HTTP framed, requests classified and
//! matched to their answers in order.

use std::collections::VecDeque;

use super::{EngineEvent, Shared};
use crate::classify::{Classified, classify_head};
use crate::decode::Segment;
use crate::event::{Imds, Network, Outcome, RequestRecord};
use crate::flow::reassembly::{Chunk, Stream};
use crate::flow::table::Activity;
use crate::flow::{Direction, FlowKey};
use crate::http::{Head, HttpStream, NoBody, Role};
use crate::time::Timestamp;

/// Requests awaiting an answer on one connection (pipelining). Past this, the oldest is
/// reported `unmatched` and its answer, when it comes, is skipped.
pub const MAX_PENDING: usize = 32;

/// An answer captured with TTL <= 1 may not be delivered (the next router drops it): it
/// counts only once the client acknowledges it.
const FRAGILE_TTL: u8 = 1;

/// A request waiting for its answer.
#[derive(Debug)]
struct Pending {
    record: RequestRecord,
    sent: Timestamp,
    head_method: bool,
    /// The same request seen on another flow (a NATed copy): matched, never reported.
    duplicate: bool,
}

#[derive(Debug)]
pub struct Conn {
    c2s: Stream,
    s2c: Stream,
    req: HttpStream,
    resp: HttpStream,
    pending: VecDeque<Pending>,
    /// Answers still to come for requests already reported as unmatched.
    orphans: usize,
    /// Answers seen with TTL <= 1, waiting for the client's ACK of this sequence number.
    unconfirmed: VecDeque<(Pending, u16, u32)>,
    /// IP TTL / hop limit of the client's last packet.
    client_ttl: u8,
    last_seen: Timestamp,
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
    pub fn new(ts: Timestamp) -> Conn {
        Conn {
            c2s: Stream::checking_overlaps(),
            s2c: Stream::default(),
            req: HttpStream::new(Role::Request),
            resp: HttpStream::new(Role::Response),
            pending: VecDeque::new(),
            orphans: 0,
            unconfirmed: VecDeque::new(),
            client_ttl: 0,
            last_seen: ts,
            closed_at: None,
        }
    }

    /// Feeds one segment of this connection.
    pub fn on_segment(
        &mut self,
        key: &FlowKey,
        seg: &Segment<'_>,
        dir: Direction,
        ts: Timestamp,
        sh: &mut Shared,
        out: &mut dyn FnMut(EngineEvent),
    ) {
        self.last_seen = ts;
        // Heads are collected while the streams are borrowed, then turned into records.
        let mut requests: Vec<Classified> = Vec::new();
        let mut answered: Vec<(Pending, Option<u16>, Outcome)> = Vec::new();
        let mut fragile: Vec<(Pending, u16)> = Vec::new();
        let Conn { c2s, s2c, req, resp, pending, orphans, client_ttl, unconfirmed, .. } = self;
        match dir {
            Direction::ToServer => {
                *client_ttl = seg.ttl;
                if let Some(u) = seg.urgent {
                    c2s.mark_urgent(u);
                }
                if let Some(ack) = seg.ack {
                    while let Some((_, _, need)) = unconfirmed.front()
                        && ack.wrapping_sub(*need) as i32 >= 0
                    {
                        if let Some((p, code, _)) = unconfirmed.pop_front() {
                            answered.push((p, Some(code), Outcome::from_status(code)));
                        }
                    }
                }
                c2s.push(seg.seq, seg.syn, seg.payload, &mut sh.ooo_budget, &mut sh.stats.reasm, &mut |chunk| {
                    req.feed(chunk, &mut sh.head_budget, &mut sh.stats.http, &mut |head| {
                        requests.extend(classify_head(&head));
                        NoBody(false)
                    });
                });
                c2s.fin |= seg.fin;
            }
            Direction::ToClient => {
                let mut unsolicited = 0;
                let mut tunnel = false;
                s2c.push(seg.seq, seg.syn, seg.payload, &mut sh.ooo_budget, &mut sh.stats.reasm, &mut |chunk| {
                    let gap = matches!(chunk, Chunk::Gap(_));
                    resp.feed(chunk, &mut sh.head_budget, &mut sh.stats.http, &mut |head| {
                        let Head::Response(code) = head else {
                            return NoBody(false);
                        };
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
                sh.stats.unsolicited_responses += unsolicited;
                if tunnel {
                    req.switch_protocols(&mut sh.head_budget);
                }
                let need = s2c.next_seq().unwrap_or(seg.seq);
                for (p, code) in fragile {
                    unconfirmed.push_back((p, code, need));
                }
                s2c.fin |= seg.fin;
            }
        }
        for c in requests {
            self.push_request(c, key, Some(seg.seq), seg.ttl, ts, sh, out);
        }
        self.note_conflict(sh);
        for (p, status, outcome) in answered {
            emit(p, status, outcome, ts, key, sh, out);
        }
        if self.rst_closes(seg, dir, sh) || (self.c2s.fin && self.s2c.fin) {
            self.close(key, ts, Outcome::NoResponse, sh, out);
        }
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

    /// Ends the connection: holes are skipped, what waited behind them is read, and requests
    /// still waiting are reported with `outcome`.
    pub fn close(
        &mut self,
        key: &FlowKey,
        ts: Timestamp,
        outcome: Outcome,
        sh: &mut Shared,
        out: &mut dyn FnMut(EngineEvent),
    ) {
        if self.closed_at.is_some() {
            return;
        }
        // Read what waited behind holes: a request there still counts (unanswered).
        let mut requests: Vec<Classified> = Vec::new();
        let Conn { c2s, req, .. } = self;
        c2s.finish(&mut sh.ooo_budget, &mut sh.stats.reasm, &mut |chunk| {
            req.feed(chunk, &mut sh.head_budget, &mut sh.stats.http, &mut |head| {
                requests.extend(classify_head(&head));
                NoBody(false)
            });
        });
        req.finish(&mut sh.stats.http, &mut |head| {
            requests.extend(classify_head(&head));
            NoBody(false)
        });
        sh.stats.http.unfinished += u64::from(self.req.mid_message()) + u64::from(self.resp.mid_message());
        let ttl = self.client_ttl;
        for c in requests {
            self.push_request(c, key, None, ttl, ts, sh, out);
        }
        // Answers that died on the way (never acknowledged) and requests never answered.
        while let Some((p, _, _)) = self.unconfirmed.pop_front() {
            sh.stats.answers_not_delivered += 1;
            emit(p, None, Outcome::NoResponse, ts, key, sh, out);
        }
        while let Some(p) = self.pending.pop_front() {
            emit(p, None, outcome, ts, key, sh, out);
        }
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
        self.closed_at = Some(ts);
    }

    /// Queues a classified request for its answer.
    #[allow(clippy::too_many_arguments)]
    fn push_request(
        &mut self,
        c: Classified,
        key: &FlowKey,
        seq: Option<u32>,
        ttl: u8,
        ts: Timestamp,
        sh: &mut Shared,
        out: &mut dyn FnMut(EngineEvent),
    ) {
        let duplicate = seq.is_some_and(|seq| {
            let fp = sh.dedup.fingerprint(key.server, seq, &c);
            sh.dedup.seen_elsewhere(fp, key, ttl, ts)
        });
        let head_method = c.method == "HEAD";
        let record = RequestRecord {
            timestamp: ts,
            imds: Imds {
                version: c.version,
                method: c.method,
                path: c.path,
                status: None,
                outcome: Outcome::NoResponse,
                credentials: c.credentials,
                token_ttl_seconds: c.token_ttl_seconds,
                user_agent: c.user_agent,
                forwarded: c.forwarded,
                response_ms: None,
                answer_ttl: None,
                parse_error: c.parse_error,
                conflict: false,
            },
            network: Network { client: key.client.to_string(), server: key.server.to_string(), client_ttl: ttl },
            live: None,
        };
        self.pending.push_back(Pending { record, sent: ts, head_method, duplicate });
        if self.pending.len() > MAX_PENDING
            && let Some(p) = self.pending.pop_front()
        {
            sh.stats.pipeline_overflow += 1;
            self.orphans += 1;
            emit(p, None, Outcome::Unmatched, ts, key, sh, out);
        }
    }
}

/// Completes a request with its answer (or its lack) and hands it on.
fn emit(
    p: Pending,
    status: Option<u16>,
    outcome: Outcome,
    ts: Timestamp,
    key: &FlowKey,
    sh: &mut Shared,
    out: &mut dyn FnMut(EngineEvent),
) {
    if p.duplicate {
        sh.stats.duplicates_suppressed += 1;
        return;
    }
    let mut record = p.record;
    record.imds.status = status;
    record.imds.outcome = outcome;
    if status.is_some() {
        record.imds.response_ms = Some(ts.micros_since(p.sent) as f64 / 1000.0);
    }
    sh.stats.requests += 1;
    out(EngineEvent::Request { key: *key, record: Box::new(record) });
}
