//! HTTP caching semantics seen from clients: HEAD against the cache, invalidation by unsafe
//! methods (RFC 9111 4.4), negative caching, bodiless statuses and 1xx forwarding, `Age`
//! across cache tiers, `Date` filled in, and the `Cache-Status` parameters (RFC 9211).

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, SystemTime};

fn send(addr: SocketAddr, method: &str, target: &str) -> Response {
    let mut conn = Conn::open(addr);
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: test.local\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    conn.send(raw.as_bytes());
    conn.read_response(false).expect("a response")
}

/// The `ttl=` of the last `Cache-Status` entry: the one of the cache closest to the client
/// (RFC 9211 2: each cache appends its entry).
fn ttl(r: &Response) -> i64 {
    let status = own_status(r);
    status
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("ttl="))
        .unwrap_or_else(|| panic!("no ttl in {status:?}"))
        .parse()
        .unwrap()
}

fn age(r: &Response) -> u64 {
    r.header("age")
        .unwrap_or_else(|| panic!("no Age: {r:?}"))
        .parse()
        .unwrap()
}

/// The last `Cache-Status` list member: the one added by the cache that answered.
fn own_status(r: &Response) -> String {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cache-status"))
        .flat_map(|(_, v)| v.split(','))
        .last()
        .map(|m| m.trim().to_string())
        .unwrap_or_default()
}

/// Asserts the next response on `conn` is a complete 200 with the body of `path`/`size`, so
/// nothing was left on the connection by the previous response.
fn assert_usable(conn: &mut Conn, path: &str, size: usize) {
    let r = conn.get(&format!("{path}?size={size}"));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.complete);
    assert_eq!(r.body, expected_body(path, size));
}

// ---- HEAD ----

with_shards!(head_is_answered_from_a_cached_get, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/head/1/seg.m4s?size=4321";
    assert_eq!(setup.get(target).body.len(), 4321);
    let mut conn = Conn::open(setup.addr);
    let r = send_with(&mut conn, "HEAD", target, &[]);
    assert_eq!(r.status, 200);
    assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
    assert_eq!(r.header("content-length"), Some("4321"));
    assert!(r.body.is_empty());
    assert_usable(&mut conn, "/sem/head/1/other.m4s", 10);
    assert_eq!(setup.origin.hits(target), 1);
});

with_shards!(head_miss_fetches_with_get, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/head/2/seg.m4s?size=5000";
    let mut conn = Conn::open(setup.addr);
    let r = send_with(&mut conn, "HEAD", target, &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), Some("5000"));
    // No body bytes were left behind on the connection.
    assert_usable(&mut conn, "/sem/head/2/other.m4s", 10);
    assert_eq!(setup.origin_count("GET", target), 1, "the origin got a GET");
    assert_eq!(setup.origin_count("HEAD", target), 0);
    let get = setup.get(target);
    assert!(get.cache_status().contains("hit"), "{}", get.cache_status());
    assert_eq!(get.body, expected_body("/sem/head/2/seg.m4s", 5000));
    assert_eq!(setup.origin.hits(target), 1);
});

with_shards!(head_of_a_chunked_object_has_no_body, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/head/3/seg.m4s?size=3000&te=chunked";
    let mut conn = Conn::open(setup.addr);
    let r = send_with(&mut conn, "HEAD", target, &[]);
    assert_eq!(r.status, 200);
    assert_usable(&mut conn, "/sem/head/3/other.m4s", 10);
    // And the same from the cache.
    let r = send_with(&mut conn, "HEAD", target, &[]);
    assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
    assert!(
        r.header("content-length").is_none_or(|v| v == "3000"),
        "{r:?}"
    );
    assert_usable(&mut conn, "/sem/head/3/other.m4s", 10);
    // And for a response that is passed through, not stored.
    let pass = "/sem/head/3/pass.m4s?size=3000&cc=no-store";
    let r = send_with(&mut conn, "HEAD", pass, &[]);
    assert_eq!(r.status, 200);
    assert_usable(&mut conn, "/sem/head/3/other.m4s", 10);
});

with_shards!(head_and_get_collapse_onto_one_get, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/head/4/seg.m4s?size=5000&delay_ms=300";
    let responses = all_at_once(setup.addr, 6, |i, conn| {
        let method = if i % 2 == 0 { "HEAD" } else { "GET" };
        let r = send_with(conn, method, target, &[]);
        assert_usable(conn, "/sem/head/4/other.m4s", 10);
        (method, r)
    });
    for (method, r) in responses {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("5000"), "{method}");
        if method == "GET" {
            assert_eq!(r.body, expected_body("/sem/head/4/seg.m4s", 5000));
        }
    }
    assert_eq!(setup.origin_count("GET", target), 1);
    assert_eq!(setup.origin_count("HEAD", target), 0);
});

// ---- Invalidation (RFC 9111 4.4) ----

with_shards!(unsafe_methods_invalidate_the_target, |shards| {
    let setup = Setup::new(shards);
    for (i, method) in ["POST", "PUT", "DELETE"].into_iter().enumerate() {
        let target = format!("/sem/inv/{i}/data?size=100");
        setup.get(&target);
        assert!(setup.get(&target).cache_status().contains("hit"));
        let r = send(setup.addr, method, &target);
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(r.body, format!("method={method} len=2").as_bytes());
        let after = setup.get(&target);
        assert!(
            after.cache_status().contains("fwd=uri-miss"),
            "{method} invalidates: {}",
            after.cache_status()
        );
        assert_eq!(setup.origin_count("GET", &target), 2, "{method}");
    }
});

/// Caches `path`, POSTs to `post_target`, and says whether `path` was invalidated.
fn invalidated_by_post(setup: &Setup, path: &str, post_target: &str) -> bool {
    setup.get(path);
    assert!(
        setup.get(path).cache_status().contains("hit"),
        "{path} is cached"
    );
    let before = setup.origin_count("GET", path);
    let post = send(setup.addr, "POST", post_target);
    assert!(post.status > 0);
    let after = setup.get(path);
    let went = setup.origin_count("GET", path) > before;
    assert_eq!(
        went,
        !after.cache_status().contains("hit"),
        "{}",
        after.cache_status()
    );
    went
}

with_shards!(location_of_an_unsafe_response_is_invalidated, |shards| {
    let setup = Setup::new(shards);
    assert!(invalidated_by_post(
        &setup,
        "/sem/loc/1/that/url",
        "/sem/loc/1/post?hdr=Location:%2Fsem%2Floc%2F1%2Fthat%2Furl"
    ));
});

with_shards!(
    content_location_of_an_unsafe_response_is_invalidated,
    |shards| {
        let setup = Setup::new(shards);
        assert!(invalidated_by_post(
            &setup,
            "/sem/loc/2/that/url",
            "/sem/loc/2/post?hdr=Content-Location:%2Fsem%2Floc%2F2%2Fthat%2Furl"
        ));
    }
);

with_shards!(
    absolute_location_on_the_same_host_is_invalidated,
    |shards| {
        let setup = Setup::new(shards);
        assert!(invalidated_by_post(
            &setup,
            "/sem/loc/3/that/url",
            "/sem/loc/3/post?hdr=Location:http%3A%2F%2Ftest.local%2Fsem%2Floc%2F3%2Fthat%2Furl"
        ));
        assert!(invalidated_by_post(
        &setup,
        "/sem/loc/3/other/url",
        "/sem/loc/3/post2?hdr=Content-Location:http%3A%2F%2Ftest.local%2Fsem%2Floc%2F3%2Fother%2Furl"
    ));
    }
);

with_shards!(location_forms_that_name_the_same_url, |shards| {
    let setup = Setup::new(shards);
    // With a query.
    assert!(invalidated_by_post(
        &setup,
        "/sem/loc/5/that?x=1",
        "/sem/loc/5/post?hdr=Location:%2Fsem%2Floc%2F5%2Fthat%3Fx%3D1"
    ));
    // Host names compare case-insensitively.
    assert!(invalidated_by_post(
        &setup,
        "/sem/loc/5/upper",
        "/sem/loc/5/post2?hdr=Location:http%3A%2F%2FTEST.LOCAL%2Fsem%2Floc%2F5%2Fupper"
    ));
    // A relative reference resolves against the request's target.
    assert!(invalidated_by_post(
        &setup,
        "/sem/loc/5/dir/sibling",
        "/sem/loc/5/dir/post3?hdr=Location:sibling"
    ));
    // A redirect is not an error.
    assert!(invalidated_by_post(
        &setup,
        "/sem/loc/5/moved",
        "/sem/loc/5/post4?status=301&hdr=Location:%2Fsem%2Floc%2F5%2Fmoved"
    ));
});

with_shards!(location_on_another_host_does_not_invalidate, |shards| {
    let setup = Setup::new(shards);
    assert!(!invalidated_by_post(
        &setup,
        "/sem/loc/4/that/url",
        "/sem/loc/4/post?hdr=Location:http%3A%2F%2Fother.example%2Fsem%2Floc%2F4%2Fthat%2Furl"
    ));
    assert!(!invalidated_by_post(
        &setup,
        "/sem/loc/4/that/url",
        "/sem/loc/4/post2?hdr=Content-Location:http%3A%2F%2Fother.example%2Fsem%2Floc%2F4%2Fthat%2Furl"
    ));
});

with_shards!(error_responses_do_not_invalidate, |shards| {
    let setup = Setup::new(shards);
    // Location on a 500.
    assert!(!invalidated_by_post(
        &setup,
        "/sem/err/1/that/url",
        "/sem/err/1/post?status=500&hdr=Location:%2Fsem%2Ferr%2F1%2Fthat%2Furl"
    ));
    // Nor does a 4xx.
    assert!(!invalidated_by_post(
        &setup,
        "/sem/err/1/other/url",
        "/sem/err/1/post2?status=404&hdr=Location:%2Fsem%2Ferr%2F1%2Fother%2Furl"
    ));
    // The target itself, answered 500 from the second request on.
    let target = "/sem/err/2/data?size=100&after=1&then_status=500";
    setup.get(target);
    assert!(setup.get(target).cache_status().contains("hit"));
    let r = send(setup.addr, "POST", target);
    assert_eq!(r.status, 500);
    let after = setup.get(target);
    assert!(
        after.cache_status().contains("hit"),
        "an error does not invalidate: {}",
        after.cache_status()
    );
    assert_eq!(after.status, 200);
});

// ---- Negative caching ----

/// GETs `target` twice; returns the statuses and how many requests reached the origin.
fn twice(setup: &Setup, target: &str, status: u16) -> (Response, u64) {
    let first = setup.get(target);
    assert_eq!(first.status, status);
    let second = setup.get(target);
    assert_eq!(second.status, status);
    (second, setup.origin.hits(target))
}

with_shards!(
    errors_without_freshness_are_not_stored_by_default,
    |shards| {
        let setup = Setup::new(shards);
        let (r, hits) = twice(&setup, "/sem/neg/1?status=404&cc=none", 404);
        assert_eq!(hits, 2, "{}", r.cache_status());
    }
);

with_shards!(negative_ttl_stores_matching_statuses, |shards| {
    let setup = Setup::with(shards, &[("negative_ttl", "404=30s")]);
    let (r, hits) = twice(&setup, "/sem/neg/2?status=404&cc=none", 404);
    assert_eq!(hits, 1);
    assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
    assert!(ttl(&r) <= 30 && ttl(&r) >= 28, "{}", r.cache_status());
    // Thirty seconds on (by the daemon's clock), the 404 is stale and asked for again.
    setup.advance(Duration::from_secs(31));
    let again = setup.get("/sem/neg/2?status=404&cc=none");
    assert!(
        !again.cache_status().contains("hit"),
        "{}",
        again.cache_status()
    );
    assert_eq!(setup.origin.hits("/sem/neg/2?status=404&cc=none"), 2);
    let (r, hits) = twice(&setup, "/sem/neg/3?status=410&cc=none", 410);
    assert_eq!(hits, 2, "the rule is for 404 only: {}", r.cache_status());
    // The origin's own directives come first.
    let (r, hits) = twice(&setup, "/sem/neg/3?status=404&cc=no-store", 404);
    assert_eq!(hits, 2, "{}", r.cache_status());
    let (r, hits) = twice(&setup, "/sem/neg/3?status=404&cc=private", 404);
    assert_eq!(hits, 2, "{}", r.cache_status());
    let (r, _) = twice(&setup, "/sem/neg/3?status=404&cc=max-age%3D5", 404);
    assert!(
        ttl(&r) <= 5,
        "explicit freshness wins: {}",
        r.cache_status()
    );
});

with_shards!(errors_with_explicit_freshness_are_stored, |shards| {
    let setup = Setup::new(shards);
    let (r, hits) = twice(&setup, "/sem/neg/4?status=404&cc=max-age%3D60", 404);
    assert_eq!(hits, 1, "{}", r.cache_status());
    assert!(r.cache_status().contains("hit"));
    let (r, hits) = twice(&setup, "/sem/neg/5?status=503&cc=max-age%3D60", 503);
    assert_eq!(hits, 1, "{}", r.cache_status());
    assert!(r.cache_status().contains("hit"));
});

with_shards!(negative_ttl_status_classes, |shards| {
    let setup = Setup::with(shards, &[("negative_ttl", "5xx=30s")]);
    let (r, hits) = twice(&setup, "/sem/neg/6?status=502&cc=none", 502);
    assert_eq!(hits, 1, "{}", r.cache_status());
    assert!(r.cache_status().contains("hit"));
    let (r, hits) = twice(&setup, "/sem/neg/7?status=404&cc=none", 404);
    assert_eq!(hits, 2, "{}", r.cache_status());
});

// ---- Status codes and framing ----

with_shards!(no_content_keeps_the_connection_usable, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/frame/204?status=204";
    let mut conn = Conn::open(setup.addr);
    for _ in 0..2 {
        let r = conn.get(target);
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        assert!(
            r.header("transfer-encoding").is_none(),
            "a 204 has no framing: {r:?}"
        );
        assert!(r.header("content-length").is_none_or(|v| v == "0"), "{r:?}");
        assert_usable(&mut conn, "/sem/frame/after", 50);
    }
});

with_shards!(not_modified_keeps_the_connection_usable, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/frame/304?size=500&etag=v1";
    let mut conn = Conn::open(setup.addr);
    // On a miss and on a hit.
    for _ in 0..2 {
        let r = send_with(&mut conn, "GET", target, &[("If-None-Match", "\"v1\"")]);
        assert_eq!(r.status, 304, "{r:?}");
        assert!(r.body.is_empty());
        assert!(r.header("transfer-encoding").is_none(), "{r:?}");
        assert_usable(&mut conn, "/sem/frame/after", 50);
    }
    let full = conn.get(target);
    assert_eq!(full.body, expected_body("/sem/frame/304", 500));
});

with_shards!(early_hints_reach_http11_clients, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/hints/1/seg.m4s?size=100&hints=1";
    let mut conn = Conn::open(setup.addr);
    conn.send(
        format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    let raw = conn.read_to_close();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 103"), "{text}");
    let final_at = text.find("HTTP/1.1 200").expect("a final 200");
    let link = text
        .find("\r\nLink: </style.css>; rel=preload\r\n")
        .or_else(|| {
            text.to_ascii_lowercase()
                .find("\r\nlink: </style.css>; rel=preload\r\n")
        })
        .expect("the 103 carries the Link field");
    assert!(link < final_at, "{text}");
    let interim_end = text.find("\r\n\r\n").unwrap();
    assert!(interim_end < final_at && link < interim_end, "{text}");
    // The parsed view: a 103 then the complete 200.
    let mut conn = Conn::open(setup.addr);
    conn.send(b"GET /sem/hints/2/seg.m4s?size=100&hints=1 HTTP/1.1\r\nHost: test.local\r\n\r\n");
    let interim = conn.read_response(false).unwrap();
    assert_eq!(interim.status, 103);
    assert_eq!(interim.header("link"), Some("</style.css>; rel=preload"));
    let r = conn.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/sem/hints/2/seg.m4s", 100));
    assert_usable(&mut conn, "/sem/hints/2/after", 10);
});

with_shards!(early_hints_with_collapsed_clients, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/hints/4/seg.m4s?size=100&hints=1&delay_ms=300";
    let responses = all_at_once(setup.addr, 8, |i, conn| {
        let version = if i % 2 == 0 { "1.1" } else { "1.0" };
        if i > 0 {
            // Client 0 (HTTP/1.1) leads; the others join its fetch.
            thread::sleep(Duration::from_millis(50));
        }
        conn.send(
            format!("GET {target} HTTP/{version}\r\nHost: test.local\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        (version, conn.read_to_close())
    });
    let mut hinted = 0;
    for (version, raw) in responses {
        assert!(
            raw.ends_with(&expected_body("/sem/hints/4/seg.m4s", 100)),
            "complete body"
        );
        let text = String::from_utf8_lossy(&raw);
        let final_at = text.find("HTTP/1.1 200").expect("a final 200");
        let hints = text.matches(" 103 ").count();
        if version == "1.0" {
            assert_eq!(hints, 0, "{text}");
            assert_eq!(final_at, 0, "{text}");
        } else {
            assert!(hints <= 1, "{text}");
            if hints == 1 {
                assert!(text.starts_with("HTTP/1.1 103"), "{text}");
                hinted += 1;
            } else {
                assert_eq!(final_at, 0, "{text}");
            }
        }
    }
    assert!(
        hinted >= 1,
        "at least the leading HTTP/1.1 client got the hints"
    );
    assert_eq!(setup.origin.hits(target), 1);
});

with_shards!(early_hints_are_not_sent_to_http10_clients, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/hints/3/seg.m4s?size=100&hints=1";
    let mut conn = Conn::open(setup.addr);
    conn.send(format!("GET {target} HTTP/1.0\r\nHost: test.local\r\n\r\n").as_bytes());
    let raw = conn.read_to_close();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"),
        "{text}"
    );
    assert!(!text.contains(" 103 "), "{text}");
    assert_eq!(setup.origin.hits(target), 1);
});

// ---- Age across tiers ----

with_shards!(upstream_age_counts_and_grows, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/age/1/seg.m4s?size=100&age=30&cc=max-age%3D60";
    let miss = setup.get(target);
    assert!(age(&miss) >= 30, "{miss:?}");
    assert!(ttl(&miss) <= 30, "{}", miss.cache_status());
    setup.advance(Duration::from_millis(1100));
    let hit = setup.get(target);
    assert!(hit.cache_status().contains("hit"), "{}", hit.cache_status());
    assert!(age(&hit) >= 31, "{hit:?}");
    assert!(
        ttl(&hit) < ttl(&miss),
        "{} then {}",
        miss.cache_status(),
        hit.cache_status()
    );
    assert!(age(&hit) + ttl(&hit) as u64 <= 60);
});

with_shards!(response_delay_counts_in_age, |shards| {
    let setup = Setup::new(shards);
    // RFC 9111 4.2.3: corrected_initial_age = age_value + response_delay.
    let target = "/sem/age/2/seg.m4s?size=100&age=30&delay_ms=1500&cc=max-age%3D60";
    let miss = setup.get(target);
    assert!(age(&miss) >= 31, "{miss:?}");
    assert!(ttl(&miss) <= 29, "{}", miss.cache_status());
});

/// A second daemon whose origin is another livecache.
struct Edge {
    addr: SocketAddr,
    running: Option<livecache::Running>,
}

impl Edge {
    fn in_front_of(shield: &Setup, shards: usize) -> Edge {
        let origin = format!("http://{}", shield.addr);
        let shards = shards.to_string();
        let config = livecache::Config::from_pairs(&[
            ("listen", "127.0.0.1:0"),
            ("origin", &origin),
            ("shards", &shards),
            ("cache_size", "64MiB"),
            // The shield is `livecache`: a tier of the same name would be a loop.
            ("name", "edge"),
        ])
        .expect("valid edge config");
        let running = livecache::start(config, livecache::Shutdown::new()).expect("edge starts");
        Edge {
            addr: running.local_addr,
            running: Some(running),
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }
}

with_shards!(age_accumulates_through_a_cache_chain, |shards| {
    let shield = Setup::new(shards);
    let edge = Edge::in_front_of(&shield, shards);
    let target = "/sem/tier/1/seg.m4s?size=100&age=10&cc=max-age%3D60";
    let r = get(edge.addr, target);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/sem/tier/1/seg.m4s", 100));
    assert!(age(&r) >= 10, "{r:?}");
    assert!(
        own_status(&r).starts_with("edge; fwd=uri-miss;") && !own_status(&r).contains("detail"),
        "{r:?}"
    );
    assert!(ttl(&r) <= 50, "{r:?}");
    assert_eq!(shield.origin.hits(target), 1);

    // An object that sat 2 s in the shield before the edge first asks for it.
    let target = "/sem/tier/2/seg.m4s?size=100&age=10&cc=max-age%3D60";
    let at_shield = shield.get(target);
    assert!(age(&at_shield) >= 10);
    shield.advance(Duration::from_millis(2100));
    let r = get(edge.addr, target);
    assert!(own_status(&r).contains("fwd=uri-miss"), "{r:?}");
    assert!(
        r.cache_status().starts_with("livecache; hit; ttl="),
        "the shield's entry comes first: {r:?}"
    );
    assert!(age(&r) >= 12, "the shield's residence time counts: {r:?}");
    assert!(ttl(&r) <= 48, "{r:?}");
    assert_eq!(
        r.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("age"))
            .count(),
        1
    );
    let hit = get(edge.addr, target);
    assert!(own_status(&hit).starts_with("edge; hit"), "{hit:?}");
    assert!(age(&hit) >= 12);
    assert!(ttl(&hit) <= 48, "{hit:?}");
    assert_eq!(shield.origin.hits(target), 1);
});

// ---- Date ----

with_shards!(date_is_added_and_kept_on_hits, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/date/1/seg.m4s?size=100&nodate=1&cc=max-age%3D60";
    let miss = setup.get(target);
    let dates: Vec<_> = miss
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("date"))
        .collect();
    assert_eq!(dates.len(), 1, "{miss:?}");
    let date = dates[0].1.clone();
    let parsed = httpdate::parse_http_date(&date).expect("a valid HTTP date");
    assert_eq!(httpdate::fmt_http_date(parsed), date, "IMF-fixdate");
    let skew = SystemTime::now()
        .duration_since(parsed)
        .unwrap_or_else(|e| e.duration());
    assert!(skew <= Duration::from_secs(5), "{date}");
    thread::sleep(Duration::from_millis(1500));
    let hit = setup.get(target);
    assert!(hit.cache_status().contains("hit"), "{}", hit.cache_status());
    assert_eq!(hit.header("date"), Some(date.as_str()), "the stored Date");
});

// ---- Cache-Status ----

with_shards!(cache_status_for_miss_then_hit, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/cs/1/seg.m4s?size=100&cc=max-age%3D60";
    let miss = setup.get(target);
    let status = miss.cache_status();
    // `stored` only when the body was complete as the head went out (RFC 9211 2.7).
    assert!(
        status.starts_with("livecache; fwd=uri-miss; stored; ttl=")
            || status.starts_with("livecache; fwd=uri-miss; ttl="),
        "{status}"
    );
    assert!((59..=60).contains(&ttl(&miss)), "{status}");
    let hit = setup.get(target);
    let status = hit.cache_status();
    assert!(status.starts_with("livecache; hit; ttl="), "{status}");
    assert!((58..=60).contains(&ttl(&hit)), "{status}");
});

with_shards!(cache_status_marks_collapsed_requests, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/cs/2/seg.m4s?size=100&delay_ms=300";
    let statuses: Vec<String> = concurrent_gets(setup.addr, target, 6)
        .iter()
        .map(|r| r.cache_status().to_string())
        .collect();
    assert_eq!(setup.origin.hits(target), 1);
    let leaders = statuses
        .iter()
        .filter(|s| s.contains("fwd=uri-miss") && !s.contains("collapsed"))
        .count();
    assert_eq!(leaders, 1, "{statuses:?}");
    let collapsed: Vec<_> = statuses
        .iter()
        .filter(|s| s.contains("collapsed"))
        .collect();
    assert!(!collapsed.is_empty(), "{statuses:?}");
    for s in collapsed {
        assert!(s.starts_with("livecache; fwd=uri-miss; collapsed"), "{s}");
    }
});

with_shards!(
    cache_status_says_stored_only_of_a_complete_object,
    |shards| {
        let setup = Setup::new(shards);
        // The head goes out while the body is still paused at the origin: not stored yet.
        let path = "/sem/cs/4/seg.m4s";
        let target = format!("{path}?size=4000&pause_after=100&pause_ms=300&cc=max-age%3D60");
        let slow = setup.get(&target);
        assert!(slow.complete);
        assert!(
            !slow.cache_status().contains("stored"),
            "{}",
            slow.cache_status()
        );
        assert!(setup.get(&target).cache_status().contains("hit"));
        // A response cut mid-body never said it was stored.
        let cut = setup.get("/sem/cs/4/cut.m4s?size=4000&fail_after=1000&cc=max-age%3D60");
        assert!(!cut.complete);
        assert!(
            !cut.cache_status().contains("stored"),
            "{}",
            cut.cache_status()
        );
        // Joining a revalidation whose 304 refreshed the stored copy: complete, and stored.
        let reval = "/sem/cs/4/reval.m4s?size=100&cc=max-age%3D1&etag=r1";
        warm_stored(&setup, reval);
        setup.advance(std::time::Duration::from_millis(2100));
        let refreshed = setup.get(reval);
        let status = refreshed.cache_status();
        assert!(
            status.contains("fwd=stale") && status.contains("stored"),
            "{status}"
        );
    }
);

with_shards!(cache_status_explains_no_store, |shards| {
    let setup = Setup::new(shards);
    let target = "/sem/cs/3/seg.m4s?size=100&cc=no-store";
    for _ in 0..2 {
        let r = setup.get(target);
        let status = r.cache_status();
        assert!(status.contains("detail=no-store"), "{status}");
        assert!(
            !status.contains("stored") || status.contains("no-store"),
            "{status}"
        );
        assert!(!status.contains("; stored"), "{status}");
        assert!(!status.contains("hit"), "{status}");
    }
    assert_eq!(setup.origin.hits(target), 2);
});
