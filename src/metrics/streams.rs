//! Per-stream figures (LIVE.md F11) with bounded cardinality: for each stream (the stream key:
//! host and path prefix), requests and bytes by object kind, hits, misses, the requests sent
//! to the origin (the coalescing ratio is client requests over those), client and server
//! errors, a coarse time-to-first-byte histogram, its blocking playlist reloads (held now, how
//! long they were held, how they were answered), and how many of its renditions are stale
//! now. Each shard keeps its own
//! table beside its latency histograms (plain adds, no lock), of at most
//! [`MAX_STREAMS_PER_SHARD`] streams (later ones count as `other`); a scrape merges the
//! shards' copies as it merges the histograms and labels the top streams by requests,
//! summing the rest into `other`.

use std::collections::HashMap;
use std::time::Duration;

use super::{CacheResult, HoldResult};
use crate::live;

/// Streams one shard keeps apart; requests for more count under `other`.
pub const MAX_STREAMS_PER_SHARD: usize = 2048;
/// The label of every stream beyond the tracked or exported ones.
pub const OTHER: &str = "other";
/// Upper bounds of the per-stream first-byte histogram, in seconds (`+Inf` on top).
pub const FIRST_BYTE_BOUNDS: [f64; COARSE_BOUNDS] = [0.001, 0.005, 0.02, 0.1, 0.5];
/// Upper bounds of the per-stream hold histogram, in seconds: within a part target (LL-HLS
/// parts are 0.2 to 1 s), within a segment, and the three-target-duration deadline's range.
pub const HOLD_BOUNDS: [f64; COARSE_BOUNDS] = [0.1, 0.5, 1.0, 4.0, 12.0];

/// Bounds a [`Coarse`] histogram has (seconds), `+Inf` besides.
pub const COARSE_BOUNDS: usize = 5;

/// A coarse histogram over [`COARSE_BOUNDS`] upper bounds and `+Inf`: counts per bucket (not
/// cumulative, `+Inf` last) and the sum in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coarse {
    pub counts: [u64; COARSE_BOUNDS + 1],
    pub sum_us: u64,
}

impl Coarse {
    pub fn record(&mut self, bounds: &[f64; COARSE_BOUNDS], value: Duration) {
        let seconds = value.as_secs_f64();
        let bucket = bounds.iter().position(|&b| seconds <= b);
        self.counts[bucket.unwrap_or(COARSE_BOUNDS)] += 1;
        let us = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_us = self.sum_us.saturating_add(us);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn add(&mut self, other: &Coarse) {
        let pairs = self.counts.iter_mut().zip(&other.counts);
        pairs.for_each(|(x, y)| *x += y);
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }
}

/// What a request asked for, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Playlist = 0,
    /// A playlist request with LL-HLS delivery directives.
    BlockingPlaylist = 1,
    /// An initialization section.
    Init = 2,
    /// A media segment or part.
    Media = 3,
    Other = 4,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 5] = [
        ObjectKind::Playlist,
        ObjectKind::BlockingPlaylist,
        ObjectKind::Init,
        ObjectKind::Media,
        ObjectKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::Playlist => "playlist",
            ObjectKind::BlockingPlaylist => "blocking_playlist",
            ObjectKind::Init => "init",
            ObjectKind::Media => "media",
            ObjectKind::Other => "other",
        }
    }

    /// The kind of a request for `target` (path and query), by name: a manifest, a
    /// playlist with `_HLS_msn` or `_HLS_part`, a file named `init*` or with an init extension, a media file.
    pub fn of(target: &[u8]) -> ObjectKind {
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(q) => (&target[..q], &target[q + 1..]),
            None => (target, &[][..]),
        };
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
        if live::is_playlist_path_bytes(name) {
            let directive = contains_ignore_case(query, b"_hls_msn=")
                || contains_ignore_case(query, b"_hls_part=");
            return if directive {
                ObjectKind::BlockingPlaylist
            } else {
                ObjectKind::Playlist
            };
        }
        if live::is_mpd_path(name) {
            return ObjectKind::Playlist;
        }
        if name.len() >= 4 && name[..4].eq_ignore_ascii_case(b"init") {
            return ObjectKind::Init;
        }
        if live::is_media_path(name) {
            ObjectKind::Media
        } else {
            ObjectKind::Other
        }
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// One stream's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamCounters {
    pub requests: [u64; ObjectKind::ALL.len()],
    pub bytes: [u64; ObjectKind::ALL.len()],
    pub hits: u64,
    /// Requests that went upstream themselves (not joined to another's fetch).
    pub misses: u64,
    /// Requests livecache sent the origin for this stream (fetches, revalidations,
    /// refreshes, long-polls): client requests over these is the coalescing ratio.
    pub origin_requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// Request head to first response byte, per [`FIRST_BYTE_BOUNDS`].
    pub first_byte: Coarse,
    pub holds: [u64; HoldResult::ALL.len()],
    /// How long its blocking reloads were held before their answer, per [`HOLD_BOUNDS`].
    pub hold_seconds: Coarse,
    /// Its blocking reloads held right now (a gauge: a stream's holds live on its owner shard
    /// alone, so merging by sum is exact).
    pub holds_active: u64,
    /// Its renditions whose playlist stopped advancing, now (a gauge: the renditions of a
    /// stream live on its owner shard alone, so merging by sum is exact).
    pub stale_renditions: u64,
    /// Its prefetches by outcome: used, wasted, failed (LIVE.md F4, F11).
    pub prefetches: [u64; 3],
}

impl StreamCounters {
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().sum()
    }

    fn add(&mut self, other: &StreamCounters) {
        let sum = |a: &mut [u64], b: &[u64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        sum(&mut self.requests, &other.requests);
        sum(&mut self.bytes, &other.bytes);
        sum(&mut self.holds, &other.holds);
        sum(&mut self.prefetches, &other.prefetches);
        self.first_byte.add(&other.first_byte);
        self.hold_seconds.add(&other.hold_seconds);
        self.holds_active += other.holds_active;
        self.hits += other.hits;
        self.origin_requests += other.origin_requests;
        self.misses += other.misses;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.stale_renditions += other.stale_renditions;
    }
}

/// One finished response, as a stream's counters take it.
pub struct StreamResponse {
    pub kind: ObjectKind,
    pub status: u16,
    pub cache: CacheResult,
    pub bytes: u64,
    pub first_byte: Duration,
}

/// One shard's per-stream table (or several merged).
#[derive(Clone, Debug, Default)]
pub struct StreamTable {
    streams: HashMap<Box<[u8]>, StreamCounters>,
}

impl StreamTable {
    pub fn record(&mut self, stream: &[u8], response: &StreamResponse) {
        self.with(stream, |c| {
            let kind = response.kind as usize;
            c.requests[kind] += 1;
            c.bytes[kind] += response.bytes;
            match response.cache {
                CacheResult::Hit => c.hits += 1,
                CacheResult::Miss => c.misses += 1,
                _ => {}
            }
            match response.status {
                400..=499 => c.client_errors += 1,
                500..=599 => c.server_errors += 1,
                _ => {}
            }
            c.first_byte.record(&FIRST_BYTE_BOUNDS, response.first_byte);
        });
    }

    pub fn origin_request(&mut self, stream: &[u8]) {
        self.with(stream, |c| c.origin_requests += 1);
    }

    /// One of the stream's renditions became stale (`true`) or advanced again.
    pub fn stale(&mut self, stream: &[u8], stale: bool) {
        self.with(stream, |c| {
            c.stale_renditions = if stale {
                c.stale_renditions + 1
            } else {
                c.stale_renditions.saturating_sub(1)
            }
        });
    }

    pub fn hold(&mut self, stream: &[u8], result: HoldResult, n: u64) {
        self.with(stream, |c| c.holds[result as usize] += n);
    }

    /// A blocking reload of the stream was answered after `held`.
    pub fn held(&mut self, stream: &[u8], held: Duration) {
        self.with(stream, |c| c.hold_seconds.record(&HOLD_BOUNDS, held));
    }

    /// `added` blocking reloads of the stream began to wait, `removed` stopped.
    pub fn holds_active(&mut self, stream: &[u8], added: u64, removed: u64) {
        self.with(stream, |c| {
            c.holds_active = (c.holds_active + added).saturating_sub(removed)
        });
    }

    /// Adds `other`'s counts (another shard's table) to these.
    /// One of the stream's prefetches ended as `outcome` (0 used, 1 wasted, 2 failed).
    pub fn prefetch(&mut self, stream: &[u8], outcome: usize) {
        self.with(stream, |c| c.prefetches[outcome.min(2)] += 1);
    }

    pub fn merge(&mut self, other: &StreamTable) {
        for (stream, counters) in &other.streams {
            self.streams
                .entry(stream.clone())
                .or_default()
                .add(counters);
        }
    }

    fn with(&mut self, stream: &[u8], f: impl FnOnce(&mut StreamCounters)) {
        let streams = &mut self.streams;
        if let Some(counters) = streams.get_mut(stream) {
            return f(counters);
        }
        let key: Box<[u8]> = if streams.len() < MAX_STREAMS_PER_SHARD {
            stream.into()
        } else {
            OTHER.as_bytes().into()
        };
        f(streams.entry(key).or_default());
    }

    /// The `labels` streams with the most requests by name, then everything else summed as
    /// `other` (present only when something was summed).
    pub fn top(&self, labels: usize) -> Vec<(String, StreamCounters)> {
        let mut merged = self.streams.clone();
        let mut other = merged.remove(OTHER.as_bytes());
        let mut all: Vec<_> = merged.into_iter().collect();
        all.sort_by(|a, b| {
            b.1.total_requests()
                .cmp(&a.1.total_requests())
                .then_with(|| a.0.cmp(&b.0))
        });
        let rest = all.split_off(all.len().min(labels));
        for (_, counters) in rest {
            other
                .get_or_insert_with(StreamCounters::default)
                .add(&counters);
        }
        let mut out: Vec<_> = all
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect();
        out.extend(other.map(|o| (OTHER.to_string(), o)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(kind: ObjectKind, cache: CacheResult, ms: u64) -> StreamResponse {
        StreamResponse {
            kind,
            status: 200,
            cache,
            bytes: 10,
            first_byte: Duration::from_millis(ms),
        }
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(ObjectKind::of(b"/l/r0/index.m3u8"), ObjectKind::Playlist);
        assert_eq!(
            ObjectKind::of(b"/l/r0/index.m3u8?_HLS_msn=3&_HLS_part=1"),
            ObjectKind::BlockingPlaylist
        );
        assert_eq!(ObjectKind::of(b"/l/manifest.mpd"), ObjectKind::Playlist);
        assert_eq!(ObjectKind::of(b"/l/r0/init.mp4"), ObjectKind::Init);
        assert_eq!(ObjectKind::of(b"/l/r0/seg-1.2.m4s?x=1"), ObjectKind::Media);
        assert_eq!(ObjectKind::of(b"/l/r0/seg-1.ts"), ObjectKind::Media);
        assert_eq!(ObjectKind::of(b"/favicon.ico"), ObjectKind::Other);
    }

    #[test]
    fn the_busiest_streams_get_labels_and_the_rest_is_other() {
        let (mut a, mut b) = (StreamTable::default(), StreamTable::default());
        for i in 0..5u64 {
            let name = format!("h/s{i}");
            for _ in 0..=i {
                a.record(
                    name.as_bytes(),
                    &response(ObjectKind::Media, CacheResult::Hit, 1),
                );
            }
        }
        b.record(
            b"h/s0",
            &response(ObjectKind::Playlist, CacheResult::Miss, 30),
        );
        b.hold(b"h/s0", HoldResult::Satisfied, 1);
        b.held(b"h/s0", Duration::from_millis(300));
        b.holds_active(b"h/s0", 3, 1);
        a.merge(&b);
        let top = a.top(2);
        let names: Vec<_> = top.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["h/s4", "h/s3", OTHER]);
        let other = &top[2].1;
        // s0 (1 + 1), s1 (2), s2 (3).
        assert_eq!(other.total_requests(), 7);
        assert_eq!((other.hits, other.misses), (6, 1));
        assert_eq!(other.holds[HoldResult::Satisfied as usize], 1);
        assert_eq!(other.hold_seconds.counts, [0, 1, 0, 0, 0, 0]);
        assert_eq!(other.hold_seconds.sum_us, 300_000);
        assert_eq!(other.holds_active, 2);
        assert_eq!(other.first_byte.counts[0], 6);
        assert_eq!(other.first_byte.counts[3], 1);
        let top = a.top(10);
        assert_eq!(top.len(), 5, "nothing summed, no other");
    }

    #[test]
    fn a_shard_keeps_a_bounded_number_of_streams() {
        let mut table = StreamTable::default();
        for i in 0..MAX_STREAMS_PER_SHARD + 10 {
            let name = format!("s{i}");
            table.record(
                name.as_bytes(),
                &response(ObjectKind::Media, CacheResult::Hit, 1),
            );
        }
        assert_eq!(table.streams.len(), MAX_STREAMS_PER_SHARD + 1);
        assert_eq!(table.streams[OTHER.as_bytes()].total_requests(), 10);
    }
}
