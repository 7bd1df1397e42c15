//! The bounded table of live connections.
//!
//! Bound: `max_flows` entries. When full, the least recently active eighth is evicted in one
//! pass (amortised O(1) per insert, so a SYN flood costs time linear in its size) and counted.
//! Idle entries are swept out by the caller's clock (packet time offline, wall time live).

use std::collections::HashMap;

use foldhash::quality::RandomState;

use super::FlowKey;
use crate::time::Timestamp;

/// What the table needs to know of an entry.
pub trait Activity {
    fn last_seen(&self) -> Timestamp;
}

impl<T: Activity> Activity for Box<T> {
    fn last_seen(&self) -> Timestamp {
        (**self).last_seen()
    }
}

#[derive(Debug)]
pub struct FlowTable<V> {
    /// Seeded per process (foldhash): flows cannot be shaped to collide without the seed.
    map: HashMap<FlowKey, V, RandomState>,
    max: usize,
}

impl<V: Activity> FlowTable<V> {
    pub fn new(max: usize) -> FlowTable<V> {
        let max = max.max(8);
        FlowTable { map: HashMap::with_capacity_and_hasher(max.min(4096), RandomState::default()), max }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get_mut(&mut self, k: &FlowKey) -> Option<&mut V> {
        self.map.get_mut(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&FlowKey, &V)> {
        self.map.iter()
    }

    pub fn remove(&mut self, k: &FlowKey) -> Option<V> {
        self.map.remove(k)
    }

    /// Whether an insert now would first need [`FlowTable::evict_oldest`].
    pub fn is_full(&self) -> bool {
        self.map.len() >= self.max
    }

    /// Inserts, replacing any entry with the same key (returned).
    pub fn insert(&mut self, k: FlowKey, v: V) -> Option<V> {
        self.map.insert(k, v)
    }

    /// Removes the least recently active eighth of the table.
    pub fn evict_oldest(&mut self) -> Vec<(FlowKey, V)> {
        let n = (self.max / 8).max(1).min(self.map.len());
        if n == 0 {
            return Vec::new();
        }
        let mut ages: Vec<(Timestamp, FlowKey)> = self.map.iter().map(|(k, v)| (v.last_seen(), *k)).collect();
        ages.select_nth_unstable(n - 1);
        ages.truncate(n);
        ages.into_iter().filter_map(|(_, k)| self.map.remove(&k).map(|v| (k, v))).collect()
    }

    /// Removes every entry for which `expired` says so.
    pub fn take_expired(&mut self, mut expired: impl FnMut(&V) -> bool) -> Vec<(FlowKey, V)> {
        let keys: Vec<FlowKey> = self.map.iter().filter(|(_, v)| expired(v)).map(|(k, _)| *k).collect();
        keys.into_iter().filter_map(|k| self.map.remove(&k).map(|v| (k, v))).collect()
    }

    /// Empties the table.
    pub fn drain(&mut self) -> Vec<(FlowKey, V)> {
        let mut all: Vec<(FlowKey, V)> = self.map.drain().collect();
        // An emptied table gives its slots back (the end of a capture: the verdict is built
        // next, and the slots of 16,384 connections were 2.4 MiB of its peak).
        self.map.shrink_to_fit();
        all.sort_by_key(|(k, _)| *k);
        all
    }
}
