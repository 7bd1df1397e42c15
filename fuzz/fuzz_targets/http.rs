//! HTTP framing and classification: the input is split at fuzzer-chosen points into chunks
//! (and gaps) fed to a request stream and a response stream; every request head is classified.
//! Format: `[n u8]` then n × `[role/gap u8][len u16]`, then the bytes the chunks take in turn.
#![no_main]

use imdswatch::classify::{MAX_FIELD, classify, classify_raw};
use imdswatch::flow::reassembly::{Budget, Chunk};
use imdswatch::http::{Head, HttpStats, HttpStream, MAX_HEAD, NoBody, Role};
use imdswatch_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const BUDGET: usize = 40_000;

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let n = inp.u8() as usize;
    let plan: Vec<(u8, u16)> = (0..n).map(|_| (inp.u8(), inp.u16())).collect();
    let mut req = HttpStream::new(Role::Request);
    let mut resp = HttpStream::new(Role::Response);
    let mut budget = Budget::new(BUDGET);
    let mut stats = HttpStats::default();
    let mut heads = 0u32;
    let mut on_head = |h: Head<'_>| {
        heads += 1;
        match h {
            Head::Request(r) => {
                let c = classify(r);
                assert!(c.path.len() <= MAX_FIELD + '…'.len_utf8());
                assert!(c.method.len() <= MAX_FIELD + '…'.len_utf8());
                NoBody(r.method == Some("HEAD"))
            }
            Head::Raw(r) => {
                let c = classify_raw(r, None);
                assert!(c.parse_error);
                assert!(c.path.len() <= MAX_FIELD + '…'.len_utf8());
                assert!(c.method.len() <= MAX_FIELD + '…'.len_utf8());
                NoBody(false)
            }
            Head::Response(_) => NoBody(heads.is_multiple_of(3)),
        }
    };
    // The plan, then whatever is left in alternating halves.
    let mut steps = plan.into_iter().chain((0..).map(|i: u16| (i as u8 & 1, u16::MAX)));
    while !inp.is_empty() {
        let Some((what, len)) = steps.next() else { break };
        let stream = if what & 1 == 0 { &mut req } else { &mut resp };
        let chunk =
            if what & 0x80 != 0 { Chunk::Gap(u64::from(len) + 1) } else { Chunk::Data(inp.bytes(usize::from(len))) };
        stream.feed(chunk, &mut budget, &mut stats, &mut on_head);
        assert!(req.buffered() <= MAX_HEAD && resp.buffered() <= MAX_HEAD);
        assert_eq!(budget.used(), req.buffered() + resp.buffered());
    }
    req.finish(&mut stats, &mut on_head);
    req.reset_head(&mut budget);
    resp.reset_head(&mut budget);
    assert_eq!(budget.used(), 0);
});
