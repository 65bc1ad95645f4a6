//! The time the cache decides by: every shard reads "now" for freshness, ages, stale windows
//! and holds through one `Clock`, so tests can move it forward instead of sleeping through
//! real seconds. It is the monotonic clock plus an offset that only tests ever change; wall
//! time (`Date`, the ages an origin states) and socket timeouts stay real, so an origin's
//! `Date` and ours always agree. Latency measurements use `Instant` directly: they measure,
//! they do not decide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A monotonic clock shared by every shard of one daemon. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Nanoseconds added to the system's monotonic clock.
    offset: Arc<AtomicU64>,
}

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_nanos(self.offset.load(Ordering::Relaxed))
    }

    /// Wall time by this clock: the system's, moved as far as the monotonic clock was. What
    /// the cache decides by wall time (when a DASH segment becomes available) follows tests
    /// that move the clock; the wall time it writes (`Date`) does not.
    pub fn wall(&self) -> SystemTime {
        SystemTime::now() + Duration::from_nanos(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by`, for every shard at once (tests only: a daemon in
    /// service never calls it).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset.fetch_add(by, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let shared = clock.clone();
        let before = shared.now();
        clock.advance(Duration::from_secs(3600));
        assert!(shared.now().duration_since(before) >= Duration::from_secs(3600));
    }
}
