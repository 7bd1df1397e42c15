//! Link → IP → TCP decoding of one frame: first byte picks the link type, the rest is the frame.
#![no_main]

use imdswatch::decode::decode;
use imdswatch_fuzz::{endpoints, link_from_byte};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&b, frame)) = data.split_first() else {
        return;
    };
    let endpoints = endpoints();
    if let Ok(seg) = decode(link_from_byte(b), frame, &endpoints) {
        // A segment always names a watched endpoint and borrows its payload from the frame.
        assert!(endpoints.contains(&seg.src) || endpoints.contains(&seg.dst));
        assert!(seg.payload.len() <= frame.len());
    }
});
