//! Bytes of a client's stream that the capture never showed may hold a served IMDSv1
//! request: the host verdict made without them is incomplete, never "safe to enforce".
//!
//! Two ways to get there: a capture that lost a segment (tcpdump's drops are not written to
//! the file), and a CAP_NET_RAW client that sends the bytes after a request first, one per
//! segment, until imdswatch's out-of-order buffer (32 segments) is full and it skips the
//! hole, then fills the hole with an IMDSv1 request. Linux queues the early segments (they
//! are inside its receive window), reads the request when the hole fills and answers it;
//! imdswatch had gone past the hole and took the late bytes for a retransmission. Before,
//! both captures were "safe to enforce" (the verdict saw only the IMDSv2 requests).

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::cli::{Run, analyze};
use support::pcapfile::*;
use support::*;

fn write(dir: &Path, name: &str, frames: &[Frame]) -> PathBuf {
    let p = dir.join(name);
    let recs: Vec<(u64, Vec<u8>)> = frames.iter().map(|f| (f.ts.0, f.data.clone())).collect();
    std::fs::write(&p, pcap(DLT_EN10MB, &recs, false)).expect("write capture");
    p
}

fn verdict(run: &Run) -> Value {
    run.all_json().into_iter().find(|v| v["type"] == "verdict").expect("a verdict record")
}

/// A connection that made one IMDSv2 request, answered.
fn v2_exchange() -> Conv {
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_V2);
    c.server(OK_10);
    c
}

/// The IMDSv2 part alone is safe; with the hole it is incomplete, and `table` says so.
fn assert_incomplete(dir: &Path, frames: &[Frame]) {
    let p = write(dir, "gap.pcap", frames);
    let json = analyze(&["--format", "json"], &p);
    let v = verdict(&json);
    assert_eq!((v["safe_to_enforce"].clone(), v["incomplete"].clone()), (false.into(), true.into()), "{v}");
    // The closing line names the anomaly.
    assert!(json.stderr.contains("tcp_request_gaps"), "{}", json.stderr);
    let table = analyze(&["--format", "table"], &p);
    assert!(!table.stdout.contains("Safe to enforce"), "{}", table.stdout);
    assert!(table.stdout.contains("Incomplete capture"), "{}", table.stdout);
}

#[test]
fn an_imdsv2_only_capture_without_holes_is_safe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = v2_exchange();
    c.client(GET_V2);
    c.server(OK_10);
    let json = analyze(&["--format", "json"], &write(dir.path(), "whole.pcap", &c.frames));
    let v = verdict(&json);
    assert_eq!(v["safe_to_enforce"], true, "{v}");
    assert!(v.get("incomplete").is_none(), "{v}");
}

#[test]
fn a_request_the_capture_lost_makes_the_verdict_incomplete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = v2_exchange();
    c.client(GET_CREDS_V1);
    c.frames.pop(); // the capture lost the v1 request...
    c.server(OK_10); // ...which the server answered
    c.client(GET_V2); // the client went on
    c.server(OK_10);
    c.client_fin();
    c.server_fin();
    assert_incomplete(dir.path(), &c.frames);
}

#[test]
fn a_hole_filled_after_the_out_of_order_buffer_overflowed_makes_the_verdict_incomplete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = v2_exchange();
    // The hole: where the v1 request goes. What follows it (a v2 request) comes first, one
    // byte per segment: 32 wait, the 33rd makes imdswatch skip the hole.
    let hole = c.cseq;
    c.cseq = hole.wrapping_add(GET_CREDS_V1.len() as u32);
    for b in GET_V2.chunks(1) {
        c.client(b);
    }
    let end = c.cseq;
    // The hole fills: Linux now reads the v1 request, then the v2 one, and answers both.
    c.cseq = hole;
    c.client(GET_CREDS_V1);
    c.cseq = end;
    c.server(OK_10);
    c.server(OK_10);
    let p = write(dir.path(), "ooo.pcap", &c.frames);
    let json = analyze(&["--format", "json"], &p);
    // The v1 request stays unseen (its bytes came after imdswatch moved on)...
    let v1 = json.all_json().iter().filter(|r| r["imds"]["version"] == "v1").count();
    assert_eq!(v1, 0, "the late fill is not read; if it now is, this test should say so");
    // ...so the verdict must not be "safe".
    assert_incomplete(dir.path(), &c.frames);
}

/// An interface statistics block (pcapng 4.6) for interface 0 with `isb_ifdrop` and
/// `isb_osdrop` (little-endian section).
fn isb(ifdrop: u64, osdrop: u64) -> (u32, Vec<u8>) {
    let mut b = Vec::new();
    b.extend(0u32.to_le_bytes()); // interface id
    b.extend([0u8; 8]); // timestamp
    for (code, v) in [(5u16, ifdrop), (7u16, osdrop)] {
        b.extend(code.to_le_bytes());
        b.extend(8u16.to_le_bytes());
        b.extend(v.to_le_bytes());
    }
    b.extend([0u8; 4]); // opt_endofopt
    (5, b)
}

/// dumpcap writes the kernel's drop count in the capture's statistics blocks: packets that
/// passed the filter and were never written may have held a served IMDSv1 request.
#[test]
fn drops_the_capturing_tool_recorded_make_the_verdict_incomplete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = v2_exchange();
    let packets: Vec<(u32, u64, Vec<u8>)> = c.frames.iter().map(|f| (0, f.ts.0, f.data.clone())).collect();
    for (name, stats, dropped) in
        [("none.pcapng", isb(0, 0), false), ("ifdrop.pcapng", isb(3, 0), true), ("osdrop.pcapng", isb(0, 2), true)]
    {
        let p = dir.path().join(name);
        std::fs::write(&p, pcapng(&[DLT_EN10MB], &packets, &[stats])).expect("write");
        let json = analyze(&["--format", "json"], &p);
        assert_eq!(json.code, Some(0), "{name}: {}", json.stderr);
        let v = verdict(&json);
        assert_eq!(v["safe_to_enforce"], !dropped, "{name}: {v}");
        assert_eq!(v["incomplete"].as_bool().unwrap_or(false), dropped, "{name}: {v}");
        assert_eq!(json.stderr.contains("packets the capturing tool dropped"), dropped, "{name}: {}", json.stderr);
    }
}

/// tcpdump's old default snapshot length (`-s 68`) keeps the headers of each frame and cuts
/// the request off: before, such a capture of curl's IMDSv1 exchange was "No IMDS requests
/// found." with exit 0 and no verdict record at all.
#[test]
fn frames_of_a_metadata_exchange_cut_short_make_the_verdict_incomplete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Conv::new(CLIENT, IMDS, 1000, 5000);
    c.handshake();
    c.client(GET_CREDS_V1);
    c.server(OK_10);
    for f in &mut c.frames {
        f.data.truncate(68);
    }
    let p = write(dir.path(), "s68.pcap", &c.frames);
    let json = analyze(&["--format", "json"], &p);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    assert!(json.stderr.contains("truncated_imds_frames=2"), "{}", json.stderr);
    let v = verdict(&json);
    assert_eq!((v["safe_to_enforce"].clone(), v["incomplete"].clone()), (false.into(), true.into()), "{v}");
    // Dated by the capture's own clock, not 1970.
    assert!(v["timestamp"].as_str().is_some_and(|t| t.starts_with("2023-")), "{v}");
    let table = analyze(&["--format", "table"], &p);
    assert!(table.stdout.contains("No IMDS requests found."), "{}", table.stdout);
    assert!(table.stdout.contains("Incomplete capture"), "{}", table.stdout);
}
