//! HTTP/1.1 proxy behaviour seen from a client: hits, misses and expiry, `Age` and
//! `Cache-Status`, HEAD, methods passed through with their bodies and the invalidation they
//! cause, keep-alive, pipelining, HTTP/1.0, and hop-by-hop fields removed both ways.

mod common;
use common::*;

use std::time::Duration;

with_shards!(fresh_objects_expire, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/exp/1/seg.m4s?size=100&cc=max-age%3D2";
    assert!(warm_stored(&setup, target)
        .cache_status()
        .contains("fwd=uri-miss"));
    assert!(setup.get(target).cache_status().contains("hit"));
    setup.advance(Duration::from_millis(3100));
    let after = setup.get(target);
    assert!(
        after.cache_status().contains("fwd=stale; fwd-status=304"),
        "{}",
        after.cache_status()
    );
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(s_maxage_beats_max_age, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/smax/1/seg.m4s?size=100&cc=max-age%3D1%2C%20s-maxage%3D60";
    setup.get(target);
    setup.advance(Duration::from_millis(1500));
    assert!(setup.get(target).cache_status().contains("hit"));
});

with_shards!(
    expires_gives_freshness_and_no_freshness_stores_nothing,
    |shards| {
        let setup = Setup::new(shards);
        let expires = "/live/expires/1/seg.m4s?size=100&cc=none&expires=60";
        setup.get(expires);
        assert!(setup.get(expires).cache_status().contains("hit"));
        let silent = "/live/silent/1/seg.m4s?size=100&cc=none";
        setup.get(silent);
        setup.get(silent);
        assert_eq!(setup.origin.hits(silent), 2, "no heuristic freshness");
        let past = "/live/past/1/seg.m4s?size=100&cc=none&expires=-10";
        setup.get(past);
        setup.get(past);
        assert_eq!(setup.origin.hits(past), 2, "already expired");
    }
);

with_shards!(upstream_age_is_carried_and_counted, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/age/1/seg.m4s?size=100&age=10&cc=max-age%3D60";
    let miss = setup.get(target);
    let age: u64 = miss
        .header("age")
        .expect("Age on a miss with upstream age")
        .parse()
        .unwrap();
    assert!(age >= 10);
    let hit = setup.get(target);
    let age: u64 = hit.header("age").expect("Age on a hit").parse().unwrap();
    assert!(age >= 10);
    let ttl: i64 = hit
        .cache_status()
        .rsplit("ttl=")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ttl <= 50,
        "freshness left is lifetime minus age: {}",
        hit.cache_status()
    );
    assert_eq!(
        hit.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("age"))
            .count(),
        1
    );
});

with_shards!(head_is_served_through_the_cache, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/head/1/seg.m4s?size=4321";
    let head = request(
        setup.addr,
        &format!("HEAD {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"),
        true,
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("4321"));
    assert!(head.body.is_empty());
    let get = setup.get(target);
    assert!(get.cache_status().contains("hit"), "{}", get.cache_status());
    assert_eq!(get.body, expected_body("/live/head/1/seg.m4s", 4321));
    assert_eq!(
        setup.origin_count("GET", target),
        1,
        "a HEAD miss fetches the object once"
    );
    assert_eq!(setup.origin_count("HEAD", target), 0);
});

with_shards!(other_methods_pass_through_and_invalidate, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/post/1/data?size=100";
    setup.get(target);
    assert!(setup.get(target).cache_status().contains("hit"));
    let post = request(
        setup.addr,
        &format!("POST {target} HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
        false,
    );
    assert_eq!(post.status, 200);
    assert_eq!(post.body, b"method=POST len=5");
    assert!(post.cache_status().contains("fwd=request"));
    let recorded = setup
        .origin
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("POST reached the origin");
    assert_eq!(recorded.body, b"hello");
    let after = setup.get(target);
    assert!(
        after.cache_status().contains("fwd=uri-miss"),
        "invalidated: {}",
        after.cache_status()
    );
    assert_eq!(setup.origin_count("GET", target), 2);
    // A chunked request body is forwarded too.
    let put = request(
        setup.addr,
        &format!("PUT {target} HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        false,
    );
    assert_eq!(put.body, b"method=PUT len=3");
    assert!(
        setup.get(target).cache_status().contains("fwd=uri-miss"),
        "PUT invalidates too"
    );
});

with_shards!(requests_with_authorization_are_not_shared, |shards| {
    // Without `public`, `s-maxage` or `must-revalidate` (RFC 9111 3.5; tests/authorization.rs
    // has the rest).
    let setup = Setup::new(shards);
    let target = "/live/auth/1/seg.m4s?size=100&cc=max-age%3D60";
    for _ in 0..2 {
        let r = request(
            setup.addr,
            &format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nAuthorization: Bearer x\r\nConnection: close\r\n\r\n"),
            false,
        );
        assert_eq!(r.status, 200);
    }
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(keep_alive_and_pipelining_answer_in_order, |shards| {
    let setup = Setup::new(shards);
    let mut conn = Conn::open(setup.addr);
    let targets = [
        "/live/pipe/a/1.ts?size=300",
        "/live/pipe/b/2.ts?size=200",
        "/live/pipe/c/3.ts?size=100",
    ];
    let mut raw = String::new();
    for t in targets {
        raw.push_str(&format!("GET {t} HTTP/1.1\r\nHost: test.local\r\n\r\n"));
    }
    conn.send(raw.as_bytes());
    for (t, len) in targets.iter().zip([300, 200, 100]) {
        let r = conn.read_response(false).expect("pipelined response");
        assert_eq!(r.body.len(), len, "answered in order ({t})");
    }
    // And the connection is still usable.
    assert_eq!(conn.get("/live/pipe/a/1.ts?size=300").status, 200);
});

with_shards!(http10_and_connection_close, |shards| {
    let setup = Setup::new(shards);
    // HTTP/1.0 without Host, and an origin body of unknown length (chunked upstream).
    let mut conn = Conn::open(setup.addr);
    conn.send(b"GET /live/old/1/seg.ts?size=5000&te=chunked HTTP/1.0\r\n\r\n");
    let r = conn.read_response(false).expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/live/old/1/seg.ts", 5000));
    assert!(
        conn.is_closed_by_peer(),
        "HTTP/1.0 without keep-alive closes"
    );
    // HTTP/1.0 keep-alive.
    let mut conn = Conn::open(setup.addr);
    conn.send(b"GET /live/old/1/seg.ts?size=100 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = conn.read_response(false).unwrap();
    assert_eq!(r.header("connection"), Some("keep-alive"));
    conn.send(b"GET /live/old/1/seg.ts?size=100 HTTP/1.0\r\n\r\n");
    assert_eq!(conn.read_response(false).unwrap().status, 200);
    // HTTP/1.1 Connection: close.
    let mut conn = Conn::open(setup.addr);
    conn.send(b"GET /live/old/1/seg.ts?size=100 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let r = conn.read_response(false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.is_closed_by_peer());
});

with_shards!(chunked_origin_bodies_are_stored_and_served, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/chunked/1/seg.ts?size=70000&te=chunked&chunk=8000";
    let miss = setup.get(target);
    assert!(miss.complete);
    assert_eq!(miss.header("transfer-encoding"), Some("chunked"));
    let hit = setup.get(target);
    assert!(hit.cache_status().contains("hit") && hit.complete);
    assert_eq!(hit.body, expected_body("/live/chunked/1/seg.ts", 70000));
});

with_shards!(hop_by_hop_fields_are_removed_both_ways, |shards| {
    // X-Trace is forwarded by the allowlist but named in Connection: hop-by-hop wins.
    let setup = Setup::with(
        shards,
        &[("forward_fields", "Accept, X-Keep:safe, X-Trace:safe")],
    );
    let target = "/live/hop/1/seg.ts?size=10&hdr=X-Hop%3A1&hdr=Connection%3AX-Hop&hdr=Keep-Alive%3Atimeout%3D5";
    let r = request(
        setup.addr,
        &format!(
            "GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: X-Trace\r\nX-Trace: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Keep: yes\r\n\r\n"
        ),
        false,
    );
    assert_eq!(r.status, 200);
    assert!(
        r.header("x-hop").is_none(),
        "a field the origin named in Connection is removed"
    );
    assert!(r.header("keep-alive").is_none());
    assert!(r.header("via").is_some_and(|v| v.contains("livecache")));
    let sent = &setup.origin.requests()[0];
    let has = |name: &str| {
        sent.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    assert!(!has("x-trace") && !has("keep-alive") && !has("te") && !has("connection"));
    assert!(
        has("x-keep"),
        "end-to-end fields on the allowlist are forwarded"
    );
    assert!(sent
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("via") && v.contains("livecache")));
    assert!(sent
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("host") && v == "test.local"));
});

with_shards!(tracking_parameters_do_not_split_the_cache, |shards| {
    let setup = Setup::new(shards);
    setup.get("/live/cmcd/1/seg.ts?size=10&CMCD=br%3D3000");
    let r = setup.get("/live/cmcd/1/seg.ts?size=10&CMCD=br%3D6000");
    assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
    assert_eq!(setup.origin.total(), 1);
    assert_eq!(
        setup.origin.requests()[0].target,
        "/live/cmcd/1/seg.ts?size=10",
        "CMCD is not sent upstream"
    );
});
