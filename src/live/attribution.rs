//! The attribution stage: looks up a connection's process as soon as its first packet is
//! seen, retries quickly for processes that are still starting up, and attaches the result
//! to the connection's requests. Runs on its own thread, off the packet path.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::counters::Counters;
use crate::attribute::Attributor;
use crate::event::{Attribution, AttributionMiss, LiveFields, RequestRecord};
use crate::flow::FlowKey;
use crate::time::Timestamp;

/// Results remembered per connection; the oldest are forgotten first.
pub const MAX_RESULTS: usize = 16_384;
/// Retries of a lookup that found no process, after the first attempt.
const RETRY_DELAYS: [Duration; 3] = [Duration::from_millis(2), Duration::from_millis(10), Duration::from_millis(50)];

#[derive(Debug)]
pub enum AttrMsg {
    Lookup { key: FlowKey, ts: Timestamp },
    Record { key: FlowKey, record: Box<RequestRecord> },
}

pub struct Stage {
    attributor: Option<Attributor>,
    host: Option<String>,
    results: HashMap<FlowKey, Attribution>,
    order: VecDeque<FlowKey>,
    retries: VecDeque<(Instant, FlowKey, usize)>,
    counters: Arc<Counters>,
}

impl Stage {
    /// `attributor` is `None` with `--no-attribution`.
    pub fn new(attributor: Option<Attributor>, host: Option<String>, counters: Arc<Counters>) -> Stage {
        Stage { attributor, host, results: HashMap::new(), order: VecDeque::new(), retries: VecDeque::new(), counters }
    }

    pub fn run(mut self, rx: Receiver<AttrMsg>, tx: Sender<Box<RequestRecord>>) {
        loop {
            let wait = self
                .retries
                .front()
                .map(|(due, ..)| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_millis(500));
            match rx.recv_timeout(wait) {
                Ok(AttrMsg::Lookup { key, .. }) => self.lookup(key, 0),
                Ok(AttrMsg::Record { key, mut record }) => {
                    let a = self.for_record(key);
                    if a.process.is_none() {
                        self.counters.attribution_misses.fetch_add(1, Relaxed);
                    }
                    record.live = Some(LiveFields::from_attribution(a, self.host.clone()));
                    if tx.send(record).is_err() {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.run_due_retries();
        }
    }

    fn lookup(&mut self, key: FlowKey, attempt: usize) {
        let Some(att) = self.attributor.as_mut() else { return };
        let a = att.lookup(key.client, key.server);
        let retry = a.process.is_none() && matches!(a.miss, Some(AttributionMiss::NoSocket | AttributionMiss::Exited));
        self.remember(key, a);
        if retry && let Some(d) = RETRY_DELAYS.get(attempt) {
            self.retries.push_back((Instant::now() + *d, key, attempt + 1));
        }
    }

    fn run_due_retries(&mut self) {
        let now = Instant::now();
        while let Some(&(due, key, attempt)) = self.retries.front() {
            if due > now {
                break;
            }
            self.retries.pop_front();
            if self.results.get(&key).is_some_and(|a| a.process.is_some()) {
                continue;
            }
            self.lookup(key, attempt);
        }
    }

    /// The best answer for a finished request: a found process, else one last lookup.
    fn for_record(&mut self, key: FlowKey) -> Attribution {
        if self.attributor.is_none() {
            return Attribution { process: None, container: None, miss: Some(AttributionMiss::Disabled) };
        }
        if let Some(a) = self.results.get(&key)
            && a.process.is_some()
        {
            return a.clone();
        }
        let earlier = self.results.get(&key).cloned();
        let now = self.attributor.as_mut().map(|att| att.lookup(key.client, key.server)).unwrap_or_default();
        if now.process.is_some() {
            self.remember(key, now.clone());
            return now;
        }
        // Keep the more telling reason: a socket seen earlier whose owner left is `exited`.
        earlier.filter(|e| e.miss == Some(AttributionMiss::Exited)).unwrap_or(now)
    }

    fn remember(&mut self, key: FlowKey, a: Attribution) {
        if self.results.insert(key, a).is_none() {
            self.order.push_back(key);
            if self.order.len() > MAX_RESULTS
                && let Some(old) = self.order.pop_front()
            {
                self.results.remove(&old);
            }
        }
    }
}
