//! Criterion benchmarks of the offline hot path, on packets from the capture synthesizer:
//! decode (an IMDS frame, a non-IMDS frame), reassembly (in order, out of order), HTTP head
//! framing + classification, and the whole engine on IMDS conversations.
//!
//! `cargo bench --bench hot_paths` (or `-- decode` for one group).

#[path = "support/synth.rs"]
mod synth;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use imdswatch::capture::{LinkType, Packet};
use imdswatch::classify::classify;
use imdswatch::decode::decode;
use imdswatch::endpoint::Endpoints;
use imdswatch::engine::{Engine, EngineConfig};
use imdswatch::flow::reassembly::{Budget, Chunk, ReasmStats, Stream};
use imdswatch::http::{Head, HttpStats, HttpStream, NoBody, Role};
use imdswatch::time::Timestamp;

/// Frames (timestamp µs, bytes) of a plan.
fn frames(plan: synth::Plan) -> (Vec<(u64, Vec<u8>)>, synth::Totals) {
    let mut v = Vec::new();
    let t = synth::generate(plan, |ts, f| v.push((ts, f.to_vec())));
    (v, t)
}

fn imds_frames(requests: u64) -> (Vec<(u64, Vec<u8>)>, synth::Totals) {
    frames(synth::Plan { seed: 3, bytes: 0, imds_requests: Some(requests), concurrency: 8 })
}

fn bench_decode(c: &mut Criterion) {
    let ep = Endpoints::default();
    let (imds, _) = imds_frames(10);
    let (mixed, _) = frames(synth::Plan { seed: 3, bytes: 4 << 20, imds_requests: None, concurrency: 64 });
    let imds_data = imds.iter().map(|(_, f)| f).find(|f| f.len() > 300).expect("an IMDS data frame");
    let full = mixed
        .iter()
        .map(|(_, f)| f)
        .find(|f| f.len() == 1514 && f[12..14] == [0x08, 0x00])
        .expect("a full-size IPv4 frame");
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("imds_frame", |b| {
        b.iter(|| black_box(decode(LinkType::Ethernet, black_box(imds_data), &ep).is_ok()))
    });
    g.bench_function("non_imds_full_frame", |b| {
        b.iter(|| black_box(decode(LinkType::Ethernet, black_box(full), &ep).is_ok()))
    });
    g.finish();
}

/// A 16 KiB stream cut into 1448-byte segments: (seq, payload).
fn segments() -> Vec<(u32, Vec<u8>)> {
    let data: Vec<u8> = (0..16 * 1024u32).map(|i| (i % 251) as u8).collect();
    let isn = 0xffff_f000u32; // wraps around mid-stream
    data.chunks(synth::MSS).enumerate().map(|(i, c)| (isn.wrapping_add((i * synth::MSS) as u32), c.to_vec())).collect()
}

fn bench_reassembly(c: &mut Criterion) {
    let segs = segments();
    let total: usize = segs.iter().map(|(_, p)| p.len()).sum();
    // Out of order: every pair swapped.
    let mut ooo = segs.clone();
    for pair in ooo.chunks_mut(2) {
        pair.reverse();
    }
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(total as u64));
    for (name, order) in [("in_order_16KiB", &segs), ("swapped_pairs_16KiB", &ooo)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut s = Stream::default();
                let mut budget = Budget::new(1 << 20);
                let mut stats = ReasmStats::default();
                let mut n = 0usize;
                s.push(segs[0].0.wrapping_sub(1), true, &[], &mut budget, &mut stats, &mut |_| {});
                for (seq, p) in order.iter() {
                    s.push(*seq, false, p, &mut budget, &mut stats, &mut |ch| {
                        if let Chunk::Data(d) = ch {
                            n += d.len();
                        }
                    });
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

fn bench_http(c: &mut Criterion) {
    let req: &[u8] = b"GET /latest/meta-data/iam/security-credentials/app-server-role HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: Botocore/1.35.54 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2\r\nAccept: */*\r\nAccept-Encoding: identity\r\nX-aws-ec2-metadata-token: AQAEAFh1bTQ0cXZ6d3l0c2l4a2V5LWRlbW8tdG9rZW4tZm9yLWJlbmNobWFya3M=\r\n\r\n";
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Elements(1));
    g.bench_function("request_head_frame_and_classify", |b| {
        b.iter_batched_ref(
            || (HttpStream::new(Role::Request), Budget::new(1 << 20), HttpStats::default()),
            |(s, budget, stats)| {
                let mut v2 = false;
                s.feed(Chunk::Data(black_box(req)), budget, stats, &mut |h| {
                    if let Head::Request(r) = h {
                        v2 = classify(r).version == imdswatch::event::Version::V2;
                    }
                    NoBody(false)
                });
                black_box(v2)
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("classify_only", |b| {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Request::new(&mut headers);
        let _ = r.parse(req);
        b.iter(|| black_box(classify(black_box(&r))))
    });
    g.finish();
}

fn bench_engine(c: &mut Criterion) {
    let (frames, totals) = imds_frames(1000);
    let requests: u64 = totals.requests.iter().sum();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(requests));
    g.sample_size(20);
    g.bench_function("imds_conversations_1000_requests", |b| {
        b.iter(|| {
            let mut e = Engine::new(EngineConfig::default());
            let mut n = 0u64;
            for (ts, f) in &frames {
                let p = Packet { ts: Timestamp(*ts), link: LinkType::Ethernet, data: f };
                e.packet(&p, &mut |ev| n += u64::from(matches!(ev, imdswatch::engine::EngineEvent::Request { .. })));
            }
            e.finish(&mut |ev| n += u64::from(matches!(ev, imdswatch::engine::EngineEvent::Request { .. })));
            assert_eq!(n, requests);
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_reassembly, bench_http, bench_engine);
criterion_main!(benches);
