//! The byte-bounded store of one shard: an LRU of URLs, each holding the variants stored for it
//! (one without `Vary`, up to `max_variants` with it), plus the accounting of the bytes its
//! in-flight fetches hold, so stored and in-flight bytes together stay within the shard's
//! share of the cache budget. Eviction is least-recently-used per URL; the live layer moves
//! the objects of streams nobody watches to the eviction end and drops those no playlist
//! lists any more (LIVE.md F7). Pure: no I/O, no runtime; the shard owns one inside a `RefCell` and never holds the borrow across an await.

use std::rc::Rc;

use bytes::Bytes;
use lru::LruCache;

use super::entry::StoredObject;
use super::key::CacheKey;
use super::vary::Vary;
use crate::http::headers::Header;

/// A snapshot of the store's accounting, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreUsage {
    pub budget: u64,
    pub stored_bytes: u64,
    pub inflight_bytes: u64,
    /// The most `stored_bytes + inflight_bytes` has ever been.
    pub peak_bytes: u64,
    pub objects: u64,
    /// Objects evicted to make room (those of idle streams included).
    pub evictions: u64,
    /// Of those, objects of streams nobody watched any more (`mark_idle`).
    pub idle_evictions: u64,
    /// Objects dropped because every playlist let go of them (`remove_dead`), before any
    /// pressure.
    pub dead_evictions: u64,
}

pub struct Store {
    entries: LruCache<CacheKey, Variants>,
    usage: StoreUsage,
}

/// The responses stored for one URL. They all vary on the same fields: a response that
/// varies differently replaces them (the origin changed its mind).
struct Variants {
    vary: Vary,
    /// Oldest first; the secondary key of each.
    objects: Vec<(Bytes, Rc<StoredObject>)>,
    /// Moved to the eviction end because its stream lost its viewers, and not asked for
    /// since.
    idle: bool,
}

impl Variants {
    fn cost(&self) -> u64 {
        self.objects.iter().map(|(_, o)| o.cost()).sum()
    }
}

/// What the store holds for a request.
pub enum Found {
    Object(Rc<StoredObject>),
    /// Responses are stored for the URL, but none for this request's `Vary` fields.
    OtherVariants(Vary),
    Nothing,
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

    /// The object stored for `key` that matches `request`'s `Vary` fields, the URL marked
    /// most recently used.
    pub fn get(&mut self, key: &CacheKey, request: &[Header]) -> Found {
        let Some(variants) = self.entries.get_mut(key) else {
            return Found::Nothing;
        };
        variants.idle = false;
        let secondary = variants.vary.secondary_key(request);
        match variants.objects.iter().find(|(s, _)| *s == secondary) {
            Some((_, object)) => Found::Object(Rc::clone(object)),
            None => Found::OtherVariants(variants.vary.clone()),
        }
    }

    /// The `Vary` fields of what is stored for `key`, without touching its recency.
    pub fn vary_of(&self, key: &CacheKey) -> Option<Vary> {
        self.entries.peek(key).map(|v| v.vary.clone())
    }

    /// Stores `object` as the variant `secondary` of `key` under `vary`, evicting
    /// least-recently-used URLs until it fits. Beyond `max_variants` the oldest variant goes.
    pub fn insert(
        &mut self,
        key: CacheKey,
        vary: Vary,
        secondary: Bytes,
        object: Rc<StoredObject>,
        max_variants: usize,
    ) -> Result<(), Refusal> {
        let cost = object.cost();
        if cost > self.usage.budget {
            return Err(Refusal::TooLarge);
        }
        let mut variants = match self.take(&key) {
            Some(old) if old.vary == vary => old,
            _ => Variants {
                vary,
                objects: Vec::new(),
                idle: false,
            },
        };
        variants.objects.retain(|(s, _)| *s != secondary);
        while variants.objects.len() >= max_variants.max(1) {
            variants.objects.remove(0);
        }
        // Stored anew: whatever its stream was, it is wanted now.
        variants.idle = false;
        let others = variants.cost();
        if !self.make_room(cost + others) {
            return Err(Refusal::NoRoom);
        }
        variants.objects.push((secondary, object));
        self.put(key, variants);
        self.note_peak();
        Ok(())
    }

    /// Moves `key` to the eviction end of the store: its stream has no viewers any more, so
    /// it goes before anything watched when room is needed (LIVE.md F7), unless a request
    /// for it comes first.
    pub fn mark_idle(&mut self, key: &CacheKey) {
        if let Some(variants) = self.entries.peek_mut(key) {
            variants.idle = true;
            self.entries.demote(key);
        }
    }

    /// Drops what is stored for `key` because no playlist lists it any more and its
    /// availability has passed (LIVE.md F7); counted apart from evictions for room.
    pub fn remove_dead(&mut self, key: &CacheKey) {
        let removed = self.remove(key);
        self.usage.dead_evictions += removed;
    }

    /// Drops every variant stored for `key`; returns how many there were.
    pub fn remove(&mut self, key: &CacheKey) -> u64 {
        self.take(key).map_or(0, |v| v.objects.len() as u64)
    }

    /// Drops one stored object (a variant) if it is still the one stored.
    pub fn remove_object(&mut self, key: &CacheKey, object: &Rc<StoredObject>) {
        let Some(mut variants) = self.take(key) else {
            return;
        };
        variants.objects.retain(|(_, o)| !Rc::ptr_eq(o, object));
        if !variants.objects.is_empty() {
            self.put(key.clone(), variants);
        }
    }

    fn take(&mut self, key: &CacheKey) -> Option<Variants> {
        let old = self.entries.pop(key)?;
        self.usage.stored_bytes -= old.cost();
        self.usage.objects -= old.objects.len() as u64;
        Some(old)
    }

    fn put(&mut self, key: CacheKey, variants: Variants) {
        self.usage.stored_bytes += variants.cost();
        self.usage.objects += variants.objects.len() as u64;
        self.entries.push(key, variants);
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
        doomed
            .iter()
            .filter_map(|key| self.take(key))
            .map(|v| v.objects.len() as u64)
            .sum()
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
                    let n = old.objects.len() as u64;
                    self.usage.stored_bytes -= old.cost();
                    self.usage.objects -= n;
                    self.usage.evictions += n;
                    if old.idle {
                        self.usage.idle_evictions += n;
                    }
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
        let head = Arc::new(CachedHead::plain(
            200,
            Bytes::new(),
            vec![],
            Some(len as u64),
        ));
        Rc::new(StoredObject {
            head,
            body: vec![Bytes::from(vec![0u8; len])].into(),
            body_len: len as u64,
            freshness: Freshness {
                lifetime: Duration::from_secs(60),
                initial_age: Duration::ZERO,
                stored_at: Instant::now(),
                reuse: Default::default(),
            },
        })
    }

    impl Store {
        fn got(&mut self, key: &CacheKey) -> Option<Rc<StoredObject>> {
            match self.get(key, &[]) {
                Found::Object(o) => Some(o),
                _ => None,
            }
        }

        fn put_plain(&mut self, key: CacheKey, o: Rc<StoredObject>) -> Result<(), Refusal> {
            self.insert(key, Vary::None, Bytes::new(), o, 8)
        }
    }

    fn key(i: usize) -> CacheKey {
        CacheKey::new(b"h", format!("/s/{i}").as_bytes(), &[])
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let cost = object(1000).cost();
        let mut store = Store::new(cost * 3);
        for i in 0..3 {
            store.put_plain(key(i), object(1000)).unwrap();
        }
        store.got(&key(0));
        store.put_plain(key(3), object(1000)).unwrap();
        assert!(
            store.got(&key(1)).is_none(),
            "least recently used goes first"
        );
        assert!(store.got(&key(0)).is_some());
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
            store.put_plain(key(i), object(len)).unwrap();
            assert!(store.usage().stored_bytes + store.usage().inflight_bytes <= 100_000);
        }
        assert!(store.usage().peak_bytes <= 100_000);
        assert!(store.usage().objects > 5);
    }

    #[test]
    fn oversized_and_crowded_out_objects_are_refused() {
        let mut store = Store::new(5000);
        assert_eq!(
            store.put_plain(key(0), object(6000)),
            Err(Refusal::TooLarge)
        );
        assert!(store.reserve_inflight(4000));
        assert_eq!(store.put_plain(key(1), object(2000)), Err(Refusal::NoRoom));
        store.release_inflight(4000);
        assert!(store.put_plain(key(1), object(2000)).is_ok());
    }

    #[test]
    fn idle_streams_go_first_unless_asked_for_and_dead_objects_are_counted_apart() {
        let cost = object(1000).cost();
        let mut store = Store::new(cost * 3);
        for i in 0..3 {
            store.put_plain(key(i), object(1000)).unwrap();
        }
        // Key 2 is the most recent, but its stream went idle: it goes first.
        store.mark_idle(&key(2));
        store.mark_idle(&key(1));
        store.got(&key(1)); // a viewer came back for this one
        store.put_plain(key(3), object(1000)).unwrap();
        assert!(store.got(&key(2)).is_none());
        assert!(store.got(&key(1)).is_some());
        assert_eq!(store.usage().evictions, 1);
        assert_eq!(store.usage().idle_evictions, 1);
        store.put_plain(key(4), object(1000)).unwrap();
        assert_eq!(store.usage().idle_evictions, 1, "key 0 was not idle");
        store.remove_dead(&key(1));
        store.remove_dead(&key(99));
        assert_eq!(store.usage().dead_evictions, 1);
        assert_eq!(store.usage().evictions, 2);
        assert_eq!(store.usage().objects, 2);
    }

    #[test]
    fn a_smaller_budget_evicts_at_once() {
        let mut store = Store::new(1 << 20);
        for i in 0..10 {
            store.put_plain(key(i), object(10_000)).unwrap();
        }
        store.set_budget(object(10_000).cost() * 3);
        assert_eq!(store.usage().objects, 3);
        assert!(store.usage().stored_bytes <= store.usage().budget);
    }

    #[test]
    fn replacing_and_removing_keep_the_books_straight() {
        let mut store = Store::new(1 << 20);
        store.put_plain(key(0), object(100)).unwrap();
        store.put_plain(key(0), object(300)).unwrap();
        assert_eq!(store.usage().objects, 1);
        assert_eq!(store.usage().stored_bytes, object(300).cost());
        assert_eq!(store.remove(&key(0)), 1);
        assert_eq!(store.usage().stored_bytes, 0);
        assert_eq!(store.remove(&key(0)), 0);
    }

    #[test]
    fn secondary_keys_count_in_the_budget() {
        let plain = object(100);
        let mut head = (*plain.head).clone();
        head.variant = Bytes::from(vec![b'c'; 4096]);
        assert_eq!(
            head.cost(),
            plain.head.cost() + 4096,
            "Vary: Cookie values are memory too"
        );
    }

    #[test]
    fn variants_are_bounded_and_found_by_secondary_key() {
        let mut store = Store::new(1 << 20);
        let vary = Vary::of(&[Header::new("Vary", "Accept-Language")]);
        let lang = |l: &'static str| [Header::new("Accept-Language", l)];
        for l in ["fr", "de", "en"] {
            let secondary = vary.secondary_key(&lang(l));
            store
                .insert(key(0), vary.clone(), secondary, object(100), 2)
                .unwrap();
        }
        assert_eq!(store.usage().objects, 2, "the oldest variant went");
        assert!(matches!(store.get(&key(0), &lang("de")), Found::Object(_)));
        assert!(matches!(
            store.get(&key(0), &lang("fr")),
            Found::OtherVariants(_)
        ));
        assert!(matches!(store.get(&key(1), &lang("fr")), Found::Nothing));
        // A response without Vary replaces the variants.
        store.put_plain(key(0), object(100)).unwrap();
        assert_eq!(store.usage().objects, 1);
        assert_eq!(store.usage().stored_bytes, object(100).cost());
        assert_eq!(store.remove_where(|_| true), 1);
        assert_eq!(store.usage().stored_bytes, 0);
    }
}
