//! This shard's quota of the cache budget the shards share (`cache::lending`; issue "Live
//! video II", item 2): the store's budget. When what is about to go in would not fit, the
//! quota first grows from what no other shard holds (by at least a sixteenth of the even
//! share, so a borrow is one compare-and-swap per several objects, not per chunk); only then
//! does the store evict. On every heartbeat a quota gives back what its store does not use
//! (keeping one step of headroom), so an idle shard's share is there for a busy one. A
//! shard held below its even share says it waits: the shards above theirs then borrow
//! nothing and shrink back to it on their next heartbeat. So one stream may use nearly all the memory while it is alone, and
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
        if usage.budget >= even && self.lending.wants_back() {
            return;
        }
        let got = self.lending.borrow(needed.max(even / STEP_DIVISOR));
        if got > 0 {
            self.store.borrow_mut().set_budget(usage.budget + got);
            self.publish_store();
        }
        if got < needed && usage.budget + got < even {
            self.lending.set_waiting(self.id, true);
        }
    }

    /// On the heartbeat: the quota keeps what the store uses and one step more, the rest
    /// goes back to the pool for shards that need it; while another shard below its even
    /// share waits, a quota above the even share shrinks to it, evicting as it must. This
    /// shard stops waiting once it has its even share or room to spare.
    pub fn balance_quota(&self) {
        let even = self.config().shard_cache_size();
        let step = even / STEP_DIVISOR;
        let usage = self.store.borrow().usage();
        let used = usage.stored_bytes + usage.inflight_bytes;
        if self.lending.is_waiting(self.id) && (usage.budget >= even || used + step <= usage.budget)
        {
            self.lending.set_waiting(self.id, false);
        }
        let mut keep = (used + step).min(usage.budget);
        if usage.budget > even && self.lending.wants_back() {
            keep = keep.min(even);
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
