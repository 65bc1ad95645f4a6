//! Per-shard counters. Each shard is the only writer of its own block (relaxed atomic stores,
//! no locks); readers on any thread merge the blocks on demand. These figures back the test
//! hooks today and the Prometheus endpoint later.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::cache::StoreUsage;

/// One shard's counters.
#[derive(Debug, Default)]
pub struct ShardStats {
    pub requests: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub collapsed: AtomicU64,
    pub origin_requests: AtomicU64,
    pub origin_errors: AtomicU64,
    pub passes: AtomicU64,
    pub remote_requests: AtomicU64,
    pub overload_refusals: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_refused: AtomicU64,
    pub bad_requests: AtomicU64,
    pub store_budget: AtomicU64,
    pub store_bytes: AtomicU64,
    pub store_inflight_bytes: AtomicU64,
    pub store_peak_bytes: AtomicU64,
    pub store_objects: AtomicU64,
    pub store_evictions: AtomicU64,
}

impl ShardStats {
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Publishes the store's accounting after a change.
    pub fn set_store(&self, usage: StoreUsage) {
        self.store_budget.store(usage.budget, Ordering::Relaxed);
        self.store_bytes
            .store(usage.stored_bytes, Ordering::Relaxed);
        self.store_inflight_bytes
            .store(usage.inflight_bytes, Ordering::Relaxed);
        self.store_peak_bytes
            .store(usage.peak_bytes, Ordering::Relaxed);
        self.store_objects.store(usage.objects, Ordering::Relaxed);
        self.store_evictions
            .store(usage.evictions, Ordering::Relaxed);
    }
}

/// Every shard's counters, indexed by shard id.
#[derive(Debug)]
pub struct Stats {
    pub shards: Vec<ShardStats>,
}

/// A merged reading across shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    pub collapsed: u64,
    pub origin_requests: u64,
    pub origin_errors: u64,
    pub passes: u64,
    pub remote_requests: u64,
    pub overload_refusals: u64,
    pub connections_open: u64,
    pub connections_refused: u64,
    pub bad_requests: u64,
    pub store_budget: u64,
    pub store_bytes: u64,
    pub store_objects: u64,
    pub store_evictions: u64,
}

impl Stats {
    pub fn new(shards: usize) -> Arc<Stats> {
        Arc::new(Stats {
            shards: (0..shards).map(|_| ShardStats::default()).collect(),
        })
    }

    pub fn totals(&self) -> Totals {
        let sum = |f: fn(&ShardStats) -> &AtomicU64| {
            self.shards
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        Totals {
            requests: sum(|s| &s.requests),
            hits: sum(|s| &s.hits),
            misses: sum(|s| &s.misses),
            collapsed: sum(|s| &s.collapsed),
            origin_requests: sum(|s| &s.origin_requests),
            origin_errors: sum(|s| &s.origin_errors),
            passes: sum(|s| &s.passes),
            remote_requests: sum(|s| &s.remote_requests),
            overload_refusals: sum(|s| &s.overload_refusals),
            connections_open: sum(|s| &s.connections_open),
            connections_refused: sum(|s| &s.connections_refused),
            bad_requests: sum(|s| &s.bad_requests),
            store_budget: sum(|s| &s.store_budget),
            store_bytes: sum(|s| &s.store_bytes),
            store_objects: sum(|s| &s.store_objects),
            store_evictions: sum(|s| &s.store_evictions),
        }
    }

    /// Whether any shard's stored plus in-flight bytes ever exceeded its budget.
    pub fn budget_ever_exceeded(&self) -> bool {
        self.shards.iter().any(|s| {
            s.store_peak_bytes.load(Ordering::Relaxed) > s.store_budget.load(Ordering::Relaxed)
        })
    }
}
