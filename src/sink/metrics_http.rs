//! The HTTP face of [`super::metrics`]: `GET /metrics` and `GET /healthz`, nothing else.
//!
//! Bounded so that a slow or hostile client cannot stall the monitor or its scrapes:
//! - one thread accepts connections and reads their request heads, all at once, without
//!   blocking (`poll`): at most [`MAX_CONNS`] heads are being read; past that the oldest is
//!   closed to make room (counted in `imdswatch_metrics_refused_total`), so a flood of idle
//!   connections cannot keep a scrape out;
//! - a head must arrive whole within [`HEAD_DEADLINE`] of the connection's accept, whatever
//!   pace its bytes come at (a client trickling a byte every 1.9 s is closed at 2 s, and
//!   never holds a worker), and in at most [`MAX_HEAD`] bytes;
//! - a complete head goes to one of [`WORKERS`] worker threads through a queue of
//!   [`QUEUE`] (full: closed, counted); the answer is written within [`WRITE_TIMEOUT`] per
//!   write and about that in all (checked per 16 KiB); one request per connection;
//! - the body is an already encoded snapshot: no lock of the pipeline is held while writing.
//!
//! Parsing is `httparse`'s; the server never reads a request body.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use super::metrics::Metrics;

/// Connections answered at once.
pub const WORKERS: usize = 2;
/// Complete requests waiting for a worker.
pub const QUEUE: usize = 8;
/// Connections whose request head is being read at once (the oldest is closed past this).
pub const MAX_CONNS: usize = 64;
/// Largest request head read.
pub const MAX_HEAD: usize = 8 * 1024;
/// Time from accept to a complete request head, in all.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(2);
/// Kept for callers of the old name: the head deadline.
pub const READ_TIMEOUT: Duration = HEAD_DEADLINE;
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds ADDR:PORT (before privileges are dropped, so a port below 1024 works).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// A request head read whole (`Some(method, path)`) or refused (`None`: malformed or too
/// large), with its connection, for a worker to answer.
type Job = (TcpStream, Option<(String, String)>);

/// Serves `metrics` on `listener` from background threads for the life of the process.
pub fn serve(listener: TcpListener, metrics: Arc<Metrics>) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let (tx, rx) = bounded::<Job>(QUEUE);
    for i in 0..WORKERS {
        let (rx, m) = (rx.clone(), metrics.clone());
        thread::Builder::new().name(format!("metrics-{i}")).spawn(move || worker(&rx, &m))?;
    }
    thread::Builder::new()
        .name("metrics-accept".into())
        .spawn(move || Heads::default().run(&listener, &tx, &metrics))?;
    Ok(addr)
}

/// A connection whose head is being read.
struct Reading {
    stream: TcpStream,
    buf: Vec<u8>,
    deadline: Instant,
}

/// What became of a connection after a read.
enum Step {
    More,
    Done(Option<(String, String)>),
    Drop,
}

#[derive(Default)]
struct Heads {
    conns: VecDeque<Reading>,
}

impl Heads {
    fn run(mut self, listener: &TcpListener, tx: &Sender<Job>, metrics: &Metrics) {
        loop {
            let now = Instant::now();
            // Expired heads are closed unanswered.
            self.conns.retain(|c| c.deadline > now);
            let wait = self.conns.iter().map(|c| c.deadline - now).min().unwrap_or(Duration::from_secs(1));
            let timeout = Timespec { tv_sec: wait.as_secs() as _, tv_nsec: i64::from(wait.subsec_nanos()) as _ };
            let (accept, ready) = {
                let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(self.conns.len() + 1);
                fds.push(PollFd::new(listener, PollFlags::IN));
                fds.extend(self.conns.iter().map(|c| PollFd::new(&c.stream, PollFlags::IN)));
                if poll(&mut fds, Some(&timeout)).is_err() {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let ready: Vec<bool> = fds[1..].iter().map(|f| !f.revents().is_empty()).collect();
                (!fds[0].revents().is_empty(), ready)
            };
            // Read what came, back to front so that removals keep the indices valid.
            for i in (0..ready.len()).rev() {
                if !ready[i] {
                    continue;
                }
                match read_some(&mut self.conns[i]) {
                    Step::More => {}
                    Step::Drop => drop(self.conns.remove(i)),
                    Step::Done(head) => {
                        let Some(c) = self.conns.remove(i) else { continue };
                        hand_over(c.stream, head, tx, metrics);
                    }
                }
            }
            if accept {
                self.accept_all(listener, metrics);
            }
        }
    }

    fn accept_all(&mut self, listener: &TcpListener, metrics: &Metrics) {
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if self.conns.len() >= MAX_CONNS {
                        // The oldest has had the longest to send its head: it makes room.
                        self.conns.pop_front();
                        metrics.connection_refused();
                    }
                    let deadline = Instant::now() + HEAD_DEADLINE;
                    self.conns.push_back(Reading { stream, buf: Vec::new(), deadline });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // E.g. EMFILE: do not spin.
                Err(_) => {
                    thread::sleep(Duration::from_millis(100));
                    return;
                }
            }
        }
    }
}

/// Reads what a connection has sent so far (never blocks).
fn read_some(c: &mut Reading) -> Step {
    let mut chunk = [0u8; 2048];
    loop {
        let room = MAX_HEAD - c.buf.len();
        if room == 0 {
            return Step::Done(None);
        }
        let want = room.min(chunk.len());
        let n = match c.stream.read(&mut chunk[..want]) {
            Ok(0) => return Step::Drop,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::More,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Step::Drop,
        };
        c.buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&c.buf) {
            Ok(httparse::Status::Complete(_)) => {
                let method = req.method.unwrap_or("").to_owned();
                let path = req.path.unwrap_or("").to_owned();
                return Step::Done(Some((method, path)));
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Step::Done(None),
        }
    }
}

fn hand_over(stream: TcpStream, head: Option<(String, String)>, tx: &Sender<Job>, metrics: &Metrics) {
    match tx.try_send((stream, head)) {
        Ok(()) => {}
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => metrics.connection_refused(),
    }
}

fn worker(rx: &Receiver<Job>, metrics: &Metrics) {
    for (mut s, head) in rx {
        let _ = handle(&mut s, head, metrics);
    }
}

fn handle(s: &mut TcpStream, head: Option<(String, String)>, metrics: &Metrics) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let Some((method, path)) = head else {
        return respond(s, "400 Bad Request", "text/plain", b"bad request\n", false);
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(s, "405 Method Not Allowed", "text/plain", b"only GET\n", false);
    }
    match path.split('?').next().unwrap_or("") {
        "/metrics" => {
            let text = metrics.exposition();
            respond(s, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text.as_bytes(), head_only)
        }
        "/healthz" => respond(s, "200 OK", "text/plain", b"ok\n", head_only),
        _ => respond(s, "404 Not Found", "text/plain", b"not found: try /metrics or /healthz\n", head_only),
    }
}

fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &[u8], head_only: bool) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // One deadline for the whole answer: a reader taking a byte at a time is cut off.
    let deadline = Instant::now() + WRITE_TIMEOUT;
    s.write_all(head.as_bytes())?;
    if !head_only {
        for chunk in body.chunks(16 * 1024) {
            if Instant::now() >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            s.write_all(chunk)?;
        }
    }
    s.flush()
}
