//! Latency histograms and the meter that feeds them. Each shard keeps its `Latency` (first
//! byte and total time by cache result, and the origin's head time, as HDR histograms with an
//! exact sum) inside the `Shard`, so recording is a plain add; readers get a clone and merge
//! them. A `Meter` follows one response as it is written and, when it finishes, records the
//! response in the shard's counters and histograms.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use super::streams::{ObjectKind, StreamResponse, StreamTable};
use super::upstreams::ActiveOrigins;
use super::{request_cell, status_class_index, CacheResult, ShardStats};
use crate::cache::Release;
use crate::http::Failure;

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

/// One shard's latency histograms, kept in its `Shard`: recording is a plain add, never an
/// atomic or a lock; readers get a clone.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// Request parsed to first response byte written, by `CacheResult`.
    pub first_byte: [Timing; CacheResult::ALL.len()],
    /// Request parsed to last response byte written, by `CacheResult`.
    pub total: [Timing; CacheResult::ALL.len()],
    /// Upstream request sent to response head parsed.
    pub origin: Timing,
    /// How long blocking playlist reloads were held before their answer (or 503).
    pub hold: Timing,
    /// From a playlist version's arrival to a held request's answer starting on its way: its
    /// first bytes handed to the client's socket, on the shard that holds the connection.
    pub hold_release: Timing,
    /// Per playlist version that released held requests, on its rendition's owner: from its
    /// arrival to its release starting (the long-poll's turn on the shard, the parse, the
    /// checks). What a held answer's `hold_release` adds to it is its place in the release.
    pub release_wait: Timing,
    /// Per such version, on the owner: from its release starting to the last held request
    /// woken, the answers written in place included.
    pub release_burst: Timing,
    /// From a prefetch's completion to the first viewer's request for it (zero when the
    /// viewer joined it in flight).
    pub prefetch_lead: Timing,
    /// Per-stream figures: they travel with the histograms, kept and merged the same way.
    pub streams: StreamTable,
    /// Streams off the primary origin; filled in when a scrape takes the copy.
    pub active_origins: ActiveOrigins,
}

impl Latency {
    /// A hold that ended after `held`: overall, and for its stream when known.
    pub fn record_hold(&mut self, stream: Option<&[u8]>, held: Duration) {
        self.hold.record(held);
        if let Some(stream) = stream {
            self.streams.held(stream, held);
        }
    }

    pub fn merge(&mut self, other: &Latency) {
        for (mine, theirs) in self.first_byte.iter_mut().zip(&other.first_byte) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.total.iter_mut().zip(&other.total) {
            mine.merge(theirs);
        }
        self.origin.merge(&other.origin);
        self.hold.merge(&other.hold);
        self.hold_release.merge(&other.hold_release);
        self.release_wait.merge(&other.release_wait);
        self.release_burst.merge(&other.release_burst);
        self.prefetch_lead.merge(&other.prefetch_lead);
        self.streams.merge(&other.streams);
        self.active_origins.merge(&other.active_origins);
    }
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
    failure: Option<Failure>,
    /// The stream and object kind, for the per-stream figures (cacheable reads only).
    stream: Option<(Bytes, ObjectKind)>,
    /// A held answer: when the playlist version it carries arrived (`hold_release`) and how
    /// long it was held (`hold`, and its stream's).
    release: Option<Release>,
    /// When the response was written whole (`None`: when it is recorded).
    ended: Option<Instant>,
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
            failure: None,
            stream: None,
            release: None,
            ended: None,
        }
    }

    /// The response belongs to `stream` and is an object of `kind`.
    pub fn for_stream(&mut self, stream: Bytes, kind: ObjectKind) {
        self.stream = Some((stream, kind));
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

    /// Time from the request head's parse to the response's end (to now while it is written).
    pub fn elapsed(&self) -> Duration {
        self.ended
            .unwrap_or_else(Instant::now)
            .duration_since(self.started)
    }

    /// The response is written: what its connection does next (letting held answers go
    /// first, its bookkeeping) is not its time.
    pub fn end(&mut self) {
        self.ended = Some(Instant::now());
    }

    /// The response head's status and how it relates to the cache.
    pub fn head(&mut self, status: u16, cache: CacheResult) {
        self.status = status;
        self.cache = cache;
    }

    /// The response is livecache's own answer to `failure`: its status, and whose fault.
    pub fn fail(&mut self, failure: Failure) {
        self.head(failure.status(), CacheResult::Error);
        self.failure = Some(failure);
    }

    /// The failure this response answered, if it did.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// When the request's head was parsed (the start of everything timed for it).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The response answers a held request with a new playlist version (`Release`).
    pub fn released(&mut self, release: Release) {
        self.release = Some(release);
    }

    /// `bytes` of the response were written.
    pub fn wrote(&mut self, bytes: usize) {
        self.wrote_when(bytes, Instant::now);
    }

    /// `bytes` of the response were written `at` (by a release, before its task ran).
    pub fn wrote_at(&mut self, bytes: usize, at: Instant) {
        self.wrote_when(bytes, || at);
    }

    /// `bytes` were written, at the instant `at` tells: asked only for the first bytes.
    fn wrote_when(&mut self, bytes: usize, at: impl FnOnce() -> Instant) {
        if bytes > 0 && self.first_byte.is_none() {
            self.first_byte = Some(at());
        }
        self.bytes += bytes as u64;
    }

    /// Records the response on the shard that wrote it: one request by `method` (an index of
    /// `METHODS`), its bytes in `stats`, and its latencies in that shard's `latency`.
    pub fn finish(self, stats: &ShardStats, latency: &mut Latency, method: usize) {
        let cell = request_cell(method, status_class_index(self.status), self.cache);
        ShardStats::incr(&stats.responses[cell]);
        ShardStats::add(&stats.bytes_sent, self.bytes);
        if let Some(failure) = self.failure {
            stats.failed(failure);
        }
        let now = self.ended.unwrap_or_else(Instant::now);
        let total = now.duration_since(self.started);
        let first_byte = self.first_byte.unwrap_or(now).duration_since(self.started);
        let index = self.cache as usize;
        latency.first_byte[index].record(first_byte);
        latency.total[index].record(total);
        if let Some(release) = self.release {
            let written = self.first_byte.unwrap_or(now);
            latency
                .hold_release
                .record(written.saturating_duration_since(release.version_arrived));
            let stream = self.stream.as_ref().map(|(stream, _)| &stream[..]);
            latency.record_hold(stream, release.held);
        }
        if let Some((stream, kind)) = &self.stream {
            let response = StreamResponse {
                kind: *kind,
                status: self.status,
                cache: self.cache,
                bytes: self.bytes,
                first_byte,
            };
            latency.streams.record(stream, &response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::Method;
    use crate::metrics::method_index;
    use std::sync::atomic::Ordering;

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
        let mut latency = Latency::default();
        meter.finish(&stats, &mut latency, method_index(&Method::Head));
        assert_eq!(stats.responses(1, 1, CacheResult::Hit), 1);
        assert_eq!(stats.bytes_sent.load(Ordering::Relaxed), 15);
        assert_eq!(latency.first_byte[CacheResult::Hit as usize].count(), 1);
        assert_eq!(latency.total[CacheResult::Hit as usize].count(), 1);
    }

    #[test]
    fn an_answer_written_at_its_release_is_timed_to_that_write() {
        let stats = ShardStats::default();
        let arrived = Instant::now();
        let at = arrived + Duration::from_micros(1_500);
        let mut meter = Meter::start();
        meter.head(200, CacheResult::Miss);
        meter.released(Release {
            version_arrived: arrived,
            held: Duration::from_millis(300),
        });
        meter.wrote_at(0, arrived);
        meter.wrote_at(600, at);
        meter.wrote(100);
        let mut latency = Latency::default();
        meter.finish(&stats, &mut latency, method_index(&Method::Get));
        assert_eq!(stats.bytes_sent.load(Ordering::Relaxed), 700);
        assert_eq!(latency.hold_release.count(), 1);
        assert_eq!(
            latency.hold_release.sum_us, 1_500,
            "from the version to the first bytes"
        );
    }

    #[test]
    fn a_released_answer_records_its_hold_and_its_time_once_written() {
        let stats = ShardStats::default();
        let arrived = Instant::now();
        let mut meter = Meter::start();
        meter.for_stream(Bytes::from_static(b"/live/s1"), ObjectKind::Playlist);
        meter.head(200, CacheResult::Miss);
        meter.released(Release {
            version_arrived: arrived,
            held: Duration::from_millis(300),
        });
        meter.wrote(700);
        // Its time ends with its write, not when the connection gets to record it.
        meter.end();
        let taken = meter.elapsed();
        // The clock moves on (a spin of nanoseconds, not a sleep); the response's time does not.
        let after = Instant::now();
        while Instant::now() == after {}
        assert_eq!(meter.elapsed(), taken);
        let mut latency = Latency::default();
        meter.finish(&stats, &mut latency, method_index(&Method::Get));
        assert_eq!(latency.hold.count(), 1);
        assert_eq!(latency.hold.sum_us, 300_000);
        assert_eq!(latency.hold_release.count(), 1);
        let streams = latency.streams.top(10);
        let (name, counters) = &streams[0];
        assert_eq!(name, "/live/s1");
        assert_eq!(counters.hold_seconds.sum_us, 300_000);
    }
}
