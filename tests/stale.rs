//! Serving stale responses (RFC 5861 and the operator's cap): `stale-while-revalidate` answers
//! at once from the cache while one background revalidation runs; `stale-if-error` and
//! `max_stale_on_error` answer an origin error, refusal or timeout with the stale response
//! within their window, and let the error through beyond it.

mod common;
use common::*;

use std::time::Duration;

/// Longer than a 1 s lifetime plus the up to 1 s of apparent age a whole-second `Date` adds,
/// so the response is stale by at least one whole second (a negative `ttl`).
const STALE_BY_A_SECOND: Duration = Duration::from_millis(2100);

fn is_hit(r: &Response) -> bool {
    r.cache_status().contains("; hit")
}

/// Warms the cache with `target`: a full `200` that was stored.
fn warm(setup: &Setup, target: &str) {
    let r = warm_stored(setup, target);
    assert_eq!(r.status, 200, "{r:?}");
}

/// `r` is the stale stored `200` of `path` (`size` bytes), served because the origin failed.
fn assert_stale_on_error(r: &Response, path: &str, size: usize, fwd_status: Option<u16>) {
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.complete);
    assert_eq!(r.body, expected_body(path, size));
    let status = r.cache_status();
    assert!(
        status.contains("fwd=stale") && status.contains("detail=stale-if-error"),
        "{status}"
    );
    match fwd_status {
        Some(code) => assert!(status.contains(&format!("fwd-status={code}")), "{status}"),
        None => assert!(!status.contains("fwd-status"), "{status}"),
    }
    // Stale is said with a negative ttl (RFC 9211 2.5), and nothing new is stored.
    assert!(status.contains("ttl=-"), "{status}");
    assert!(!status.contains("stored"), "{status}");
}

with_shards!(
    stale_while_revalidate_answers_at_once_and_refreshes,
    |shards| {
        let setup = Setup::new(shards);
        let path = "/stale/swr/seg.m4s";
        let target = "/stale/swr/seg.m4s?size=1000&etag=v1\
                  &cc=max-age%3D1%2C%20stale-while-revalidate%3D30\
                  &after=1&then_delay_ms=1500&then_etag=v2&then_cc=max-age%3D60";
        warm(&setup, target);
        setup.advance(STALE_BY_A_SECOND);

        let r = setup.get(target);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, expected_body(path, 1000));
        assert_eq!(r.header("etag"), Some("\"v1\""), "the stale response");
        let status = r.cache_status();
        assert!(
            is_hit(&r) && status.contains("detail=stale-while-revalidate"),
            "{status}"
        );
        assert!(cache_status_ttl(&r).expect("a ttl") < 0, "{status}");
        assert!(
            r.total < Duration::from_millis(1000),
            "answered without waiting for the 1.5 s revalidation: {:?}",
            r.total
        );
        assert!(
            eventually(Duration::from_secs(5), || setup.origin.hits(target) == 2),
            "one background revalidation reaches the origin"
        );
        let sent = origin_requests_for(&setup, "GET", target);
        assert_eq!(sent[1].header("if-none-match"), Some("\"v1\""));

        // Later requests see the refreshed object once the revalidation is in.
        let mut last = None;
        assert!(
            eventually(Duration::from_secs(5), || {
                let r = setup.get(target);
                let refreshed = r.header("etag") == Some("\"v2\"");
                last = Some(r);
                refreshed
            }),
            "{last:?}"
        );
        let r = last.unwrap();
        assert!(is_hit(&r), "{}", r.cache_status());
        assert!(cache_status_ttl(&r).expect("a ttl") > 0);
        assert_eq!(setup.origin.hits(target), 2, "one background fetch in all");
    }
);

with_shards!(stale_while_revalidate_herd_triggers_one_fetch, |shards| {
    let setup = Setup::new(shards);
    let path = "/stale/swrherd/seg.m4s";
    let target = "/stale/swrherd/seg.m4s?size=20000\
                  &cc=max-age%3D1%2C%20stale-while-revalidate%3D30\
                  &after=1&then_delay_ms=500&then_cc=max-age%3D60";
    warm(&setup, target);
    setup.advance(STALE_BY_A_SECOND);

    let responses = concurrent_gets(setup.addr, target, 20);
    let expected = expected_body(path, 20000);
    for r in &responses {
        assert_eq!(r.status, 200);
        assert!(r.complete && r.body == expected);
        assert!(
            is_hit(r) && r.cache_status().contains("detail=stale-while-revalidate"),
            "{}",
            r.cache_status()
        );
    }
    assert!(eventually(Duration::from_secs(5), || setup
        .origin
        .hits(target)
        == 2));
    // The refreshed object is in: no more background fetches.
    assert!(eventually(Duration::from_secs(5), || {
        let r = setup.get(target);
        is_hit(&r) && !r.cache_status().contains("detail=")
    }));
    assert_eq!(setup.origin.hits(target), 2, "one background fetch for 20");
});

with_shards!(stale_while_revalidate_window_ends, |shards| {
    let setup = Setup::new(shards);
    let target = "/stale/swrend/seg.m4s?size=100&cc=max-age%3D1%2C%20stale-while-revalidate%3D1";
    warm(&setup, target);
    // Stale by more than the 1 s window.
    setup.advance(Duration::from_millis(3100));
    let r = setup.get(target);
    assert_eq!(r.status, 200);
    assert!(
        r.cache_status().contains("fwd=stale") && r.cache_status().contains("fwd-status=304"),
        "revalidated before answering: {}",
        r.cache_status()
    );
});

with_shards!(stale_if_error_serves_stale_on_503, |shards| {
    let setup = Setup::new(shards);
    let path = "/stale/sie503/seg.m4s";
    let target = "/stale/sie503/seg.m4s?size=800\
                  &cc=max-age%3D1%2C%20stale-if-error%3D60&after=1&then_status=503";
    warm(&setup, target);
    setup.advance(STALE_BY_A_SECOND);
    let r = setup.get(target);
    assert_stale_on_error(&r, path, 800, Some(503));
    assert_eq!(setup.origin.hits(target), 2);
    // The stored response stays: the next request tries the origin again, and is answered
    // with it again.
    let r = setup.get(target);
    assert_stale_on_error(&r, path, 800, Some(503));
    assert_eq!(setup.origin.hits(target), 3);
});

with_shards!(stale_if_error_serves_stale_when_origin_refuses, |shards| {
    let setup = Setup::new(shards);
    let path = "/stale/sierefuse/seg.m4s";
    let target = "/stale/sierefuse/seg.m4s?size=800&cc=max-age%3D1%2C%20stale-if-error%3D60";
    warm(&setup, target);
    setup.origin.refuse_connections().unwrap();
    setup.advance(STALE_BY_A_SECOND);
    let r = setup.get(target);
    assert_stale_on_error(&r, path, 800, None);
    // Back up: the next request revalidates normally.
    setup.origin.accept_connections().unwrap();
    let r = setup.get(target);
    assert_eq!(r.status, 200);
    assert!(
        r.cache_status().contains("fwd-status=304"),
        "{}",
        r.cache_status()
    );
});

with_shards!(stale_if_error_serves_stale_on_timeout, |shards| {
    let setup = Setup::with(shards, &[("upstream_first_byte_timeout", "500ms")]);
    let path = "/stale/sietimeout/seg.m4s";
    let target = "/stale/sietimeout/seg.m4s?size=800\
                  &cc=max-age%3D1%2C%20stale-if-error%3D60&after=1&then_delay_ms=3000";
    warm(&setup, target);
    setup.advance(STALE_BY_A_SECOND);
    let r = setup.get(target);
    assert_stale_on_error(&r, path, 800, None);
    assert!(
        r.total < Duration::from_millis(2500),
        "answered at the timeout, not after the origin: {:?}",
        r.total
    );
});

with_shards!(stale_if_error_window_ends, |shards| {
    let setup = Setup::new(shards);
    let target = "/stale/sieend/seg.m4s?size=800\
                  &cc=max-age%3D1%2C%20stale-if-error%3D1&after=1&then_status=503";
    warm(&setup, target);
    // Stale by more than the 1 s window.
    setup.advance(Duration::from_millis(3100));
    let r = setup.get(target);
    assert_eq!(r.status, 503, "{r:?}");
    assert!(!is_hit(&r), "{}", r.cache_status());
    assert!(
        !r.cache_status().contains("stale-if-error"),
        "{}",
        r.cache_status()
    );
});

with_shards!(
    max_stale_on_error_covers_responses_without_stale_if_error,
    |shards| {
        let setup = Setup::with(shards, &[("max_stale_on_error", "30s")]);
        let path = "/stale/cap/seg.m4s";
        let target = "/stale/cap/seg.m4s?size=800&cc=max-age%3D1&after=1&then_status=503";
        warm(&setup, target);
        setup.advance(STALE_BY_A_SECOND);
        let r = setup.get(target);
        assert_stale_on_error(&r, path, 800, Some(503));
    }
);

with_shards!(stale_if_error_beats_max_stale_on_error, |shards| {
    // The response's own window wins over the operator's cap, in both directions.
    let setup = Setup::with(shards, &[("max_stale_on_error", "30s")]);
    let target = "/stale/capsie/seg.m4s?size=800\
                  &cc=max-age%3D1%2C%20stale-if-error%3D1&after=1&then_status=503";
    warm(&setup, target);
    setup.advance(Duration::from_millis(3100));
    let r = setup.get(target);
    assert_eq!(r.status, 503, "{}", r.cache_status());
});

with_shards!(
    without_stale_if_error_or_cap_the_error_passes_through,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/stale/nocap/seg.m4s?size=800&cc=max-age%3D1&after=1&then_status=503";
        warm(&setup, target);
        setup.advance(STALE_BY_A_SECOND);
        let r = setup.get(target);
        assert_eq!(r.status, 503, "{r:?}");
        let status = r.cache_status();
        assert!(
            status.contains("fwd=stale") && !status.contains("stale-if-error"),
            "{status}"
        );
    }
);

with_shards!(
    background_refresh_private_response_is_not_handed_to_a_joiner,
    |shards| {
        // A stale-while-revalidate refresh is started by request A (with A's Cookie) and answered
        // with a `private` response; request B (another user, `no-cache`) collapses onto that
        // fetch while it is in flight. B must not get the response fetched with A's fields.
        let setup = Setup::new(shards);
        let target = "/stale/swrprivate/seg.m4s?size=100&echo=Cookie\
                  &cc=max-age%3D1%2C%20stale-while-revalidate%3D30\
                  &after=1&then_delay_ms=1000&then_etag=v2&then_cc=private%2C%20max-age%3D60";
        let warmed = get_with(setup.addr, target, &[("Cookie", "user=w")]);
        assert!(storable(&warmed), "{}", warmed.cache_status());
        setup.advance(STALE_BY_A_SECOND);

        let a = get_with(setup.addr, target, &[("Cookie", "user=a")]);
        assert!(
            a.cache_status().contains("detail=stale-while-revalidate"),
            "{}",
            a.cache_status()
        );
        let b = get_with(
            setup.addr,
            target,
            &[("Cookie", "user=b"), ("Cache-Control", "no-cache")],
        );
        assert_eq!(b.status, 200, "{b:?}");
        assert_ne!(
            b.header("x-echo-cookie"),
            Some("user=a"),
            "B got the private response fetched for A: {b:?}"
        );
    }
);

with_shards!(
    background_refresh_withheld_field_is_not_handed_to_a_joiner,
    |shards| {
        // As above with a qualified `no-cache="Set-Cookie"`: the Set-Cookie that a refresh
        // started by A brought must not reach B, which collapsed onto that fetch.
        let setup = Setup::new(shards);
        let target = "/stale/swrcookie/seg.m4s?size=100&hdr=Set-Cookie:a%3Db\
                  &cc=max-age%3D1%2C%20stale-while-revalidate%3D30%2C%20no-cache%3D%22Set-Cookie%22\
                  &after=1&then_delay_ms=1000&then_etag=v2\
                  &then_cc=max-age%3D60%2C%20no-cache%3D%22Set-Cookie%22";
        let warmed = warm_stored(&setup, target);
        assert_eq!(warmed.header("set-cookie"), Some("a=b"));
        setup.advance(STALE_BY_A_SECOND);

        let a = setup.get(target);
        assert!(
            a.cache_status().contains("detail=stale-while-revalidate"),
            "{}",
            a.cache_status()
        );
        assert_eq!(a.header("set-cookie"), None);
        let b = get_with(setup.addr, target, &[("Cache-Control", "no-cache")]);
        assert_eq!(b.status, 200, "{b:?}");
        assert!(
            b.cache_status().contains("collapsed"),
            "{}",
            b.cache_status()
        );
        assert_eq!(b.header("set-cookie"), None, "{b:?}");
    }
);

with_shards!(
    stale_while_revalidate_is_not_served_to_a_client_limiting_age,
    |shards| {
        let setup = Setup::new(shards);
        let target =
            "/stale/swr-maxage/seg.m4s?size=500&cc=max-age%3D1%2C%20stale-while-revalidate%3D30";
        warm(&setup, target);
        setup.advance(STALE_BY_A_SECOND);
        // RFC 9111 5.2.1.1: max-age without max-stale means the client wants no stale copy.
        let r = get_with(setup.addr, target, &[("Cache-Control", "max-age=5")]);
        assert_eq!(r.status, 200);
        assert!(
            r.cache_status().contains("fwd=stale") && !is_hit(&r),
            "{}",
            r.cache_status()
        );
        assert_eq!(setup.origin.hits(target), 2);
    }
);
