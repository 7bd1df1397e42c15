//! A request's record: built when its head is classified, queued for its answer, completed
//! with it (or its lack) and handed on, unless a copy of it on another flow is the one
//! reported (engine/dedup.rs).

use super::{Conn, Ctx, MAX_PENDING, Pending};
use crate::classify::Classified;
use crate::engine::EngineEvent;
use crate::engine::dedup::{Held, Settle};
use crate::event::{Imds, Network, Outcome, RequestRecord, Version};

impl Conn {
    /// Queues a classified request for its answer.
    pub(super) fn push_request(&mut self, c: Classified, seq: Option<u32>, ttl: u8, cx: &mut Ctx<'_>) {
        let (key, ts) = (cx.key, cx.ts);
        let mut released = Vec::new();
        let group = seq.map(|seq| {
            let fp = cx.sh.dedup.fingerprint(key.server, seq, &c);
            cx.sh.dedup.join(fp, &key, ttl, ts, &mut released)
        });
        for h in released {
            send(h, cx);
        }
        let duplicate = group.is_some_and(|m| !m.is_first());
        let head_method = c.method == "HEAD";
        let aws_if_answered = c.aws_if_answered;
        let mut record = Box::new(RequestRecord {
            timestamp: ts,
            imds: Imds {
                version: c.version,
                method: c.method,
                path: crate::secret::path_owned(c.path), // issue 12: query values, token-shaped strings
                status: None,
                outcome: Outcome::NoResponse,
                credentials: c.credentials,
                token_ttl_seconds: c.token_ttl_seconds,
                user_agent: c.user_agent.map(crate::secret::text_owned),
                forwarded: c.forwarded,
                response_ms: None,
                answer_ttl: None,
                provider: c.provider,
                service: c.service,
                breaks_when_enforced: None,
                parse_error: c.parse_error,
                conflict: false,
            },
            network: Network { client: key.client, server: key.server, client_ttl: ttl },
            credentials: None,
            live: None,
            capture: None,
        });
        if self.s2c.fin {
            // The server closed first: this request was never processed.
            record.imds.outcome = Outcome::ServerClosed;
            let p = Pending { record, sent: ts, head_method, group, aws_if_answered };
            return emit(p, None, Outcome::ServerClosed, cx);
        }
        if cx.sh.announce_pending && record.imds.version == Version::TokenRequest && !duplicate {
            (cx.out)(EngineEvent::TokenPending { key: cx.key, record: record.clone() });
        }
        self.pending.push_back(Pending { record, sent: ts, head_method, group, aws_if_answered });
        if self.pending.len() > MAX_PENDING
            && let Some(p) = self.pending.pop_front()
        {
            cx.sh.stats.pipeline_overflow += 1;
            self.orphans += 1;
            emit(p, None, Outcome::Unmatched, cx);
        }
    }
}

/// Completes a request with its answer (or its lack) and hands it on, unless a copy of it
/// on another flow is the one reported (engine/dedup.rs).
pub(super) fn emit(p: Pending, status: Option<u16>, outcome: Outcome, cx: &mut Ctx<'_>) {
    let mut record = p.record;
    if let Some(aws) = crate::classify::answered(p.aws_if_answered, status) {
        // Another cloud's header on an AWS request that the server served: AWS's.
        record.imds.service = crate::event::Service::Ec2Imds;
        record.imds.provider = crate::event::Provider::Aws;
        record.imds.version = aws.version;
        record.imds.credentials = aws.credentials;
        record.imds.token_ttl_seconds = aws.token_ttl_seconds;
    }
    record.imds.status = status;
    record.imds.outcome = outcome;
    record.imds.breaks_when_enforced = crate::event::breaks_when_enforced(record.imds.version, outcome);
    if status.is_some() && record.imds.response_ms.is_none() {
        record.imds.response_ms = Some(cx.ts.micros_since(p.sent) as f64 / 1000.0);
    }
    if let Some(m) = p.group {
        let dedup = &mut cx.sh.dedup;
        match dedup.settle(m, status.is_some()) {
            Settle::Report => {
                if m.is_first() && status.is_some() && dedup.take_dropped(m) {
                    cx.sh.stats.duplicates_suppressed += 1;
                }
            }
            Settle::Suppress => {
                cx.sh.stats.duplicates_suppressed += 1;
                return;
            }
            Settle::Hold => return dedup.hold(m, cx.key, record, cx.ts),
            Settle::Swap(held) => {
                cx.sh.stats.duplicates_suppressed += 1;
                return send(held, cx);
            }
        }
    }
    send((cx.key, record), cx);
}

/// Hands a finished record on.
fn send((key, record): Held, cx: &mut Ctx<'_>) {
    cx.sh.stats.requests += 1;
    (cx.out)(EngineEvent::Request { key, record });
}
