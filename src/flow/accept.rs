//! Linux's acceptance checks for an incoming TCP segment (issue 23, classes 3 and 4): a
//! segment the receiving kernel discards never reaches its socket, so it must not reach the
//! reassembled stream either. An attacker with CAP_NET_RAW otherwise places a decoy at the
//! real request's sequence number that Linux drops and imdswatch would read.
//!
//! The checks, in the order Linux makes them (net/ipv4/tcp_ipv4.c `tcp_v4_rcv`, then
//! net/ipv4/tcp_input.c `tcp_rcv_established` / `tcp_rcv_state_process` →
//! `tcp_validate_incoming` → `tcp_ack`):
//! 1. an MD5 signature option on a socket without an MD5 key (`tcp_inbound_md5_hash`:
//!    `TCP_MD5UNEXPECTED`); sockets of an IMDS connection have none;
//! 2. PAWS (`tcp_paws_discard`, `TCP_PAWS_WINDOW` = 1): when both SYNs carried timestamps, a
//!    segment whose TSval is older than the last one accepted in order (`ts_recent`) by
//!    more than 1 is discarded (RSTs are not; pure ACKs are left alone here);
//! 3. no ACK flag on a segment that is neither SYN nor RST (`if (!th->ack && !th->rst &&
//!    !th->syn) goto discard`);
//! 4. `tcp_ack`: an ACK of data the peer never sent (`after(ack, snd_nxt)`:
//!    `TCP_ACK_UNSENT_DATA`), or one older than `snd_una - min(max_window, bytes_acked)`
//!    (`TCP_TOO_OLD_ACK`, RFC 5961 5.2); an old ACK inside that range is accepted;
//! 5. data in a SYN without a Fast Open cookie is not queued (`tcp_conn_request` →
//!    `tcp_try_fastopen`): the SYN counts, its data does not (the client sends it again).
//!
//! What needs the connection's start (ISNs, timestamps) is checked only when the capture
//! saw the handshake; a capture that began mid-connection gets checks 1 and 3. Not modelled:
//! the receive window (`tcp_sequence`), `max_window` (the allowance is `bytes_acked` alone,
//! which is the smaller one on IMDS connections: answers of a few KiB, windows of 64 KiB
//! and more). The ACK range is judged on the segments the capture holds: a capture that lost
//! a server segment may see a later client ACK as one of unsent data; that is counted
//! (`tcp_rejected_ack_unsent`).

use crate::decode::Segment;

/// Why a segment was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Md5,
    Paws,
    NoAck,
    AckUnsent,
    AckTooOld,
}

/// What to do with a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    Accept,
    /// A SYN whose data Linux does not queue: the SYN counts, its payload does not.
    SynOnly,
    Drop(Reject),
}

/// Segments discarded by the checks, by reason (anomalies `tcp_rejected_*`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AcceptStats {
    pub md5: u64,
    pub paws: u64,
    pub no_ack: u64,
    pub ack_unsent: u64,
    pub ack_too_old: u64,
    /// SYNs whose data was ignored (no Fast Open cookie).
    pub syn_data: u64,
    /// Of `ack_unsent`, segments replayed once the capture showed the data they acknowledge
    /// (it had lost it; engine/doubt.rs).
    pub replayed: u64,
}

impl AcceptStats {
    fn count(&mut self, v: Acceptance) {
        match v {
            Acceptance::Accept => {}
            Acceptance::SynOnly => self.syn_data += 1,
            Acceptance::Drop(Reject::Md5) => self.md5 += 1,
            Acceptance::Drop(Reject::Paws) => self.paws += 1,
            Acceptance::Drop(Reject::NoAck) => self.no_ack += 1,
            Acceptance::Drop(Reject::AckUnsent) => self.ack_unsent += 1,
            Acceptance::Drop(Reject::AckTooOld) => self.ack_too_old += 1,
        }
    }
}

/// What is known of one sender.
#[derive(Debug, Default, Clone, Copy)]
struct Side {
    /// Sequence number of its SYN.
    isn: Option<u32>,
    /// Its timestamp option in the SYN.
    syn_ts: bool,
    /// One past the last sequence number it sent (SYN and FIN count), as captured.
    snd_nxt: u32,
    /// The highest of its sequence numbers the peer acknowledged (accepted ACKs).
    snd_una: u32,
    /// The receiver's `ts_recent` for this sender's segments.
    ts_recent: Option<u32>,
}

impl Side {
    /// Bytes of its data acknowledged so far (`tp->bytes_acked`; the SYN does not count).
    fn bytes_acked(&self) -> u32 {
        let d = self.isn.map_or(0, |isn| self.snd_una.wrapping_sub(isn.wrapping_add(1)));
        if (d as i32) < 0 { 0 } else { d }
    }
}

/// Both ends of one connection.
#[derive(Debug, Default, Clone)]
pub struct Tcp {
    client: Side,
    server: Side,
}

fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Tcp {
    /// Judges a segment from the client (`to_server`) or the server, and learns from it
    /// when it is accepted.
    pub fn check(&mut self, seg: &Segment<'_>, to_server: bool, stats: &mut AcceptStats) -> Acceptance {
        let v = self.judge(seg, to_server);
        stats.count(v);
        if !matches!(v, Acceptance::Drop(_)) {
            self.learn(seg, to_server, v == Acceptance::SynOnly);
        }
        v
    }

    /// One past the last sequence number the client (`client: true`) or the server sent, as
    /// far as the capture showed.
    pub fn sent_up_to(&self, client: bool) -> u32 {
        if client { self.client.snd_nxt } else { self.server.snd_nxt }
    }

    /// A segment starts beyond what the capture showed its sender send: the capture lost
    /// those bytes, so the sender did send up to `seq`. True when that moved the mark.
    pub fn saw_sent(&mut self, seq: u32, client: bool) -> bool {
        let side = if client { &mut self.client } else { &mut self.server };
        if side.isn.is_some() && after(seq, side.snd_nxt) {
            side.snd_nxt = seq;
            return true;
        }
        false
    }

    fn judge(&self, seg: &Segment<'_>, to_server: bool) -> Acceptance {
        let (me, peer) = if to_server { (&self.client, &self.server) } else { (&self.server, &self.client) };
        if seg.opts.md5 {
            return Acceptance::Drop(Reject::Md5);
        }
        if seg.syn {
            // Data in a SYN reaches the server's socket only with a Fast Open cookie.
            let data = !seg.payload.is_empty() && to_server && !seg.opts.fastopen_cookie;
            return if data { Acceptance::SynOnly } else { Acceptance::Accept };
        }
        if seg.rst {
            return Acceptance::Accept; // RST rules: `Conn::rst_closes` (RFC 5961, as Linux)
        }
        let timestamps = me.syn_ts && peer.syn_ts;
        if timestamps
            && (!seg.payload.is_empty() || seg.fin)
            && let (Some(recent), Some(tsval)) = (me.ts_recent, seg.opts.tsval)
            && (recent.wrapping_sub(tsval) as i32) > 1
        {
            return Acceptance::Drop(Reject::Paws);
        }
        let Some(ack) = seg.ack else { return Acceptance::Drop(Reject::NoAck) };
        // The ACK covers what the peer sent: known once the peer's SYN was seen.
        if peer.isn.is_some() && me.isn.is_some() {
            if after(ack, peer.snd_nxt) {
                return Acceptance::Drop(Reject::AckUnsent);
            }
            let floor = peer.snd_una.wrapping_sub(peer.bytes_acked());
            if after(floor, ack) {
                return Acceptance::Drop(Reject::AckTooOld);
            }
        }
        Acceptance::Accept
    }

    fn learn(&mut self, seg: &Segment<'_>, to_server: bool, syn_only: bool) {
        let (me, peer) =
            if to_server { (&mut self.client, &mut self.server) } else { (&mut self.server, &mut self.client) };
        let len = if syn_only { 0 } else { seg.payload.len() as u32 };
        let end = seg.seq.wrapping_add(len).wrapping_add(u32::from(seg.syn)).wrapping_add(u32::from(seg.fin));
        if seg.syn {
            if me.isn.is_none() {
                me.isn = Some(seg.seq);
                me.syn_ts = seg.opts.tsval.is_some();
                me.snd_nxt = end;
                me.snd_una = seg.seq;
                me.ts_recent = seg.opts.tsval;
            }
        } else if let Some(tsval) = seg.opts.tsval
            && !after(seg.seq, me.snd_nxt)
            && me.ts_recent.is_none_or(|r| (tsval.wrapping_sub(r) as i32) >= 0)
        {
            // `tcp_replace_ts_recent`: from a segment that does not start beyond what came.
            me.ts_recent = Some(tsval);
        }
        if me.isn.is_none() || after(end, me.snd_nxt) {
            me.snd_nxt = end;
        }
        // A client's SYN acknowledges nothing; the server's SYN-ACK does.
        if let Some(ack) = seg.ack
            && (!seg.syn || !to_server)
            && peer.isn.is_some()
            && after(ack, peer.snd_una)
        {
            peer.snd_una = ack;
        }
    }
}
