//! Cache-Control directives (RFC 9111 5.2) seen from clients: what response directives let
//! the cache store and reuse, what request directives make it go upstream or refuse, the
//! `request_cache_control` switch, and the targeted fields of RFC 9213 (`CDN-Cache-Control`
//! and the configured `Livecache-Cache-Control`).

mod common;
use common::*;

use std::time::Duration;

/// Longer than a 2 s lifetime plus the up to 1 s of apparent age a whole-second `Date` adds.
const PAST_TWO_SECONDS: Duration = Duration::from_millis(2100);

fn is_hit(r: &Response) -> bool {
    r.cache_status().contains("; hit")
}

/// Two GETs of `target`: both go to the origin and neither is a hit.
fn assert_never_stored(setup: &Setup, target: &str) {
    for round in 1..=2u64 {
        let r = setup.get(target);
        assert_eq!(r.status, 200, "{r:?}");
        assert!(!is_hit(&r), "round {round}: {}", r.cache_status());
        assert!(
            !r.cache_status().contains("stored"),
            "round {round}: {}",
            r.cache_status()
        );
        assert_eq!(setup.origin.hits(target), round);
    }
}

/// A GET of `target` that is stored, then a hit.
fn assert_stored(setup: &Setup, target: &str) -> (Response, Response) {
    let first = setup.get(target);
    assert_eq!(first.status, 200, "{first:?}");
    assert!(storable(&first), "{}", first.cache_status());
    let second = setup.get(target);
    assert!(is_hit(&second), "{}", second.cache_status());
    assert_eq!(setup.origin.hits(target), 1);
    (first, second)
}

// Response directives.

with_shards!(response_max_age_is_stored, |shards| {
    let setup = Setup::new(shards);
    let (_, hit) = assert_stored(&setup, "/dir/maxage/seg.m4s?size=100&cc=max-age%3D60");
    let ttl = cache_status_ttl(&hit).expect("a ttl");
    assert!((55..=60).contains(&ttl), "{}", hit.cache_status());
});

with_shards!(response_s_maxage_beats_max_age, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/smaxage/seg.m4s?size=100&cc=s-maxage%3D2%2C%20max-age%3D0";
    assert_stored(&setup, target);
});

with_shards!(response_no_store_is_never_stored, |shards| {
    let setup = Setup::new(shards);
    assert_never_stored(
        &setup,
        "/dir/nostore/seg.m4s?size=100&cc=no-store%2C%20max-age%3D60",
    );
});

with_shards!(response_private_is_never_stored, |shards| {
    let setup = Setup::new(shards);
    assert_never_stored(
        &setup,
        "/dir/private/seg.m4s?size=100&cc=private%2C%20max-age%3D60",
    );
});

with_shards!(response_public_is_stored, |shards| {
    let setup = Setup::new(shards);
    assert_stored(
        &setup,
        "/dir/public/seg.m4s?size=100&cc=public%2C%20max-age%3D60",
    );
});

with_shards!(response_qualified_no_cache_withholds_the_field, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/nocachefield/seg.m4s?size=100&hdr=Set-Cookie:a%3Db\
                  &cc=max-age%3D60%2C%20no-cache%3D%22Set-Cookie%22";
    let (first, hit) = assert_stored(&setup, target);
    assert_eq!(
        first.header("set-cookie"),
        Some("a=b"),
        "the client whose fetch brought it"
    );
    assert_eq!(hit.header("set-cookie"), None, "{hit:?}");
    let again = setup.get(target);
    assert!(is_hit(&again) && again.header("set-cookie").is_none());
    assert_eq!(again.body, expected_body("/dir/nocachefield/seg.m4s", 100));
    assert_eq!(setup.origin.hits(target), 1);
});

/// With `max_stale_on_error=60s`, a stale `cc` response whose origin is down is not served
/// stale; a plain response under the same conditions is (the control).
fn assert_no_stale_when_origin_down(shards: usize, name: &str, cc: &str) {
    let setup = Setup::with(shards, &[("max_stale_on_error", "60s")]);
    let strict = format!("/dir/{name}/strict.m4s?size=100&cc={cc}");
    let plain = format!("/dir/{name}/plain.m4s?size=100&cc=max-age%3D2");
    for target in [&strict, &plain] {
        warm_stored(&setup, target);
    }
    setup.origin.refuse_connections().unwrap();
    setup.advance(PAST_TWO_SECONDS);
    let r = setup.get(&strict);
    assert!(r.status == 502 || r.status == 504, "{r:?}");
    assert!(!is_hit(&r), "{}", r.cache_status());
    let control = setup.get(&plain);
    assert_eq!(control.status, 200, "{control:?}");
    assert!(
        control.cache_status().contains("detail=stale-if-error"),
        "{}",
        control.cache_status()
    );
}

with_shards!(response_must_revalidate_is_never_served_stale, |shards| {
    assert_no_stale_when_origin_down(shards, "mustreval", "max-age%3D2%2C%20must-revalidate");
});

with_shards!(response_proxy_revalidate_is_never_served_stale, |shards| {
    assert_no_stale_when_origin_down(shards, "proxyreval", "max-age%3D2%2C%20proxy-revalidate");
});

with_shards!(response_s_maxage_is_never_served_stale, |shards| {
    // RFC 9111 5.2.2.10: s-maxage implies proxy-revalidate.
    assert_no_stale_when_origin_down(shards, "smaxagestale", "s-maxage%3D2");
});

with_shards!(response_immutable_survives_a_reload_max_age_0, |shards| {
    let setup = Setup::new(shards);
    let immutable = "/dir/immutable/seg.m4s?size=100&cc=max-age%3D60%2C%20immutable";
    let plain = "/dir/immutable/plain.m4s?size=100&cc=max-age%3D60";
    setup.get(immutable);
    setup.get(plain);
    // Whole seconds: past 1 s of age, max-age=0 is exceeded by any stored response.
    setup.advance(Duration::from_millis(1100));
    let reload = [("Cache-Control", "max-age=0")];
    let r = get_with(setup.addr, immutable, &reload);
    assert!(is_hit(&r), "immutable: {}", r.cache_status());
    assert_eq!(setup.origin.hits(immutable), 1);
    let r = get_with(setup.addr, plain, &reload);
    assert_eq!(r.status, 200);
    assert!(
        r.cache_status().contains("fwd=request"),
        "plain: {}",
        r.cache_status()
    );
    assert_eq!(setup.origin.hits(plain), 2);
    // A forced reload (no-cache) goes upstream even for an immutable response.
    let r = get_with(setup.addr, immutable, &[("Cache-Control", "no-cache")]);
    assert!(
        r.cache_status().contains("fwd=request"),
        "{}",
        r.cache_status()
    );
});

with_shards!(response_no_transform_is_served_byte_identical, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/notransform/seg.m4s?size=5000&cc=max-age%3D60%2C%20no-transform";
    let (miss, hit) = assert_stored(&setup, target);
    let expected = expected_body("/dir/notransform/seg.m4s", 5000);
    for r in [&miss, &hit] {
        assert_eq!(r.body, expected);
        assert_eq!(r.header("cache-control"), Some("max-age=60, no-transform"));
        assert_eq!(r.header("content-length"), Some("5000"));
        assert!(r.header("content-encoding").is_none());
    }
});

// Request directives.

/// Stores `target` (fresh for 60 s) and checks the next plain request is a hit.
fn store_fresh(setup: &Setup, target: &str) {
    assert!(storable(&setup.get(target)));
    assert!(is_hit(&setup.get(target)));
}

/// `r` went upstream although the stored response was fresh, as a revalidation that the
/// origin answered with `304`, and the client got the whole `200`.
fn assert_revalidated_on_request(setup: &Setup, target: &str, r: &Response, path: &str) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, expected_body(path, 100));
    let status = r.cache_status();
    assert!(
        status.contains("fwd=request") && status.contains("fwd-status=304"),
        "{status}"
    );
    let sent = origin_requests_for(setup, "GET", target);
    let last = sent.last().expect("an origin request");
    assert!(
        last.header("if-none-match").is_some(),
        "conditional: {last:?}"
    );
}

with_shards!(request_no_cache_goes_upstream_even_when_fresh, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/reqnocache/seg.m4s?size=100&cc=max-age%3D60";
    store_fresh(&setup, target);
    let r = get_with(setup.addr, target, &[("Cache-Control", "no-cache")]);
    assert_revalidated_on_request(&setup, target, &r, "/dir/reqnocache/seg.m4s");
    assert_eq!(setup.origin.hits(target), 2);
    assert!(is_hit(&setup.get(target)), "still stored");
});

with_shards!(request_pragma_no_cache_on_http10_goes_upstream, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/pragma/seg.m4s?size=100&cc=max-age%3D60";
    store_fresh(&setup, target);
    let r = request(
        setup.addr,
        &format!("GET {target} HTTP/1.0\r\nHost: test.local\r\nPragma: no-cache\r\n\r\n"),
        false,
    );
    assert_revalidated_on_request(&setup, target, &r, "/dir/pragma/seg.m4s");
    assert_eq!(setup.origin.hits(target), 2);
    // With a Cache-Control, Pragma is ignored.
    let r = request(
        setup.addr,
        &format!(
            "GET {target} HTTP/1.0\r\nHost: test.local\r\nPragma: no-cache\r\n\
             Cache-Control: max-stale=5\r\n\r\n"
        ),
        false,
    );
    assert!(is_hit(&r), "{}", r.cache_status());
});

with_shards!(request_no_store_leaves_nothing_stored, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/reqnostore/seg.m4s?size=100&cc=max-age%3D60";
    let r = get_with(setup.addr, target, &[("Cache-Control", "no-store")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/dir/reqnostore/seg.m4s", 100));
    assert!(!r.cache_status().contains("stored"), "{}", r.cache_status());
    let next = setup.get(target);
    assert!(
        next.cache_status().contains("fwd=uri-miss"),
        "{}",
        next.cache_status()
    );
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(request_max_age_exceeded_goes_upstream, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/reqmaxage/seg.m4s?size=100&cc=max-age%3D60";
    store_fresh(&setup, target);
    let r = get_with(setup.addr, target, &[("Cache-Control", "max-age=30")]);
    assert!(is_hit(&r), "young enough: {}", r.cache_status());
    setup.advance(PAST_TWO_SECONDS);
    let r = get_with(setup.addr, target, &[("Cache-Control", "max-age=1")]);
    assert_revalidated_on_request(&setup, target, &r, "/dir/reqmaxage/seg.m4s");
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(request_min_fresh_beyond_remaining_goes_upstream, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/minfresh/seg.m4s?size=100&cc=max-age%3D60";
    store_fresh(&setup, target);
    let r = get_with(setup.addr, target, &[("Cache-Control", "min-fresh=10")]);
    assert!(is_hit(&r), "{}", r.cache_status());
    let r = get_with(setup.addr, target, &[("Cache-Control", "min-fresh=120")]);
    assert_revalidated_on_request(&setup, target, &r, "/dir/minfresh/seg.m4s");
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(request_max_stale_serves_stale_as_hit, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/maxstale/seg.m4s?size=100&cc=max-age%3D1";
    warm_stored(&setup, target);
    setup.advance(PAST_TWO_SECONDS);
    let r = get_with(setup.addr, target, &[("Cache-Control", "max-stale=60")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected_body("/dir/maxstale/seg.m4s", 100));
    assert!(is_hit(&r), "{}", r.cache_status());
    assert!(
        r.cache_status().contains("detail=max-stale"),
        "{}",
        r.cache_status()
    );
    let ttl = cache_status_ttl(&r).expect("a ttl");
    assert!(ttl < 0, "stale: {}", r.cache_status());
    let r = get_with(setup.addr, target, &[("Cache-Control", "max-stale")]);
    assert!(is_hit(&r), "any staleness: {}", r.cache_status());
    assert_eq!(setup.origin.hits(target), 1);
    // Not as stale as it is: revalidated.
    let r = get_with(setup.addr, target, &[("Cache-Control", "max-stale=0")]);
    assert!(
        r.cache_status().contains("fwd=stale"),
        "{}",
        r.cache_status()
    );
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(
    request_max_stale_does_not_override_must_revalidate,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/dir/maxstalemr/seg.m4s?size=100&cc=max-age%3D1%2C%20must-revalidate";
        warm_stored(&setup, target);
        setup.advance(PAST_TWO_SECONDS);
        let r = get_with(setup.addr, target, &[("Cache-Control", "max-stale=60")]);
        assert_eq!(r.status, 200);
        assert!(!is_hit(&r), "{}", r.cache_status());
        assert!(
            r.cache_status().contains("fwd=stale"),
            "{}",
            r.cache_status()
        );
        assert_eq!(setup.origin.hits(target), 2);
    }
);

with_shards!(request_only_if_cached, |shards| {
    let setup = Setup::new(shards);
    let only = [("Cache-Control", "only-if-cached")];
    let nothing = "/dir/onlyifcached/none.m4s?size=100";
    let r = get_with(setup.addr, nothing, &only);
    assert_eq!(r.status, 504, "{r:?}");
    assert_eq!(setup.origin.hits(nothing), 0, "no origin request");

    let fresh = "/dir/onlyifcached/fresh.m4s?size=100&cc=max-age%3D60";
    setup.get(fresh);
    let r = get_with(setup.addr, fresh, &only);
    assert_eq!(r.status, 200);
    assert!(is_hit(&r), "{}", r.cache_status());
    assert_eq!(r.body, expected_body("/dir/onlyifcached/fresh.m4s", 100));
    assert_eq!(setup.origin.hits(fresh), 1);
});

with_shards!(
    request_only_if_cached_with_only_a_stale_copy_is_504,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/dir/onlyifcached/stale.m4s?size=100&cc=max-age%3D1";
        warm_stored(&setup, target);
        setup.advance(PAST_TWO_SECONDS);
        let r = get_with(setup.addr, target, &[("Cache-Control", "only-if-cached")]);
        assert_eq!(r.status, 504, "{r:?}");
        assert_eq!(setup.origin.hits(target), 1);
        let r = get_with(
            setup.addr,
            target,
            &[("Cache-Control", "only-if-cached, max-stale=60")],
        );
        assert_eq!(r.status, 200, "{r:?}");
        assert!(is_hit(&r), "{}", r.cache_status());
        assert_eq!(setup.origin.hits(target), 1);
    }
);

with_shards!(request_cache_control_ignore_serves_as_plain, |shards| {
    let setup = Setup::with(shards, &[("request_cache_control", "ignore")]);
    let target = "/dir/ignore/seg.m4s?size=100&cc=max-age%3D60";
    store_fresh(&setup, target);
    for fields in [
        [("Cache-Control", "no-cache")],
        [("Cache-Control", "only-if-cached")],
        [("Pragma", "no-cache")],
        [("Cache-Control", "max-age=0")],
    ] {
        let r = get_with(setup.addr, target, &fields);
        assert!(is_hit(&r), "{fields:?}: {}", r.cache_status());
    }
    assert_eq!(setup.origin.hits(target), 1);
    // only-if-cached with nothing stored: a plain miss, fetched.
    let fresh = "/dir/ignore/new.m4s?size=100&cc=max-age%3D60";
    let r = get_with(setup.addr, fresh, &[("Cache-Control", "only-if-cached")]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.cache_status().contains("fwd=uri-miss"),
        "{}",
        r.cache_status()
    );
});

// Targeted fields (RFC 9213).

with_shards!(cdn_cache_control_overrides_cache_control, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/cdncc/seg.m4s?size=100&cc=no-store&hdr=CDN-Cache-Control:max-age%3D60";
    let (first, hit) = assert_stored(&setup, target);
    for r in [&first, &hit] {
        assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
        assert_eq!(r.header("cdn-cache-control"), Some("max-age=60"), "{r:?}");
    }
});

with_shards!(targeted_field_overrides_cdn_cache_control, |shards| {
    let setup = Setup::new(shards);
    let target = "/dir/targeted/seg.m4s?size=100&cc=max-age%3D60\
                  &hdr=CDN-Cache-Control:max-age%3D60&hdr=Livecache-Cache-Control:no-store";
    assert_never_stored(&setup, target);
    let r = setup.get(target);
    assert_eq!(r.header("livecache-cache-control"), Some("no-store"));
    assert_eq!(r.header("cdn-cache-control"), Some("max-age=60"));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    // And the other way round: the targeted field alone makes it storable.
    let stored = "/dir/targeted/stored.m4s?size=100&cc=no-store\
                  &hdr=CDN-Cache-Control:no-store&hdr=Livecache-Cache-Control:max-age%3D60";
    let (_, hit) = assert_stored(&setup, stored);
    assert_eq!(hit.header("livecache-cache-control"), Some("max-age=60"));
});

with_shards!(targeted_field_name_is_configurable, |shards| {
    let setup = Setup::with(shards, &[("targeted_cache_control", "X-Edge-Cache")]);
    let configured = "/dir/xedge/seg.m4s?size=100&cc=no-store&hdr=X-Edge-Cache:max-age%3D60";
    let (_, hit) = assert_stored(&setup, configured);
    assert_eq!(hit.header("x-edge-cache"), Some("max-age=60"));
    // The default name means nothing any more: CDN-Cache-Control decides.
    let default_name = "/dir/xedge/default.m4s?size=100&cc=no-store\
                        &hdr=Livecache-Cache-Control:no-store&hdr=CDN-Cache-Control:max-age%3D60";
    let (_, hit) = assert_stored(&setup, default_name);
    assert_eq!(hit.header("livecache-cache-control"), Some("no-store"));
    let overridden = "/dir/xedge/override.m4s?size=100&cc=max-age%3D60\
                      &hdr=CDN-Cache-Control:max-age%3D60&hdr=X-Edge-Cache:no-store";
    assert_never_stored(&setup, overridden);
});

with_shards!(request_no_store_requests_still_share_one_fetch, |shards| {
    let setup = Setup::new(shards);
    let target = "/directives/nostore-herd/seg.m4s?size=2000&delay_ms=300&cc=max-age%3D60";
    let responses = all_at_once(setup.addr, 8, |_, conn| {
        send_with(conn, "GET", target, &[("Cache-Control", "no-store")])
    });
    for r in &responses {
        assert_eq!(r.status, 200);
        assert!(r.complete);
        assert!(!r.cache_status().contains("stored"), "{}", r.cache_status());
    }
    assert_eq!(
        setup.origin.hits(target),
        1,
        "one origin request for the herd"
    );
    let after = setup.get(target);
    assert!(
        !is_hit(&after),
        "nothing was stored: {}",
        after.cache_status()
    );
    assert_eq!(setup.origin.hits(target), 2);
});
