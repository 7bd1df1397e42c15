//! The engine's loop in `live`: frames in, [`AttrMsg`]s out to the attribution stage. It runs
//! on the capture thread when there is one capture (each request then costs one thread
//! hand-off fewer: benches/live_cpu.sh), or on a thread of its own that several capture
//! threads feed through a queue.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::attribution::AttrMsg;
use super::counters::Counters;
use crate::bell::Bell;
use crate::capture::live::{Batch, Frames};
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crate::time::Timestamp;

/// How often the engine times out idle connections and publishes its counters.
const TICK: Duration = Duration::from_secs(1);

/// One engine and its way to the attribution stage.
pub struct EngineRun {
    engine: Engine,
    /// `None` once finished.
    tx: Option<Sender<AttrMsg>>,
    counters: Arc<Counters>,
    /// The attribution stage's bell, rung after each message.
    attr_bell: Bell,
    last_tick: Instant,
}

impl EngineRun {
    /// An engine announcing pending token requests (as live does) to `tx`.
    pub fn new(cfg: &EngineConfig, tx: Sender<AttrMsg>, counters: Arc<Counters>, attr_bell: Bell) -> EngineRun {
        let cfg = EngineConfig { announce_pending: true, ..cfg.clone() };
        EngineRun { engine: Engine::new(cfg), tx: Some(tx), counters, attr_bell, last_tick: Instant::now() }
    }

    /// Runs on its own thread until every sender of `rx` is gone; `bell` is rung by them.
    pub fn run_queue(mut self, rx: &Receiver<Batch>, bell: &Bell) {
        loop {
            match bell.recv(rx, Duration::from_millis(250)) {
                Ok(batch) => self.feed(&batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.housekeeping();
        }
        self.finish();
    }

    fn feed(&mut self, batch: &Batch) {
        let Some(tx) = &self.tx else { return };
        let mut dispatch = dispatcher(tx, &self.counters, &self.attr_bell);
        self.engine.set_interface(batch.ifindex);
        for p in batch.packets() {
            self.engine.packet(&p, &mut dispatch);
        }
    }

    fn housekeeping(&mut self) {
        if self.last_tick.elapsed() < TICK {
            return;
        }
        self.last_tick = Instant::now();
        let Some(tx) = &self.tx else { return };
        self.engine.tick(Timestamp::now(), &mut dispatcher(tx, &self.counters, &self.attr_bell));
        self.counters.publish_engine(self.engine.stats(), self.engine.flows());
    }

    /// Flushes what the engine holds and lets the attribution stage see the end.
    fn finish(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        self.engine.finish(&mut dispatcher(&tx, &self.counters, &self.attr_bell));
        self.counters.publish_engine(self.engine.stats(), self.engine.flows());
        drop(tx);
        self.attr_bell.ring();
    }
}

/// The engine on the capture thread.
impl Frames for EngineRun {
    fn batch(&mut self, batch: Batch) -> bool {
        self.feed(&batch);
        self.housekeeping();
        true
    }

    fn woke(&mut self) {
        self.housekeeping();
    }

    fn end(&mut self) {
        self.finish();
    }
}

/// Hands engine events to the attribution stage: lookups and pending notices never wait
/// (a full queue is counted in `attribution_overload`), finished requests do.
fn dispatcher<'a>(tx: &'a Sender<AttrMsg>, counters: &'a Counters, bell: &'a Bell) -> impl FnMut(EngineEvent) + 'a {
    move |ev| {
        match ev {
            EngineEvent::FlowOpened { key, ts } => {
                if tx.try_send(AttrMsg::Lookup { key, ts }).is_err() {
                    counters.attribution_overload.fetch_add(1, Relaxed);
                }
            }
            EngineEvent::Request { key, record } => {
                let _ = tx.send(AttrMsg::Record { key, record });
            }
            EngineEvent::TokenPending { key, record } => {
                if tx.try_send(AttrMsg::TokenPending { key, record }).is_err() {
                    counters.attribution_overload.fetch_add(1, Relaxed);
                }
            }
        }
        bell.ring();
    }
}
