//! Byte ranges (RFC 9110 14) cut by the cache from whole objects: `206` for one satisfiable
//! range from a stored object or from a fetch still arriving (which stays one whole,
//! unconditional origin request), `416` past the end, `If-Range`, and the cases answered with
//! the full `200` instead (several ranges, other units, invalid syntax, unknown length).

mod common;
use common::*;

use std::time::Duration;

/// The mock origin's `Last-Modified` for query-driven paths.
const LAST_MODIFIED: &str = "Thu, 01 Jan 2015 00:00:00 GMT";

/// Warms the cache with `target`.
fn warm(setup: &Setup, target: &str) {
    let r = setup.get(target);
    assert_eq!(r.status, 200);
    assert!(r.complete);
}

/// Asserts `r` is the `206` for bytes `first..=last` of `body`.
fn assert_partial(r: &Response, body: &[u8], first: usize, last: usize) {
    assert_eq!(r.status, 206, "{r:?}");
    let content_range = format!("bytes {first}-{last}/{}", body.len());
    assert_eq!(r.header("content-range"), Some(content_range.as_str()));
    let len = (last - first + 1).to_string();
    assert_eq!(r.header("content-length"), Some(len.as_str()));
    assert!(r.complete);
    assert!(
        r.body == body[first..=last],
        "the body is exactly the slice"
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
}

with_shards!(closed_range_from_cache_gets_206, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/closed.bin?size=1000";
    let body = expected_body("/range/closed.bin", 1000);
    warm(&setup, target);
    let r = get_with(setup.addr, target, &[("Range", "bytes=100-199")]);
    assert_partial(&r, &body, 100, 199);
    assert!(r.cache_status().contains("hit"));
    // The last position is clamped to the end.
    let r = get_with(setup.addr, target, &[("Range", "bytes=990-5000")]);
    assert_partial(&r, &body, 990, 999);
    // The unit is case-insensitive and OWS is allowed around the range.
    let r = get_with(setup.addr, target, &[("Range", "Bytes= 0-0 ")]);
    assert_partial(&r, &body, 0, 0);
    assert_eq!(setup.origin.hits(target), 1);
});

with_shards!(open_range_from_cache_gets_206, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/open.bin?size=1000";
    let body = expected_body("/range/open.bin", 1000);
    warm(&setup, target);
    let r = get_with(setup.addr, target, &[("Range", "bytes=900-")]);
    assert_partial(&r, &body, 900, 999);
});

with_shards!(suffix_range_from_cache_gets_206, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/suffix.bin?size=1000";
    let body = expected_body("/range/suffix.bin", 1000);
    warm(&setup, target);
    let r = get_with(setup.addr, target, &[("Range", "bytes=-100")]);
    assert_partial(&r, &body, 900, 999);
    // A suffix longer than the object is the whole object, still a 206.
    let r = get_with(setup.addr, target, &[("Range", "bytes=-5000")]);
    assert_partial(&r, &body, 0, 999);
});

with_shards!(range_of_a_large_stored_object_spans_chunks, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/large.bin?size=300000";
    let body = expected_body("/range/large.bin", 300000);
    warm(&setup, target);
    let r = get_with(setup.addr, target, &[("Range", "bytes=70000-250000")]);
    assert_partial(&r, &body, 70000, 250000);
});

with_shards!(
    ranges_on_a_miss_share_one_whole_fetch_and_finish_early,
    |shards| {
        let setup = Setup::new(shards);
        // Head and 4096 bytes, then 3 s of silence before the rest.
        let target = "/range/miss.bin?size=100000&pause_after=4096&pause_ms=3000";
        let body = expected_body("/range/miss.bin", 100000);
        let ranges = [
            (0, 999),
            (500, 1499),
            (1000, 4095),
            (0, 0),
            (4000, 4095),
            (10, 20),
        ];
        let responses = all_at_once(setup.addr, ranges.len(), |i, conn| {
            let (first, last) = ranges[i];
            let range = format!("bytes={first}-{last}");
            let fields = [("Range", range.as_str()), ("Connection", "close")];
            send_with(conn, "GET", target, &fields)
        });
        for (r, &(first, last)) in responses.iter().zip(&ranges) {
            assert_partial(r, &body, first, last);
            assert!(
                r.total < Duration::from_millis(2500),
                "the range waited for the rest of the body: {:?}",
                r.total
            );
        }
        assert_eq!(
            setup.origin.hits(target),
            1,
            "one origin request for all ranges"
        );
        let requests = setup.origin.requests();
        let fetch = requests.iter().find(|q| q.target == target).unwrap();
        assert!(
            fetch.header("range").is_none(),
            "the fetch asks for the whole object"
        );
    }
);

with_shards!(range_past_the_end_gets_416, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/past.bin?size=1000";
    warm(&setup, target);
    let mut conn = Conn::open(setup.addr);
    for range in ["bytes=1000-", "bytes=1000-2000", "bytes=-0"] {
        let r = send_with(&mut conn, "GET", target, &[("Range", range)]);
        assert_eq!(r.status, 416, "{range}: {r:?}");
        assert_eq!(r.header("content-range"), Some("bytes */1000"));
        assert_eq!(r.header("content-length"), Some("0"));
        assert!(r.body.is_empty());
        assert!(
            r.header("cache-control").is_none(),
            "a 416 must not be stored downstream"
        );
    }
    // The connection stays usable.
    let r = conn.get(target);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/range/past.bin", 1000));
});

with_shards!(if_range_matching_gets_206, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/if-range.bin?size=1000&etag=v1";
    let body = expected_body("/range/if-range.bin", 1000);
    warm(&setup, target);
    for validator in ["\"v1\"", LAST_MODIFIED] {
        let r = get_with(
            setup.addr,
            target,
            &[("Range", "bytes=10-19"), ("If-Range", validator)],
        );
        assert_partial(&r, &body, 10, 19);
    }
});

with_shards!(if_range_not_matching_or_weak_gets_200, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/if-range-no.bin?size=1000&etag=v1";
    let body = expected_body("/range/if-range-no.bin", 1000);
    warm(&setup, target);
    for validator in [
        "\"v2\"",
        "W/\"v1\"",
        "Fri, 02 Jan 2015 00:00:00 GMT",
        "garbage",
    ] {
        let r = get_with(
            setup.addr,
            target,
            &[("Range", "bytes=10-19"), ("If-Range", validator)],
        );
        assert_eq!(r.status, 200, "If-Range: {validator}");
        assert_eq!(r.body, body);
    }
    // A weak ETag on the response never satisfies If-Range.
    let weak = "/range/if-range-weak.bin?size=1000&etag=W/v1";
    warm(&setup, weak);
    let r = get_with(
        setup.addr,
        weak,
        &[("Range", "bytes=10-19"), ("If-Range", "\"v1\"")],
    );
    assert_eq!(r.status, 200);
});

with_shards!(multiple_ranges_get_the_full_200, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/multi.bin?size=1000";
    let body = expected_body("/range/multi.bin", 1000);
    warm(&setup, target);
    for range in ["bytes=0-9,20-29", "bytes=0-9, 5-15", "bytes=0-1,-1"] {
        let r = get_with(setup.addr, target, &[("Range", range)]);
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body, body);
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
    }
});

with_shards!(other_units_and_invalid_ranges_get_the_full_200, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/invalid.bin?size=1000";
    let body = expected_body("/range/invalid.bin", 1000);
    warm(&setup, target);
    for range in ["items=0-9", "bytes=9-0", "bytes=a-b", "bytes=", "0-9"] {
        let r = get_with(setup.addr, target, &[("Range", range)]);
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body, body);
    }
});

with_shards!(head_ignores_range_and_gets_the_200_head, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/head.bin?size=1000";
    warm(&setup, target);
    let mut conn = Conn::open(setup.addr);
    // RFC 9110 14.2: Range is defined for GET only; other methods MUST ignore it.
    let r = send_with(&mut conn, "HEAD", target, &[("Range", "bytes=100-199")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), None);
    assert_eq!(r.header("content-length"), Some("1000"));
    // No body bytes followed the head: the next response parses from a clean stream.
    let r = conn.get(target);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/range/head.bin", 1000));
});

with_shards!(
    unknown_length_on_a_miss_gets_200_then_206_once_stored,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/range/chunked.bin?size=1000&te=chunked";
        let body = expected_body("/range/chunked.bin", 1000);
        let r = get_with(setup.addr, target, &[("Range", "bytes=10-19")]);
        assert_eq!(r.status, 200, "no length to put in Content-Range yet");
        assert_eq!(r.body, body);
        assert!(r.header("accept-ranges").is_none());
        assert!(eventually(Duration::from_secs(5), || {
            setup.get(target).cache_status().contains("hit")
        }));
        let r = get_with(setup.addr, target, &[("Range", "bytes=10-19")]);
        assert_partial(&r, &body, 10, 19);
    }
);

with_shards!(full_responses_announce_accept_ranges, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/accept.bin?size=1000&hdr=Accept-Ranges:none";
    let r = setup.get(target);
    assert_eq!(r.status, 200);
    let announced: Vec<_> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("accept-ranges"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(announced, ["bytes"], "ours replaces the origin's");
});

with_shards!(pass_through_ignores_range, |shards| {
    // A `pass_paths` route is passed: the origin (which ignores Range here) answers for itself.
    let setup = Setup::with(shards, &[("pass_paths", "/range/pass/")]);
    let target = "/range/pass/x.bin?size=1000";
    let r = get_with(setup.addr, target, &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/range/pass/x.bin", 1000));
    assert!(r.header("accept-ranges").is_none());
});

with_shards!(not_modified_takes_precedence_over_range, |shards| {
    let setup = Setup::new(shards);
    let target = "/range/cond.bin?size=1000&etag=v1";
    warm(&setup, target);
    let r = get_with(
        setup.addr,
        target,
        &[("Range", "bytes=0-9"), ("If-None-Match", "\"v1\"")],
    );
    assert_eq!(r.status, 304);
    assert!(r.header("content-range").is_none());
});

with_shards!(an_origin_206_is_passed_through_not_stored, |shards| {
    let setup = Setup::new(shards);
    // An origin that answers a whole-object request with a part (misconfigured, or a
    // parent that forwarded someone's Range): the part must never become the object.
    let target =
        "/range/part.bin?size=100&status=206&hdr=Content-Range:bytes%200-99%2F1000&cc=max-age%3D60";
    for round in 1..=2 {
        let r = setup.get(target);
        assert_eq!(r.status, 206);
        assert_eq!(r.header("content-range"), Some("bytes 0-99/1000"));
        assert_eq!(r.body.len(), 100);
        assert!(!r.cache_status().contains("stored"), "{}", r.cache_status());
        assert!(!r.cache_status().contains("hit"), "{}", r.cache_status());
        assert_eq!(setup.origin.hits(target), round);
    }
});
