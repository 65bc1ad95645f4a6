//! Memory held on behalf of clients is bounded and accounted like the cache itself. Request
//! bodies are never buffered whole: GET bodies are thrown away as they arrive, passed bodies
//! are streamed to the origin, an oversized chunk is refused before its data, a trickling body
//! is cut at `client_min_rate`, and `request_body_memory` answers 503 when spent. Readers of an
//! unstored object are kept apart: a reader that stops is cut instead of holding up a fast one,
//! and stalled readers of large objects pin no more than `pass_through_memory`.
//!
//! RSS is read from this very process (the daemon runs in-process), so every test here takes
//! `RSS_LOCK`: none runs beside one that measures (they allocate megabytes of bodies).

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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

fn fired(setup: &Setup, guard: Guard) -> u64 {
    let stats = &setup.running().stats;
    stats.shards.iter().map(|s| s.guards.fired(guard)).sum()
}

fn gauge(setup: &Setup, f: impl Fn(&livecache::metrics::Guards) -> u64) -> u64 {
    setup
        .running()
        .stats
        .shards
        .iter()
        .map(|s| f(&s.guards))
        .sum()
}

/// A connection with a tiny receive buffer, so what it does not read stays in livecache.
fn stingy_connection(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true).unwrap();
    stream
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

with_shards!(passed_bodies_are_streamed_to_the_origin, |shards| {
    let _quiet = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new(shards);
    let body: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    // Chunked, in uneven pieces: relayed chunked, byte for byte.
    let mut conn = Conn::open(setup.addr);
    conn.send(
        b"POST /cm/upload/a HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for piece in body.chunks(100_003) {
        conn.send(format!("{:x}\r\n", piece.len()).as_bytes());
        conn.send(piece);
        conn.send(b"\r\n");
    }
    conn.send(b"0\r\n\r\n");
    let r = conn.read_response(false).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let sent = origin_requests_for(&setup, "POST", "/cm/upload/a");
    assert!(sent[0].body == body, "the origin got other bytes");
    assert_eq!(sent[0].header("transfer-encoding"), Some("chunked"));
    // With a length: relayed with the same length, on the same client connection.
    conn.send(
        format!(
            "PUT /cm/upload/b HTTP/1.1\r\nHost: test.local\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    conn.send(&body);
    assert_eq!(conn.read_response(false).unwrap().status, 200);
    let sent = origin_requests_for(&setup, "PUT", "/cm/upload/b");
    assert!(sent[0].body == body);
    assert_eq!(sent[0].header("content-length"), Some("3145728"));
    assert!(eventually(Duration::from_secs(5), || gauge(&setup, |g| {
        g.request_body_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }) == 0));
});

with_shards!(
    an_announced_chunk_beyond_the_limit_is_refused_at_once,
    |shards| {
        let _quiet = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let setup = Setup::with(shards, &[("max_request_body", "1MiB")]);
        for method in ["GET", "POST"] {
            let mut conn = Conn::open(setup.addr);
            // 0x100001 bytes announced, none sent: refused before any of them arrives.
            conn.send(
            format!(
                "{method} /cm/chunk/x HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n"
            )
            .as_bytes(),
        );
            let r = conn.read_response(false).unwrap();
            assert_eq!(r.status, 413, "{method}: {r:?}");
        }
        assert_eq!(setup.origin_count("POST", "/cm/chunk/x"), 0);
    }
);

with_shards!(a_trickled_body_is_cut_at_the_minimum_rate, |shards| {
    let _quiet = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::with(
        shards,
        &[("client_header_timeout", "1s"), ("client_min_rate", "1KiB")],
    );
    for method in ["GET", "POST"] {
        let mut conn = Conn::open(setup.addr);
        conn.send(
            format!("{method} /cm/trickle/x HTTP/1.1\r\nHost: test.local\r\nContent-Length: 100000\r\n\r\n0123456789")
                .as_bytes(),
        );
        let r = conn
            .read_response(false)
            .expect("an answer before the close");
        assert_eq!(r.status, 408, "{method}: {r:?}");
        assert!(conn.is_closed_by_peer());
    }
    assert_eq!(fired(&setup, Guard::SlowBody), 2);
    assert_eq!(setup.origin_count("POST", "/cm/trickle/x"), 0);
});

with_shards!(request_body_memory_spent_answers_503, |shards| {
    // Room for one body in transit per shard: one more connection than shards must find a
    // shard whose room is taken, wherever the kernel puts them.
    let room = format!("{}KiB", 64 * shards);
    let setup = Setup::with(shards, &[("request_body_memory", room.as_str())]);
    let mut conns: Vec<Conn> = (0..=shards)
        .map(|i| {
            let mut conn = Conn::open(setup.addr);
            conn.send(
                format!("POST /cm/room/{i} HTTP/1.1\r\nHost: test.local\r\nContent-Length: 1000\r\n\r\nxx")
                    .as_bytes(),
            );
            conn
        })
        .collect();
    assert!(eventually(Duration::from_secs(5), || {
        fired(&setup, Guard::BodyMemoryFull) >= 1
    }));
    let refused = conns
        .iter_mut()
        .filter_map(|c| {
            c.stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            c.read_response(false)
        })
        .filter(|r| r.status == 503)
        .count();
    assert!(refused >= 1);
});

with_shards!(a_stalled_reader_does_not_hold_up_a_fast_one, |shards| {
    let _quiet = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::with(shards, &[("max_object_size", "1MiB")]);
    let path = "/cm/isolate/big.ts";
    let target = format!("{path}?size={}&delay_ms=300&cc=max-age%3D60", 16 << 20);
    let request = format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n");
    let mut stalled = stingy_connection(setup.addr);
    stalled.write_all(request.as_bytes()).unwrap();
    let fast = request_in_thread(setup.addr, request.clone());
    let fast = fast.join().unwrap();
    assert!(fast.complete, "the fast reader was held up");
    assert!(fast.body == expected_body(path, 16 << 20));
    assert_eq!(setup.origin.hits(&target), 1, "one fetch for both");
    assert_eq!(fired(&setup, Guard::LaggingReader), 1);
    // The stalled reader's response ends early: fewer bytes than declared, then the close.
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stalled.read_to_end(&mut got);
    assert!(
        got.len() < 16 << 20,
        "the stalled reader got all {} bytes",
        got.len()
    );
});

fn request_in_thread(addr: SocketAddr, raw: String) -> std::thread::JoinHandle<Response> {
    std::thread::spawn(move || request(addr, &raw, false))
}

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

with_shards!(a_reader_slower_than_the_minimum_rate_is_cut, |shards| {
    let _quiet = RSS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::with(
        shards,
        &[
            ("client_header_timeout", "1s"),
            ("client_min_rate", "64KiB"),
        ],
    );
    let path = "/cm/slow/seg.ts";
    let target = format!("{path}?size={}&cc=max-age%3D60", 3 << 20);
    warm_stored(&setup, &target);
    // Reads 2 KiB every 100 ms: each read lets a write go on, so no single write waits for
    // long, but 20 KiB/s is far below the floor.
    let mut trickle = stingy_connection(setup.addr);
    trickle
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: test.local\r\n\r\n").as_bytes())
        .unwrap();
    trickle
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = 0usize;
    let mut piece = [0u8; 2048];
    loop {
        match trickle.read(&mut piece) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(got < 3 << 20, "the slow reader got all {got} bytes");
    assert_eq!(fired(&setup, Guard::SlowReader), 1);
    // One that never reads is cut as soon as its grace and what it took are spent, long
    // before the 60 s a stalled write may last (`client_idle_timeout`).
    let mut stalled = stingy_connection(setup.addr);
    stalled
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: test.local\r\n\r\n").as_bytes())
        .unwrap();
    assert!(eventually(Duration::from_secs(20), || {
        fired(&setup, Guard::SlowReader) == 2
    }));
    drop(stalled);
    // A reader at full speed gets the same object whole.
    let r = setup.get(&target);
    assert!(r.complete && r.body == expected_body(path, 3 << 20));
});
