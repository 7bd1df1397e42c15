//! The attribution stage: attaches to each request the process that made it, in this
//! order: the kernel connect event of its connection (when the kernel path runs: the pid
//! named in the client's `connect()`, described from /proc at that moment), then the /proc
//! path (sock_diag or the TCP tables, then the fds), then `exited`; then names its container
//! (name, image, pod) from the node's files. Without the kernel path, a connection is looked
//! up on its SYN (deferring the lookup to the first request data was measured to lose most
//! short-lived clients) and retried quickly (at most three times) for processes still
//! starting up; with it, a SYN costs no /proc work at all. Runs on its own thread, off the
//! packet path.
//!
//! Each source is injected ([`Lookups`]: the traits of [`super::lookup`]), so the whole
//! stage runs in a test on fakes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::lookup::{ConnectEvents, ProcessLookup, WorkloadLookup};
use crate::bell::Bell;
use crate::event::{Attribution, AttributionMiss, LiveFields, OutMsg, RequestRecord};
use crate::flow::FlowKey;
use crate::time::Timestamp;

/// Results remembered per connection; the oldest are forgotten first.
pub const MAX_RESULTS: usize = 16_384;
/// Messages taken off the queue at once (so that pending SYNs are served first), and the
/// most finished requests held here.
const ATTR_BATCH: usize = 1024;
/// Finished requests written out between two looks at the queue.
const RECORDS_PER_PASS: usize = 64;
/// Retries of a lookup that found no process, after the first attempt.
const RETRY_DELAYS: [Duration; 3] = [Duration::from_millis(2), Duration::from_millis(10), Duration::from_millis(50)];

/// Longest wait, on a request the kernel path has no answer for, for the kernel thread to
/// read what its rings hold.
const KERNEL_CATCH_UP: Duration = Duration::from_millis(100);

/// Where the stage's answers come from.
#[derive(Default)]
pub struct Lookups {
    /// The /proc path (or a fake process table); `None` with `--no-attribution`.
    pub process: Option<Box<dyn ProcessLookup>>,
    /// The kernel path's answers, when it runs.
    pub kernel: Option<Arc<dyn ConnectEvents>>,
    /// Container names from the node's files; `None`: containers stay unnamed.
    pub workloads: Option<Box<dyn WorkloadLookup>>,
    /// This machine's host name and EC2 instance id, added to every record.
    pub host: Option<String>,
    pub host_id: Option<String>,
}

#[derive(Debug)]
pub enum AttrMsg {
    Lookup {
        key: FlowKey,
        ts: Timestamp,
    },
    Record {
        key: FlowKey,
        record: Box<RequestRecord>,
    },
    /// A token request waiting for its answer (the dashboard's "pending"): attributed like a
    /// record, handed on as [`OutMsg::TokenPending`], never counted as a miss.
    TokenPending {
        key: FlowKey,
        record: Box<RequestRecord>,
    },
}

pub struct Stage {
    attributor: Option<Box<dyn ProcessLookup>>,
    kernel: Option<Arc<dyn ConnectEvents>>,
    workloads: Option<Box<dyn WorkloadLookup>>,
    host: Option<String>,
    host_id: Option<String>,
    results: HashMap<FlowKey, Attribution>,
    order: VecDeque<FlowKey>,
    retries: VecDeque<(Instant, FlowKey, usize)>,
    /// Requests whose process could not be named.
    misses: Arc<AtomicU64>,
    debug: bool,
    /// This stage's bell (rung by the engine) and the output's (see `bell`); without them,
    /// crossbeam's own wait.
    bells: Option<(Bell, Bell)>,
}

impl Stage {
    /// A stage over `lookups`; requests left without a process are counted in `misses`.
    pub fn new(lookups: Lookups, misses: Arc<AtomicU64>) -> Stage {
        let Lookups { process, kernel, workloads, host, host_id } = lookups;
        Stage {
            attributor: process,
            kernel,
            workloads,
            host,
            host_id,
            results: HashMap::new(),
            order: VecDeque::new(),
            retries: VecDeque::new(),
            misses,
            debug: std::env::var_os("IMDSWATCH_DEBUG_ATTRIBUTION").is_some(),
            bells: None,
        }
    }

    /// Waits on `input` (rung by the engine) and rings `output` after each message sent.
    pub fn with_bells(mut self, input: Bell, output: Bell) -> Stage {
        self.bells = Some((input, output));
        self
    }

    /// Runs until the engine goes away. Lookups of new connections come first: a short-lived
    /// client is only findable while it lives, whereas finished requests and retries can wait.
    pub fn run(mut self, rx: Receiver<AttrMsg>, tx: Sender<OutMsg>) {
        // Finished requests and pending notices (`true`), in the engine's order.
        let mut records: VecDeque<(FlowKey, Box<RequestRecord>, bool)> = VecDeque::new();
        let mut open = true;
        'run: while open || !records.is_empty() {
            let wait = if records.is_empty() {
                self.retries
                    .front()
                    .map(|(due, ..)| due.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_millis(500))
            } else {
                Duration::ZERO
            };
            let mut lookups: Vec<(FlowKey, Timestamp)> = Vec::new();
            let room = records.len() < ATTR_BATCH;
            let mut take = |m: AttrMsg| match m {
                AttrMsg::Lookup { key, ts } => lookups.push((key, ts)),
                AttrMsg::Record { key, record } => records.push_back((key, record, false)),
                AttrMsg::TokenPending { key, record } => records.push_back((key, record, true)),
            };
            if open {
                let got = match &self.bells {
                    Some((bell, _)) => bell.recv(&rx, wait),
                    None => rx.recv_timeout(wait),
                };
                match got {
                    Ok(m) => take(m),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
                // What is already waiting, so that every pending SYN is served first; the
                // local backlog stays bounded (beyond it, messages wait in the bounded
                // channel and the pressure reaches the capture queue, where it is counted).
                if room {
                    for m in rx.try_iter().take(ATTR_BATCH) {
                        take(m);
                    }
                }
            }
            for (key, ts) in lookups {
                self.first_lookup(key, ts);
            }
            self.run_due_retries();
            // Finished requests in order; a batch at a time, so that new SYNs wait little.
            for _ in 0..RECORDS_PER_PASS {
                let Some((key, mut record, pending)) = records.pop_front() else { break };
                let found = self.for_record(key);
                let a = self.named(found);
                if a.process.is_none() && !pending {
                    self.misses.fetch_add(1, Relaxed);
                }
                record.live =
                    Some(LiveFields::from_attribution(a, self.host.clone()).with_host_id(self.host_id.clone()));
                let msg = if pending { OutMsg::TokenPending(record) } else { OutMsg::Record(record) };
                if tx.send(msg).is_err() {
                    break 'run;
                }
                if let Some((_, out)) = &self.bells {
                    out.ring();
                }
            }
        }
        if self.debug
            && let Some(a) = &self.attributor
        {
            eprintln!("imdswatch: attribution: {}", a.describe());
        }
        if self.debug
            && let Some(k) = &self.kernel
        {
            eprintln!("imdswatch: kernel events: {}", k.describe());
        }
        drop(tx);
        if let Some((_, out)) = &self.bells {
            out.ring(); // the output sees the end at once
        }
    }

    fn first_lookup(&mut self, key: FlowKey, ts: Timestamp) {
        if self.kernel.is_some() {
            return; // the kernel names the client in connect(): no /proc work per SYN
        }
        let start = Timestamp::now().micros_since(ts);
        self.lookup(key, 0);
        if self.debug {
            let done = Timestamp::now().micros_since(ts);
            let ok = self.results.get(&key).is_some_and(|a| a.process.is_some());
            eprintln!("imdswatch: lookup {} start +{start}us done +{done}us found={ok}", key.client);
        }
    }

    fn lookup(&mut self, key: FlowKey, attempt: usize) {
        let Some(att) = self.attributor.as_mut() else { return };
        let a = att.lookup(key.client, key.server);
        // Only a socket not yet visible is worth another look; an owner that exited is gone.
        let retry = a.process.is_none() && a.miss == Some(AttributionMiss::NoSocket);
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
            return Attribution { miss: Some(AttributionMiss::Disabled), ..Attribution::default() };
        }
        let mut kernel_answer = self.kernel_answer(key);
        if kernel_answer.as_ref().is_some_and(|a| a.process.is_some()) {
            return kernel_answer.unwrap_or_default();
        }
        let a = self.procfs_answer(key);
        if a.process.is_some() {
            return a;
        }
        if kernel_answer.is_none()
            && let Some(k) = &self.kernel
        {
            // The kernel thread may not have read its rings yet (CPU contention): once, bounded.
            k.wait_for_pass(KERNEL_CATCH_UP);
            kernel_answer = self.kernel_answer(key);
        }
        // A pid known from the kernel beats a bare miss.
        kernel_answer.unwrap_or(a)
    }

    /// The kernel path's answer.
    fn kernel_answer(&mut self, key: FlowKey) -> Option<Attribution> {
        self.kernel.as_ref()?.get(key.client, key.server)
    }

    /// With the container's name, image and pod, from the node's files.
    fn named(&mut self, mut a: Attribution) -> Attribution {
        if let (Some(w), Some(c)) = (self.workloads.as_mut(), a.container.as_mut()) {
            a.k8s = w.enrich(c);
        }
        a
    }

    /// The /proc path: a found process, else one last lookup.
    fn procfs_answer(&mut self, key: FlowKey) -> Attribution {
        if let Some(a) = self.results.get(&key)
            && a.process.is_some()
        {
            return a.clone();
        }
        let earlier = self.results.get(&key).cloned();
        if let Some(e) = &earlier
            && e.miss != Some(AttributionMiss::NoSocket)
        {
            return e.clone(); // the owner had already exited: looking again costs, finds nothing
        }
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
