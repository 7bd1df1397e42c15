//! Writes a large, realistic, deterministic pcap for benchmarks (Ethernet, microseconds).
//!
//! ```text
//! cargo run --release --example gencap -- --size 1GiB --seed 1 --out /work/perf-data/mixed-1GiB.pcap
//! cargo run --release --example gencap -- --imds-only --requests 1000000 --seed 1 --out imds-1M.pcap
//! ```
//!
//! Mixed mode: bulk HTTP downloads in full-size frames, many short HTTP requests to other
//! hosts, and about 0.5% of connections to the instance metadata service (token PUTs and v2
//! reads, SDK credential refreshes, some IMDSv1). IMDS-only mode: IMDS connections until
//! `--requests` requests. The same seed gives the same bytes. A summary (packets, IMDS
//! requests by kind) goes to stderr so that a run of imdswatch on the file can be checked.

#[path = "../benches/support/synth.rs"]
mod synth;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: gencap --out FILE [--seed N] (--size SIZE | --imds-only --requests N) [--concurrency N]\n  SIZE: bytes or with a unit (256MiB, 1GiB, 2GiB)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut seed = 1u64;
    let mut size = None;
    let mut imds_only = false;
    let mut requests = None;
    let mut concurrency = None;
    while let Some(a) = args.next() {
        let mut val = || args.next();
        match a.as_str() {
            "--out" | "-o" => out = val(),
            "--seed" => {
                seed = match val().and_then(|v| v.parse().ok()) {
                    Some(v) => v,
                    None => return usage(),
                }
            }
            "--size" => {
                size = match val().and_then(|v| parse_size(&v)) {
                    Some(v) => Some(v),
                    None => return usage(),
                }
            }
            "--imds-only" => imds_only = true,
            "--requests" => {
                requests = match val().and_then(|v| v.parse().ok()) {
                    Some(v) => Some(v),
                    None => return usage(),
                }
            }
            "--concurrency" => {
                concurrency = match val().and_then(|v| v.parse().ok()) {
                    Some(v) => Some(v),
                    None => return usage(),
                }
            }
            "-h" | "--help" => {
                usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    let Some(out) = out else { return usage() };
    let plan = match (imds_only, size, requests) {
        (false, Some(bytes), None) => {
            synth::Plan { seed, bytes, imds_requests: None, concurrency: concurrency.unwrap_or(64) }
        }
        (true, None, Some(n)) => {
            synth::Plan { seed, bytes: 0, imds_requests: Some(n), concurrency: concurrency.unwrap_or(16) }
        }
        _ => return usage(),
    };
    let started = Instant::now();
    let file = File::create(&out).expect("create output file");
    let mut w = BufWriter::with_capacity(4 << 20, file);
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&0i32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&262_144u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    w.write_all(&header).expect("write");
    let mut err = None;
    let totals = synth::generate(plan, |ts, frame| {
        if err.is_some() {
            return;
        }
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        if let Err(e) = w.write_all(&rec).and_then(|()| w.write_all(frame)) {
            err = Some(e);
        }
    });
    if let Some(e) = err.or_else(|| w.flush().err()) {
        eprintln!("gencap: writing {out}: {e}");
        return ExitCode::FAILURE;
    }
    let bytes = 24 + totals.frame_bytes + 16 * totals.packets;
    let secs = started.elapsed().as_secs_f64();
    let [v1, v2, token] = totals.requests;
    eprintln!(
        "gencap: {out}: {bytes} bytes, {} packets, {} connections ({} IMDS), {} IMDS requests (v1 {v1}, v2 {v2}, token {token}) in {secs:.1} s ({:.0} MB/s)",
        totals.packets,
        totals.flows,
        totals.imds_flows,
        v1 + v2 + token,
        bytes as f64 / secs / 1e6
    );
    ExitCode::SUCCESS
}
