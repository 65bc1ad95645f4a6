//! Per-shard figures and their merge. Counters and gauges live in each shard's `ShardStats`:
//! the shard is the only writer of its own block (relaxed atomic adds and stores, no locks),
//! and a reader on any thread sums the blocks on demand. Latency histograms (HDR) are not
//! atomics: each `Shard` keeps its own `Latency` (in `latency`, with the `Meter` that feeds
//! it) and hands a clone to whoever asks over the mesh (`shard::broadcast::collect_latency`);
//! the admin listener merges the clones on scrape. This
//! module knows no sockets and no glommio; `admin` renders what it holds.
//!
//! The label values every series is split by (methods, status classes, cache results, origin
//! error kinds) are declared once in `labels`.
//!
//! What a request counts as: every parsed request is one `requests` entry by method, status
//! class and cache result, with one sample in each response histogram. A request head that
//! could not be parsed is not a request: it counts only in `bad_requests` by status.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::StoreUsage;
use crate::http::Failure;

mod guards;
mod labels;
mod latency;
mod live;
pub mod streams;
pub mod upstreams;
pub use guards::{Guard, Guards};
pub use labels::{
    method_index, status_class_index, CacheResult, OriginErrorKind, BAD_STATUSES, METHODS,
    STATUS_CLASSES,
};
pub use latency::{Latency, Meter, Timing};
pub use live::{HoldResult, LiveStats};

const REQUEST_CELLS: usize = METHODS.len() * STATUS_CLASSES.len() * CacheResult::ALL.len();

fn request_cell(method: usize, class: usize, cache: CacheResult) -> usize {
    (method * STATUS_CLASSES.len() + class) * CacheResult::ALL.len() + cache as usize
}

/// One shard's counters and gauges.
#[derive(Debug)]
pub struct ShardStats {
    /// Parsed requests (all methods).
    pub requests: AtomicU64,
    /// Lookups on this shard as owner: fresh hits, misses, and misses collapsed onto a fetch.
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
    /// Evictions of idle streams' objects, and objects dropped once no playlist listed them
    /// (LIVE.md F7).
    pub store_idle_evictions: AtomicU64,
    pub store_dead_evictions: AtomicU64,
    /// Responses by method x status class x cache result (see `request_cell`).
    responses: [AtomicU64; REQUEST_CELLS],
    /// Bytes read from clients (request heads and bodies).
    pub bytes_received: AtomicU64,
    /// Bytes written to clients (response heads and bodies).
    pub bytes_sent: AtomicU64,
    /// `origin_errors` by kind, indexed by `OriginErrorKind`.
    origin_errors_by_kind: [AtomicU64; OriginErrorKind::ALL.len()],
    /// `bad_requests` by status, indexed as `BAD_STATUSES` plus one slot for any other.
    bad_requests_by_status: [AtomicU64; BAD_STATUSES.len() + 1],
    /// Failures livecache answered itself, by kind (`Failure::index`).
    failures: [AtomicU64; Failure::ALL.len()],
    /// Messages this shard sent to other shards on the data path (fetches, invalidations).
    pub mesh_messages: AtomicU64,
    /// Media requests that took an identical one's answer from the owner instead of asking
    /// it themselves (`shard::remote_flights`).
    pub remote_fetches_joined: AtomicU64,
    /// Upstream fetches this shard leads right now.
    pub inflight_fetches: AtomicU64,
    /// Bumped by a task on the shard's own executor: proof that the shard still runs.
    pub heartbeat: AtomicU64,
    /// The configuration version this shard runs.
    pub config_version: AtomicU64,
    /// Protections that fired, and client memory held outside the store.
    pub guards: Guards,
    /// Live-video holds, long-polls and playlist versions.
    pub live: LiveStats,
    /// Signed-URL requests refused, by `access::Denial`.
    pub access_denied: [AtomicU64; crate::access::Denial::ALL.len()],
    /// Signed-URL requests let through: [verified now, covered by the connection's grant].
    pub access_granted: [AtomicU64; 2],
    /// Incomplete responses (RFC 9111 3.3): [kept, ranges answered from them, completed].
    pub incomplete: [AtomicU64; 3],
}

impl Default for ShardStats {
    fn default() -> Self {
        ShardStats {
            requests: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            collapsed: AtomicU64::new(0),
            origin_requests: AtomicU64::new(0),
            origin_errors: AtomicU64::new(0),
            passes: AtomicU64::new(0),
            remote_requests: AtomicU64::new(0),
            overload_refusals: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            bad_requests: AtomicU64::new(0),
            store_budget: AtomicU64::new(0),
            store_bytes: AtomicU64::new(0),
            store_inflight_bytes: AtomicU64::new(0),
            store_peak_bytes: AtomicU64::new(0),
            store_objects: AtomicU64::new(0),
            store_evictions: AtomicU64::new(0),
            store_idle_evictions: AtomicU64::new(0),
            store_dead_evictions: AtomicU64::new(0),
            responses: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            origin_errors_by_kind: std::array::from_fn(|_| AtomicU64::new(0)),
            bad_requests_by_status: std::array::from_fn(|_| AtomicU64::new(0)),
            failures: std::array::from_fn(|_| AtomicU64::new(0)),
            mesh_messages: AtomicU64::new(0),
            remote_fetches_joined: AtomicU64::new(0),
            inflight_fetches: AtomicU64::new(0),
            heartbeat: AtomicU64::new(0),
            config_version: AtomicU64::new(1),
            guards: Guards::default(),
            live: LiveStats::default(),
            access_denied: std::array::from_fn(|_| AtomicU64::new(0)),
            access_granted: std::array::from_fn(|_| AtomicU64::new(0)),
            incomplete: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl ShardStats {
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
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
        self.store_idle_evictions
            .store(usage.idle_evictions, Ordering::Relaxed);
        self.store_dead_evictions
            .store(usage.dead_evictions, Ordering::Relaxed);
    }

    /// Counts a failed upstream exchange, in total and by kind.
    pub fn origin_error(&self, kind: OriginErrorKind) {
        Self::incr(&self.origin_errors);
        Self::incr(&self.origin_errors_by_kind[kind as usize]);
    }

    /// Counts a failure livecache answered itself, by kind; the client's are also bad
    /// requests, counted by the status they were answered with.
    pub fn failed(&self, failure: Failure) {
        Self::incr(&self.failures[failure.index()]);
        if failure.side() == crate::http::Side::Client {
            Self::incr(&self.bad_requests);
            let slot = BAD_STATUSES
                .iter()
                .position(|&s| s == failure.status())
                .unwrap_or(BAD_STATUSES.len());
            Self::incr(&self.bad_requests_by_status[slot]);
        }
    }

    /// Failures of this kind so far.
    pub fn failures_of(&self, failure: Failure) -> u64 {
        self.failures[failure.index()].load(Ordering::Relaxed)
    }

    /// Responses so far with this method, status class and cache result.
    pub fn responses(&self, method: usize, class: usize, cache: CacheResult) -> u64 {
        self.responses[request_cell(method, class, cache)].load(Ordering::Relaxed)
    }

    /// Origin errors so far of this kind.
    pub fn origin_errors_of_kind(&self, kind: OriginErrorKind) -> u64 {
        self.origin_errors_by_kind[kind as usize].load(Ordering::Relaxed)
    }

    /// Bad requests so far answered with `BAD_STATUSES[slot]` (the last slot: any other).
    pub fn bad_requests_in_slot(&self, slot: usize) -> u64 {
        self.bad_requests_by_status[slot].load(Ordering::Relaxed)
    }
}

/// Where the process stands, for `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    Starting = 0,
    Serving = 1,
    Draining = 2,
}

impl Readiness {
    pub fn label(self) -> &'static str {
        match self {
            Readiness::Starting => "starting",
            Readiness::Serving => "serving",
            Readiness::Draining => "draining",
        }
    }
}

/// Every shard's counters, indexed by shard id, and the process-wide figures.
#[derive(Debug)]
pub struct Stats {
    pub shards: Vec<ShardStats>,
    /// When the process started (for uptime).
    pub started: Instant,
    /// The configuration version in force: 1 at start, one more per applied reload.
    pub config_version: AtomicU64,
    /// Reloads that were rejected (the running configuration stayed).
    pub reload_failures: AtomicU64,
    /// Invalidations and purges so far, all shards together: a hot stream's replica made
    /// before the latest one is never served (`shard::replicas`).
    pub invalidations: AtomicU64,
    readiness: AtomicU8,
    /// Per parent shield: requests, errors, failovers, health.
    pub upstreams: upstreams::UpstreamRegistry,
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
            started: Instant::now(),
            config_version: AtomicU64::new(1),
            reload_failures: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            readiness: AtomicU8::new(Readiness::Starting as u8),
            upstreams: upstreams::UpstreamRegistry::default(),
        })
    }

    /// The sum of one counter over every shard.
    pub fn sum(&self, f: impl Fn(&ShardStats) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|s| f(s).load(Ordering::Relaxed))
            .sum()
    }

    pub fn totals(&self) -> Totals {
        Totals {
            requests: self.sum(|s| &s.requests),
            hits: self.sum(|s| &s.hits),
            misses: self.sum(|s| &s.misses),
            collapsed: self.sum(|s| &s.collapsed),
            origin_requests: self.sum(|s| &s.origin_requests),
            origin_errors: self.sum(|s| &s.origin_errors),
            passes: self.sum(|s| &s.passes),
            remote_requests: self.sum(|s| &s.remote_requests),
            overload_refusals: self.sum(|s| &s.overload_refusals),
            connections_open: self.sum(|s| &s.connections_open),
            connections_refused: self.sum(|s| &s.connections_refused),
            bad_requests: self.sum(|s| &s.bad_requests),
            store_budget: self.sum(|s| &s.store_budget),
            store_bytes: self.sum(|s| &s.store_bytes),
            store_objects: self.sum(|s| &s.store_objects),
            store_evictions: self.sum(|s| &s.store_evictions),
        }
    }

    /// Whether any shard's stored plus in-flight bytes ever exceeded its budget.
    pub fn budget_ever_exceeded(&self) -> bool {
        self.shards.iter().any(|s| {
            s.store_peak_bytes.load(Ordering::Relaxed) > s.store_budget.load(Ordering::Relaxed)
        })
    }

    pub fn readiness(&self) -> Readiness {
        match self.readiness.load(Ordering::Acquire) {
            0 => Readiness::Starting,
            1 => Readiness::Serving,
            _ => Readiness::Draining,
        }
    }

    /// Every shard serves. A drain that began first wins: it is never undone.
    pub fn set_serving(&self) {
        let _ = self.readiness.compare_exchange(
            Readiness::Starting as u8,
            Readiness::Serving as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// The drain began (the shutdown fired).
    pub fn set_draining(&self) {
        self.readiness
            .store(Readiness::Draining as u8, Ordering::Release);
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_requests_by_status() {
        let stats = ShardStats::default();
        stats.failed(Failure::HeadTooLarge);
        stats.failed(Failure::TooSlow);
        stats.failed(Failure::Overloaded);
        assert_eq!(stats.bad_requests.load(Ordering::Relaxed), 2);
        assert_eq!(stats.bad_requests_in_slot(3), 1);
        assert_eq!(stats.bad_requests_in_slot(BAD_STATUSES.len()), 1);
        assert_eq!(stats.failures_of(Failure::Overloaded), 1);
    }

    #[test]
    fn a_drain_is_never_undone() {
        let stats = Stats::new(1);
        assert_eq!(stats.readiness(), Readiness::Starting);
        stats.set_draining();
        stats.set_serving();
        assert_eq!(stats.readiness(), Readiness::Draining);
    }
}
