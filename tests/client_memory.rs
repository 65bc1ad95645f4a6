//! Memory held on behalf of clients is bounded and accounted like the cache itself, checked
//! on the process's RSS: GET bodies are thrown away as they arrive (20 clients each sending
//! 15 MiB of a body never raise it), and stalled readers of large unstored objects pin no more
//! than `pass_through_memory`. RSS is read from this very process (the daemon runs in-process),
//! so the tests here take `RSS_LOCK` and never overlap.

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::io::Write;
use std::net::TcpStream;
#[allow(clippy::disallowed_types)]
use std::sync::Mutex;
use std::time::Duration;

use livecache::metrics::Guard;

// A test-harness lock (not the data path): RSS checks must not overlap.
#[allow(clippy::disallowed_types)]
static RSS_LOCK: Mutex<()> = Mutex::new(());

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

const BODY: usize = 15 << 20;

with_shards!(get_bodies_are_thrown_away_as_they_arrive, |shards| {
    let _quiet = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new(shards);
    let before = rss_mib();
    let piece = vec![b'x'; 1 << 20];
    // 20 clients each send 15 MiB of a body and never the last byte.
    let held: Vec<TcpStream> = (0..20)
        .map(|i| {
            let mut conn = TcpStream::connect(setup.addr).unwrap();
            let head = format!(
                "GET /cm/body/{i}.ts HTTP/1.1\r\nHost: test.local\r\nContent-Length: {}\r\n\r\n",
                BODY + 1
            );
            conn.write_all(head.as_bytes()).unwrap();
            for _ in 0..BODY / piece.len() {
                conn.write_all(&piece).unwrap();
            }
            conn
        })
        .collect();
    let grown = rss_mib() - before;
    assert!(
        grown < 40.0,
        "RSS grew by {grown:.0} MiB for 300 MiB of bodies"
    );
    drop(held);
    // A body sent whole is consumed and the connection carries on.
    let mut conn = Conn::open(setup.addr);
    conn.send(b"GET /cm/body/ok.ts?size=10 HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(conn.read_response(false).unwrap().status, 200);
    assert_eq!(conn.get("/cm/body/ok.ts?size=10").status, 200);
});

with_shards!(
    stalled_readers_of_large_objects_stay_within_pass_through_memory,
    |shards| {
        let _lock = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let limit = format!("{}MiB", 2 * shards.max(4));
        let setup = Setup::with(
            shards,
            &[
                ("max_object_size", "1MiB"),
                ("pass_through_memory", limit.as_str()),
            ],
        );
        let before = rss_mib();
        let readers: Vec<TcpStream> = (0..48)
            .map(|i| {
                let mut conn = stingy_connection(setup.addr);
                let head = format!(
                    "GET /cm/stall/{i}.ts?size={} HTTP/1.1\r\nHost: test.local\r\n\r\n",
                    8 << 20
                );
                conn.write_all(head.as_bytes()).unwrap();
                conn
            })
            .collect();
        assert!(eventually(Duration::from_secs(10), || {
            fired(&setup, Guard::PassThroughFull) >= 1
        }));
        std::thread::sleep(Duration::from_millis(500));
        let reserved = gauge(&setup, |g| {
            g.pass_through_bytes
                .load(std::sync::atomic::Ordering::Relaxed)
        });
        assert!(
            reserved <= (2 * shards.max(4) as u64) << 20,
            "{reserved} reserved"
        );
        let grown = rss_mib() - before;
        assert!(
            grown < 48.0,
            "48 stalled readers of 8 MiB objects grew RSS by {grown:.0} MiB"
        );
        drop(readers);
    }
);
