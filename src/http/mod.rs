//! HTTP/1.x message framing over one reassembled direction of a connection.
//!
//! Heads are collected until their blank line (bounded by [`MAX_HEAD`]) and parsed with
//! httparse; bodies are skipped by Content-Length or chunked framing without ever being
//! stored, so a response body (a credential, a token) never sits in a buffer of ours.
//! `Partial` from httparse only ever means "wait for more bytes".

mod chunked;
pub mod credential;
mod raw;

use chunked::Chunked;
pub use raw::{Framing, RawRequest};

use crate::flow::reassembly::{Budget, Chunk};

/// Longest request or response head accepted; longer is an anomaly, not a buffer that grows.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header lines parsed per head by httparse (clients send well under 100; Go's server
/// takes 1 MiB of headers). A head with more is read by the raw scan instead, within
/// [`MAX_HEAD`] bytes.
pub const MAX_HEADERS: usize = 128;

/// Which side of the conversation a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Request,
    Response,
}

/// A parsed head, borrowed for the duration of the callback.
pub enum Head<'h> {
    Request(&'h httparse::Request<'h, 'h>),
    /// Status code of a response head.
    Response(u16),
    /// A request head httparse refused, read by a raw scan (reported with `parse_error`).
    Raw(&'h RawRequest<'h>),
}

/// What the engine tells the framing about a response: its request was `HEAD`, so it has no
/// body whatever its headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoBody(pub bool);

/// Anomalies of HTTP framing, counted by the engine.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HttpStats {
    /// Heads longer than [`MAX_HEAD`].
    pub oversize_heads: u64,
    /// Heads httparse rejected (or with more than [`MAX_HEADERS`] lines).
    pub parse_errors: u64,
    /// Of those, request heads still reported from a raw scan (`imds.parse_error`).
    pub raw_requests: u64,
    /// Bytes skipped while looking for the start of a message after an error or a gap.
    pub desync_chunks: u64,
    /// Capture holes that cut into a message.
    pub gaps: u64,
    /// Connections that ended in the middle of a message: a head never finished, or a body
    /// shorter than its Content-Length (a 4 GiB one, say) or its chunks announced.
    pub unfinished: u64,
    /// Credential answers longer than [`credential::MAX_BODY`]: their identity is not read.
    pub credential_bodies_over_cap: u64,
    /// Half-read request heads dropped, oldest idle first, to make room in the head budget
    /// for another connection's head (issue 23, class 6; each reported from a raw scan when
    /// it starts like a request).
    pub heads_evicted: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// Skipping this many body bytes.
    Body(u64),
    Chunked(Chunked),
    /// A response without length: the body runs to the end of the connection.
    UntilClose,
    /// Lost track; waiting for a segment that starts like a message.
    Desync,
}

#[derive(Debug)]
pub struct HttpStream {
    role: Role,
    state: State,
    buf: Vec<u8>,
    /// The last significant byte of the head so far was a line feed.
    after_newline: bool,
    /// Issue 28: the body of a credential answer, when one was asked for
    /// ([`HttpStream::arm_capture`]); otherwise bodies are skipped.
    tap: credential::BodyTap,
    /// Head bytes held for this stream in the table's head budget whatever others do
    /// ([`HttpStream::reserve`]); only bytes past it are charged as the head grows.
    reserved: usize,
}

impl HttpStream {
    pub fn new(role: Role) -> HttpStream {
        HttpStream {
            role,
            state: State::Head,
            buf: Vec::new(),
            after_newline: false,
            reserved: 0,
            tap: credential::BodyTap::default(),
        }
    }

    /// A stream whose first `reserved` head bytes are its own, outside the table's head
    /// budget (issue 23, class 6: 599 connections holding 14 KB of unfinished head each
    /// filled the shared budget, and a served request whose head then arrived split was
    /// never reported). What that costs is bounded by the flow table: `max_flows × reserved`.
    pub fn with_reserve(role: Role, reserved: usize) -> HttpStream {
        HttpStream { reserved, ..HttpStream::new(role) }
    }

    /// Bytes of the head budget this stream's half-read head holds beyond its reservation.
    fn charged(&self, len: usize) -> usize {
        len.saturating_sub(self.reserved)
    }

    /// Bytes of the head budget its half-read head holds (beyond its own reserved bytes).
    pub fn charged_bytes(&self) -> usize {
        self.charged(self.buf.len())
    }

    /// Drops a half-read request head to give its budget back (the engine evicts the oldest
    /// idle ones when another connection's head needs room): what it held is reported from a raw
    /// scan when it has a request line, and the stream resynchronises on the next message.
    pub fn evict_head(
        &mut self,
        budget: &mut Budget,
        stats: &mut HttpStats,
        on_head: &mut dyn FnMut(Head<'_>) -> NoBody,
    ) {
        if self.buf.is_empty() {
            return;
        }
        stats.heads_evicted += 1;
        let line = memchr::memchr(b'\n', &self.buf).is_some();
        if self.role == Role::Request && self.state == State::Head && (line || self.looks_like_start(&self.buf)) {
            report_raw(&self.buf, stats, on_head);
        }
        self.reset_head(budget);
        self.state = State::Desync;
    }

    /// Bytes held for an unfinished head.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Lost track of message boundaries (after a gap or a parse error).
    pub fn desynced(&self) -> bool {
        self.state == State::Desync
    }

    /// Whether a message is half-read (a head or a body).
    pub fn mid_message(&self) -> bool {
        !self.buf.is_empty() || matches!(self.state, State::Body(_) | State::Chunked(_))
    }

    /// Feeds reassembled bytes; `on_head` is called for every complete head.
    pub fn feed(
        &mut self,
        chunk: Chunk<'_>,
        budget: &mut Budget,
        stats: &mut HttpStats,
        on_head: &mut dyn FnMut(Head<'_>) -> NoBody,
    ) {
        match chunk {
            Chunk::Gap(n) => self.gap(n, budget, stats),
            Chunk::Data(d) => self.feed_data(d, budget, stats, on_head),
        }
    }

    fn gap(&mut self, n: u64, budget: &mut Budget, stats: &mut HttpStats) {
        self.tap.abort(); // a hole in the body: nothing is read from it
        match self.state {
            State::Body(left) if left > n => self.state = State::Body(left - n),
            State::Body(left) if left == n => self.state = State::Head,
            State::UntilClose => {}
            State::Head if self.buf.is_empty() => {
                // A whole message may have been lost; resynchronise on the next one.
                stats.gaps += 1;
                self.state = State::Desync;
            }
            _ => {
                stats.gaps += 1;
                self.reset_head(budget);
                self.state = State::Desync;
            }
        }
    }

    fn feed_data(
        &mut self,
        mut data: &[u8],
        budget: &mut Budget,
        stats: &mut HttpStats,
        on_head: &mut dyn FnMut(Head<'_>) -> NoBody,
    ) {
        while !data.is_empty() {
            match self.state {
                State::Body(left) => {
                    let k = left.min(data.len() as u64);
                    self.tap.feed(&data[..k as usize]);
                    data = &data[k as usize..];
                    self.state = if k == left { State::Head } else { State::Body(left - k) };
                }
                State::Chunked(mut c) => match c.advance(data) {
                    Ok((used, done)) => {
                        data = &data[used..];
                        self.state = if done { State::Head } else { State::Chunked(c) };
                    }
                    Err(()) => {
                        stats.parse_errors += 1;
                        self.state = State::Desync;
                        return;
                    }
                },
                State::UntilClose => return,
                State::Desync => {
                    if self.looks_like_start(data) {
                        self.state = State::Head;
                    } else {
                        stats.desync_chunks += 1;
                        return;
                    }
                }
                State::Head => {
                    if self.buf.is_empty() {
                        // Blank lines before a message are ignored (RFC 9112 2.2).
                        let blank = data.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
                        data = &data[blank..];
                        if data.is_empty() {
                            return;
                        }
                    }
                    let Some(end) = self.find_head_end(data) else {
                        self.append(data, budget, stats, on_head);
                        return;
                    };
                    if self.buf.is_empty() {
                        // The whole head is in this segment (the usual case): parse it in place.
                        if end > MAX_HEAD {
                            self.oversize(&data[..MAX_HEAD], budget, stats, on_head);
                            return;
                        }
                        let next = parse_head(self.role, &data[..end], stats, on_head);
                        self.finish_head(next, stats);
                    } else {
                        if !self.append(&data[..end], budget, stats, on_head) {
                            return;
                        }
                        let next = parse_head(self.role, &self.buf, stats, on_head);
                        self.reset_head(budget);
                        self.finish_head(next, stats);
                    }
                    data = &data[end..];
                }
            }
        }
    }

    /// Appends to the head buffer; false (and desync) when the head grows past the bound.
    fn append(
        &mut self,
        data: &[u8],
        budget: &mut Budget,
        stats: &mut HttpStats,
        on_head: &mut dyn FnMut(Head<'_>) -> NoBody,
    ) -> bool {
        let len = self.buf.len() + data.len();
        let more = self.charged(len) - self.charged(self.buf.len());
        if len > MAX_HEAD || !budget.try_reserve(more) {
            let buf = std::mem::take(&mut self.buf);
            let prefix = if buf.is_empty() { &data[..data.len().min(MAX_HEAD)] } else { &buf[..] };
            self.oversize(prefix, budget, stats, on_head);
            budget.release(self.charged(buf.len()));
            return false;
        }
        self.buf.extend_from_slice(data);
        true
    }

    /// A head past [`MAX_HEAD`] (or the table's head budget): a request is still reported
    /// from a raw scan of its first bytes, then the rest of the head is skipped.
    fn oversize(
        &mut self,
        prefix: &[u8],
        budget: &mut Budget,
        stats: &mut HttpStats,
        on_head: &mut dyn FnMut(Head<'_>) -> NoBody,
    ) {
        stats.oversize_heads += 1;
        // Issue 23, class 6: a head dropped for the budget before its first line ended is
        // still reported from what was seen, when it starts like a request.
        if self.role == Role::Request && (memchr::memchr(b'\n', prefix).is_some() || self.looks_like_start(prefix)) {
            report_raw(prefix, stats, on_head);
        }
        self.reset_head(budget);
        self.state = State::Desync;
    }

    /// End of the connection: a request head that never finished but has its request line
    /// (an HTTP/0.9 request, a head cut short) or starts like a request is reported from a
    /// raw scan. The bytes stay
    /// held (the head still counts as unfinished) until [`HttpStream::reset_head`].
    pub fn finish(&mut self, stats: &mut HttpStats, on_head: &mut dyn FnMut(Head<'_>) -> NoBody) {
        let line = memchr::memchr(b'\n', &self.buf).is_some();
        if self.role == Role::Request && self.state == State::Head && (line || self.looks_like_start(&self.buf)) {
            report_raw(&self.buf, stats, on_head);
        }
    }

    /// The connection stopped speaking HTTP (`101 Switching Protocols`, a `CONNECT` tunnel):
    /// what follows is not parsed.
    pub fn switch_protocols(&mut self, budget: &mut Budget) {
        self.reset_head(budget);
        self.state = State::UntilClose;
    }

    /// Finds the end of the head (just past its blank line) in `data`, carrying the
    /// line-feed state across calls. Accepts CRLF and bare LF line ends.
    ///
    /// Perf (issue 6): jumps from line feed to line feed with memchr instead of looking at
    /// every byte; a line is blank when it holds only carriage returns, which for a header
    /// line is settled by its first byte.
    fn find_head_end(&mut self, data: &[u8]) -> Option<usize> {
        let mut line_start = 0;
        for i in memchr::memchr_iter(b'\n', data) {
            let blank = data[line_start..i].iter().all(|&b| b == b'\r');
            if self.after_newline && blank {
                self.after_newline = false;
                return Some(i + 1);
            }
            self.after_newline = true;
            line_start = i + 1;
        }
        if !data[line_start..].iter().all(|&b| b == b'\r') {
            self.after_newline = false;
        }
        None
    }

    fn finish_head(&mut self, next: Option<State>, stats: &mut HttpStats) {
        self.state = next.unwrap_or(State::Desync);
        if self.role == Role::Response {
            let len = if let State::Body(n) = self.state { Some(n) } else { None };
            stats.credential_bodies_over_cap += u64::from(self.tap.on_head(len));
        }
    }

    /// Drops a half-read head, giving its bytes back to the budget.
    pub fn reset_head(&mut self, budget: &mut Budget) {
        budget.release(self.charged(self.buf.len()));
        self.buf.clear();
        self.after_newline = false;
        self.tap.abort();
        // Heads are rarely cut across segments: do not keep memory for the next one.
        if self.buf.capacity() > 0 {
            self.buf = Vec::new();
        }
    }

    fn looks_like_start(&self, data: &[u8]) -> bool {
        const METHODS: [&[u8]; 9] =
            [b"GET ", b"PUT ", b"HEAD ", b"POST ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE "];
        match self.role {
            Role::Request => METHODS.iter().any(|m| data.starts_with(m)),
            Role::Response => data.starts_with(b"HTTP/1."),
        }
    }
}

/// Parses a complete head and reports it; returns the framing that follows (`None`: lost).
/// A head httparse refuses is counted and read by the raw scan: a request is reported all
/// the same (`Head::Raw`), a response by its status line.
fn parse_head(
    role: Role,
    bytes: &[u8],
    stats: &mut HttpStats,
    on_head: &mut dyn FnMut(Head<'_>) -> NoBody,
) -> Option<State> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut config = httparse::ParserConfig::default();
    config.allow_multiple_spaces_in_request_line_delimiters(true);
    config.allow_multiple_spaces_in_response_status_delimiters(true);
    let next = match role {
        Role::Request => {
            let mut req = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(_)) = config.parse_request(&mut req, bytes) {
                on_head(Head::Request(&req));
                body_state(req.headers, false, None)
            } else {
                stats.parse_errors += 1;
                return report_raw(bytes, stats, on_head);
            }
        }
        Role::Response => {
            let mut resp = httparse::Response::new(&mut headers);
            if let Ok(httparse::Status::Complete(_)) = config.parse_response(&mut resp, bytes) {
                let code = resp.code.unwrap_or(0);
                let NoBody(head_req) = on_head(Head::Response(code));
                response_state(code, head_req).or_else(|| body_state(resp.headers, false, Some(State::UntilClose)))
            } else {
                stats.parse_errors += 1;
                let (code, framing) = raw::scan_response(bytes)?;
                let NoBody(head_req) = on_head(Head::Response(code));
                return response_state(code, head_req).or_else(|| framed(framing, State::UntilClose));
            }
        }
    };
    if next.is_none() {
        stats.parse_errors += 1; // the headers contradict each other
    }
    next
}

/// Reports a request head from a raw scan; returns the framing its headers give.
fn report_raw(bytes: &[u8], stats: &mut HttpStats, on_head: &mut dyn FnMut(Head<'_>) -> NoBody) -> Option<State> {
    let r = raw::scan_request(bytes);
    stats.raw_requests += 1;
    on_head(Head::Raw(&r));
    framed(r.framing, State::Head)
}

/// A response's framing fixed by its status alone.
fn response_state(code: u16, head_req: bool) -> Option<State> {
    if code == 101 {
        return Some(State::UntilClose); // the connection speaks another protocol now
    }
    (head_req || code < 200 || code == 204 || code == 304).then_some(State::Head)
}

fn framed(framing: Option<Framing>, unknown: State) -> Option<State> {
    Some(match framing? {
        Framing::Chunked => State::Chunked(Chunked::default()),
        Framing::Length(0) => State::Head,
        Framing::Length(n) => State::Body(n),
        Framing::Unknown => unknown,
    })
}

/// The framing that follows a head. `None` when the headers contradict each other.
fn body_state(headers: &[httparse::Header<'_>], no_body: bool, default: Option<State>) -> Option<State> {
    if no_body {
        return Some(State::Head);
    }
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).ok()?.trim().parse::<u64>().ok()?;
            if length.is_some_and(|l| l != v) {
                return None;
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .split(|&b| b == b',')
                .next_back()
                .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        }
    }
    Some(match (chunked, length) {
        (true, _) => State::Chunked(Chunked::default()),
        (false, Some(0)) => State::Head,
        (false, Some(n)) => State::Body(n),
        (false, None) => default.unwrap_or(State::Head),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time scan `find_head_end` replaced, kept as the reference.
    fn reference(after_newline: &mut bool, data: &[u8]) -> Option<usize> {
        for (i, &b) in data.iter().enumerate() {
            match b {
                b'\n' if *after_newline => {
                    *after_newline = false;
                    return Some(i + 1);
                }
                b'\n' => *after_newline = true,
                b'\r' => {}
                _ => *after_newline = false,
            }
        }
        None
    }

    #[test]
    fn head_end_scan_matches_the_byte_scan_at_every_split() {
        let inputs: [&[u8]; 8] = [
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody",
            b"GET / HTTP/1.1\nHost: a\n\nrest",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\r\nx",
            b"\r\n\r\n",
            b"a\r\nb\r\r\nc\n\r\n",
            b"no newline at all",
            b"\n\n\n",
            b"x\r\n\r",
        ];
        for input in inputs {
            for split in 0..=input.len() {
                for start in [false, true] {
                    let (a, b) = input.split_at(split);
                    let mut s = HttpStream::new(Role::Request);
                    s.after_newline = start;
                    let mut r = start;
                    let got = s.find_head_end(a).map(|e| (e, 0)).or_else(|| s.find_head_end(b).map(|e| (e, 1)));
                    let want = reference(&mut r, a).map(|e| (e, 0)).or_else(|| reference(&mut r, b).map(|e| (e, 1)));
                    assert_eq!(got, want, "{input:?} split at {split}, start {start}");
                    assert_eq!(s.after_newline, r, "{input:?} split at {split}, start {start}");
                }
            }
        }
    }
}
