//! Identical media requests on a shard that does not own their stream share one request to
//! the owner (`shard::remote_flights`). With four shards the harness accepts on a shard that
//! owns no stream, so every request would cross the mesh: ten viewers of one segment, five of
//! them joining while its body streams, cost the mesh one request and each gets every byte;
//! a response whose head the owner does not share (a field withheld from all but the client
//! that brought it, a response for one client) is never handed to the others, a body cut on
//! the way is cut for every request that shared it, and a slow viewer of a body passed
//! through is slowed, not cut. With one shard nothing crosses.

// Test threads stagger clients with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::io::{Read, Write};
use std::thread;
use std::time::Duration;

use livecache::metrics::Guard;

/// Media requests that took another request's answer from the owner.
fn joined(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.remote_fetches_joined)
}

with_shards!(
    identical_media_requests_share_one_request_to_the_owner,
    |shards| {
        let setup = Setup::new(shards);
        // The head and 1,000 bytes, then a pause, then the rest: the second five ask during it.
        let path = "/live/share/720p/seg-1.m4s";
        let target = format!("{path}?size=200000&pause_after=1000&pause_ms=800");
        let (remote_before, joined_before) = (setup.stats().remote_requests, joined(&setup));
        let answers = all_at_once(setup.addr, 10, |i, conn| {
            if i >= 5 {
                thread::sleep(Duration::from_millis(300));
            }
            send_with(conn, "GET", &target, &[("Connection", "close")])
        });
        let expected = expected_body(path, 200000);
        for (i, answer) in answers.iter().enumerate() {
            assert_eq!(answer.status, 200, "{i}: {answer:?}");
            assert!(
                answer.complete && answer.body == expected,
                "{i}: every byte"
            );
            assert_eq!(answer.header("content-length"), Some("200000"), "{i}");
        }
        assert_eq!(setup.origin.hits(&target), 1);
        let crossed = setup.stats().remote_requests - remote_before;
        let shared = joined(&setup) - joined_before;
        match shards {
            1 => assert_eq!((crossed, shared), (0, 0)),
            _ => {
                assert_eq!((crossed, shared), (1, 9));
                // Those that came during the pause joined a body already on its way.
                for answer in &answers[5..] {
                    assert!(answer.cache_status().contains("collapsed"), "{answer:?}");
                }
            }
        }
    }
);

with_shards!(
    a_field_withheld_from_other_requests_reaches_only_its_own,
    |shards| {
        let setup = Setup::new(shards);
        // `no-cache="Set-Cookie"`: the response is stored and shared without the field; only
        // the request whose fetch brought it sees it.
        let target = "/live/share/720p/seg-2.m4s?size=1000&delay_ms=300&hdr=Set-Cookie:a%3Db\
                  &cc=max-age%3D60%2C%20no-cache%3D%22Set-Cookie%22";
        let joined_before = joined(&setup);
        let answers = concurrent_gets(setup.addr, target, 6);
        for answer in &answers {
            assert_eq!(answer.status, 200, "{answer:?}");
            assert!(answer.complete, "{answer:?}");
        }
        let with_cookie = answers
            .iter()
            .filter(|a| a.header("set-cookie").is_some())
            .count();
        assert_eq!(with_cookie, 1, "{answers:?}");
        assert_eq!(setup.origin.hits(target), 1);
        // Nobody took the first request's head: the others asked the owner themselves.
        assert_eq!(joined(&setup) - joined_before, 0);
    }
);

with_shards!(a_response_for_one_client_is_not_shared, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/share/720p/seg-3.m4s?size=1000&delay_ms=300&cc=private";
    let joined_before = joined(&setup);
    let answers = concurrent_gets(setup.addr, target, 6);
    for answer in &answers {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.complete, "{answer:?}");
    }
    // Each client's own fetch, as with one shard.
    assert_eq!(setup.origin.hits(target), 6);
    assert_eq!(joined(&setup) - joined_before, 0);
});

with_shards!(a_body_cut_on_the_way_is_cut_for_every_request, |shards| {
    let setup = Setup::new(shards);
    // Declares 200,000 bytes, sends 100,000 and closes.
    let target = "/live/share/720p/seg-4.m4s?size=200000&bad=short&delay_ms=200";
    let joined_before = joined(&setup);
    let answers = concurrent_gets(setup.addr, target, 6);
    for answer in &answers {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(!answer.complete, "cut: {answer:?}");
    }
    let shared = joined(&setup) - joined_before;
    assert_eq!(shared, if shards == 1 { 0 } else { 5 });
});

with_shards!(a_slow_reader_alone_is_slowed_not_cut, |shards| {
    // Over `max_object_size`: the owner passes it through, and so does the shard that shares
    // it. A viewer that reads nothing for a while gets every byte once it reads: the body is
    // read no further ahead of it than the window, however far the origin could go.
    let setup = Setup::with(shards, &[("max_object_size", "1MiB")]);
    let path = "/live/share/720p/big-1.m4s";
    let size = 6 << 20;
    let target = format!("{path}?size={size}&cc=max-age%3D60");
    let mut slow = stingy_connection(setup.addr);
    slow.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    thread::sleep(Duration::from_millis(1500));
    let mut got = Vec::new();
    slow.read_to_end(&mut got).unwrap();
    let body_at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(got.len() - body_at, size, "every byte");
    assert!(got[body_at..] == expected_body(path, size)[..]);
    assert_eq!(fired(&setup, Guard::LaggingReader), 0);
});

with_shards!(
    a_request_after_a_passed_body_let_its_start_go_asks_alone,
    |shards| {
        // Passed through (over `max_object_size`): once the first viewer has taken the body's
        // start it is let go, so a viewer that comes after cannot share it and is answered on
        // its own, whole, as the owner answers a request after its pass-through began.
        let setup = Setup::with(shards, &[("max_object_size", "1MiB")]);
        let path = "/live/share/720p/big-2.m4s";
        let size = 4 << 20;
        let target =
            format!("{path}?size={size}&pause_after=3000000&pause_ms=1000&cc=max-age%3D60");
        let first = thread::spawn({
            let (addr, target) = (setup.addr, target.clone());
            move || common::get(addr, &target)
        });
        thread::sleep(Duration::from_millis(500));
        let late = setup.get(&target);
        let first = first.join().unwrap();
        let expected = expected_body(path, size);
        for answer in [&first, &late] {
            let (status, len) = (answer.status, answer.body.len());
            assert!(answer.complete && answer.body == expected, "{status} {len}");
        }
        // Asked alone it is fetched anew (the owner's pass-through is not joinable either);
        // on a machine so slow that the first had taken nothing yet it may have joined:
        // never more than two fetches either way, and never a head followed by a cut.
        assert!(setup.origin.hits(&target) <= 2);
    }
);
