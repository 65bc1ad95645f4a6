//! Client conditional requests (RFC 9110 13) answered by the cache itself, from a stored
//! object or a fetch in progress: `If-None-Match` (strong, weak, lists, `*`) and
//! `If-Modified-Since` turn a cacheable `200` into a `304` with the right fields, the origin
//! never sees the client's conditions, and the connection stays usable.

mod common;
use common::*;

/// The mock origin's `Last-Modified` for query-driven paths.
const LAST_MODIFIED: &str = "Thu, 01 Jan 2015 00:00:00 GMT";

/// Warms the cache with `target` and checks that it was a full `200`.
fn warm(setup: &Setup, target: &str) {
    let r = setup.get(target);
    assert_eq!(r.status, 200);
    assert!(r.complete);
}

/// Asserts `r` is a `304` carrying the validators and caching fields of the `200` it stands
/// for, and none of its representation or framing fields.
fn assert_not_modified(r: &Response) {
    assert_eq!(r.status, 304, "{r:?}");
    assert!(r.body.is_empty());
    assert!(r.header("etag").is_some(), "{r:?}");
    assert_eq!(r.header("last-modified"), Some(LAST_MODIFIED));
    assert!(r.header("cache-control").is_some());
    assert!(r.header("date").is_some());
    assert!(r.header("via").is_some());
    assert!(r.header("cache-status").is_some());
    for dropped in [
        "content-type",
        "content-length",
        "transfer-encoding",
        "content-range",
    ] {
        assert!(r.header(dropped).is_none(), "{dropped} in {r:?}");
    }
}

with_shards!(if_none_match_strong_tag_gets_304_from_cache, |shards| {
    let setup = Setup::new(shards);
    let target = "/cond/strong.bin?size=1000&etag=v1";
    warm(&setup, target);
    let mut conn = Conn::open(setup.addr);
    let r = send_with(&mut conn, "GET", target, &[("If-None-Match", "\"v1\"")]);
    assert_not_modified(&r);
    assert_eq!(r.header("etag"), Some("\"v1\""));
    assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
    assert!(r.header("age").is_some());
    // The same connection carries the next request: the 304 had no body.
    let r = conn.get(target);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/cond/strong.bin", 1000));
    assert_eq!(setup.origin.hits(target), 1);
});

with_shards!(if_none_match_weak_comparison_gets_304, |shards| {
    let setup = Setup::new(shards);
    let strong = "/cond/weak.bin?size=1000&etag=v1";
    warm(&setup, strong);
    let r = get_with(setup.addr, strong, &[("If-None-Match", "W/\"v1\"")]);
    assert_not_modified(&r);
    let weak = "/cond/weak.bin?size=1000&etag=W/v1";
    warm(&setup, weak);
    let r = get_with(setup.addr, weak, &[("If-None-Match", "\"v1\"")]);
    assert_not_modified(&r);
    assert_eq!(r.header("etag"), Some("W/\"v1\""));
});

with_shards!(if_none_match_list_and_star_get_304, |shards| {
    let setup = Setup::new(shards);
    let target = "/cond/list.bin?size=1000&etag=v1";
    warm(&setup, target);
    let r = get_with(
        setup.addr,
        target,
        &[("If-None-Match", "\"a\", \"v1\", \"b\"")],
    );
    assert_not_modified(&r);
    let r = get_with(
        setup.addr,
        target,
        &[("If-None-Match", "\"a\""), ("If-None-Match", "\"v1\"")],
    );
    assert_not_modified(&r);
    let r = get_with(setup.addr, target, &[("If-None-Match", "*")]);
    assert_not_modified(&r);
    assert_eq!(setup.origin.hits(target), 1);
});

with_shards!(if_none_match_not_matching_gets_200, |shards| {
    let setup = Setup::new(shards);
    let target = "/cond/other.bin?size=1000&etag=v1";
    warm(&setup, target);
    for value in ["\"v2\"", "\"V1\"", "\"a\", W/\"b\"", "v1"] {
        let r = get_with(setup.addr, target, &[("If-None-Match", value)]);
        assert_eq!(r.status, 200, "If-None-Match: {value}");
        assert_eq!(r.body, expected_body("/cond/other.bin", 1000));
    }
    // If-None-Match present: If-Modified-Since is ignored, even when it would match.
    let r = get_with(
        setup.addr,
        target,
        &[
            ("If-None-Match", "\"v2\""),
            ("If-Modified-Since", LAST_MODIFIED),
        ],
    );
    assert_eq!(r.status, 200);
});

with_shards!(if_modified_since_gets_304, |shards| {
    let setup = Setup::new(shards);
    let target = "/cond/ims.bin?size=1000";
    warm(&setup, target);
    for since in [LAST_MODIFIED, "Fri, 02 Jan 2015 00:00:00 GMT"] {
        let r = get_with(setup.addr, target, &[("If-Modified-Since", since)]);
        assert_not_modified(&r);
    }
    let r = get_with(
        setup.addr,
        target,
        &[("If-Modified-Since", "Wed, 31 Dec 2014 23:59:59 GMT")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/cond/ims.bin", 1000));
});

with_shards!(invalid_if_modified_since_is_ignored, |shards| {
    let setup = Setup::new(shards);
    let target = "/cond/bad-ims.bin?size=1000";
    warm(&setup, target);
    let r = get_with(setup.addr, target, &[("If-Modified-Since", "yesterday")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/cond/bad-ims.bin", 1000));
});

with_shards!(
    first_request_miss_gets_304_and_the_fetch_is_stored,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/cond/miss.bin?size=100000&etag=v1&delay_ms=50";
        let r = get_with(setup.addr, target, &[("If-None-Match", "\"v1\"")]);
        assert_not_modified(&r);
        assert!(r.cache_status().contains("fwd="), "{}", r.cache_status());
        // The origin got an unconditional request (else it would have answered 304 itself and
        // nothing could be stored), and the object is stored for everyone.
        let requests = setup.origin.requests();
        let fetch = requests
            .iter()
            .find(|q| q.target == target)
            .expect("fetched");
        assert!(fetch.header("if-none-match").is_none());
        assert!(eventually(std::time::Duration::from_secs(5), || {
            setup.get(target).cache_status().contains("hit")
        }));
        assert_eq!(setup.origin.hits(target), 1);
    }
);

with_shards!(head_with_if_none_match_gets_304, |shards| {
    let setup = Setup::new(shards);
    let target = "/cond/head.bin?size=1000&etag=v1";
    warm(&setup, target);
    let mut conn = Conn::open(setup.addr);
    let r = send_with(&mut conn, "HEAD", target, &[("If-None-Match", "\"v1\"")]);
    assert_not_modified(&r);
    let r = conn.get(target);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/cond/head.bin", 1000));
});

with_shards!(conditions_on_other_statuses_are_left_alone, |shards| {
    let setup = Setup::new(shards);
    let target = "/cond/missing.bin?status=404&etag=v1";
    let r = get_with(setup.addr, target, &[("If-None-Match", "\"v1\"")]);
    assert_eq!(r.status, 404);
    let r = get_with(setup.addr, target, &[("If-None-Match", "\"v1\"")]);
    assert_eq!(r.status, 404);
});
