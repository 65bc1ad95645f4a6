//! Open loop at a fixed total rate (`loadgen rate`), corrected for coordinated omission
//! as wrk2 does. Request `j` (numbered across all threads) is due at `start + j / rate`;
//! thread `i` of `N` owns the requests `j = k * N + i`, so the threads interleave on one
//! schedule. Within a thread, each connection takes the next due request as soon as it is
//! free and sends it at its due time; when every connection is busy the due request waits
//! for the first one to free up. Latency (first byte and total) is measured from the due
//! time, so that wait counts, instead of from the moment the request finally went out.
//! A request still waiting [`GRACE`] after the end of the schedule is dropped and counted
//! as `unsent`, so an overloaded server cannot stretch the run without bound.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Conn;
use crate::modes::urls::parse_urls;
use crate::modes::{run_threads, sleep_until, Common};
use crate::stats::{Kind, Report};

/// How long after the end of the schedule overdue requests may still be sent.
pub const GRACE: Duration = Duration::from_secs(1);

/// `loadgen rate` settings.
#[derive(Clone, Debug)]
pub struct RateConfig {
    /// Threads, pinning, timeout, progress.
    pub common: Common,
    /// The URLs, taken round-robin by global request number.
    pub urls: Vec<String>,
    /// Keep-alive connections in total (at least `threads`).
    pub connections: usize,
    /// Requests per second, all threads together.
    pub rate: f64,
    /// Requests are due during this long after the start.
    pub duration: Duration,
}

/// Global number of thread `thread`'s `k`-th request.
pub fn global_index(threads: usize, thread: usize, k: u64) -> u64 {
    k * threads as u64 + thread as u64
}

/// When request `j` is due, after the start.
pub fn due(rate: f64, j: u64) -> Duration {
    Duration::from_nanos((j as f64 * 1e9 / rate).round() as u64)
}

/// How many requests thread `thread` of `threads` owns: those whose due time falls
/// before `duration`.
pub fn requests_for(rate: f64, duration: Duration, threads: usize, thread: usize) -> u64 {
    // Requests j in [0, total) are due strictly before `duration`.
    let total = (duration.as_secs_f64() * rate).ceil() as u64;
    let total = if total > 0 && due(rate, total - 1) >= duration {
        total - 1
    } else {
        total
    };
    let (threads, thread) = (threads as u64, thread as u64);
    if thread >= total {
        0
    } else {
        (total - thread).div_ceil(threads)
    }
}

/// Runs the open loop.
pub fn run(cfg: &RateConfig) -> Result<Report, String> {
    let urls = Arc::new(parse_urls(&cfg.urls)?);
    if !(cfg.rate.is_finite() && cfg.rate > 0.0) {
        return Err("--rate must be a positive number".into());
    }
    let total = cfg.connections;
    if total < cfg.common.threads.max(1) {
        return Err("--connections must be at least --threads".into());
    }
    let (rate, duration) = (cfg.rate, cfg.duration);
    let (stats, elapsed) = run_threads(&cfg.common, move |w| {
        let urls = Arc::clone(&urls);
        async move {
            let count = requests_for(rate, duration, w.threads, w.index);
            let next = Rc::new(Cell::new(0u64));
            let tasks: Vec<_> = (w.index..total)
                .step_by(w.threads)
                .map(|_| {
                    let urls = Arc::clone(&urls);
                    let next = Rc::clone(&next);
                    let rec = w.rec.clone();
                    let mut conn = Conn::new(w.timeout);
                    let (threads, index, start) = (w.threads, w.index, w.start);
                    glommio::spawn_local(async move {
                        loop {
                            let k = next.get();
                            if k >= count {
                                break;
                            }
                            if Instant::now() > start + duration + GRACE {
                                rec.unsent(count - k);
                                next.set(count);
                                break;
                            }
                            next.set(k + 1);
                            let j = global_index(threads, index, k);
                            let at: Instant = start + due(rate, j);
                            sleep_until(at).await;
                            let url = &urls[(j % urls.len() as u64) as usize];
                            let result = conn.get(url, false, at).await;
                            rec.record(Kind::Url, &result);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
        }
    })?;
    Ok(Report {
        mode: "rate",
        threads: cfg.common.threads,
        connections: total,
        elapsed,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_math() {
        assert_eq!(due(1000.0, 0), Duration::ZERO);
        assert_eq!(due(1000.0, 1), Duration::from_millis(1));
        assert_eq!(due(3.0, 1), Duration::from_nanos(333_333_333));
        assert_eq!(due(0.5, 3), Duration::from_secs(6));
        // Three threads interleave on one schedule.
        let js: Vec<u64> = (0..2)
            .flat_map(|k| (0..3).map(move |t| global_index(3, t, k)))
            .collect();
        assert_eq!(js, vec![0, 1, 2, 3, 4, 5]);
        // 1000/s for 1 s: j = 0..=999 are due before 1 s, split 334/333/333.
        let counts: Vec<u64> = (0..3)
            .map(|t| requests_for(1000.0, Duration::from_secs(1), 3, t))
            .collect();
        assert_eq!(counts, vec![334, 333, 333]);
        assert_eq!(requests_for(1000.0, Duration::from_secs(1), 1, 0), 1000);
        // 2.5/s for 1 s: due at 0, 0.4, 0.8.
        assert_eq!(requests_for(2.5, Duration::from_secs(1), 1, 0), 3);
        // Fewer requests than threads.
        let few: Vec<u64> = (0..4)
            .map(|t| requests_for(2.0, Duration::from_secs(1), 4, t))
            .collect();
        assert_eq!(few, vec![1, 1, 0, 0]);
        assert_eq!(requests_for(10.0, Duration::ZERO, 1, 0), 0);
    }
}
