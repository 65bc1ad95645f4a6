//! Limits on what clients may make livecache hold or wait for. Request bodies are never
//! buffered whole: passed bodies are streamed to the origin byte for byte, an oversized chunk
//! is refused before its data, a trickling body is cut at `client_min_rate` (408), and
//! `request_body_memory` answers 503 when spent. Readers of an unstored object are kept apart:
//! one that stops is cut instead of holding up a fast one, and a reader slower than
//! `client_min_rate` is cut whether it trickles or never reads. (What those limits do to RSS
//! is checked in `client_memory.rs`.)

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use livecache::metrics::Guard;

with_shards!(passed_bodies_are_streamed_to_the_origin, |shards| {
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

with_shards!(a_reader_slower_than_the_minimum_rate_is_cut, |shards| {
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

with_shards!(
    an_unread_body_is_never_taken_for_the_next_request,
    |shards| {
        // Nothing listens on the origin's port: the exchange fails before the body is read.
        let setup = Setup::with(shards, &[("origin", "http://127.0.0.1:1")]);
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: test.local\r\n\r\n";
        let mut conn = Conn::open(setup.addr);
        conn.send(
            format!(
                "POST /api HTTP/1.1\r\nHost: test.local\r\nContent-Length: {}\r\n\r\n{smuggled}",
                smuggled.len()
            )
            .as_bytes(),
        );
        let r = conn.read_response(false).expect("an answer to the POST");
        assert_eq!(r.status, 502, "{r:?}");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(
            conn.read_response(false).is_none(),
            "the body was answered as a request"
        );
    }
);

with_shards!(
    a_chunk_announcing_the_largest_64_bit_size_is_refused,
    |shards| {
        let setup = Setup::new(shards);
        for method in ["GET", "POST"] {
            let mut conn = Conn::open(setup.addr);
            conn.send(
            format!(
                "{method} /cm/huge/x HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nFFFFFFFFFFFFFFFF\r\n"
            )
            .as_bytes(),
        );
            let r = conn.read_response(false).expect("an answer");
            assert_eq!(r.status, 413, "{method}: {r:?}");
        }
        // Every shard still serves.
        for i in 0..8 {
            assert_eq!(
                setup.get(&format!("/cm/huge/s{i}/ok.ts?size=10")).status,
                200
            );
        }
    }
);

with_shards!(
    an_object_that_outgrows_the_limit_mid_body_still_arrives_whole,
    |shards| {
        // Sent chunked, so its size shows only as it grows past max_object_size; by then most of
        // it was retained, more than pass_through_memory holds, but its one reader has it all.
        let room = format!("{}MiB", 2 * shards);
        let setup = Setup::with(
            shards,
            &[
                ("max_object_size", "8MiB"),
                ("pass_through_memory", room.as_str()),
            ],
        );
        let path = "/cm/grows/big.ts";
        let r = setup.get(&format!("{path}?size={}&te=chunked", 12 << 20));
        assert!(r.complete, "cut after {} bytes", r.body.len());
        assert!(r.body == expected_body(path, 12 << 20));
        assert_eq!(fired(&setup, Guard::PassThroughFull), 0);
    }
);
