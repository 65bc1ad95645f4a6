//! The byte-bounded store of one shard: an LRU of complete objects plus the accounting of the
//! bytes its in-flight fetches hold, so stored and in-flight bytes together stay within the
//! shard's share of the cache budget. Eviction is least-recently-used. Pure: no I/O, no
//! runtime; the shard owns one inside a `RefCell` and never holds the borrow across an await.

use std::rc::Rc;

use lru::LruCache;

use super::entry::StoredObject;
use super::key::CacheKey;

/// A snapshot of the store's accounting, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreUsage {
    pub budget: u64,
    pub stored_bytes: u64,
    pub inflight_bytes: u64,
    /// The most `stored_bytes + inflight_bytes` has ever been.
    pub peak_bytes: u64,
    pub objects: u64,
    pub evictions: u64,
}

pub struct Store {
    entries: LruCache<CacheKey, Rc<StoredObject>>,
    usage: StoreUsage,
}

/// Why an object was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Larger than the whole budget.
    TooLarge,
    /// In-flight fetches hold so much that evicting every stored object would not make room.
    NoRoom,
}

impl Store {
    pub fn new(budget: u64) -> Store {
        Store {
            entries: LruCache::unbounded(),
            usage: StoreUsage {
                budget,
                ..StoreUsage::default()
            },
        }
    }

    pub fn usage(&self) -> StoreUsage {
        self.usage
    }

    fn used(&self) -> u64 {
        self.usage.stored_bytes + self.usage.inflight_bytes
    }

    /// Changes the budget (a reload); a smaller one evicts until the store fits.
    pub fn set_budget(&mut self, budget: u64) {
        self.usage.budget = budget;
        self.make_room(0);
        // The peak is measured against the budget in force: start it afresh.
        self.usage.peak_bytes = self.used();
    }

    /// The object for `key`, marked most recently used.
    pub fn get(&mut self, key: &CacheKey) -> Option<Rc<StoredObject>> {
        self.entries.get(key).cloned()
    }

    /// Stores `object`, evicting least-recently-used objects until it fits.
    pub fn insert(&mut self, key: CacheKey, object: Rc<StoredObject>) -> Result<(), Refusal> {
        let cost = object.cost();
        if cost > self.usage.budget {
            return Err(Refusal::TooLarge);
        }
        self.remove(&key);
        if !self.make_room(cost) {
            return Err(Refusal::NoRoom);
        }
        self.usage.stored_bytes += cost;
        self.usage.objects += 1;
        self.entries.push(key, object);
        self.note_peak();
        Ok(())
    }

    /// Drops the object for `key`; true if there was one.
    pub fn remove(&mut self, key: &CacheKey) -> bool {
        match self.entries.pop(key) {
            Some(old) => {
                self.usage.stored_bytes -= old.cost();
                self.usage.objects -= 1;
                true
            }
            None => false,
        }
    }

    /// Drops every object whose key `matches`; returns how many went. A scan of the whole
    /// store: for purges, not for the data path.
    pub fn remove_where(&mut self, mut matches: impl FnMut(&CacheKey) -> bool) -> u64 {
        let doomed: Vec<CacheKey> = self
            .entries
            .iter()
            .filter(|(key, _)| matches(key))
            .map(|(key, _)| key.clone())
            .collect();
        doomed.iter().filter(|key| self.remove(key)).count() as u64
    }

    /// Accounts `bytes` more held by an in-flight fetch, evicting stored objects to make room.
    /// Returns false when in-flight bytes alone exceed the budget: the caller must then stop
    /// planning to store that object.
    pub fn reserve_inflight(&mut self, bytes: u64) -> bool {
        let fits = self.make_room(bytes);
        self.usage.inflight_bytes += bytes;
        self.note_peak();
        fits
    }

    /// Returns bytes an in-flight fetch no longer holds (it ended, or became a stored object).
    pub fn release_inflight(&mut self, bytes: u64) {
        self.usage.inflight_bytes = self.usage.inflight_bytes.saturating_sub(bytes);
    }

    /// Evicts until `extra` more bytes fit; false if they cannot.
    fn make_room(&mut self, extra: u64) -> bool {
        while self.used() + extra > self.usage.budget {
            match self.entries.pop_lru() {
                Some((_, old)) => {
                    self.usage.stored_bytes -= old.cost();
                    self.usage.objects -= 1;
                    self.usage.evictions += 1;
                }
                None => return false,
            }
        }
        true
    }

    fn note_peak(&mut self) {
        self.usage.peak_bytes = self.usage.peak_bytes.max(self.used());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::CachedHead;
    use crate::cache::freshness::Freshness;
    use bytes::Bytes;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn object(len: usize) -> Rc<StoredObject> {
        let head = Arc::new(CachedHead {
            status: 200,
            reason: Bytes::new(),
            headers: vec![],
            content_length: Some(len as u64),
            arrival: Default::default(),
        });
        Rc::new(StoredObject {
            head,
            body: vec![Bytes::from(vec![0u8; len])].into(),
            body_len: len as u64,
            freshness: Freshness {
                lifetime: Duration::from_secs(60),
                initial_age: Duration::ZERO,
                stored_at: Instant::now(),
            },
        })
    }

    fn key(i: usize) -> CacheKey {
        CacheKey::new(b"h", format!("/s/{i}").as_bytes(), &[])
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let cost = object(1000).cost();
        let mut store = Store::new(cost * 3);
        for i in 0..3 {
            store.insert(key(i), object(1000)).unwrap();
        }
        store.get(&key(0));
        store.insert(key(3), object(1000)).unwrap();
        assert!(
            store.get(&key(1)).is_none(),
            "least recently used goes first"
        );
        assert!(store.get(&key(0)).is_some());
        assert_eq!(store.usage().evictions, 1);
        assert!(store.usage().peak_bytes <= store.usage().budget);
    }

    #[test]
    fn a_working_set_larger_than_the_budget_never_exceeds_it() {
        let mut store = Store::new(100_000);
        for i in 0..1000 {
            let len = 500 + (i * 37) % 9000;
            store.reserve_inflight(len as u64);
            store.release_inflight(len as u64);
            store.insert(key(i), object(len)).unwrap();
            assert!(store.usage().stored_bytes + store.usage().inflight_bytes <= 100_000);
        }
        assert!(store.usage().peak_bytes <= 100_000);
        assert!(store.usage().objects > 5);
    }

    #[test]
    fn oversized_and_crowded_out_objects_are_refused() {
        let mut store = Store::new(5000);
        assert_eq!(store.insert(key(0), object(6000)), Err(Refusal::TooLarge));
        assert!(store.reserve_inflight(4000));
        assert_eq!(store.insert(key(1), object(2000)), Err(Refusal::NoRoom));
        store.release_inflight(4000);
        assert!(store.insert(key(1), object(2000)).is_ok());
    }

    #[test]
    fn a_smaller_budget_evicts_at_once() {
        let mut store = Store::new(1 << 20);
        for i in 0..10 {
            store.insert(key(i), object(10_000)).unwrap();
        }
        store.set_budget(object(10_000).cost() * 3);
        assert_eq!(store.usage().objects, 3);
        assert!(store.usage().stored_bytes <= store.usage().budget);
    }

    #[test]
    fn replacing_and_removing_keep_the_books_straight() {
        let mut store = Store::new(1 << 20);
        store.insert(key(0), object(100)).unwrap();
        store.insert(key(0), object(300)).unwrap();
        assert_eq!(store.usage().objects, 1);
        assert_eq!(store.usage().stored_bytes, object(300).cost());
        assert!(store.remove(&key(0)));
        assert_eq!(store.usage().stored_bytes, 0);
        assert!(!store.remove(&key(0)));
    }
}
