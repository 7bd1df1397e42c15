//! The dashboard as a sink: records go over a bounded channel to the UI thread
//! ([`super::run`]), which draws them.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::UiEvent;
use crate::event::{RequestRecord, StatsRecord};
use crate::sink::Sink;

/// Records waiting for the dashboard's next frame (live and offline).
pub const UI_QUEUE: usize = 65_536;
/// How often the live dashboard gets a stats record (it moves its clock).
pub const UI_STATS: Duration = Duration::from_secs(1);

pub struct UiSink {
    tx: Sender<UiEvent>,
    /// Live: never wait for the dashboard; a full queue loses the record, counted here.
    /// `None` (offline): wait, so that the dashboard shows every record.
    losses: Option<Arc<AtomicU64>>,
}

impl UiSink {
    /// A capture file's dashboard: every record is shown; the analysis waits for the UI.
    pub fn offline(tx: Sender<UiEvent>) -> UiSink {
        UiSink { tx, losses: None }
    }

    /// The live dashboard: the pipeline never waits; losses are counted in `losses`.
    pub fn live(tx: Sender<UiEvent>, losses: Arc<AtomicU64>) -> UiSink {
        UiSink { tx, losses: Some(losses) }
    }
}

impl Sink for UiSink {
    fn stats_interval(&self) -> Option<Duration> {
        self.losses.is_some().then_some(UI_STATS)
    }

    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.send(UiEvent::Request(Box::new(r.clone())))
    }

    fn pending(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.send(UiEvent::TokenPending(Box::new(r.clone())))
    }

    fn stats(&mut self, s: &StatsRecord) -> io::Result<()> {
        let _ = self.tx.try_send(UiEvent::Stats(s.clone()));
        Ok(())
    }

    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        match self.losses {
            Some(_) => drop(self.tx.try_send(UiEvent::Stats(s.clone()))),
            None => drop(self.tx.send(UiEvent::Stats(s.clone()))),
        }
        Ok(())
    }
}

impl UiSink {
    /// Live: never waits (a full queue loses the event, counted); offline: waits.
    fn send(&mut self, ev: UiEvent) -> io::Result<()> {
        match &self.losses {
            Some(losses) => {
                if self.tx.try_send(ev).is_err() {
                    losses.fetch_add(1, Relaxed);
                }
                Ok(())
            }
            // The dashboard is gone (the user quit): stop feeding it, quietly.
            None => self.tx.send(ev).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }
}
