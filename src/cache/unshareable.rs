//! URLs whose last response could not be shared (`no-store`, `private`, ...), remembered for a
//! short while so requests for them go straight to the origin instead of queueing behind a
//! fetch they could not use. Expiry-ordered and capped: each operation is amortised O(1), so
//! a flood of unique unshareable URLs costs no scans. Pure: no I/O.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::key::CacheKey;

pub struct Unshareable {
    until: HashMap<CacheKey, Instant>,
    /// Insertion order, which is expiry order since every hold lasts the same time.
    order: VecDeque<(Instant, CacheKey)>,
    hold: Duration,
    cap: usize,
}

impl Unshareable {
    pub fn new(hold: Duration, cap: usize) -> Unshareable {
        Unshareable {
            until: HashMap::new(),
            order: VecDeque::new(),
            hold,
            cap,
        }
    }

    /// Changes how long new holds last (a reload); existing ones keep their end.
    pub fn set_hold(&mut self, hold: Duration) {
        self.hold = hold;
    }

    /// Remembers `key` until `now + hold`, forgetting the oldest entries beyond the cap.
    pub fn hold(&mut self, key: &CacheKey, now: Instant) {
        self.expire(now);
        let until = now + self.hold;
        self.until.insert(key.clone(), until);
        self.order.push_back((until, key.clone()));
        while self.until.len() > self.cap {
            self.pop_front();
        }
    }

    /// Whether requests for `key` should skip coalescing now.
    pub fn is_held(&mut self, key: &CacheKey, now: Instant) -> bool {
        self.expire(now);
        self.until.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(until, _)| *until <= now) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((until, key)) = self.order.pop_front() {
            // A key held again later has a newer entry further back: keep that one.
            if self.until.get(&key) == Some(&until) {
                self.until.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> CacheKey {
        CacheKey::new(b"h", format!("/p/{i}").as_bytes(), &[])
    }

    #[test]
    fn holds_expire() {
        let t0 = Instant::now();
        let mut holds = Unshareable::new(Duration::from_secs(10), 100);
        holds.hold(&key(1), t0);
        assert!(holds.is_held(&key(1), t0 + Duration::from_secs(9)));
        assert!(!holds.is_held(&key(1), t0 + Duration::from_secs(10)));
        assert!(holds.is_empty());
    }

    #[test]
    fn a_renewed_hold_outlives_its_first_entry() {
        let t0 = Instant::now();
        let mut holds = Unshareable::new(Duration::from_secs(10), 100);
        holds.hold(&key(1), t0);
        holds.hold(&key(1), t0 + Duration::from_secs(5));
        assert!(holds.is_held(&key(1), t0 + Duration::from_secs(12)));
    }

    #[test]
    fn the_cap_forgets_the_oldest() {
        let t0 = Instant::now();
        let mut holds = Unshareable::new(Duration::from_secs(10), 3);
        for i in 0..5 {
            holds.hold(&key(i), t0);
        }
        assert_eq!(holds.len(), 3);
        assert!(!holds.is_held(&key(0), t0) && holds.is_held(&key(4), t0));
    }
}
