//! What reaches the origin, and what a client can make every viewer get. A shared fetch
//! carries only the allowlisted request fields (`forward_fields`, `key_fields`): the fields
//! frameworks route or reflect on (`X-Forwarded-Host`, `X-Host`, `X-Original-URL`,
//! `X-Forwarded-Scheme`, `Cookie`, `X-Forwarded-For`) never reach it, so a client sending them
//! cannot change a stored response. Key fields split the cache by their values. A passed
//! request names its client in `X-Forwarded-For`/`Forwarded`, never copying the client's own.
//! Responses that set cookies are neither stored nor shared unless `set_cookie = strip`.

mod common;
use common::*;

/// Request fields that steer many origin frameworks, none of them in the cache key.
const OVERRIDES: &[(&str, &str)] = &[
    ("X-Forwarded-Host", "evil.example"),
    ("X-Host", "evil.example"),
    ("X-Original-URL", "/admin"),
    ("X-Rewrite-URL", "/admin"),
    ("X-Forwarded-Scheme", "nothttps"),
    ("X-Forwarded-Proto", "nothttps"),
    ("X-Forwarded-For", "6.6.6.6"),
    ("Forwarded", "for=6.6.6.6;host=evil.example"),
    ("Cookie", "session=attacker"),
];

with_shards!(
    override_fields_never_reach_the_origin_on_a_shared_fetch,
    |shards| {
        let setup = Setup::new(shards);
        let echo: String = OVERRIDES
            .iter()
            .map(|(name, _)| format!("&echo={name}"))
            .collect();
        let target = format!("/forwarding/poison/a.m3u8?size=300{echo}");
        let attacker = get_with(setup.addr, &target, OVERRIDES);
        assert_eq!(attacker.status, 200, "{attacker:?}");
        for (name, _) in OVERRIDES {
            assert_eq!(
                attacker.header(&format!("x-echo-{name}")),
                Some("-"),
                "{name} reached the origin"
            );
        }
        let recorded = origin_requests_for(&setup, "GET", &target);
        assert_eq!(recorded.len(), 1);
        for (name, _) in OVERRIDES {
            assert_eq!(recorded[0].header(name), None, "{name} was forwarded");
        }
        assert!(
            recorded[0]
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("livecache/")),
            "{:?}",
            recorded[0].headers
        );
        // A viewer without those fields gets the very response the attacker's request brought.
        let viewer = setup.get(&target);
        assert!(
            viewer.cache_status().contains("hit"),
            "{}",
            viewer.cache_status()
        );
        assert_eq!(viewer.body, attacker.body);
    }
);

with_shards!(negotiation_fields_are_forwarded_by_default, |shards| {
    let setup = Setup::new(shards);
    let target = "/forwarding/negotiation/a.ts?echo=Accept-Language&echo=Accept-Encoding";
    let r = get_with(
        setup.addr,
        target,
        &[("Accept-Language", "fr"), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(r.header("x-echo-accept-language"), Some("fr"));
    assert_eq!(r.header("x-echo-accept-encoding"), Some("gzip"));
});

with_shards!(key_fields_split_the_cache_by_their_values, |shards| {
    let setup = Setup::with(shards, &[("key_fields", "X-Device")]);
    let target = "/forwarding/keyed/a.ts?size=500&echo=X-Device";
    for round in 0..2 {
        for device in ["tv", "phone"] {
            let r = get_with(setup.addr, target, &[("X-Device", device)]);
            assert_eq!(r.header("x-echo-x-device"), Some(device), "round {round}");
            assert_eq!(
                r.cache_status().contains("hit"),
                round == 1,
                "{device} round {round}: {}",
                r.cache_status()
            );
        }
    }
    let none = setup.get(target);
    assert_eq!(none.header("x-echo-x-device"), Some("-"));
    assert_eq!(
        setup.origin.hits(target),
        3,
        "one fetch per value, absent included"
    );
});

with_shards!(a_field_marked_safe_is_forwarded_but_not_keyed, |shards| {
    let setup = Setup::with(shards, &[("forward_fields", "Accept, X-Request-Id:safe")]);
    let target = "/forwarding/safe/a.ts?echo=X-Request-Id";
    let first = get_with(setup.addr, target, &[("X-Request-Id", "one")]);
    assert_eq!(first.header("x-echo-x-request-id"), Some("one"));
    let second = get_with(setup.addr, target, &[("X-Request-Id", "two")]);
    assert!(
        second.cache_status().contains("hit"),
        "{}",
        second.cache_status()
    );
});

#[test]
fn a_forwarded_field_outside_the_key_is_refused_unless_marked_safe() {
    let err = livecache::Config::from_pairs(&[("forward_fields", "Accept, X-Forwarded-Host")])
        .unwrap_err();
    assert_eq!(err.key, "forward_fields");
    assert!(err.reason.contains("x-forwarded-host"), "{err}");
    for fine in [
        &[("forward_fields", "Accept, X-Forwarded-Host:safe")][..],
        &[
            ("forward_fields", "Accept, X-Forwarded-Host"),
            ("key_fields", "X-Forwarded-Host"),
        ][..],
    ] {
        assert!(livecache::Config::from_pairs(fine).is_ok(), "{fine:?}");
    }
}

with_shards!(
    a_passed_request_names_its_client_not_the_one_it_claims,
    |shards| {
        let setup = Setup::new(shards);
        let mut conn = Conn::open(setup.addr);
        let target = "/forwarding/pass/form";
        let fields = [
            ("Content-Length", "0"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("Forwarded", "for=6.6.6.6"),
            ("Cookie", "session=mine"),
        ];
        let r = send_with(&mut conn, "POST", target, &fields);
        assert_eq!(r.status, 200, "{r:?}");
        let recorded = origin_requests_for(&setup, "POST", target);
        assert_eq!(recorded[0].header("x-forwarded-for"), Some("127.0.0.1"));
        assert_eq!(
            recorded[0].header("forwarded"),
            Some("for=127.0.0.1;proto=http")
        );
        assert_eq!(recorded[0].header("x-forwarded-proto"), Some("http"));
        assert_eq!(
            recorded[0].header("cookie"),
            Some("session=mine"),
            "a request answered for one client keeps its own fields"
        );
    }
);

with_shards!(
    set_cookie_responses_are_neither_stored_nor_shared,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/forwarding/cookie/a.m3u8?hdr=Set-Cookie:sid%3Dsecret";
        let first = setup.get(target);
        assert_eq!(
            first.header("set-cookie"),
            Some("sid=secret"),
            "the asking client gets it"
        );
        assert!(
            first.cache_status().contains("detail=set-cookie"),
            "{}",
            first.cache_status()
        );
        let second = setup.get(target);
        assert!(
            !second.cache_status().contains("hit"),
            "{}",
            second.cache_status()
        );
        assert_eq!(setup.origin.hits(target), 2);
        // Concurrent requests are not handed the first one's cookie: each asks for itself.
        let slow = "/forwarding/cookie/b.m3u8?delay_ms=300&hdr=Set-Cookie:sid%3Dsecret";
        let all = concurrent_gets(setup.addr, slow, 4);
        assert!(all.iter().all(|r| r.status == 200));
        assert_eq!(
            setup.origin.hits(slow),
            4,
            "no response with a cookie was shared"
        );
    }
);

with_shards!(set_cookie_strip_caches_without_the_cookie, |shards| {
    let setup = Setup::with(shards, &[("set_cookie", "strip")]);
    let target = "/forwarding/strip/a.ts?size=700&hdr=Set-Cookie:sid%3Dsecret";
    let first = setup.get(target);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("set-cookie"), None);
    let second = setup.get(target);
    assert!(
        second.cache_status().contains("hit"),
        "{}",
        second.cache_status()
    );
    assert_eq!(second.header("set-cookie"), None);
    assert_eq!(setup.origin.hits(target), 1);
});
