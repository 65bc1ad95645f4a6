//! Revalidation of stored responses (RFC 9111 4.3): a stale response is revalidated with its
//! validators, a `304` refreshes its fields and freshness, a changed entity replaces it, one
//! revalidation serves every concurrent requester, `no-cache` responses are revalidated on
//! every use, and client conditionals are answered after the revalidation.

mod common;
use common::*;

use std::time::Duration;

/// The mock origin's `Last-Modified` for query-driven paths.
const LAST_MODIFIED: &str = "Thu, 01 Jan 2015 00:00:00 GMT";

/// Longer than a 2 s lifetime plus the up to 1 s of apparent age a whole-second `Date` adds.
const PAST_TWO_SECONDS: Duration = Duration::from_millis(2100);

/// Warms the cache with `target`: a full `200` that was stored.
fn warm(setup: &Setup, target: &str) -> Response {
    let r = warm_stored(setup, target);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.complete);
    assert!(
        r.cache_status().contains("fwd=uri-miss"),
        "{}",
        r.cache_status()
    );
    r
}

with_shards!(
    stale_response_is_revalidated_and_refreshed_by_304,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/reval/basic/seg.m4s?size=1000&cc=max-age%3D2";
        let first = warm(&setup, target);
        let etag = first.header("etag").expect("an ETag").to_string();
        assert!(setup.get(target).cache_status().contains("hit"));
        setup.advance(PAST_TWO_SECONDS);

        let revalidated = setup.get(target);
        assert_eq!(revalidated.status, 200, "{revalidated:?}");
        assert!(revalidated.complete);
        assert_eq!(
            revalidated.body,
            expected_body("/reval/basic/seg.m4s", 1000),
            "the stored body under the refreshed head"
        );
        let status = revalidated.cache_status();
        assert!(
            status.contains("fwd=stale") && status.contains("fwd-status=304"),
            "{status}"
        );
        let sent = origin_requests_for(&setup, "GET", target);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].header("if-none-match"), None);
        assert_eq!(sent[1].header("if-none-match"), Some(etag.as_str()));
        assert_eq!(sent[1].header("if-modified-since"), Some(LAST_MODIFIED));

        let again = setup.get(target);
        assert!(
            again.cache_status().contains("hit"),
            "freshness was renewed: {}",
            again.cache_status()
        );
        assert_eq!(again.body, expected_body("/reval/basic/seg.m4s", 1000));
        assert_eq!(setup.origin.hits(target), 2);
    }
);

with_shards!(not_modified_fields_update_the_stored_ones, |shards| {
    let setup = Setup::new(shards);
    let target = "/reval/update/seg.m4s?size=500&cc=max-age%3D2&after=1&then_cc=max-age%3D30";
    let first = warm(&setup, target);
    assert_eq!(first.header("cache-control"), Some("max-age=2"));
    setup.advance(PAST_TWO_SECONDS);

    let revalidated = setup.get(target);
    assert!(
        revalidated.cache_status().contains("fwd-status=304"),
        "{}",
        revalidated.cache_status()
    );
    assert_eq!(revalidated.header("cache-control"), Some("max-age=30"));
    assert_eq!(
        revalidated
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
            .count(),
        1,
        "the 304's field replaces the stored one: {revalidated:?}"
    );
    let ttl = cache_status_ttl(&revalidated).expect("a ttl");
    assert!(ttl >= 28, "{}", revalidated.cache_status());

    // Past the old lifetime, the new one still holds.
    setup.advance(PAST_TWO_SECONDS);
    let later = setup.get(target);
    assert!(
        later.cache_status().contains("hit"),
        "{}",
        later.cache_status()
    );
    assert_eq!(later.header("cache-control"), Some("max-age=30"));
    assert_eq!(later.body, expected_body("/reval/update/seg.m4s", 500));
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(changed_entity_replaces_the_stored_one, |shards| {
    let setup = Setup::new(shards);
    let target = "/reval/changed/seg.m4s?size=700&etag=v1&cc=max-age%3D2&after=1&then_etag=v2";
    let first = warm(&setup, target);
    assert_eq!(first.header("etag"), Some("\"v1\""));
    setup.advance(PAST_TWO_SECONDS);

    let changed = setup.get(target);
    assert_eq!(changed.status, 200);
    assert_eq!(changed.header("etag"), Some("\"v2\""));
    assert_eq!(changed.body, expected_body("/reval/changed/seg.m4s", 700));
    let status = changed.cache_status();
    assert!(
        status.contains("fwd=stale") && status.contains("stored"),
        "{status}"
    );
    assert!(!status.contains("fwd-status=304"), "{status}");
    let sent = origin_requests_for(&setup, "GET", target);
    assert_eq!(sent[1].header("if-none-match"), Some("\"v1\""));

    let next = setup.get(target);
    assert!(
        next.cache_status().contains("hit"),
        "{}",
        next.cache_status()
    );
    assert_eq!(next.header("etag"), Some("\"v2\""));
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(concurrent_requests_share_one_revalidation, |shards| {
    let setup = Setup::new(shards);
    let target = "/reval/herd/seg.m4s?size=20000&cc=max-age%3D2&after=1&then_delay_ms=500";
    warm(&setup, target);
    setup.advance(PAST_TWO_SECONDS);

    let responses = concurrent_gets(setup.addr, target, 20);
    let expected = expected_body("/reval/herd/seg.m4s", 20000);
    for r in &responses {
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.complete && r.body == expected);
        assert!(
            r.cache_status().contains("fwd=stale") || r.cache_status().contains("hit"),
            "{}",
            r.cache_status()
        );
    }
    assert_eq!(
        setup.origin.hits(target),
        2,
        "one revalidation for all 20 requests"
    );
    let collapsed = responses
        .iter()
        .filter(|r| r.cache_status().contains("collapsed"))
        .count();
    assert!(collapsed >= 1, "the slow revalidation was joined");
});

with_shards!(no_cache_response_is_revalidated_on_every_use, |shards| {
    let setup = Setup::new(shards);
    let target = "/reval/nocache/seg.m4s?size=300&etag=nc1&cc=no-cache";
    let first = setup.get(target);
    assert_eq!(first.status, 200);
    assert!(
        storable(&first),
        "no-cache with a validator is stored: {}",
        first.cache_status()
    );
    for round in 2..=4 {
        let r = setup.get(target);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, expected_body("/reval/nocache/seg.m4s", 300));
        let status = r.cache_status();
        assert!(!status.contains("hit"), "round {round}: {status}");
        assert!(
            (status.contains("fwd=stale") || status.contains("fwd=request"))
                && status.contains("fwd-status=304"),
            "round {round}: {status}"
        );
        assert_eq!(setup.origin.hits(target), round as u64);
    }
    let sent = origin_requests_for(&setup, "GET", target);
    assert_eq!(sent[0].header("if-none-match"), None);
    for r in &sent[1..] {
        assert_eq!(r.header("if-none-match"), Some("\"nc1\""), "{r:?}");
    }
});

with_shards!(
    client_conditional_on_stale_entry_gets_304_after_revalidation,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/reval/cond/seg.m4s?size=400&etag=c1&cc=max-age%3D2";
        warm(&setup, target);
        setup.advance(PAST_TWO_SECONDS);

        let mut conn = Conn::open(setup.addr);
        let r = send_with(&mut conn, "GET", target, &[("If-None-Match", "\"c1\"")]);
        assert_eq!(r.status, 304, "{r:?}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some("\"c1\""));
        let status = r.cache_status();
        assert!(
            status.contains("fwd=stale") && status.contains("fwd-status=304"),
            "{status}"
        );
        assert_eq!(setup.origin.hits(target), 2);
        // The connection carries on, and the refreshed entry is a hit.
        let r = conn.get(target);
        assert_eq!(r.status, 200);
        assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
        assert_eq!(r.body, expected_body("/reval/cond/seg.m4s", 400));
        assert_eq!(setup.origin.hits(target), 2);
    }
);

with_shards!(
    client_conditional_on_changed_entity_gets_the_new_200,
    |shards| {
        let setup = Setup::new(shards);
        let target =
            "/reval/condchanged/seg.m4s?size=400&etag=c1&cc=max-age%3D2&after=1&then_etag=c2";
        warm(&setup, target);
        setup.advance(PAST_TWO_SECONDS);

        let r = get_with(setup.addr, target, &[("If-None-Match", "\"c1\"")]);
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.header("etag"), Some("\"c2\""));
        assert_eq!(r.body, expected_body("/reval/condchanged/seg.m4s", 400));
        // The origin saw the cache's validator, not a copy of the client's condition list.
        let sent = origin_requests_for(&setup, "GET", target);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].header("if-none-match"), Some("\"c1\""));
    }
);

with_shards!(
    response_without_validators_is_refetched_unconditionally,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/reval/novalidators/seg.m4s?size=600&noetag=1&nolm=1&cc=max-age%3D2";
        warm(&setup, target);
        setup.advance(PAST_TWO_SECONDS);
        let r = setup.get(target);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, expected_body("/reval/novalidators/seg.m4s", 600));
        assert!(
            r.cache_status().contains("fwd=stale") && r.cache_status().contains("stored"),
            "{}",
            r.cache_status()
        );
        let sent = origin_requests_for(&setup, "GET", target);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].header("if-none-match"), None);
        assert_eq!(sent[1].header("if-modified-since"), None);
        assert!(setup.get(target).cache_status().contains("hit"));
    }
);

with_shards!(
    last_modified_alone_revalidates_with_if_modified_since,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/reval/lmonly/seg.m4s?size=600&noetag=1&cc=max-age%3D2";
        warm(&setup, target);
        setup.advance(PAST_TWO_SECONDS);
        let r = setup.get(target);
        assert_eq!(r.status, 200);
        assert!(
            r.cache_status().contains("fwd-status=304"),
            "{}",
            r.cache_status()
        );
        let sent = origin_requests_for(&setup, "GET", target);
        assert_eq!(sent[1].header("if-none-match"), None);
        assert_eq!(sent[1].header("if-modified-since"), Some(LAST_MODIFIED));
        assert!(setup.get(target).cache_status().contains("hit"));
    }
);

with_shards!(not_modified_with_no_store_drops_the_entry, |shards| {
    let setup = Setup::new(shards);
    let target = "/reval/nostore304/seg.m4s?size=600&cc=max-age%3D2&after=1&then_cc=no-store";
    warm(&setup, target);
    setup.advance(PAST_TWO_SECONDS);
    let r = setup.get(target);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, expected_body("/reval/nostore304/seg.m4s", 600));
    assert!(!r.cache_status().contains("hit"), "{}", r.cache_status());
    let after = setup.get(target);
    assert!(
        !after.cache_status().contains("hit"),
        "a no-store 304 leaves nothing stored: {}",
        after.cache_status()
    );
});

// Regression: a 304 without a Date once kept the stored Date (added by the cache on the first
// arrival), so the refreshed entry looked as old as the first fetch and was dropped.
with_shards!(not_modified_without_date_still_refreshes, |shards| {
    // The origin sends no Date on the 200 nor on the 304: the cache dates each on arrival
    // (RFC 9110 6.6.1), so the refreshed response is as fresh as the 304 says.
    let setup = Setup::new(shards);
    let target = "/reval/nodate/seg.m4s?size=600&nodate=1&cc=max-age%3D2";
    warm(&setup, target);
    setup.advance(PAST_TWO_SECONDS);
    let r = setup.get(target);
    assert_eq!(r.status, 200);
    let status = r.cache_status();
    assert!(
        status.contains("fwd-status=304") && status.contains("stored"),
        "the 304 refreshed the entry: {status}"
    );
    let again = setup.get(target);
    assert!(
        again.cache_status().contains("hit"),
        "{}",
        again.cache_status()
    );
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(
    a_304_for_another_representation_is_refetched_whole,
    |shards| {
        let setup = Setup::new(shards);
        // Stored without an ETag; the revalidation (If-Modified-Since only) gets a 304 that
        // names entity "v2": it does not validate the stored copy (RFC 9111 4.3.4).
        let target =
            "/reval/othertag/seg.m4s?size=700&noetag=1&cc=max-age%3D1&after=1&then_etag=v2";
        let path = "/reval/othertag/seg.m4s";
        warm(&setup, target);
        setup.advance(PAST_TWO_SECONDS);
        let r = setup.get(target);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, expected_body(path, 700));
        assert_eq!(r.header("etag"), Some("\"v2\""));
        let requests = origin_requests_for(&setup, "GET", target);
        assert_eq!(
            requests.len(),
            3,
            "first fetch, the 304, then a whole refetch"
        );
        assert!(requests[1].header("if-modified-since").is_some());
        assert!(requests[2].header("if-modified-since").is_none());
        assert!(requests[2].header("if-none-match").is_none());
        let again = setup.get(target);
        assert!(
            again.cache_status().contains("hit"),
            "{}",
            again.cache_status()
        );
        assert_eq!(again.header("etag"), Some("\"v2\""));
    }
);
