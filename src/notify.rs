//! The service manager's view of livecache (sd_notify, through the `sd-notify` crate):
//! `READY=1` once every shard listens, a `STATUS=` summary every few seconds, `WATCHDOG=1`
//! only while every shard keeps proving it runs, `RELOADING=1` around a reload and
//! `STOPPING=1` on shutdown. Runs on a plain control-plane thread; without `NOTIFY_SOCKET`
//! every call is a no-op, so the same binary runs under systemd and anywhere else.
//!
//! A shard proves it runs by bumping its heartbeat counter from a task on its own executor;
//! a core stuck in a busy loop stops bumping, the watchdog ping stops, and systemd restarts
//! the service (`WatchdogSec=`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::metrics::{Stats, Totals};
use crate::shutdown::Shutdown;

/// How often the status line is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// The one-line summary shown by `systemctl status`.
pub fn status_line(totals: &Totals) -> String {
    let lookups = totals.hits + totals.misses;
    let ratio = if lookups == 0 {
        0.0
    } else {
        100.0 * totals.hits as f64 / lookups as f64
    };
    format!(
        "{} connections, hit ratio {:.1}%, cache {} of {} MiB, {} requests",
        totals.connections_open,
        ratio,
        totals.store_bytes >> 20,
        totals.store_budget >> 20,
        totals.requests
    )
}

/// True when every shard's heartbeat moved since the previous reading (`previous` is then
/// updated); a shard that did not is stuck, and the watchdog must not be fed.
pub fn all_alive(previous: &mut [u64], now: &[u64]) -> bool {
    let alive = previous
        .iter()
        .zip(now)
        .all(|(before, after)| after != before);
    previous.copy_from_slice(now);
    alive
}

fn send(states: &[NotifyState<'_>]) {
    // Notifications are advisory: an unreachable manager must not stop the cache.
    let _ = sd_notify::notify(states);
}

pub fn ready(stats: &Stats) {
    send(&[
        NotifyState::Ready,
        NotifyState::Status(&status_line(&stats.totals())),
    ]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining")]);
}

pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Runs until `shutdown` fires: status updates, and watchdog pings while every shard lives.
pub fn supervise(stats: Arc<Stats>, shutdown: Shutdown) {
    let watchdog = sd_notify::watchdog_enabled().map(|w| (w / 2).max(Duration::from_millis(250)));
    let tick = watchdog.map_or(STATUS_EVERY, |w| w.min(STATUS_EVERY));
    let heartbeats = |s: &Stats| {
        s.shards
            .iter()
            .map(|s| s.heartbeat.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
    };
    let mut seen = heartbeats(&stats);
    let mut last_status = Instant::now();
    let mut last_ping = Instant::now();
    while !shutdown.is_triggered() {
        // The watchdog's own thread, outside every executor: blocking here blocks nobody.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(tick.min(Duration::from_millis(250)));
        if last_status.elapsed() >= STATUS_EVERY {
            send(&[NotifyState::Status(&status_line(&stats.totals()))]);
            last_status = Instant::now();
        }
        if let Some(interval) = watchdog {
            if last_ping.elapsed() >= interval && all_alive(&mut seen, &heartbeats(&stats)) {
                send(&[NotifyState::Watchdog]);
                last_ping = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stuck_shard_stops_the_watchdog() {
        let mut seen = vec![1, 1];
        assert!(all_alive(&mut seen, &[2, 5]));
        assert!(!all_alive(&mut seen, &[3, 5]), "shard 1 did not move");
        assert!(all_alive(&mut seen, &[4, 6]));
    }

    #[test]
    fn status_reads_well() {
        let totals = Totals {
            hits: 3,
            misses: 1,
            connections_open: 7,
            store_bytes: 10 << 20,
            store_budget: 1 << 30,
            requests: 4,
            ..Totals::default()
        };
        assert_eq!(
            status_line(&totals),
            "7 connections, hit ratio 75.0%, cache 10 of 1024 MiB, 4 requests"
        );
    }
}
