//! The HTTP face of [`super::metrics`]: `GET /metrics` and `GET /healthz`, nothing else.
//!
//! Bounded so that a slow or hostile scraper cannot stall the monitor:
//! - one accept thread hands connections to [`WORKERS`] worker threads through a queue of
//!   [`QUEUE`]; when every worker is busy and the queue is full, a new connection is closed
//!   at once (counted in `imdswatch_metrics_refused_total`);
//! - a request head is read within [`READ_TIMEOUT`] (per read, and about that in all) and at
//!   most [`MAX_HEAD`] bytes; the answer is written within [`WRITE_TIMEOUT`] per write and
//!   about that in all (checked per 16 KiB); one request per connection;
//! - the body is an already encoded snapshot: no lock of the pipeline is held while writing.
//!
//! Parsing is `httparse`'s; the server never reads a request body.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use super::metrics::Metrics;

/// Connections served at once.
pub const WORKERS: usize = 2;
/// Accepted connections waiting for a worker.
pub const QUEUE: usize = 8;
/// Largest request head read.
pub const MAX_HEAD: usize = 8 * 1024;
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds ADDR:PORT (before privileges are dropped, so a port below 1024 works).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Serves `metrics` on `listener` from background threads for the life of the process.
pub fn serve(listener: TcpListener, metrics: Arc<Metrics>) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let (tx, rx) = bounded::<TcpStream>(QUEUE);
    for i in 0..WORKERS {
        let (rx, m) = (rx.clone(), metrics.clone());
        thread::Builder::new().name(format!("metrics-{i}")).spawn(move || worker(&rx, &m))?;
    }
    thread::Builder::new().name("metrics-accept".into()).spawn(move || {
        for conn in listener.incoming() {
            match conn {
                Ok(s) => {
                    if tx.try_send(s).is_err() {
                        metrics.connection_refused();
                    }
                }
                // E.g. EMFILE: do not spin.
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    })?;
    Ok(addr)
}

fn worker(rx: &Receiver<TcpStream>, metrics: &Metrics) {
    for mut s in rx {
        let _ = handle(&mut s, metrics);
    }
}

fn handle(s: &mut TcpStream, metrics: &Metrics) -> io::Result<()> {
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    s.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let Some((method, path)) = read_head(s)? else {
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

/// Reads one request head within the deadline; its method and path, or None if malformed,
/// too large or too slow.
fn read_head(s: &mut TcpStream) -> io::Result<Option<(String, String)>> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        if len == buf.len() || Instant::now() >= deadline {
            return Ok(None);
        }
        let n = match s.read(&mut buf[len..]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                let method = req.method.unwrap_or("").to_owned();
                let path = req.path.unwrap_or("").to_owned();
                return Ok(Some((method, path)));
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Ok(None),
        }
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
