//! One TCP direction fed a sequence of segments: `[flags][seq delta u32][len u8][payload]...`.
//! Checks the reassembler's promises: bytes delivered at most once and in order (the output
//! length equals the stream offset), and the out-of-order buffer stays within its bounds.
#![no_main]

use imdswatch::flow::reassembly::{Budget, Chunk, MAX_OOO_BYTES, ReasmStats, Stream};
use imdswatch_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const BUDGET: usize = 100_000;

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let mut stream = Stream::default();
    let mut budget = Budget::new(BUDGET);
    let mut stats = ReasmStats::default();
    let mut delivered: u64 = 0;
    let base = inp.u32();
    while !inp.is_empty() {
        let flags = inp.u8();
        // Sequence numbers near the base mostly (overlaps, holes), sometimes anywhere (wrap).
        let delta = inp.u32();
        let seq = if flags & 0x80 != 0 { delta } else { base.wrapping_add(delta % 4096) };
        let len = if flags & 0x40 != 0 { usize::from(inp.u16()) } else { usize::from(inp.u8()) };
        let payload = inp.bytes(len);
        let syn = flags & 1 != 0;
        stream.push(seq, syn, payload, &mut budget, &mut stats, &mut |c| match c {
            Chunk::Data(d) => {
                assert!(!d.is_empty());
                delivered += d.len() as u64;
            }
            Chunk::Gap(n) => {
                assert!(n > 0);
                delivered += n;
            }
        });
        assert_eq!(delivered, stream.offset());
        assert!(budget.used() <= BUDGET);
        assert!(budget.used() <= MAX_OOO_BYTES);
        if flags & 0x20 != 0 {
            stream.finish(&mut budget, &mut stats, &mut |c| match c {
                Chunk::Data(d) => delivered += d.len() as u64,
                Chunk::Gap(n) => delivered += n,
            });
            assert_eq!(delivered, stream.offset());
            assert_eq!(budget.used(), 0);
        }
    }
    stream.release(&mut budget);
    assert_eq!(budget.used(), 0);
});
