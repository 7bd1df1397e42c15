//! Connections that ended (FIN both ways or RST), remembered briefly as 48 bytes each instead
//! of their whole state, so that late copies of their packets are absorbed rather than taken
//! for a new connection, and so that they do not crowd live connections out of the table.
//!
//! Bound: `max` entries. When full the oldest is forgotten, counted in `evicted` (a late
//! copy of its packets may then open a connection of its own, which carries nothing new:
//! the request it repeats was reported).

use std::collections::{HashMap, VecDeque};

use foldhash::quality::RandomState;

use super::FlowKey;
use crate::time::Timestamp;

#[derive(Debug)]
pub struct Tombstones {
    /// When each ended.
    map: HashMap<FlowKey, Timestamp, RandomState>,
    /// Insertion order; an entry whose time no longer matches the map's is stale.
    order: VecDeque<(FlowKey, Timestamp)>,
    max: usize,
    /// Forgotten before their time because the set was full.
    pub evicted: u64,
}

impl Tombstones {
    pub fn new(max: usize) -> Tombstones {
        Tombstones { map: HashMap::default(), order: VecDeque::new(), max: max.max(1), evicted: 0 }
    }

    pub fn insert(&mut self, key: FlowKey, at: Timestamp) {
        while self.map.len() >= self.max {
            let Some((k, t)) = self.order.pop_front() else { break };
            if self.map.get(&k) == Some(&t) {
                self.map.remove(&k);
                self.evicted += 1;
            }
        }
        self.map.insert(key, at);
        self.order.push_back((key, at));
        // Stale entries (reopened connections) are dropped as they reach the front; bound
        // the queue all the same.
        if self.order.len() > 2 * self.max {
            let map = &self.map;
            self.order.retain(|(k, t)| map.get(k) == Some(t));
        }
    }

    pub fn contains(&self, key: &FlowKey) -> bool {
        self.map.contains_key(key)
    }

    pub fn remove(&mut self, key: &FlowKey) {
        self.map.remove(key);
    }

    /// Forgets those that ended `age_us` or more before `now`.
    pub fn expire(&mut self, now: Timestamp, age_us: u64) {
        while let Some(&(k, t)) = self.order.front() {
            if now.micros_since(t) < age_us {
                break;
            }
            self.order.pop_front();
            if self.map.get(&k) == Some(&t) {
                self.map.remove(&k);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey { client: ([10, 0, 0, 1], port).into(), server: ([169, 254, 169, 254], 80).into() }
    }

    #[test]
    fn bounded_oldest_first_and_expiring() {
        let mut t = Tombstones::new(3);
        for p in 1..=4 {
            t.insert(key(p), Timestamp::from_parts(u64::from(p), 0));
        }
        assert_eq!((t.len(), t.evicted), (3, 1));
        assert!(!t.contains(&key(1)) && t.contains(&key(4)));
        // A reopened connection leaves a stale queue entry that neither evicts nor expires it.
        t.remove(&key(2));
        t.insert(key(2), Timestamp::from_parts(10, 0));
        t.expire(Timestamp::from_parts(5, 0), 1_500_000);
        assert!(t.contains(&key(4)) && t.contains(&key(2)) && !t.contains(&key(3)));
        t.expire(Timestamp::from_parts(20, 0), 1_500_000);
        assert!(t.is_empty());
    }
}
