//! This shard's quota of the cache budget the shards share (`cache::lending`; issue "Live
//! video II", item 2): the store's budget. When what is about to go in would not fit, the
//! quota first grows from what no other shard holds (by at least a sixteenth of the even
//! share, so a borrow is one compare-and-swap per several objects, not per chunk); only then
//! does the store evict. On every heartbeat a quota gives back what its store does not use
//! (keeping one step of headroom), so an idle shard's share is there for a busy one. A
//! shard held below its even share says how much it lacks: the shards above theirs then
//! borrow nothing and give that much back on their next heartbeat (never going below their
//! even share), and the waiting shard takes it on its own. So one stream may use nearly all the memory while it is alone, and
//! every shard gets its even share back within a heartbeat of needing it.

use super::Shard;
use crate::config::Config;

/// A borrow is at least the even share over this.
const STEP_DIVISOR: u64 = 16;

impl Shard {
    /// Before `extra` more bytes go into the store: grows the quota if they would not fit.
    pub(super) fn make_quota_room(&self, extra: u64) {
        let usage = self.store.borrow().usage();
        let used = usage.stored_bytes + usage.inflight_bytes;
        let needed = (used + extra).saturating_sub(usage.budget);
        if needed == 0 {
            return;
        }
        let even = self.config().shard_cache_size();
        // While a shard below its even share waits, the pool is left to it.
        if usage.budget >= even && self.lending.wanted_back() > 0 {
            return;
        }
        let got = self.lending.borrow(needed.max(even / STEP_DIVISOR));
        let budget = usage.budget + got;
        if got > 0 {
            self.store.borrow_mut().set_budget(budget);
            self.publish_store();
        }
        if got < needed && budget < even {
            // A quarter of the even share at least, so a shard filling up does not wait
            // again for every object.
            let lacking = (needed - got)
                .max(4 * even / STEP_DIVISOR)
                .min(even - budget);
            let waiting = self.lending.waiting(self.id);
            self.lending.set_waiting(self.id, waiting.max(lacking));
        }
    }

    /// On the heartbeat. A shard that waits borrows what it lacks (what was given back since)
    /// and waits for the rest. One above its even share, while others wait, gives back as much
    /// as they wait for (evicting as it must, never below the even share). Otherwise the
    /// quota keeps what the store uses and one step more, and the rest goes to the pool.
    pub fn balance_quota(&self) {
        // Kept incomplete responses past their time leave the books first.
        self.drop_unusable_partials();
        let even = self.config().shard_cache_size();
        let step = even / STEP_DIVISOR;
        let usage = self.store.borrow().usage();
        let waiting = self.lending.waiting(self.id);
        if waiting > 0 {
            let got = self.lending.borrow(waiting);
            let budget = usage.budget + got;
            let lacking = if budget >= even { 0 } else { waiting - got };
            self.lending.set_waiting(self.id, lacking);
            if got > 0 {
                self.store.borrow_mut().set_budget(budget);
                self.publish_store();
            }
            return;
        }
        let used = usage.stored_bytes + usage.inflight_bytes;
        let mut keep = (used + step).min(usage.budget);
        // What other lenders gave back already (and the waiters did not take yet) counts.
        let wanted = self
            .lending
            .wanted_back()
            .saturating_sub(self.lending.free());
        if usage.budget > even && wanted > 0 {
            keep = keep.min(usage.budget.saturating_sub(wanted).max(even));
        }
        if keep < usage.budget {
            self.store.borrow_mut().set_budget(keep);
            self.lending.give_back(usage.budget - keep);
            self.publish_store();
        }
    }

    /// A reload changed `cache_size` to `next`'s: the shared total follows, and this quota
    /// moves to the new even share (giving back at once, or borrowing what is free now; the
    /// rest comes as the other shards adopt the reload).
    pub(super) fn adopt_budget(&self, next: &Config) {
        self.lending.set_total(next.cache_size);
        let even = next.shard_cache_size();
        let quota = self.store.borrow().usage().budget;
        let quota = if quota > even {
            self.lending.give_back(quota - even);
            even
        } else {
            quota + self.lending.borrow(even - quota)
        };
        self.store.borrow_mut().set_budget(quota);
    }
}
