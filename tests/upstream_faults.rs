//! A broken or unreachable origin: garbage instead of HTTP, bodies longer or shorter than
//! declared, ambiguous framing (CL with TE, conflicting CLs), a bad chunk, a reset mid-body,
//! first-byte and between-bytes timeouts, a refused connection, and many clients coalesced
//! on one fetch that breaks. Each case pins what the client sees (502/504 before the head,
//! a cut response after it, never a complete 200 made of broken bytes) and that nothing
//! broken is stored: the next request for the same target goes to the origin again and is
//! not a hit. The daemon keeps serving good objects afterwards. An origin that writes past
//! its response on a kept-alive connection never has those bytes read as another response.

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

/// The failed fetch left nothing behind: asking again reaches the origin a second time
/// and is not served from the cache. Returns that second response.
fn assert_not_stored(setup: &Setup, target: &str) -> Response {
    let again = setup.get(target);
    assert!(
        !again.cache_status().contains("hit"),
        "a failed fetch must not be stored: {again:?}"
    );
    assert_eq!(
        setup.origin.hits(target),
        2,
        "the second request for {target} goes to the origin again"
    );
    again
}

/// The daemon still serves (and caches) a good object.
fn assert_still_serving(setup: &Setup, name: &str) {
    let path = format!("/upstream_faults/{name}/good.ts");
    let target = format!("{path}?size=4000");
    let response = setup.get(&target);
    assert_eq!(response.status, 200, "{response:?}");
    assert!(response.complete);
    assert_eq!(response.body, expected_body(&path, 4000));
}

/// A cut response: the head went out (200) and the body did not arrive whole.
fn assert_cut(response: &Response, what: &str) {
    assert_eq!(response.status, 200, "{what}: {response:?}");
    assert!(
        !response.complete,
        "{what}: the response must be cut, got a complete one of {} bytes",
        response.body.len()
    );
}

with_shards!(garbage_is_502, |shards| {
    let setup = Setup::new(shards);
    let target = "/upstream_faults/garbage/x.ts?bad=garbage";
    let first = setup.get(target);
    assert_eq!(first.status, 502, "{first:?}");
    assert!(first.complete);
    let again = assert_not_stored(&setup, target);
    assert_eq!(again.status, 502);
    assert_still_serving(&setup, "garbage");
});

with_shards!(body_longer_than_declared_is_never_stored, |shards| {
    let setup = Setup::new(shards);
    let target = "/upstream_faults/long/x.ts?bad=long&size=1000";
    let first = setup.get(target);
    assert!(
        first.status == 502 || !first.complete,
        "a body longer than its Content-Length gives a 502 or a cut response: {first:?}"
    );
    let again = assert_not_stored(&setup, target);
    assert!(again.status == 502 || !again.complete, "{again:?}");
    assert_still_serving(&setup, "long");
});

with_shards!(body_shorter_than_declared_is_cut, |shards| {
    let setup = Setup::new(shards);
    let path = "/upstream_faults/short/x.ts";
    let target = &format!("{path}?bad=short&size=10000");
    let first = setup.get(target);
    assert_cut(&first, "bad=short");
    assert!(first.body.len() < 10000);
    let sent = expected_body(path, 10000);
    assert_eq!(
        first.body[..],
        sent[..first.body.len()],
        "what arrived is the origin's"
    );
    let again = assert_not_stored(&setup, target);
    assert_cut(&again, "bad=short again");
    assert_still_serving(&setup, "short");
});

with_shards!(content_length_with_transfer_encoding_is_502, |shards| {
    let setup = Setup::new(shards);
    let target = "/upstream_faults/cl_te/x.ts?bad=cl-te";
    let first = setup.get(target);
    assert_eq!(first.status, 502, "{first:?}");
    let again = assert_not_stored(&setup, target);
    assert_eq!(again.status, 502);
    assert_still_serving(&setup, "cl_te");
});

with_shards!(conflicting_content_lengths_is_502, |shards| {
    let setup = Setup::new(shards);
    let target = "/upstream_faults/dup_cl/x.ts?bad=dup-cl";
    let first = setup.get(target);
    assert_eq!(first.status, 502, "{first:?}");
    let again = assert_not_stored(&setup, target);
    assert_eq!(again.status, 502);
    assert_still_serving(&setup, "dup_cl");
});

with_shards!(bad_chunk_is_cut, |shards| {
    let setup = Setup::new(shards);
    let target = "/upstream_faults/bad_chunk/x.ts?bad=bad-chunk&size=4000";
    let first = setup.get(target);
    assert_cut(&first, "bad=bad-chunk");
    let again = assert_not_stored(&setup, target);
    assert_cut(&again, "bad=bad-chunk again");
    assert_still_serving(&setup, "bad_chunk");
});

with_shards!(reset_mid_body_is_cut, |shards| {
    let setup = Setup::new(shards);
    let target = "/upstream_faults/reset/x.ts?fail_after=1000&size=100000";
    let first = setup.get(target);
    assert_cut(&first, "fail_after");
    assert!(first.body.len() <= 1000, "{} bytes", first.body.len());
    let again = assert_not_stored(&setup, target);
    assert_cut(&again, "fail_after again");
    assert_still_serving(&setup, "reset");
});

with_shards!(first_byte_timeout_is_504, |shards| {
    let setup = Setup::with(shards, &[("upstream_first_byte_timeout", "1s")]);
    let target = "/upstream_faults/first_byte/x.ts?delay_ms=3000";
    let first = setup.get(target);
    assert_eq!(first.status, 504, "{first:?}");
    let again = assert_not_stored(&setup, target);
    assert_eq!(again.status, 504);
    assert_still_serving(&setup, "first_byte");
});

with_shards!(between_bytes_timeout_is_cut, |shards| {
    let setup = Setup::with(shards, &[("upstream_between_bytes_timeout", "1s")]);
    let target = "/upstream_faults/hang/x.ts?bad=hang&size=5000";
    let first = setup.get(target);
    // The head was already forwarded, so the only honest end is a cut.
    assert_cut(&first, "bad=hang");
    assert!(first.body.is_empty());
    let again = assert_not_stored(&setup, target);
    assert_cut(&again, "bad=hang again");
    assert_still_serving(&setup, "hang");
});

with_shards!(origin_down_is_502, |shards| {
    // Port 1 on loopback refuses connections.
    let setup = Setup::with(shards, &[("origin", "http://127.0.0.1:1")]);
    let target = "/upstream_faults/down/x.ts?size=100";
    for _ in 0..2 {
        let response = setup.get(target);
        assert_eq!(response.status, 502, "{response:?}");
        assert!(response.complete);
        assert!(!response.cache_status().contains("hit"));
    }
    // The mock origin of this setup is not the configured one: it sees nothing.
    assert_eq!(setup.origin.total(), 0);
});

with_shards!(concurrent_readers_of_a_broken_fetch_are_all_cut, |shards| {
    let setup = Setup::new(shards);
    let target =
        "/upstream_faults/concurrent/x.ts?fail_after=2000&size=200000&pause_after=1000&pause_ms=300";
    let clients = 10;
    let responses = concurrent_gets(setup.addr, target, clients);
    for (i, response) in responses.iter().enumerate() {
        assert_cut(response, &format!("client {i}"));
        assert!(
            response.body.len() <= 2000,
            "client {i}: {}",
            response.body.len()
        );
    }
    let before = setup.origin.hits(target);
    assert!(before >= 1);
    let later = setup.get(target);
    assert!(!later.cache_status().contains("hit"), "{later:?}");
    assert_cut(&later, "a later request");
    assert_eq!(
        setup.origin.hits(target),
        before + 1,
        "a later request goes to the origin again"
    );
    assert_still_serving(&setup, "concurrent");
});

with_shards!(
    stray_response_on_an_idle_connection_reaches_no_client,
    |shards| {
        // Both objects sit in one stream directory, so one shard owns both and they share its
        // origin connection pool: the second fetch would ride the first one's connection.
        let setup = Setup::new(shards);
        let first_path = "/upstream_faults/stray/a.ts";
        let first = setup.get(&format!("{first_path}?size=2000&stray_ms=100"));
        assert_eq!(first.status, 200, "{first:?}");
        assert_eq!(first.body, expected_body(first_path, 2000));
        // The stray response arrives while the connection is idle in the pool.
        std::thread::sleep(std::time::Duration::from_millis(400));
        for name in ["b.ts", "c.ts"] {
            let path = format!("/upstream_faults/stray/{name}");
            let target = format!("{path}?size=3000");
            for round in 0..2 {
                let r = setup.get(&target);
                assert_eq!(r.status, 200, "{name} round {round}: {r:?}");
                assert!(r.complete, "{name} round {round}");
                assert!(
                    r.body == expected_body(&path, 3000),
                    "{name} round {round} got another response's bytes: {:?}",
                    String::from_utf8_lossy(&r.body[..r.body.len().min(40)])
                );
                assert_ne!(
                    r.header("x-origin-connection"),
                    first.header("x-origin-connection"),
                    "the connection that carried the stray bytes was reused"
                );
            }
            assert_eq!(
                setup.origin.hits(&target),
                1,
                "{name}: stored after one fetch"
            );
        }
        let dropped: u64 = setup
            .running()
            .stats
            .shards
            .iter()
            .map(|s| s.guards.fired(livecache::metrics::Guard::DirtyUpstream))
            .sum();
        assert_eq!(
            dropped, 1,
            "the dirty connection is dropped and counted once"
        );
    }
);
