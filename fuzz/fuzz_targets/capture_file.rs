//! The pcap/pcapng reader on arbitrary bytes: an error or an end, never a panic, and every
//! packet handed out lies within the input.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use imdswatch::capture::file::{ReadStats, read};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stats = ReadStats::default();
    let len = data.len();
    let mut total = 0usize;
    let _ = read(Path::new("fuzz"), Box::new(Cursor::new(data.to_vec())), &mut stats, &mut |p| {
        assert!(p.data.len() <= len);
        total += p.data.len();
    });
    assert_eq!(stats.bytes, total as u64);
});
