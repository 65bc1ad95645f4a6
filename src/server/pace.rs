//! How long livecache waits on one client moving bytes, sending a request body or reading a
//! response: at most a grace time plus what the bytes moved so far would take at
//! `client_min_rate`. Only time spent waiting on the client counts (a write the socket takes at
//! once costs nothing, a slow origin is never the client's fault), so a client that reads 2 KiB
//! every few seconds, or never, is cut once it falls below the rate, while the per-operation
//! timeouts alone would let it hold its connection, and the memory behind it, forever.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use futures_lite::future::or;

/// The waiting allowed so far, and what was used of it.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    grace: Duration,
    /// Bytes per second; 0: no floor.
    min_rate: u64,
    waited: Duration,
    moved: u64,
}

impl Pace {
    pub fn new(grace: Duration, min_rate: u64) -> Pace {
        Pace {
            grace,
            min_rate,
            waited: Duration::ZERO,
            moved: 0,
        }
    }

    /// How much longer livecache may wait on the client, once `credited` bytes count as
    /// moved; `None` when there is no floor. Never more than the grace at once: a client that
    /// took much quickly earns no minutes of stalling to spend later.
    pub fn allowance(&self, credited: u64) -> Option<Duration> {
        if self.min_rate == 0 {
            return None;
        }
        let by_rate = Duration::try_from_secs_f64(credited as f64 / self.min_rate as f64)
            .unwrap_or(Duration::MAX);
        let earned = self.grace.saturating_add(by_rate);
        Some(earned.saturating_sub(self.waited).min(self.grace))
    }

    /// Bytes moved so far (handed to the kernel, for a response).
    pub fn moved(&self) -> u64 {
        self.moved
    }

    /// Notes `bytes` moved after waiting `waited` on the client for them.
    pub fn record(&mut self, waited: Duration, bytes: u64) {
        self.waited += waited;
        self.moved = self.moved.saturating_add(bytes);
    }

    /// Runs `io`, which waits on the client to move `moving` more bytes, within the allowance
    /// `credited` bytes earn (the caller says which bytes count: those the client really took):
    /// an error of kind `TimedOut` when the client is slower than the floor allows.
    pub async fn within<T>(
        &mut self,
        credited: u64,
        moving: u64,
        io: impl Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        let started = Instant::now();
        let result = match self.allowance(credited) {
            None => io.await,
            Some(left) => {
                or(io, async {
                    glommio::timer::sleep(left).await;
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client slower than client_min_rate",
                    ))
                })
                .await
            }
        };
        self.record(started.elapsed(), moving);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_grows_with_the_bytes_moved() {
        let mut pace = Pace::new(Duration::from_secs(10), 1000);
        assert_eq!(pace.allowance(0), Some(Duration::from_secs(10)));
        assert_eq!(
            pace.allowance(5000),
            Some(Duration::from_secs(10)),
            "15 s earned, but never more than the grace at once"
        );
        pace.record(Duration::from_secs(12), 4000);
        assert_eq!(pace.moved(), 4000);
        assert_eq!(pace.allowance(4000), Some(Duration::from_secs(2)));
        assert_eq!(pace.allowance(5000), Some(Duration::from_secs(3)));
        pace.record(Duration::from_secs(5), 0);
        assert_eq!(pace.allowance(4000), Some(Duration::ZERO), "used up");
        assert_eq!(pace.allowance(u64::MAX), Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_zero_rate_is_no_floor() {
        let mut pace = Pace::new(Duration::from_secs(1), 0);
        pace.record(Duration::from_secs(3600), 1);
        assert_eq!(pace.allowance(1 << 30), None);
    }
}
