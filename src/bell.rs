//! A quiet wait on a crossbeam channel for the live pipeline's threads.
//!
//! crossbeam-channel's blocking receive spins, then calls `sched_yield` up to eight times
//! (`Backoff::snooze`) before it parks. On a busy host every yield is a context switch: with
//! one request every 45 ms, the engine, attribution and output threads spent most of their
//! CPU in `sched_yield` (perf, benches/live_cpu.sh). A [`Bell`] replaces that wait: the
//! receiving thread checks the channel, then parks; each sender rings the bell (unparks the
//! receiver) after it sends, and once more when it is done, so that the receiver sees the
//! disconnection at once. A ring before the receiver parks is kept by the thread's park
//! token, so no message is waited on for longer than it takes to notice.

use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

/// One receiving thread's doorbell; clones ring the same thread.
#[derive(Debug, Clone, Default)]
pub struct Bell(Arc<OnceLock<Thread>>);

impl Bell {
    /// Wakes the receiver, if it is waiting (else its next wait returns at once).
    pub fn ring(&self) {
        if let Some(t) = self.0.get() {
            t.unpark();
        }
    }

    /// Like `rx.recv_timeout(timeout)`, parking instead of yielding. Call from the one
    /// receiving thread (the first caller is the thread that is rung).
    pub fn recv<T>(&self, rx: &Receiver<T>, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let me = self.0.get_or_init(std::thread::current);
        debug_assert_eq!(me.id(), std::thread::current().id(), "one receiving thread per bell");
        let deadline = Instant::now() + timeout;
        loop {
            match rx.try_recv() {
                Ok(m) => return Ok(m),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvTimeoutError::Timeout);
            }
            std::thread::park_timeout(deadline - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bell_wakes_the_receiver_on_a_message_and_on_disconnection() {
        let (tx, rx) = crossbeam_channel::bounded::<u32>(4);
        let bell = Bell::default();
        let ring = bell.clone();
        // Nothing sent: the wait ends at its timeout.
        let t = Instant::now();
        assert_eq!(bell.recv(&rx, Duration::from_millis(30)), Err(RecvTimeoutError::Timeout));
        assert!(t.elapsed() >= Duration::from_millis(30));
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(7).expect("send");
            ring.ring();
            std::thread::sleep(Duration::from_millis(20));
            drop(tx);
            ring.ring();
        });
        let t = Instant::now();
        assert_eq!(bell.recv(&rx, Duration::from_secs(10)), Ok(7));
        assert_eq!(bell.recv(&rx, Duration::from_secs(10)), Err(RecvTimeoutError::Disconnected));
        assert!(t.elapsed() < Duration::from_secs(5), "woken by the bell, not the timeout");
        sender.join().expect("join");
    }
}
