//! The whole packet path: frames `[link u8][len u16 le][frame]...` through `Engine::packet`,
//! then `finish`. Small bounds so that eviction and budgets are exercised.
#![no_main]

use imdswatch::capture::Packet;
use imdswatch::engine::{Engine, EngineConfig, EngineEvent};
use imdswatch::time::Timestamp;
use imdswatch_fuzz::{endpoints, frames};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = EngineConfig {
        endpoints: endpoints(),
        max_flows: 8,
        ooo_budget: 20_000,
        head_budget: 20_000,
        ..EngineConfig::default()
    };
    let max_flows = cfg.max_flows;
    let mut engine = Engine::new(cfg);
    let mut requests = 0u64;
    let mut count = |ev: EngineEvent| {
        if let EngineEvent::Request { .. } = ev {
            requests += 1;
        }
    };
    // Packet time moves forward 0.3 s per frame so sweeps and timeouts happen.
    for (i, (link, frame)) in frames(data).into_iter().enumerate() {
        let ts = Timestamp(1_700_000_000_000_000 + i as u64 * 300_000);
        engine.packet(&Packet { ts, link, data: frame }, &mut count);
        assert!(engine.flows() <= max_flows);
    }
    engine.finish(&mut count);
    assert_eq!(engine.flows(), 0);
    assert_eq!(engine.stats().requests, requests);
});
