//! Black-box tests over real sockets of what a cache's freshness, Vary and
//! error handling leans on: `If-Modified-Since` and the 304's headers,
//! validator knobs, byte ranges, `echo=`, `103 Early Hints`, the `after=N`
//! behaviour switch, and refusing connections.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;
use common::Client;
use mock_origin::{expected_body, MockOrigin};

fn origin() -> MockOrigin {
    MockOrigin::start("127.0.0.1:0").expect("start origin")
}

const LM: &str = "Thu, 01 Jan 2015 00:00:00 GMT";

#[test]
fn if_modified_since_and_the_304_headers() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let target = "/ims?cc=max-age%3D30&expires=30&age=4&etag=v1&echo=X-Id";
    let full = client.get_with(target, "X-Id: a\r\n");
    assert_eq!((full.status, full.header("last-modified")), (200, Some(LM)));
    let ims = format!("If-Modified-Since: {LM}\r\nX-Id: b\r\n");
    let not_modified = client.get_with(target, &ims);
    assert_eq!(not_modified.status, 304);
    for name in ["cache-control", "expires", "etag", "age", "last-modified"] {
        assert_eq!(
            not_modified.header(name),
            full.header(name),
            "{name} as on the 200"
        );
    }
    assert!(not_modified.header("date").is_some());
    assert_eq!(not_modified.header("x-echo-x-id"), Some("b"));
    assert_eq!(not_modified.header("content-type"), None);
    assert_eq!(not_modified.header("content-length"), None);
    // Before the Last-Modified, or overruled by a non-matching If-None-Match.
    let earlier = "If-Modified-Since: Wed, 31 Dec 2014 23:59:59 GMT\r\n";
    assert_eq!(client.get_with(target, earlier).status, 200);
    let stale_tag = format!("If-None-Match: \"v0\"\r\nIf-Modified-Since: {LM}\r\n");
    assert_eq!(client.get_with(target, &stale_tag).status, 200);
    let head = client.try_request("HEAD", target, &ims).unwrap();
    assert_eq!(head.status, 304);
    // Only a 200 is ever answered 304.
    assert_eq!(client.get_with("/ims?status=404", &ims).status, 404);
}

#[test]
fn validator_knobs() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let r = client.get_with("/lm?lm=1700000000", "");
    assert_eq!(
        r.header("last-modified"),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    let ims = "If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n";
    assert_eq!(client.get_with("/lm?lm=1700000000", ims).status, 200);
    let ims = "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n";
    assert_eq!(client.get_with("/lm?lm=1700000000", ims).status, 304);

    let bare = client.get_with("/lm?noetag=1&nolm=1", "");
    assert_eq!(
        (bare.header("etag"), bare.header("last-modified")),
        (None, None)
    );
    let conditional = format!("If-None-Match: *\r\nIf-Modified-Since: {LM}\r\n");
    let no_etag = client.get_with("/lm?noetag=1", "If-None-Match: \"x\"\r\n");
    assert_eq!((no_etag.status, no_etag.header("etag")), (200, None));
    assert_eq!(
        client
            .get_with("/lm?noetag=1", &format!("If-Modified-Since: {LM}\r\n"))
            .status,
        304
    );
    assert_eq!(
        client
            .get_with("/lm?nolm=1", &format!("If-Modified-Since: {LM}\r\n"))
            .status,
        200
    );
    assert_eq!(
        client.get_with("/lm?nolm=1", &conditional).status,
        304,
        "* matches"
    );
}

#[test]
fn byte_ranges() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let target = "/r?size=1000&ranges=1";
    let whole = expected_body("/r", 1000);
    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 999),
        ("bytes=-10", 990, 999),
        ("bytes=500-5000", 500, 999),
    ] {
        let r = client.get_with(target, &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{end}/1000").as_str())
        );
        assert_eq!(
            r.header("content-length"),
            Some((end - start + 1).to_string().as_str())
        );
        assert_eq!(r.body, &whole[start..=end], "{range}");
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
    }
    let r = client.get_with(target, "Range: bytes=1000-\r\n");
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes */1000"))
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Preconditions first; If-Range must match; ranges=1 must be asked for.
    let etag = client
        .get_with(target, "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = client.get_with(
        target,
        &format!("Range: bytes=0-0\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    let r = client.get_with(target, &format!("Range: bytes=0-0\r\nIf-Range: {etag}\r\n"));
    assert_eq!((r.status, r.body.len()), (206, 1));
    let r = client.get_with(target, "Range: bytes=0-0\r\nIf-Range: \"other\"\r\n");
    assert_eq!((r.status, r.body.len()), (200, 1000));
    let r = client.get_with("/r?size=1000", "Range: bytes=0-9\r\n");
    assert_eq!((r.status, r.body.len()), (200, 1000));
    assert_eq!(r.header("accept-ranges"), None);
    // Delivery knobs apply to the range; the connection stays usable.
    let r = client.get_with("/r?size=1000&ranges=1&chunk=7", "Range: bytes=3-20\r\n");
    assert_eq!(r.body, &whole[3..=20]);
}

#[test]
fn echo_reflects_request_fields() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let r = client.get_with(
        "/v?echo=Accept-Encoding&echo=X-Missing&hdr=Vary:Accept-Encoding",
        "Accept-Encoding: gzip\r\naccept-encoding: br\r\n",
    );
    assert_eq!(r.header("x-echo-accept-encoding"), Some("gzip, br"));
    assert_eq!(r.header("x-echo-x-missing"), Some("-"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
}

#[test]
fn early_hints_come_first_on_http11_only() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    client.send("GET /h?hints=1&size=5&delay_ms=100 HTTP/1.1\r\nHost: origin\r\n\r\n");
    let started = Instant::now();
    assert_eq!(client.line().unwrap(), "HTTP/1.1 103 Early Hints");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "before the delay"
    );
    assert_eq!(client.line().unwrap(), "Link: </style.css>; rel=preload");
    assert_eq!(client.line().unwrap(), "");
    let mut r = client.head().unwrap();
    assert_eq!(r.status, 200);
    r.body = vec![0; 5];
    client.reader.read_exact(&mut r.body).unwrap();
    assert_eq!(r.body, expected_body("/h", 5));

    let mut old = Client::connect(&origin);
    old.reader
        .get_mut()
        .write_all(b"GET /h?hints=1 HTTP/1.0\r\n\r\n")
        .unwrap();
    assert_eq!(old.line().unwrap(), "HTTP/1.1 200 OK");
}

#[test]
fn after_n_requests_the_origin_fails() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let target = "/e?after=2&then_status=503&cc=max-age%3D1";
    for _ in 0..2 {
        let r = client.get_with(target, "");
        assert_eq!(
            (r.status, r.header("cache-control")),
            (200, Some("max-age=1"))
        );
    }
    for count in 3..=4 {
        let r = client.get_with(target, "");
        assert_eq!(r.status, 503);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("etag"), None);
        assert_eq!(
            r.header("x-origin-request-count"),
            Some(count.to_string().as_str())
        );
        assert_eq!(r.body, b"mock-origin: status 503 after 2 requests\n");
    }
    origin.reset();
    assert_eq!(
        client.get_with(target, "").status,
        200,
        "reset restarts the count"
    );
}

#[test]
fn after_n_requests_slow_revalidation_with_new_headers() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let target = "/s?after=1&etag=v1&then_delay_ms=150&then_cc=max-age%3D99";
    let first = client.get_with(target, "");
    assert_eq!(first.header("cache-control"), Some("public, max-age=60"));
    let started = Instant::now();
    let second = client.get_with(target, "If-None-Match: \"v1\"\r\n");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(second.status, 304);
    assert_eq!(
        second.header("cache-control"),
        Some("max-age=99"),
        "on the 304"
    );

    let target = "/t?after=1&etag=v1&then_etag=v2";
    assert_eq!(client.get_with(target, "").header("etag"), Some("\"v1\""));
    let changed = client.get_with(target, "If-None-Match: \"v1\"\r\n");
    assert_eq!(
        (changed.status, changed.header("etag")),
        (200, Some("\"v2\""))
    );
    assert_eq!(changed.body, expected_body("/t", 1024));
    assert_eq!(
        client.get_with(target, "If-None-Match: \"v2\"\r\n").status,
        304
    );
}

#[test]
fn refusing_and_accepting_connections() {
    let origin = origin();
    let addr = origin.addr();
    let mut idle = Client::connect(&origin);
    assert_eq!(idle.get_with("/up", "").status, 200);
    assert!(origin.accepting());

    origin.refuse_connections().unwrap();
    origin.refuse_connections().unwrap(); // idempotent
    assert!(!origin.accepting());
    let err = TcpStream::connect(addr).expect_err("connection refused");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(
        idle.try_request("GET", "/up", "").is_err(),
        "a kept-alive connection fails on its next request"
    );

    origin.accept_connections().unwrap();
    origin.accept_connections().unwrap();
    assert!(origin.accepting());
    let mut client = Client::connect(&origin);
    let r = client.get_with("/up", "");
    assert_eq!(
        r.header("x-origin-request-count"),
        Some("2"),
        "counts carry on"
    );
    assert_eq!(origin.addr(), addr);
    // Refusing again while idle, then dropping, must not hang.
    origin.refuse_connections().unwrap();
    drop(origin);
    assert!(TcpStream::connect(addr).is_err());
}
