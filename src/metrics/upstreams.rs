//! Figures per upstream (issue "Origin-shield tiers", item 7): each parent shield (by its id)
//! and each origin (`origin:HOST:PORT`). Requests sent to it, errors by whether they happened
//! before any response byte (connect error or timeout, the ones that move a request to the
//! next candidate) or after, failovers away from it, how many shards consider it down now,
//! and what its health probes say. Counters are created the first time an id is seen and kept
//! for the life of the process, so a reload that drops and re-adds one does not make its
//! counters go backwards; shards take their `Arc`s once per configuration, so the data path
//! touches only atomics. [`ActiveOrigins`] says which streams left the primary origin (LIVE.md
//! F9) and where they are now; each shard lists its own at a scrape.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

// Control plane: locked when a shard adopts a configuration and by scrapes, never per request.
#[allow(clippy::disallowed_types)]
type Registered = std::sync::Mutex<Vec<(String, Arc<UpstreamCounters>)>>;

/// One parent's counters, shared by every shard.
#[derive(Debug, Default)]
pub struct UpstreamCounters {
    pub requests: AtomicU64,
    /// Failed before any response byte: tried elsewhere if a candidate was left.
    pub errors_before_response: AtomicU64,
    /// Failed once the response had begun (cut, broken, silent).
    pub errors_during_response: AtomicU64,
    /// Requests moved from this parent to the next candidate.
    pub failovers: AtomicU64,
    /// Shards that consider it down now (passive ejection).
    pub down_on: AtomicU64,
    /// Its `/readyz` failed three probes in a row (active health, `shard::probes`).
    pub probed_down: AtomicBool,
    /// Probes in a row that failed, and that passed.
    pub probe_failures: AtomicU64,
    pub probe_successes: AtomicU64,
    /// From a request sent to its response head, per bucket of `RESPONSE_BOUNDS` (not
    /// cumulative, `+Inf` last), and their sum in microseconds.
    pub response_buckets: [AtomicU64; RESPONSE_BOUNDS.len() + 1],
    pub response_sum_us: AtomicU64,
}

/// Upper bounds of the per-upstream response-time histogram, in seconds: a shield's hit, a
/// LAN origin, a far origin, a slow one, and the timeouts' range.
pub const RESPONSE_BOUNDS: [f64; 8] = [0.001, 0.005, 0.02, 0.05, 0.1, 0.5, 2.0, 10.0];

impl UpstreamCounters {
    /// Records one response head that came `elapsed` after its request was sent.
    pub fn answered_in(&self, elapsed: std::time::Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = RESPONSE_BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(RESPONSE_BOUNDS.len());
        Self::incr(&self.response_buckets[bucket]);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.response_sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// Whether no shard has it ejected and its probes do not say it is down.
    pub fn is_up(&self) -> bool {
        self.down_on.load(Ordering::Relaxed) == 0 && !self.probed_down.load(Ordering::Relaxed)
    }
}

impl UpstreamCounters {
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Every parent id seen, with its counters, in the order first seen.
#[derive(Debug, Default)]
pub struct UpstreamRegistry {
    parents: Registered,
}

impl UpstreamRegistry {
    /// The counters of parent `id`, made on first use.
    pub fn counters(&self, id: &str) -> Arc<UpstreamCounters> {
        let mut parents = self.parents.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, counters)) = parents.iter().find(|(known, _)| known == id) {
            return Arc::clone(counters);
        }
        let counters = Arc::new(UpstreamCounters::default());
        parents.push((id.to_string(), Arc::clone(&counters)));
        counters
    }

    /// A reading of every parent's counters, for a scrape.
    pub fn all(&self) -> Vec<(String, Arc<UpstreamCounters>)> {
        self.parents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Streams a scrape names with their active origin at most (the rest are only counted).
pub const ACTIVE_ORIGIN_LABELS: usize = 100;

/// Streams whose playlist moved them off the primary origin (LIVE.md F9), with the origin
/// they use now (its id), as a scrape gathers them from the shards: at most
/// [`ACTIVE_ORIGIN_LABELS`] by name, first by name, and how many there are in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActiveOrigins {
    pub streams: Vec<(String, String)>,
    pub total: u64,
}

impl ActiveOrigins {
    /// `streams` (of `total` in all) kept to the first `ACTIVE_ORIGIN_LABELS` by name.
    pub fn new(mut streams: Vec<(String, String)>, total: u64) -> ActiveOrigins {
        streams.sort();
        streams.truncate(ACTIVE_ORIGIN_LABELS);
        ActiveOrigins { streams, total }
    }

    pub fn merge(&mut self, other: &ActiveOrigins) {
        let mut streams = std::mem::take(&mut self.streams);
        streams.extend(other.streams.iter().cloned());
        *self = ActiveOrigins::new(streams, self.total + other.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_origins_merge_by_name_within_the_label_limit() {
        let named = |from: usize| ActiveOrigins {
            streams: (from..from + ACTIVE_ORIGIN_LABELS)
                .map(|i| (format!("s{i:04}"), "origin:b".to_string()))
                .collect(),
            total: 150,
        };
        let mut merged = named(100);
        merged.merge(&named(0));
        assert_eq!(merged.total, 300);
        assert_eq!(merged.streams.len(), ACTIVE_ORIGIN_LABELS);
        assert_eq!(merged.streams[0].0, "s0000");
        assert_eq!(merged.streams.last().unwrap().0, "s0099");
    }
}
