//! Per-shard figures and their merge. Counters and gauges live in each shard's `ShardStats`:
//! the shard is the only writer of its own block (relaxed atomic adds and stores, no locks),
//! and a reader on any thread sums the blocks on demand. Latency histograms (HDR) are not
//! atomics: each shard keeps its own in a thread-local `Latency` (a shard is exactly one
//! executor thread, so this is the shard's private state) and hands a clone to whoever asks
//! over the mesh (`shard::mesh::collect_latency`); the admin listener merges the clones on
//! scrape. This module knows no sockets and no glommio; `admin` renders what it holds.
//!
//! What a request counts as: every parsed request is one `requests` entry by method, status
//! class and cache result, with one sample in each response histogram. A request head that
//! could not be parsed is not a request: it counts only in `bad_requests` by status.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::cache::StoreUsage;
use crate::http::request::Method;

mod guards;
pub use guards::{Guard, Guards};

/// Methods counted apart in `livecache_requests_total`; anything else is `OTHER`.
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
];
/// Status classes of `livecache_requests_total` (a code outside 1xx..5xx counts as 5xx).
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Statuses livecache answers bad input with; any other counts under the last slot.
pub const BAD_STATUSES: [u16; 5] = [400, 413, 414, 431, 501];
/// Kinds of upstream failure, as labelled in `livecache_origin_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginErrorKind {
    Connect = 0,
    Timeout = 1,
    Protocol = 2,
    Io = 3,
}

impl OriginErrorKind {
    pub const ALL: [OriginErrorKind; 4] = [
        OriginErrorKind::Connect,
        OriginErrorKind::Timeout,
        OriginErrorKind::Protocol,
        OriginErrorKind::Io,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OriginErrorKind::Connect => "connect",
            OriginErrorKind::Timeout => "timeout",
            OriginErrorKind::Protocol => "protocol",
            OriginErrorKind::Io => "io",
        }
    }
}

/// How a response relates to the cache, as labelled in the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheResult {
    Hit = 0,
    Miss = 1,
    Collapsed = 2,
    Pass = 3,
    /// livecache answered itself: the origin failed before a head, overload, a bad body.
    Error = 4,
}

impl CacheResult {
    /// The coarse class of a response's `Cache-Status`, counted in metrics and the access log.
    pub fn of(status: &crate::cache::CacheStatus) -> CacheResult {
        use crate::cache::Fwd;
        match status.fwd {
            None => CacheResult::Hit,
            Some(Fwd::Pass) => CacheResult::Pass,
            Some(_) if status.collapsed => CacheResult::Collapsed,
            Some(_) => CacheResult::Miss,
        }
    }

    pub const ALL: [CacheResult; 5] = [
        CacheResult::Hit,
        CacheResult::Miss,
        CacheResult::Collapsed,
        CacheResult::Pass,
        CacheResult::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Miss => "miss",
            CacheResult::Collapsed => "collapsed",
            CacheResult::Pass => "pass",
            CacheResult::Error => "error",
        }
    }
}

/// Index of a method in `METHODS`.
pub fn method_index(method: &Method) -> usize {
    match method {
        Method::Get => 0,
        Method::Head => 1,
        Method::Post => 2,
        Method::Put => 3,
        Method::Delete => 4,
        Method::Patch => 5,
        Method::Options => 6,
        Method::Other(_) => 7,
    }
}

/// Index of a status in `STATUS_CLASSES`.
pub fn status_class_index(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

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
    /// Messages this shard sent to other shards on the data path (fetches, invalidations).
    pub mesh_messages: AtomicU64,
    /// Upstream fetches this shard leads right now.
    pub inflight_fetches: AtomicU64,
    /// Bumped by a task on the shard's own executor: proof that the shard still runs.
    pub heartbeat: AtomicU64,
    /// The configuration version this shard runs.
    pub config_version: AtomicU64,
    /// Protections that fired, and client memory held outside the store.
    pub guards: Guards,
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
            responses: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            origin_errors_by_kind: std::array::from_fn(|_| AtomicU64::new(0)),
            bad_requests_by_status: std::array::from_fn(|_| AtomicU64::new(0)),
            mesh_messages: AtomicU64::new(0),
            inflight_fetches: AtomicU64::new(0),
            heartbeat: AtomicU64::new(0),
            config_version: AtomicU64::new(1),
            guards: Guards::default(),
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
    }

    /// Counts a failed upstream exchange, in total and by kind.
    pub fn origin_error(&self, kind: OriginErrorKind) {
        Self::incr(&self.origin_errors);
        Self::incr(&self.origin_errors_by_kind[kind as usize]);
    }

    /// Counts input refused with `status`, in total and by status.
    pub fn bad_request(&self, status: u16) {
        Self::incr(&self.bad_requests);
        let slot = BAD_STATUSES
            .iter()
            .position(|&s| s == status)
            .unwrap_or(BAD_STATUSES.len());
        Self::incr(&self.bad_requests_by_status[slot]);
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
    readiness: AtomicU8,
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
            readiness: AtomicU8::new(Readiness::Starting as u8),
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

/// Largest latency tracked exactly enough (1 h, in microseconds); longer ones saturate.
const LATENCY_MAX_US: u64 = 3_600_000_000;
/// Two significant digits: under 1 % error, about 25 KiB per histogram.
const LATENCY_SIGFIG: u8 = 2;

/// One latency distribution in microseconds: an HDR histogram plus the exact sum, which HDR
/// does not keep (Prometheus wants `_sum`).
#[derive(Clone, Debug)]
pub struct Timing {
    pub hdr: Histogram<u64>,
    pub sum_us: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            hdr: Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGFIG)
                .expect("valid HDR bounds"),
            sum_us: 0,
        }
    }
}

impl Timing {
    pub fn record(&mut self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.hdr.saturating_record(us);
        self.sum_us = self.sum_us.saturating_add(us);
    }

    pub fn count(&self) -> u64 {
        self.hdr.len()
    }

    /// Adds `other`'s samples to this one.
    pub fn merge(&mut self, other: &Timing) {
        // Same bounds on both sides, so this cannot fail.
        let _ = self.hdr.add(&other.hdr);
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    /// Samples per bucket (not cumulative) for the upper bounds `bounds_us`, plus one last
    /// count for `+Inf`. A sample is placed by the highest value HDR may have rounded it
    /// from, so a latency is never reported in a faster bucket than it was.
    pub fn buckets(&self, bounds_us: &[u64]) -> Vec<u64> {
        let mut counts = vec![0u64; bounds_us.len() + 1];
        for value in self.hdr.iter_recorded() {
            let v = value.value_iterated_to();
            let slot = bounds_us
                .iter()
                .position(|&b| v <= b)
                .unwrap_or(bounds_us.len());
            counts[slot] += value.count_at_value();
        }
        counts
    }
}

/// One shard's latency histograms. Shard-local (a thread-local of its executor): recording
/// is a plain add, never an atomic or a lock; readers get a clone (`local_latency`).
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// Request parsed to first response byte written, by `CacheResult`.
    pub first_byte: [Timing; 5],
    /// Request parsed to last response byte written, by `CacheResult`.
    pub total: [Timing; 5],
    /// Upstream request sent to response head parsed.
    pub origin: Timing,
}

impl Latency {
    pub fn merge(&mut self, other: &Latency) {
        for (mine, theirs) in self.first_byte.iter_mut().zip(&other.first_byte) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.total.iter_mut().zip(&other.total) {
            mine.merge(theirs);
        }
        self.origin.merge(&other.origin);
    }
}

thread_local! {
    static LATENCY: RefCell<Option<Box<Latency>>> = const { RefCell::new(None) };
}

fn with_latency(f: impl FnOnce(&mut Latency)) {
    LATENCY.with(|cell| f(cell.borrow_mut().get_or_insert_with(Default::default)));
}

/// A clone of this shard's (this thread's) latency histograms.
pub fn local_latency() -> Latency {
    LATENCY.with(|cell| cell.borrow().as_deref().cloned().unwrap_or_default())
}

/// Records how long the origin took to send a response head.
pub fn record_origin(elapsed: Duration) {
    with_latency(|l| l.origin.record(elapsed));
}

/// Follows one response as it is written: the status and cache result once known, how long
/// the upstream took to produce a head, and every write (for the bytes sent and the
/// first-byte time). `finish` records it all; the access log reads it first.
#[derive(Debug)]
pub struct Meter {
    started: Instant,
    first_byte: Option<Instant>,
    status: u16,
    cache: CacheResult,
    bytes: u64,
    upstream: Option<Duration>,
}

impl Meter {
    /// Starts timing a request whose head was just parsed.
    pub fn start() -> Meter {
        Meter {
            started: Instant::now(),
            first_byte: None,
            status: 500,
            cache: CacheResult::Error,
            bytes: 0,
            upstream: None,
        }
    }

    /// How long this request waited for an upstream response head (or for the upstream to
    /// fail): the origin exchange of a pass, the wait for the owner's head on a miss.
    pub fn upstream(&mut self, waited: Duration) {
        self.upstream = Some(waited);
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn cache_result(&self) -> CacheResult {
        self.cache
    }

    /// Bytes written to the client so far (head and body).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The upstream wait, if the response involved the upstream (see `upstream`).
    pub fn upstream_time(&self) -> Option<Duration> {
        self.upstream
    }

    /// Time since the request head was parsed.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The response head's status and how it relates to the cache.
    pub fn head(&mut self, status: u16, cache: CacheResult) {
        self.status = status;
        self.cache = cache;
    }

    /// `bytes` of the response were written.
    pub fn wrote(&mut self, bytes: usize) {
        if bytes > 0 && self.first_byte.is_none() {
            self.first_byte = Some(Instant::now());
        }
        self.bytes += bytes as u64;
    }

    /// Records the response on the shard that wrote it: one request by `method` (an index of
    /// `METHODS`), its bytes, and its latencies.
    pub fn finish(self, stats: &ShardStats, method: usize) {
        let cell = request_cell(method, status_class_index(self.status), self.cache);
        ShardStats::incr(&stats.responses[cell]);
        ShardStats::add(&stats.bytes_sent, self.bytes);
        let now = Instant::now();
        let total = now.duration_since(self.started);
        let first_byte = self.first_byte.unwrap_or(now).duration_since(self.started);
        let index = self.cache as usize;
        with_latency(|l| {
            l.first_byte[index].record(first_byte);
            l.total[index].record(total);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_place_samples_at_or_above_their_value() {
        let mut t = Timing::default();
        for us in [100, 400, 900, 3_000, 2_000_000, 20_000_000] {
            t.record(Duration::from_micros(us));
        }
        let counts = t.buckets(&[500, 1_000, 5_000, 10_000_000]);
        assert_eq!(counts, vec![2, 1, 1, 1, 1]);
        assert_eq!(t.count(), 6);
        assert_eq!(t.sum_us, 22_004_400);
    }

    #[test]
    fn merge_adds_counts_and_sums() {
        let mut a = Latency::default();
        let mut b = Latency::default();
        a.total[0].record(Duration::from_millis(1));
        b.total[0].record(Duration::from_millis(3));
        b.origin.record(Duration::from_millis(2));
        a.merge(&b);
        assert_eq!(a.total[0].count(), 2);
        assert_eq!(a.total[0].sum_us, 4_000);
        assert_eq!(a.origin.count(), 1);
    }

    #[test]
    fn meter_counts_one_request_by_its_labels() {
        let stats = ShardStats::default();
        let mut meter = Meter::start();
        meter.head(204, CacheResult::Hit);
        meter.wrote(10);
        meter.wrote(5);
        meter.finish(&stats, method_index(&Method::Head));
        assert_eq!(stats.responses(1, 1, CacheResult::Hit), 1);
        assert_eq!(stats.bytes_sent.load(Ordering::Relaxed), 15);
        let latency = local_latency();
        assert_eq!(latency.first_byte[CacheResult::Hit as usize].count(), 1);
        assert_eq!(latency.total[CacheResult::Hit as usize].count(), 1);
    }

    #[test]
    fn bad_requests_by_status() {
        let stats = ShardStats::default();
        stats.bad_request(431);
        stats.bad_request(999);
        assert_eq!(stats.bad_requests.load(Ordering::Relaxed), 2);
        assert_eq!(stats.bad_requests_in_slot(3), 1);
        assert_eq!(stats.bad_requests_in_slot(BAD_STATUSES.len()), 1);
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
