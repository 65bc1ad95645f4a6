//! Black-box tests of the origin over real sockets, with a deliberately
//! strict little HTTP/1.1 client built on `std::net::TcpStream` only, so the
//! framing the cache will see is checked byte for byte. Timing assertions are
//! lower bounds only.

use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;
use common::Client;
use mock_origin::{expected_body, MockOrigin};

fn origin() -> MockOrigin {
    MockOrigin::start("127.0.0.1:0").expect("start origin")
}

#[test]
fn get_returns_expected_body_and_counts() {
    let origin = origin();
    let target = "/live/seg-1.ts?size=5000";
    let first = Client::connect(&origin).get(target);
    let second = Client::connect(&origin).get(target);
    for (n, r) in [(1, &first), (2, &second)] {
        assert_eq!(r.status, 200);
        assert_eq!(r.body, expected_body("/live/seg-1.ts", 5000));
        assert_eq!(r.header("content-length"), Some("5000"));
        assert_eq!(
            r.header("x-origin-request-count"),
            Some(n.to_string().as_str())
        );
        assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
        assert!(r.header("date").is_some_and(|d| d.ends_with(" GMT")));
        assert!(r.header("last-modified").is_some());
    }
    assert_eq!(first.header("etag"), second.header("etag"));
    assert_ne!(expected_body("/live/seg-2.ts", 5000), first.body);
    Client::connect(&origin).get("/live/seg-1.ts?size=10&v=2");
    assert_eq!(
        (
            origin.hits(target),
            origin.path_hits("/live/seg-1.ts"),
            origin.total()
        ),
        (2, 3, 3)
    );
    let log = origin.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].method.as_str(), log[0].target.as_str()),
        ("GET", target)
    );
    assert_eq!(log[2].target, "/live/seg-1.ts?size=10&v=2");
    assert!(log[0]
        .headers
        .iter()
        .any(|(n, v)| n == "Host" && v == "origin"));
    origin.reset();
    assert_eq!(
        (origin.hits(target), origin.total(), origin.requests().len()),
        (0, 0, 0)
    );
}

#[test]
fn head_has_get_headers_but_no_body() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    client.send("HEAD /h?size=777 HTTP/1.1\r\nHost: origin\r\n\r\n");
    let head = client.response(true);
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("777"))
    );
    assert!(head.header("etag").is_some());
    // Had a body been sent, this would read it as the next status line.
    let next = client.get("/h?size=3");
    assert_eq!(next.body, expected_body("/h", 3));
    assert_eq!(origin.requests()[0].method, "HEAD");
}

#[test]
fn chunked_framing_is_valid_and_pieces_become_chunks() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    client.send("GET /c?te=chunked&chunk=100&size=1050 HTTP/1.1\r\nHost: origin\r\n\r\n");
    let head = client.head().unwrap();
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("content-length"), None);
    let chunks = client.chunked_body();
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 50]
    );
    assert_eq!(chunks.concat(), expected_body("/c", 1050));
    // The terminator was complete: the connection is reusable.
    assert_eq!(
        client.get("/c?te=chunked&size=7").body,
        expected_body("/c", 7)
    );
}

#[test]
fn close_delimited_body_ends_at_eof() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let response = client.get("/eof?te=close&size=3000");
    assert_eq!(
        (
            response.header("content-length"),
            response.header("connection")
        ),
        (None, Some("close"))
    );
    assert_eq!(response.body, expected_body("/eof", 3000));
}

#[test]
fn fail_after_cuts_the_body_with_a_reset() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    client.send("GET /f?size=10000&fail_after=3000 HTTP/1.1\r\nHost: origin\r\n\r\n");
    let head = client.head().unwrap();
    assert_eq!(head.header("content-length"), Some("10000"));
    let (body, reset) = client.drain();
    assert!(reset, "expected a TCP reset");
    assert_eq!(body, expected_body("/f", 3000));
}

#[test]
fn keep_alive_reuses_one_connection() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let a = client.get("/k?size=10");
    let b = client.get("/k?size=20");
    assert_eq!((a.body.len(), b.body.len()), (10, 20));
    assert_eq!(
        a.header("x-origin-connection"),
        b.header("x-origin-connection")
    );
    let other = Client::connect(&origin).get("/k?size=10");
    assert_ne!(
        other.header("x-origin-connection"),
        a.header("x-origin-connection")
    );
    let conns: Vec<u64> = origin.requests().iter().map(|r| r.connection).collect();
    assert_eq!(conns[0], conns[1]);

    // HTTP/1.0 without keep-alive, and HTTP/1.1 with Connection: close, end the connection.
    for request in [
        "GET /k HTTP/1.0\r\n\r\n",
        "GET /k HTTP/1.1\r\nConnection: close\r\n\r\n",
    ] {
        let mut client = Client::connect(&origin);
        client.send(request);
        let response = client.response(false);
        assert_eq!(response.body.len(), 1024);
        assert_eq!(client.drain(), (Vec::new(), false));
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    client.send("GET /p1?size=5 HTTP/1.1\r\n\r\nGET /p2?size=6 HTTP/1.1\r\n\r\n");
    assert_eq!(client.response(false).body, expected_body("/p1", 5));
    assert_eq!(client.response(false).body, expected_body("/p2", 6));
}

#[test]
fn delay_ms_delays_the_head() {
    let origin = origin();
    let started = Instant::now();
    let response = Client::connect(&origin).get("/slow?delay_ms=200&size=1");
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn pause_after_splits_the_body() {
    let origin = origin();
    let started = Instant::now();
    let response = Client::connect(&origin).get("/pa?size=2000&pause_after=500&pause_ms=100");
    assert_eq!(response.body, expected_body("/pa", 2000));
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[test]
fn stats_endpoint_reports_json_and_is_not_counted() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    client.get("/b?x=1");
    client.get("/a");
    client.get("/a");
    let stats = client.get("/__stats");
    assert_eq!(stats.header("content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8(stats.body).unwrap(),
        r#"{"total":3,"targets":{"/a":2,"/b?x=1":1},"faults":{"errors":0,"resets":0,"stalls":0},"playlists":{"blocking":0,"plain":0,"skip":0}}"#
    );
    assert_eq!((origin.total(), origin.hits("/__stats")), (3, 0));
}

#[test]
fn post_bodies_are_read_and_echoed() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    client.send("POST /up HTTP/1.1\r\nHost: origin\r\nContent-Length: 11\r\n\r\nhello world");
    let response = client.response(false);
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"method=POST len=11"[..])
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    client.send("PUT /up?status=201 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n");
    let response = client.response(false);
    assert_eq!(
        (response.status, response.body.as_slice()),
        (201, &b"method=PUT len=11"[..])
    );
    let log = origin.requests();
    assert_eq!(
        (log[0].body.as_slice(), log[1].body.as_slice()),
        (&b"hello world"[..], &b"hello world"[..])
    );
    assert_eq!(origin.path_hits("/up"), 2);
}

#[test]
fn caching_headers_follow_the_query() {
    let origin = origin();
    let mut client = Client::connect(&origin);
    let r = client.get("/h?cc=private%2C%20max-age%3D5&age=7&expires=-10&nodate=1&etag=v1&hdr=X-A:1&hdr=Vary:Accept");
    assert_eq!(r.header("cache-control"), Some("private, max-age=5"));
    assert_eq!(
        (r.header("age"), r.header("etag"), r.header("date")),
        (Some("7"), Some("\"v1\""), None)
    );
    assert!(r
        .header("expires")
        .is_some_and(|e| e.len() == 29 && e.ends_with(" GMT")));
    assert_eq!(
        (r.header("x-a"), r.header("vary")),
        (Some("1"), Some("Accept"))
    );
    assert_eq!(
        client.get("/h?cc=none&status=404").header("cache-control"),
        None
    );

    let etag = client.get("/h").header("etag").unwrap().to_string();
    client.send(&format!("GET /h HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n"));
    let revalidated = client.response(false);
    assert_eq!((revalidated.status, revalidated.body.len()), (304, 0));
    assert_eq!(
        client.get("/h").status,
        200,
        "connection still usable after 304"
    );
}

#[test]
fn broken_framing_variants() {
    let origin = origin();
    let r = Client::connect(&origin).get("/x?bad=dup-cl&size=10");
    assert_eq!(r.header_count("content-length"), 2);
    let mut client = Client::connect(&origin);
    client.send("GET /x?bad=cl-te&size=10 HTTP/1.1\r\n\r\n");
    let head = client.head().unwrap();
    assert!(head.header("content-length").is_some() && head.header("transfer-encoding").is_some());
    let mut client = Client::connect(&origin);
    client.send("GET /x?bad=short&size=100 HTTP/1.1\r\n\r\n");
    client.head().unwrap();
    assert_eq!(client.drain().0, expected_body("/x", 50));
    let mut client = Client::connect(&origin);
    client.send("GET /x?bad=garbage HTTP/1.1\r\n\r\n");
    assert!(!client.drain().0.starts_with(b"HTTP/"));
}

#[test]
fn dropping_the_origin_stops_listening() {
    let origin = origin();
    let addr = origin.addr();
    assert!(origin.url().starts_with("http://127.0.0.1:"));
    let mut idle = Client::connect(&origin);
    idle.get("/before");
    drop(origin);
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
    assert_eq!(
        idle.drain(),
        (Vec::new(), false),
        "open connections are shut down"
    );
}
