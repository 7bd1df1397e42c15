//! Lookup timings, run by hand (not an assertion):
//! `cargo test --release --test attribute_timing -- --ignored --nocapture`

// A test fails by panicking: unwrap is how it says "this must work".
#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use imdswatch::attribute::Attributor;

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

#[test]
#[ignore = "timing, run by hand"]
fn attribute_timing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let procs = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .count();
    let mut att = Attributor::new();
    let c1 = TcpStream::connect(server).unwrap();
    let (a, cold) = timed(|| att.lookup(c1.local_addr().unwrap(), server));
    assert!(a.process.is_some());
    let (_, warm) = timed(|| att.lookup(c1.local_addr().unwrap(), server));
    std::thread::sleep(Duration::from_millis(5));
    let c2 = TcpStream::connect(server).unwrap();
    let (a, new_conn) = timed(|| att.lookup(c2.local_addr().unwrap(), server));
    assert!(a.process.is_some());
    let mut warm_n = Duration::ZERO;
    for _ in 0..1000 {
        warm_n += timed(|| att.lookup(c2.local_addr().unwrap(), server)).1;
    }
    let (a, miss) = timed(|| att.lookup("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap()));
    assert!(a.process.is_none());
    eprintln!("pids on this machine: {procs}");
    eprintln!("cold lookup (fresh attributor): {cold:?}");
    eprintln!("warm lookup (same connection): {warm:?}; mean of 1000: {:?}", warm_n / 1000);
    eprintln!("new connection, warm attributor: {new_conn:?}");
    eprintln!("no_socket miss (tables re-read): {miss:?}");
    eprintln!("{:#?}", att.stats());
}
