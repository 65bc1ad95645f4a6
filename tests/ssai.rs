//! Server-side ad insertion route classes (issue "Live video II", item 7; LIVE.md F14,
//! T14.1): a personalised manifest (`pass_paths`) goes to the origin for every request, is
//! never stored and never shared, so no session ever sees another's; an ad segment whose URL
//! carries per-session tracking parameters (`queryless_paths`) is one object, fetched once.

mod common;

use common::{all_at_once, expected_body, send_with, Setup};

const ROUTES: [(&str, &str); 2] = [
    ("pass_paths", "/ssai/session/"),
    ("queryless_paths", "/ads/"),
];

with_shards!(sessions_stay_apart_and_ads_are_shared, |shards| {
    let setup = Setup::with(shards, &ROUTES);
    let sessions = 30;
    for round in 0..2 {
        for session in 0..sessions {
            let path = format!("/ssai/session/s{session}/index.m3u8");
            let response = setup.get(&format!("{path}?size=300"));
            assert_eq!(response.status, 200);
            assert_eq!(
                response.body,
                expected_body(&path, 300),
                "session {session}"
            );
            let status = response.cache_status();
            assert!(status.contains("fwd=request"), "round {round}: {status}");
        }
    }
    let manifests = setup
        .origin
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/ssai/"))
        .count();
    assert_eq!(
        manifests,
        2 * sessions,
        "every manifest request reaches the origin"
    );
    // Every session's player asks for the same ad at once, each with its own tracking query.
    let ads = all_at_once(setup.addr, sessions, |session, conn| {
        let target = format!("/ads/break-1/ad-1.m4s?session=s{session}&t=123");
        send_with(conn, "GET", &target, &[])
    });
    for ad in ads {
        assert_eq!(ad.status, 200);
        assert_eq!(ad.body, expected_body("/ads/break-1/ad-1.m4s", 1024));
    }
    assert_eq!(
        setup.origin.hits("/ads/break-1/ad-1.m4s"),
        1,
        "one origin request"
    );
    assert_eq!(setup.origin.path_hits("/ads/break-1/ad-1.m4s"), 1);
});

with_shards!(without_route_classes_objects_keep_their_query, |shards| {
    let setup = Setup::with(shards, &[]);
    setup.get("/ads/break-1/ad-1.m4s?session=a");
    setup.get("/ads/break-1/ad-1.m4s?session=b");
    assert_eq!(setup.origin.path_hits("/ads/break-1/ad-1.m4s"), 2);
    let manifest = "/ssai/session/s1/index.m3u8?size=300";
    setup.get(manifest);
    assert!(setup.get(manifest).cache_status().contains("hit"));
});
