//! Regression tests, each named after the defect it pins (found in review, 2026-11-25).

mod common;
use common::*;

use std::io::Read;

with_shards!(cut_close_delimited_body_is_a_reset_not_an_end, |shards| {
    // HTTP/1.0 client, origin body of unknown length (chunked): the response is delimited by
    // the close, so a cut must arrive as a reset or the client would take it as complete.
    let setup = Setup::new(shards);
    let mut conn = Conn::open(setup.addr);
    conn.send(b"GET /reg/cut10/1/seg.ts?size=100000&te=chunked&pause_after=1000&pause_ms=200&fail_after=5000 HTTP/1.0\r\n\r\n");
    let mut received = Vec::new();
    let result = loop {
        let mut buf = [0u8; 16384];
        match conn.stream.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) => break Ok(()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    assert!(received.starts_with(b"HTTP/1.1 200"), "the head was sent");
    let err = result.expect_err("an orderly end would present the cut body as complete");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
});

with_shards!(
    error_to_http10_keep_alive_client_says_keep_alive,
    |shards| {
        let setup = Setup::with(shards, &[("origin", "http://127.0.0.1:1")]);
        let mut conn = Conn::open(setup.addr);
        conn.send(b"GET /reg/ka10/1/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = conn.read_response(false).unwrap();
        assert_eq!(r.status, 502);
        assert_eq!(r.header("connection"), Some("keep-alive"));
        conn.send(b"GET /reg/ka10/1/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(
            conn.read_response(false).unwrap().status,
            502,
            "the connection stayed usable"
        );
    }
);

with_shards!(passed_head_keeps_content_length, |shards| {
    let setup = Setup::new(shards);
    let r = request(
        setup.addr,
        "HEAD /reg/head/1/x?size=777 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n",
        true,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("777"));
});

with_shards!(
    origin_dribbling_its_head_hits_the_first_byte_timeout,
    |shards| {
        // The first-byte timeout bounds the whole head: a head that arrives slowly (here: its
        // first byte only after the timeout) must not hold the followers beyond it.
        let setup = Setup::with(shards, &[("upstream_first_byte_timeout", "1s")]);
        let started = std::time::Instant::now();
        let r = setup.get("/reg/dribble/1/x?size=10&delay_ms=2500");
        assert_eq!(r.status, 504);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
);

with_shards!(
    request_heads_small_large_and_pipelined_are_read_whole_on_one_connection,
    |shards| {
        // 2026-12-06: a head's first read takes 1 KiB, a larger head the rest in more reads,
        // and a client whose heads were large gets 4 KiB first reads. Small and large heads
        // alternate on one kept-alive connection, then two large ones arrive in one write.
        let setup = Setup::new(shards);
        let mut conn = Conn::open(setup.addr);
        let path = |i: usize| format!("/reg/heads/{i}/seg.ts");
        for (i, pad) in [10, 3000, 900, 6000, 10, 1500, 1020]
            .into_iter()
            .enumerate()
        {
            let pad = "p".repeat(pad);
            let target = format!("{}?size=700", path(i));
            let response = send_with(&mut conn, "GET", &target, &[("X-Pad", &pad)]);
            assert_eq!(response.status, 200, "head {i}: {response:?}");
            assert_eq!(response.body, expected_body(&path(i), 700), "head {i}");
        }
        let pad = "q".repeat(2500);
        let pipelined: String = [10, 11]
            .iter()
            .map(|&i| request_text("GET", &format!("{}?size=700", path(i)), &[("X-Pad", &pad)]))
            .collect();
        conn.send(pipelined.as_bytes());
        for i in [10, 11] {
            let response = conn.read_response(false).expect("a response");
            assert_eq!(response.status, 200, "pipelined head {i}: {response:?}");
            assert_eq!(response.body, expected_body(&path(i), 700), "pipelined {i}");
        }
    }
);
