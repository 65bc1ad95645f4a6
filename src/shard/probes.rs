//! Active health of the parent shields (issue "Origin-shield tiers", item 3): shard 0 asks
//! every parent that has an admin address for its `/readyz` each `parent_probe_interval`,
//! each probe within `parent_probe_timeout`. Three failures in a row mark the parent down for
//! every shard (its streams go to their next choice without a failed try), two successes in a
//! row bring it back. A draining livecache answers 503 there before it stops, so edges move
//! its streams off while it still finishes what it serves. The verdict lives in the parent's
//! shared counters (`metrics::upstreams`): one writer, every shard reads an atomic.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use super::Shard;
use crate::io::read_some;
use crate::metrics::upstreams::UpstreamCounters;

/// Failed probes in a row that mark a parent down.
const DOWN_AFTER: u64 = 3;
/// Passed probes in a row that bring it back.
const UP_AFTER: u64 = 2;

/// Starts the probes on shard 0 (the others only read the verdicts).
pub fn spawn_probes(shard: &Rc<Shard>) {
    if shard.id != 0 {
        return;
    }
    let shard = Rc::clone(shard);
    glommio::spawn_local(async move {
        loop {
            let config = shard.config();
            // A zero interval would spin: 10 ms is the floor.
            let interval = config.parent_probe_interval.max(Duration::from_millis(10));
            glommio::timer::sleep(interval).await;
            let timeout = config.parent_probe_timeout;
            let mut probes = Vec::new();
            for parent in &config.parents {
                let counters = shard.stats.upstreams.counters(&parent.id);
                let Some(admin) = parent.admin else {
                    // Not probed (any more): no verdict of an earlier configuration stays.
                    counters.probed_down.store(false, Relaxed);
                    continue;
                };
                probes.push(glommio::spawn_local(async move {
                    // The whole probe, however the peer trickles its answer.
                    let ready =
                        glommio::timer::timeout(timeout, async { Ok(probe(admin, timeout).await) })
                            .await
                            .unwrap_or(false);
                    note(&counters, ready);
                }));
            }
            for probe in probes {
                probe.await;
            }
        }
    })
    .detach();
}

/// One probe's verdict, counted (see the module for the thresholds).
pub fn note(counters: &UpstreamCounters, ready: bool) {
    if ready {
        counters.probe_failures.store(0, Relaxed);
        let passed = counters.probe_successes.fetch_add(1, Relaxed) + 1;
        if passed >= UP_AFTER {
            counters.probed_down.store(false, Relaxed);
        }
    } else {
        counters.probe_successes.store(0, Relaxed);
        let failed = counters.probe_failures.fetch_add(1, Relaxed) + 1;
        if failed >= DOWN_AFTER {
            counters.probed_down.store(true, Relaxed);
        }
    }
}

/// Whether `GET /readyz` at `admin` answers 200 within `timeout`.
async fn probe(admin: std::net::SocketAddr, timeout: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(admin, timeout).await else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request = b"GET /readyz HTTP/1.1\r\nHost: livecache\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut buf = BytesMut::with_capacity(64);
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 64 {
        match read_some(&mut stream, &mut buf, 64).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
    buf.starts_with(b"HTTP/1.1 200 ") || buf.starts_with(b"HTTP/1.0 200 ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_mark_down_and_two_successes_bring_back() {
        let c = UpstreamCounters::default();
        let down = |c: &UpstreamCounters| c.probed_down.load(Relaxed);
        note(&c, false);
        note(&c, false);
        assert!(!down(&c));
        note(&c, true);
        note(&c, false);
        note(&c, false);
        assert!(!down(&c), "the failures must be in a row");
        note(&c, false);
        assert!(down(&c));
        note(&c, true);
        assert!(down(&c));
        note(&c, true);
        assert!(!down(&c));
    }
}
