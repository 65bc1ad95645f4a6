//! The coalescing invariants: one origin fetch per object however many clients ask at once
//! and whichever shards they land on; followers stream the body as it arrives; the fetch
//! belongs to the cache, not to the client that started it; responses that must not be
//! shared are fetched per client; memory stays within the budget.

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::thread;
use std::time::Duration;

/// Starts `n` clients that each GET `target` at the same moment.
fn herd(setup: &Setup, target: &str, n: usize) -> Vec<Response> {
    concurrent_gets(setup.addr, target, n)
}

with_shards!(two_hundred_clients_one_origin_fetch, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/herd/720p/seg-1.m4s?size=65536&delay_ms=100";
    let responses = herd(&setup, target, 200);
    let expected = expected_body("/live/herd/720p/seg-1.m4s", 65536);
    for r in &responses {
        assert_eq!(r.status, 200);
        assert!(r.complete);
        assert!(
            r.body == expected,
            "every client gets identical, correct bytes"
        );
    }
    assert_eq!(setup.origin.hits(target), 1, "exactly one origin request");
    let collapsed = responses
        .iter()
        .filter(|r| r.cache_status().contains("collapsed"))
        .count();
    let hits = responses
        .iter()
        .filter(|r| r.cache_status().contains("hit"))
        .count();
    assert_eq!(collapsed + hits, 199, "all but the leader collapsed or hit");
});

with_shards!(followers_stream_before_the_origin_finishes, |shards| {
    let setup = Setup::new(shards);
    // Head and the first 1000 bytes, then a 2 s pause, then the rest.
    let target = "/live/stream/720p/seg-1.m4s?size=200000&pause_after=1000&pause_ms=2000";
    let responses = herd(&setup, target, 8);
    assert_eq!(setup.origin.hits(target), 1);
    for r in &responses {
        assert!(r.complete && r.body == expected_body("/live/stream/720p/seg-1.m4s", 200000));
        let first = r.first_byte.expect("a body");
        // Had anyone waited for the whole object, its first byte would come with the rest.
        assert!(
            r.total.saturating_sub(first) >= Duration::from_millis(1000),
            "first body byte at {first:?}, complete at {:?}: the body did not stream",
            r.total
        );
    }
});

with_shards!(leader_disconnect_does_not_cancel_the_fetch, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/leader/720p/seg-1.m4s?size=100000&pause_after=1000&pause_ms=800";
    // The first client asks, reads the head and goes away.
    let mut leader = Conn::open(setup.addr);
    leader.send(format!("GET {target} HTTP/1.1\r\nHost: test.local\r\n\r\n").as_bytes());
    assert!(eventually(Duration::from_secs(5), || setup
        .origin
        .hits(target)
        == 1));
    let followers: Vec<_> = (0..5)
        .map(|_| {
            let addr = setup.addr;
            let target = target.to_string();
            thread::spawn(move || get(addr, &target))
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    drop(leader);
    let expected = expected_body("/live/leader/720p/seg-1.m4s", 100000);
    for f in followers {
        let r = f.join().unwrap();
        assert!(
            r.complete && r.body == expected,
            "followers still get the whole object"
        );
    }
    let next = setup.get(target);
    assert!(
        next.cache_status().contains("hit"),
        "stored after the leader left: {}",
        next.cache_status()
    );
    assert_eq!(setup.origin.hits(target), 1);
});

with_shards!(
    mid_body_failure_cuts_every_reader_and_stores_nothing,
    |shards| {
        let setup = Setup::new(shards);
        let target =
            "/live/fail/720p/seg-1.m4s?size=100000&pause_after=1000&pause_ms=300&fail_after=5000";
        for r in herd(&setup, target, 10) {
            assert_eq!(r.status, 200);
            assert!(!r.complete, "a cut response is never presented as complete");
        }
        assert_eq!(setup.origin.hits(target), 1);
        let again = setup.get(target);
        assert!(!again.complete);
        assert_eq!(setup.origin.hits(target), 2, "nothing truncated was stored");
    }
);

with_shards!(unshareable_responses_are_fetched_per_client, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/private/720p/seg-1.m4s?size=2000&delay_ms=200&cc=private";
    let responses = herd(&setup, target, 10);
    for r in &responses {
        assert_eq!(r.status, 200);
        assert!(r.complete && !r.cache_status().contains("collapsed"));
    }
    assert_eq!(
        setup.origin.hits(target),
        10,
        "each client fetched for itself"
    );
    let later = setup.get(target);
    assert!(later.cache_status().contains("fwd=uri-miss"));
    assert!(later.cache_status().contains("detail=private"));
    assert_eq!(setup.origin.hits(target), 11, "never stored");
});

with_shards!(no_store_is_never_stored, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/nostore/1/seg.m4s?size=100&cc=no-store";
    setup.get(target);
    setup.get(target);
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(
    working_set_three_times_the_budget_stays_within_it,
    |shards| {
        let budget = 2 * shards; // MiB: the smallest budget per shard the config allows is 1 MiB
        let setup = Setup::with(shards, &[("cache_size", &format!("{budget}MiB"))]);
        let objects = 3 * budget * 1024 / 64; // 64 KiB each: three times the budget
        for i in 0..objects {
            let r = setup.get(&format!("/live/ws{}/r/seg-{i}.m4s?size=65536", i % 7));
            assert!(r.complete);
        }
        let stats = setup.stats();
        assert!(
            !setup.running().stats.budget_ever_exceeded(),
            "stored + in-flight bytes stayed within the budget"
        );
        assert!(stats.store_evictions > 0, "eviction made room");
        assert!(stats.store_bytes <= stats.store_budget);
        // The most recent objects are still there.
        let mut hits = 0;
        for i in objects - 5..objects {
            if setup
                .get(&format!("/live/ws{}/r/seg-{i}.m4s?size=65536", i % 7))
                .cache_status()
                .contains("hit")
            {
                hits += 1;
            }
        }
        assert!(hits >= 3, "recent objects are hits ({hits} of 5)");
    }
);

with_shards!(
    streams_on_other_shards_are_served_through_the_mesh,
    |shards| {
        let setup = Setup::new(shards);
        for stream in 0..16 {
            let target = format!("/live/ch{stream}/720p/seg-1.m4s?size=3000");
            assert_eq!(
                setup.get(&target).body,
                expected_body(&format!("/live/ch{stream}/720p/seg-1.m4s"), 3000)
            );
            assert!(setup.get(&target).cache_status().contains("hit"));
        }
        let remote = setup.stats().remote_requests;
        if shards > 1 {
            assert!(remote > 0, "some requests crossed shards");
        } else {
            assert_eq!(remote, 0);
        }
    }
);
