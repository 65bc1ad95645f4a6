//! Hostile and broken client input at the edge: oversized heads, too many fields, long
//! targets, malformed request lines, ambiguous body framing (CL with TE, duplicate CL, bare
//! LF, obs-fold, bad chunk sizes), clients too slow with their head, idle keep-alive
//! connections and the global connection limit. Each case pins the status livecache answers
//! with (431, 414, 400, 503), that the connection is closed afterwards (or by the timeout),
//! that nothing reaches the origin, and that the daemon keeps serving well-formed requests on
//! fresh connections.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Generous bound proving a close came from a timeout, never a timing assertion.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Reads until the server closes the connection (EOF or reset); returns the bytes read
/// and how long that took. Err if it is still open after `limit`.
fn read_until_closed(conn: &mut Conn, limit: Duration) -> Result<(Vec<u8>, Duration), String> {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(format!("still open after {:?}", start.elapsed()));
        }
        conn.stream.set_read_timeout(Some(left)).unwrap();
        match conn.stream.read(&mut chunk) {
            Ok(0) => return Ok((seen, start.elapsed())),
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("still open after {:?}", start.elapsed()))
            }
            // A reset closes it too.
            Err(_) => return Ok((seen, start.elapsed())),
        }
    }
}

/// Sends `raw` on a new connection, expects one complete `status` response saying
/// `Connection: close`, and then the close itself.
fn expect_rejected(addr: SocketAddr, raw: &[u8], status: u16) -> Response {
    let mut conn = Conn::open(addr);
    conn.send(raw);
    let response = conn
        .read_response(false)
        .unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(raw)));
    assert_eq!(
        response.status,
        status,
        "request {:?} got {response:?}",
        String::from_utf8_lossy(raw)
    );
    assert!(response.complete, "{response:?}");
    assert!(
        response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close")),
        "a rejection announces the close: {response:?}"
    );
    let (extra, _) = read_until_closed(&mut conn, CLOSE_LIMIT)
        .expect("the connection is closed after a rejected request");
    assert!(
        extra.is_empty(),
        "nothing follows the rejection: {:?}",
        String::from_utf8_lossy(&extra)
    );
    response
}

/// The daemon still serves a well-formed request on a new connection.
fn assert_still_serving(setup: &Setup, name: &str) {
    let path = format!("/bad_input/{name}/after.ts");
    let response = setup.get(&format!("{path}?size=3000"));
    assert_eq!(response.status, 200, "{response:?}");
    assert!(response.complete);
    assert_eq!(response.body, expected_body(&path, 3000));
}

with_shards!(head_too_large_is_431, |shards| {
    let setup = Setup::with(shards, &[("max_request_head", "2KiB")]);
    let big = "a".repeat(4096);
    let raw = format!(
        "GET /bad_input/head_too_large/x.ts HTTP/1.1\r\nHost: test.local\r\nX-Big: {big}\r\n\r\n"
    );
    expect_rejected(setup.addr, raw.as_bytes(), 431);
    assert_eq!(setup.origin.path_hits("/bad_input/head_too_large/x.ts"), 0);
    assert_still_serving(&setup, "head_too_large");
});

with_shards!(too_many_headers_is_431, |shards| {
    let setup = Setup::with(shards, &[("max_headers", "10")]);
    let mut raw =
        String::from("GET /bad_input/too_many_headers/x.ts HTTP/1.1\r\nHost: test.local\r\n");
    for i in 0..20 {
        raw.push_str(&format!("X-Field-{i}: value-{i}\r\n"));
    }
    raw.push_str("\r\n");
    expect_rejected(setup.addr, raw.as_bytes(), 431);
    assert_eq!(
        setup.origin.path_hits("/bad_input/too_many_headers/x.ts"),
        0
    );
    assert_still_serving(&setup, "too_many_headers");
});

with_shards!(uri_too_long_is_414, |shards| {
    let setup = Setup::with(shards, &[("max_uri", "1KiB")]);
    let path = format!("/bad_input/uri_too_long/{}", "a".repeat(2048));
    let raw = format!("GET {path} HTTP/1.1\r\nHost: test.local\r\n\r\n");
    expect_rejected(setup.addr, raw.as_bytes(), 414);
    assert_eq!(setup.origin.path_hits(&path), 0);
    assert_still_serving(&setup, "uri_too_long");
});

with_shards!(malformed_request_line_is_400, |shards| {
    let setup = Setup::new(shards);
    let cases: &[&[u8]] = &[
        b"GARBAGE\r\n\r\n",
        b"GET /bad_input/malformed/x.ts HTTP/9.9\r\nHost: test.local\r\n\r\n",
        b"GET /bad_input/malformed/x.ts HTTP/1.1\r\nHost: test.local\r\nNoColonHere\r\n\r\n",
    ];
    for raw in cases {
        expect_rejected(setup.addr, raw, 400);
    }
    assert_eq!(setup.origin.path_hits("/bad_input/malformed/x.ts"), 0);
    assert_still_serving(&setup, "malformed");
});

with_shards!(content_length_with_transfer_encoding_is_400, |shards| {
    let setup = Setup::new(shards);
    // Only the head is sent: it must be refused before any body is read.
    let raw = b"POST /bad_input/cl_te/x HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_rejected(setup.addr, raw, 400);
    assert_eq!(setup.origin.path_hits("/bad_input/cl_te/x"), 0);
    assert_still_serving(&setup, "cl_te");
});

with_shards!(duplicate_content_length_is_400, |shards| {
    let setup = Setup::new(shards);
    let same = b"POST /bad_input/dup_cl/x HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
    let conflicting = b"POST /bad_input/dup_cl/x HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n";
    expect_rejected(setup.addr, same, 400);
    expect_rejected(setup.addr, conflicting, 400);
    assert_eq!(setup.origin.path_hits("/bad_input/dup_cl/x"), 0);
    assert_still_serving(&setup, "dup_cl");
});

with_shards!(bare_lf_is_400, |shards| {
    let setup = Setup::new(shards);
    expect_rejected(
        setup.addr,
        b"GET /bad_input/bare_lf/x.ts HTTP/1.1\nHost: test.local\n\n",
        400,
    );
    assert_eq!(setup.origin.path_hits("/bad_input/bare_lf/x.ts"), 0);
    assert_still_serving(&setup, "bare_lf");
});

with_shards!(obs_fold_is_400, |shards| {
    let setup = Setup::new(shards);
    expect_rejected(
        setup.addr,
        b"GET /bad_input/obs_fold/x.ts HTTP/1.1\r\nHost: test.local\r\nX-Folded: one\r\n two\r\n\r\n",
        400,
    );
    assert_eq!(setup.origin.path_hits("/bad_input/obs_fold/x.ts"), 0);
    assert_still_serving(&setup, "obs_fold");
});

with_shards!(invalid_chunk_size_is_400, |shards| {
    let setup = Setup::new(shards);
    expect_rejected(
        setup.addr,
        b"POST /bad_input/bad_chunk/x HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400,
    );
    assert_eq!(setup.origin.path_hits("/bad_input/bad_chunk/x"), 0);
    assert_still_serving(&setup, "bad_chunk");
});

/// Closing a connection for a timeout may come with a 408 or without a response at all.
fn assert_timeout_close(bytes: &[u8]) {
    assert!(
        bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 408 "),
        "a timed-out connection is closed (with a 408 at most): {:?}",
        String::from_utf8_lossy(bytes)
    );
}

with_shards!(slow_head_is_closed_by_header_timeout, |shards| {
    let setup = Setup::with(shards, &[("client_header_timeout", "1s")]);
    let mut conn = Conn::open(setup.addr);
    let sent = Instant::now();
    conn.send(b"GET /bad_input/slow_head/x.ts HTTP/1.1\r\nHost: te");
    let (bytes, _) = read_until_closed(&mut conn, CLOSE_LIMIT)
        .expect("a half-sent head is closed by client_header_timeout");
    let after = sent.elapsed();
    assert_timeout_close(&bytes);
    assert!(
        after >= Duration::from_millis(900),
        "closed before the header timeout could expire: {after:?}"
    );
    assert_eq!(setup.origin.path_hits("/bad_input/slow_head/x.ts"), 0);
    assert_still_serving(&setup, "slow_head");
});

with_shards!(idle_keep_alive_is_closed_by_idle_timeout, |shards| {
    let setup = Setup::with(shards, &[("client_idle_timeout", "1s")]);
    let mut conn = Conn::open(setup.addr);
    for i in 0..2 {
        let path = "/bad_input/idle/x.ts";
        let response = conn.get(&format!("{path}?size=500&i={i}"));
        assert_eq!(response.status, 200, "{response:?}");
        assert!(response.complete);
        assert_eq!(response.body, expected_body(path, 500));
        assert!(
            !response
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close")),
            "keep-alive is kept: {response:?}"
        );
    }
    let (bytes, after) = read_until_closed(&mut conn, CLOSE_LIMIT)
        .expect("an idle keep-alive connection is closed by client_idle_timeout");
    assert_timeout_close(&bytes);
    assert!(
        after >= Duration::from_millis(500),
        "closed long before the idle timeout: {after:?}"
    );
    assert_still_serving(&setup, "idle");
});

/// One GET on a new connection that tolerates being refused: Some(status) or None.
fn try_get(addr: SocketAddr, target: &str) -> Option<u16> {
    let mut conn = Conn::open(addr);
    let raw = format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n");
    conn.stream.write_all(raw.as_bytes()).ok()?;
    conn.read_response(false)
        .filter(|r| r.complete)
        .map(|r| r.status)
}

with_shards!(connection_limit_refuses_the_extra_connection, |shards| {
    let setup = Setup::with(shards, &[("max_connections", "2")]);
    let path = "/bad_input/limit/x.ts";
    let mut first = Conn::open(setup.addr);
    let mut second = Conn::open(setup.addr);
    for (i, conn) in [&mut first, &mut second].into_iter().enumerate() {
        let response = conn.get(&format!("{path}?size=800&c={i}"));
        assert_eq!(response.status, 200, "{response:?}");
        assert!(response.complete);
    }

    // The third is over the global limit: refused with a 503 (or just closed) without
    // being read, so it sends nothing.
    let mut third = Conn::open(setup.addr);
    let (bytes, _) =
        read_until_closed(&mut third, CLOSE_LIMIT).expect("a connection over the limit is closed");
    assert!(
        bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 503 "),
        "over the limit: a 503 or a plain close, got {:?}",
        String::from_utf8_lossy(&bytes)
    );

    // The two admitted connections are unaffected.
    for (i, conn) in [&mut first, &mut second].into_iter().enumerate() {
        let response = conn.get(&format!("{path}?size=900&c={i}"));
        assert_eq!(response.status, 200, "{response:?}");
        assert!(response.complete);
        assert_eq!(response.body, expected_body(path, 900));
    }

    // Once they go, new connections are admitted again.
    drop(first);
    drop(second);
    assert!(
        eventually(Duration::from_secs(5), || try_get(
            setup.addr,
            "/bad_input/limit/after.ts?size=100"
        ) == Some(200)),
        "connections are admitted again after the others closed"
    );
    assert_still_serving(&setup, "limit");
});
