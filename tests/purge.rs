//! Purging: the `PURGE` method removes one URL (from `purge_allow` addresses only, none by
//! default; others get 405)
//! and the admin listener's `POST /purge` removes a path prefix or a stream on every shard.
//! Each purge reports how many stored objects went, and the next GET for a purged object
//! goes to the origin again.

mod common;
use common::*;

use std::collections::HashSet;
use std::net::SocketAddr;

use livecache::cache::{CacheKey, StreamKey};
use livecache::config::StreamKeyRule;

/// Cacheable for a minute, whatever the mock origin's default.
const CC: &str = "cc=max-age%3D60";

/// A daemon that takes `PURGE` from the tests' own address (off by default).
fn purging(shards: usize) -> Setup {
    Setup::with(shards, &[("purge_allow", "127.0.0.1/32, ::1/128")])
}

fn purge(addr: SocketAddr, target: &str) -> Response {
    request(
        addr,
        &format!("PURGE {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"),
        false,
    )
}

fn admin_post(admin: SocketAddr, target: &str) -> Response {
    request(
        admin,
        &format!("POST {target} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"),
        false,
    )
}

fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
}

/// GETs `target` until it is cached: a miss that reached the origin, then a hit.
fn cache(setup: &Setup, target: &str) {
    let first = setup.get(target);
    assert_eq!(first.status, 200, "{target}");
    let again = setup.get(target);
    assert!(
        again.cache_status().contains("hit"),
        "{target}: {}",
        again.cache_status()
    );
}

/// Whether a GET for `target` is served from the cache (and leaves it cached either way).
fn is_hit(setup: &Setup, target: &str) -> bool {
    let r = setup.get(target);
    assert_eq!(r.status, 200, "{target}");
    r.cache_status().contains("hit")
}

/// The shards owning these targets' streams, as the daemon computes them.
fn owners(targets: &[String], shards: usize) -> HashSet<usize> {
    targets
        .iter()
        .map(|t| {
            let key = CacheKey::new(b"test.local", t.as_bytes(), &[]);
            StreamKey::of(&key, StreamKeyRule::Dirname).owner(shards)
        })
        .collect()
}

with_shards!(purge_removes_a_cached_url, |shards| {
    let setup = purging(shards);
    let target = format!("/live/purge-url/720p/seg-1.m4s?{CC}");
    cache(&setup, &target);
    assert_eq!(setup.origin_count("GET", &target), 1);

    let purged = purge(setup.addr, &target);
    assert_eq!(purged.status, 200);
    assert_eq!(purged.header("content-type"), Some("application/json"));
    assert_eq!(purged.header("cache-control"), Some("no-store"));
    assert_eq!(json(&purged), serde_json::json!({ "purged": 1 }));

    let after = setup.get(&target);
    assert_eq!(after.status, 200);
    assert!(
        !after.cache_status().contains("hit"),
        "{}",
        after.cache_status()
    );
    assert_eq!(setup.origin_count("GET", &target), 2);
    assert_eq!(setup.origin.requests().len(), 2, "PURGE reached the origin");
});

with_shards!(purge_finds_the_url_as_get_keys_it, |shards| {
    let setup = purging(shards);
    let target = format!("/live/purge-key/720p/seg-1.m4s?{CC}");
    cache(&setup, &target);
    // Another spelling of the same key: host case and port, a tracking parameter.
    let purged = request(
        setup.addr,
        &format!(
            "PURGE {target}&CMCD=br%3D3200 HTTP/1.1\r\nHost: TEST.Local:80\r\nConnection: close\r\n\r\n"
        ),
        false,
    );
    assert_eq!(json(&purged), serde_json::json!({ "purged": 1 }));
    assert!(!is_hit(&setup, &target));
});

with_shards!(purge_removes_every_variant_of_the_url, |shards| {
    let setup = purging(shards);
    let target = format!("/live/purge-vary/720p/seg-1.m4s?hdr=Vary%3A%20Accept&{CC}");
    let get_as = |accept: &str| {
        request(
            setup.addr,
            &format!(
                "GET {target} HTTP/1.1\r\nHost: test.local\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
            ),
            false,
        )
    };
    for accept in ["video/mp4", "text/plain"] {
        assert_eq!(get_as(accept).status, 200);
        let again = get_as(accept);
        assert!(
            again.cache_status().contains("hit"),
            "{accept}: {}",
            again.cache_status()
        );
    }
    let purged = purge(setup.addr, &target);
    assert_eq!(json(&purged), serde_json::json!({ "purged": 2 }));
    assert!(!get_as("video/mp4").cache_status().contains("hit"));
    assert!(!get_as("text/plain").cache_status().contains("hit"));
});

with_shards!(purge_of_an_uncached_url_reports_zero, |shards| {
    let setup = purging(shards);
    let target = format!("/live/purge-none/720p/seg-1.m4s?{CC}");
    for _ in 0..2 {
        let purged = purge(setup.addr, &target);
        assert_eq!(purged.status, 200);
        assert_eq!(json(&purged), serde_json::json!({ "purged": 0 }));
    }
    assert!(
        setup.origin.requests().is_empty(),
        "PURGE reached the origin"
    );
});

with_shards!(purge_body_is_discarded_and_the_connection_kept, |shards| {
    let setup = purging(shards);
    let target = format!("/live/purge-body/720p/seg-1.m4s?{CC}");
    cache(&setup, &target);
    let mut conn = Conn::open(setup.addr);
    conn.send(
        format!("PURGE {target} HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\n\r\nhello")
            .as_bytes(),
    );
    let purged = conn.read_response(false).expect("a response");
    assert_eq!(json(&purged), serde_json::json!({ "purged": 1 }));
    let next = conn.get(&target);
    assert_eq!(next.status, 200);
    assert!(!next.cache_status().contains("hit"));
    assert_eq!(setup.origin_count("GET", &target), 2);
});

with_shards!(purge_from_a_disallowed_address_is_405, |shards| {
    let setup = Setup::with(shards, &[("purge_allow", "10.0.0.0/8")]);
    let target = format!("/live/purge-denied/720p/seg-1.m4s?{CC}");
    cache(&setup, &target);
    let refused = purge(setup.addr, &target);
    assert_eq!(refused.status, 405);
    assert_eq!(
        refused.header("allow"),
        Some("GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")
    );
    assert!(
        is_hit(&setup, &target),
        "a refused purge removed the object"
    );
    assert_eq!(setup.origin_count("PURGE", &target), 0);
    assert_eq!(setup.origin_count("GET", &target), 1);
});

with_shards!(purge_is_off_by_default_even_from_loopback, |shards| {
    // Behind a TLS terminator on the same host every client comes from loopback.
    let setup = Setup::new(shards);
    let target = format!("/live/purge-default/720p/seg-1.m4s?{CC}");
    cache(&setup, &target);
    let refused = purge(setup.addr, &target);
    assert_eq!(refused.status, 405, "{refused:?}");
    assert!(is_hit(&setup, &target), "the object is still cached");
});

with_shards!(admin_prefix_purge_removes_every_stream_under_it, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let admin = setup.admin_addr();
    let inside: Vec<String> = (0..8)
        .flat_map(|ch| {
            (1..=2).map(move |seg| format!("/live/prefix/ch{ch}/720p/seg-{seg}.m4s?{CC}"))
        })
        .collect();
    let outside: Vec<String> = (0..4)
        .map(|ch| format!("/live/prefixed/ch{ch}/720p/seg-1.m4s?{CC}"))
        .collect();
    if shards > 1 {
        assert!(owners(&inside, shards).len() > 1, "streams on one shard");
    }
    for target in inside.iter().chain(&outside) {
        cache(&setup, target);
    }

    // On another host: nothing of ours matches.
    let elsewhere = admin_post(admin, "/purge?prefix=/live/prefix/&host=elsewhere.example");
    assert_eq!(elsewhere.status, 200);
    assert_eq!(
        json(&elsewhere),
        serde_json::json!({ "purged": 0, "shards": shards })
    );

    let purged = admin_post(admin, "/purge?prefix=%2Flive%2Fprefix%2F&host=Test.Local");
    assert_eq!(purged.status, 200);
    assert_eq!(purged.header("content-type"), Some("application/json"));
    assert_eq!(
        json(&purged),
        serde_json::json!({ "purged": inside.len(), "shards": shards })
    );
    for target in &inside {
        assert!(!is_hit(&setup, target), "{target} survived the purge");
        assert_eq!(setup.origin_count("GET", target), 2, "{target}");
    }
    for target in &outside {
        assert!(is_hit(&setup, target), "{target} was purged");
    }
});

with_shards!(admin_stream_purge_removes_only_that_stream, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let admin = setup.admin_addr();
    let stream: Vec<String> = (1..=3)
        .map(|seg| format!("/live/stream/ch1/720p/seg-{seg}.m4s?{CC}"))
        .collect();
    let others = [
        format!("/live/stream/ch1/1080p/seg-1.m4s?{CC}"),
        format!("/live/stream/ch1/720p/sub/seg-1.m4s?{CC}"),
        format!("/live/stream/ch2/720p/seg-1.m4s?{CC}"),
    ];
    for target in stream.iter().chain(&others) {
        cache(&setup, target);
    }
    let purged = admin_post(admin, "/purge?stream=test.local/live/stream/ch1/720p");
    assert_eq!(purged.status, 200);
    assert_eq!(
        json(&purged),
        serde_json::json!({ "purged": stream.len(), "shards": shards })
    );
    for target in &stream {
        assert!(!is_hit(&setup, target), "{target} survived the purge");
    }
    for target in &others {
        assert!(is_hit(&setup, target), "{target} was purged");
    }
});

with_shards!(admin_purge_refuses_unclear_requests, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let admin = setup.admin_addr();
    let target = format!("/live/unclear/720p/seg-1.m4s?{CC}");
    cache(&setup, &target);

    let read = get(admin, "/purge?prefix=/");
    assert_eq!(read.status, 405);
    assert_eq!(read.header("allow"), Some("POST"));
    for query in [
        "/purge",
        "/purge?prefix=/live/&stream=test.local/live/unclear/720p",
        "/purge?prefix=live/",
        "/purge?prefx=/live/",
        "/purge?prefix=/live%2",
    ] {
        let refused = admin_post(admin, query);
        assert_eq!(refused.status, 400, "{query}");
        assert!(!refused.body.is_empty(), "{query}: no reason given");
    }
    assert!(
        is_hit(&setup, &target),
        "a refused purge removed the object"
    );
});
