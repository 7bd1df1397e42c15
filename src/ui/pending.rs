//! Token requests still waiting for their answer (live dashboard, issue 13): a row shows
//! "pending" from the engine's notice until the finished record (same client address and
//! request time) settles it.
//!
//! Never stuck: the engine settles every request it announced (answer, client close, idle
//! timeout, eviction, end of input); should the settlement be lost (a full dashboard queue,
//! counted there), the entry is forgotten [`MAX_AGE_US`] after its request. Bounded: [`MAX_PENDING`] entries; past it the oldest is forgotten (counted in
//! [`PendingTokens::dropped`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::time::Timestamp;
use crate::verdict::ClientKey as RowKey;

/// Most pending token requests remembered.
pub const MAX_PENDING: usize = 1024;
/// A pending entry older than this (by the dashboard's clock) is forgotten: the engine settles
/// every request by its idle timeout (10 s by default) plus a sweep.
pub const MAX_AGE_US: u64 = 30_000_000;

/// The pending token requests, oldest first: `(request time, client address)` → row.
#[derive(Debug, Clone, Default)]
pub struct PendingTokens {
    entries: BTreeMap<(Timestamp, SocketAddr), RowKey>,
    /// Entries forgotten without a settlement (bound, age, or a row removed).
    pub dropped: u64,
}

impl PendingTokens {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A new pending request of `row`; returns the row of an entry forgotten for room.
    pub fn add(&mut self, ts: Timestamp, client: SocketAddr, row: RowKey) -> Option<RowKey> {
        let mut forgotten = None;
        if self.entries.len() >= MAX_PENDING && !self.entries.contains_key(&(ts, client)) {
            forgotten = self.entries.pop_first().map(|(_, k)| k);
            self.dropped += 1;
        }
        self.entries.insert((ts, client), row);
        forgotten
    }

    /// The finished record of the request sent at `ts` by `client`: its row, if it was pending.
    pub fn settle(&mut self, ts: Timestamp, client: SocketAddr) -> Option<RowKey> {
        self.entries.remove(&(ts, client))
    }

    /// Forgets entries older than [`MAX_AGE_US`] at `now`; returns their rows.
    pub fn expire(&mut self, now: Timestamp) -> Vec<RowKey> {
        let mut rows = Vec::new();
        while let Some(e) = self.entries.first_entry() {
            if now.micros_since(e.key().0) < MAX_AGE_US {
                break;
            }
            rows.push(e.remove());
            self.dropped += 1;
        }
        rows
    }

    /// Forgets the entries of a row.
    pub fn forget_row(&mut self, row: &RowKey) {
        let before = self.entries.len();
        self.entries.retain(|_, k| k != row);
        self.dropped += (before - self.entries.len()) as u64;
    }

    /// When the oldest pending request of `row` was sent.
    pub fn oldest_of(&self, row: &RowKey) -> Option<Timestamp> {
        self.entries.iter().find(|(_, k)| *k == row).map(|((ts, _), _)| *ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u8) -> RowKey {
        RowKey::Unattributed { reason: "exited", ip: std::net::IpAddr::from([10, 0, 0, n]), user_agent: None }
    }

    fn addr() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], 40000))
    }

    #[test]
    fn bounded_settled_and_expired() {
        let mut p = PendingTokens::default();
        for i in 0..(MAX_PENDING as u64 + 5) {
            p.add(Timestamp(1_000_000 + i), addr(), row(1));
        }
        assert_eq!(p.len(), MAX_PENDING);
        assert_eq!(p.dropped, 5);
        assert_eq!(p.oldest_of(&row(1)), Some(Timestamp(1_000_005)));
        assert_eq!(p.settle(Timestamp(1_000_005), addr()), Some(row(1)));
        assert_eq!(p.settle(Timestamp(1_000_005), addr()), None, "settled once");
        let gone = p.expire(Timestamp(1_000_000 + MAX_AGE_US + 10));
        assert_eq!(gone.len(), 5, "requests at +6..+10 us are old enough");
        p.forget_row(&row(1));
        assert!(p.is_empty());
        assert_eq!(p.dropped, 5 + 5 + (MAX_PENDING as u64 - 6));
    }
}
