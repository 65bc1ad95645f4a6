//! The cache budget the shards share (issue "Live video II", item 2): each shard's store has
//! a quota, the quotas never add up to more than the configured `cache_size`, and a shard
//! whose streams need more than its even share borrows what the others do not use. Without
//! it one big event, owned by one core, could use only 1/N of the memory bought for it.
//!
//! Lock-free: one atomic counts the bytes allocated to quotas, and a borrow is a
//! compare-and-swap that never lets it pass the total, so the process stays within its
//! budget at every instant. A shard that cannot reach its even share says how much it
//! lacks; shards above theirs then borrow nothing and hand that much back on their next
//! heartbeat (`shard::quota`). Pure: atomics only,
//! no runtime; shards share one through an `Arc`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct SharedBudget {
    total: AtomicU64,
    /// The sum of the shards' quotas.
    allocated: AtomicU64,
    /// Per shard: the bytes it lacks to reach its even share (it could not borrow them).
    /// While any shard waits, shards above their even share borrow nothing and give back as
    /// much as is waited for.
    waiting: Vec<AtomicU64>,
}

impl SharedBudget {
    /// A budget of `total` bytes for `shards` shards, with `allocated` of it given out as
    /// their first quotas.
    pub fn new(total: u64, allocated: u64, shards: usize) -> SharedBudget {
        SharedBudget {
            total: AtomicU64::new(total),
            allocated: AtomicU64::new(allocated.min(total)),
            waiting: (0..shards).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Takes up to `want` bytes of what no quota holds; returns how many it got.
    pub fn borrow(&self, want: u64) -> u64 {
        let total = self.total.load(Ordering::Relaxed);
        let mut allocated = self.allocated.load(Ordering::Relaxed);
        loop {
            let got = want.min(total.saturating_sub(allocated));
            if got == 0 {
                return 0;
            }
            match self.allocated.compare_exchange_weak(
                allocated,
                allocated + got,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return got,
                Err(now) => allocated = now,
            }
        }
    }

    /// Returns `bytes` of a quota to the shared pool.
    pub fn give_back(&self, bytes: u64) {
        self.allocated.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Shard `shard`, below its even share, lacks `bytes` the pool does not have (0: it
    /// lacks nothing any more).
    pub fn set_waiting(&self, shard: usize, bytes: u64) {
        if let Some(waiting) = self.waiting.get(shard) {
            waiting.store(bytes, Ordering::Relaxed);
        }
    }

    /// What `shard` waits for.
    pub fn waiting(&self, shard: usize) -> u64 {
        self.waiting
            .get(shard)
            .map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// How much shards above their even share should give back: what the shards below
    /// theirs wait for, plus what the quotas hold beyond a (reloaded, smaller) total.
    pub fn wanted_back(&self) -> u64 {
        let total = self.total.load(Ordering::Relaxed);
        let over = self.allocated.load(Ordering::Relaxed).saturating_sub(total);
        let waited: u64 = self.waiting.iter().map(|w| w.load(Ordering::Relaxed)).sum();
        over + waited
    }

    /// A reloaded `cache_size`.
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// Bytes no quota holds now.
    pub fn free(&self) -> u64 {
        let total = self.total.load(Ordering::Relaxed);
        total.saturating_sub(self.allocated.load(Ordering::Relaxed))
    }

    /// Bytes given out as quotas, for tests and metrics.
    pub fn allocated(&self) -> u64 {
        self.allocated.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowing_never_passes_the_total() {
        let budget = SharedBudget::new(100, 60, 2);
        assert_eq!(budget.borrow(30), 30);
        assert_eq!(budget.borrow(30), 10, "only what is left");
        assert_eq!(budget.borrow(1), 0);
        assert_eq!(budget.allocated(), 100);
        budget.give_back(25);
        assert_eq!(budget.borrow(100), 25);
    }

    #[test]
    fn concurrent_borrowers_share_exactly_what_is_free() {
        let budget = std::sync::Arc::new(SharedBudget::new(1_000_000, 0, 4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let budget = std::sync::Arc::clone(&budget);
                std::thread::spawn(move || (0..100_000).map(|_| budget.borrow(7)).sum::<u64>())
            })
            .collect();
        let got: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(got, 1_000_000);
        assert_eq!(budget.allocated(), 1_000_000);
    }

    #[test]
    fn waiting_shards_and_a_smaller_total_say_how_much_is_wanted_back() {
        let budget = SharedBudget::new(100, 100, 2);
        assert_eq!(budget.wanted_back(), 0);
        budget.set_waiting(1, 30);
        assert_eq!(
            (budget.wanted_back(), budget.waiting(1), budget.waiting(0)),
            (30, 30, 0)
        );
        budget.set_waiting(1, 0);
        budget.set_total(80);
        assert_eq!(budget.wanted_back(), 20, "over the new total");
        budget.give_back(20);
        assert_eq!(budget.wanted_back(), 0);
    }
}
