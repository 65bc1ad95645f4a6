//! Identical blocking reloads on a shard that does not own their rendition share one request
//! to the owner (`shard::remote_holds`). The harness accepts on a shard that owns no stream
//! (four shards), so every request crosses the mesh: ten viewers held for the same part in
//! two spellings cost the mesh two requests, and each viewer gets the whole answer, counted
//! held and satisfied once, timed once; with one shard nothing crosses. A hold that expires
//! answers every request that shared it with a 503, and one the stream's end releases is
//! counted ended, each request once. Run with 1 and 4 shards; and with four, requests that
//! joined still count toward their stream's rate on the owner (`hot_stream_requests`).
//!
//! The mock origin publishes 1 s segments of four 250 ms parts (TD 1 s), started 5 s before
//! the test (`Setup::live`).

mod common;

use std::time::Duration;

use common::live::{
    held_at_once, hold_results, holds_active, release_counts_forgiven, releases_timed,
};
use common::{eventually, playlist, send_with, Setup};
use livecache::metrics::HoldResult;

const RENDITION: &str = "/live/s0/r0/index.m3u8";

/// Requests this node's shards sent to another shard's objects.
fn remote_requests(setup: &Setup) -> u64 {
    setup.stats().remote_requests
}

/// `clients` GETs of `target` sent at once; once all are held, `then` runs; their answers.
fn held_together(
    setup: &Setup,
    target: &str,
    clients: usize,
    then: impl FnOnce(),
) -> Vec<common::Response> {
    let get = |_, conn: &mut common::Conn| send_with(conn, "GET", target, &[]);
    held_at_once(setup, clients, get, then)
}

with_shards!(
    identical_held_reloads_share_one_request_to_the_owner,
    |shards| {
        let setup = Setup::live(shards, &[("admin", "127.0.0.1:0")]);
        let state = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let next = state.next_part().expect("the mock lists parts");
        let (msn, part) = (next.msn, next.part);
        let spellings = [
            format!("{RENDITION}?_HLS_msn={msn}&_HLS_part={part}"),
            format!("{RENDITION}?_HLS_part={part}&_HLS_msn={msn}"),
        ];
        setup.origin.pause_publishing();
        let remote_before = remote_requests(&setup);
        let joined_before = setup.running().stats.sum(|s| &s.live.remote_holds_joined);
        let satisfied_before = hold_results(&setup, HoldResult::Satisfied);
        let timed_before = releases_timed(&setup);
        let clients = 10;
        // A HEAD shares the GETs' request: its connection leaves the body out. Every viewer
        // counts as held: the owner's one per spelling, the rest here.
        let client = |i: usize, conn: &mut common::Conn| {
            let method = if i == 1 { "HEAD" } else { "GET" };
            send_with(conn, method, &spellings[i % 2], &[])
        };
        let answers = held_at_once(&setup, clients, client, || setup.origin.resume_publishing());
        let body_of = |i: usize| &answers[i].body;
        for (i, answer) in answers.iter().enumerate() {
            assert_eq!(answer.status, 200, "{i}: {answer:?}");
            assert!(answer.complete, "{i}: cut");
            assert!(
                answer.cache_status().contains("detail=held"),
                "{i}: {answer:?}"
            );
            let length = body_of(0).len().to_string();
            assert_eq!(answer.header("content-length"), Some(&length[..]), "{i}");
            if i != 1 {
                assert!(playlist(answer).satisfies(msn, Some(part)), "{i}");
                assert_eq!(answer.body, *body_of(0), "{i}: one version, the same bytes");
            }
        }
        // One request to the owner per spelling with four shards (the others joined); none
        // with one.
        let crossed = remote_requests(&setup) - remote_before;
        assert_eq!(crossed, if shards == 1 { 0 } else { 2 });
        let joined = setup.running().stats.sum(|s| &s.live.remote_holds_joined) - joined_before;
        assert_eq!(joined, if shards == 1 { 0 } else { clients as u64 - 2 });
        let satisfied = hold_results(&setup, HoldResult::Satisfied) - satisfied_before;
        assert_eq!(satisfied, clients as u64);
        assert_eq!(holds_active(&setup), 0);
        assert!(eventually(Duration::from_secs(5), || releases_timed(
            &setup
        ) - timed_before
            == clients as u64));
        // Every release counted on the requesting shard was taken there.
        assert_eq!(setup.get(&format!("{RENDITION}?_HLS_msn=0")).status, 200);
        assert_eq!(release_counts_forgiven(&setup), 0);
    }
);

with_shards!(
    a_shared_hold_that_expires_answers_each_request_503,
    |shards| {
        let setup = Setup::live(shards, &[("admin", "127.0.0.1:0")]);
        let state = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        setup.origin.pause_publishing();
        let target = format!("{RENDITION}?_HLS_msn={}", state.next_msn() + 1);
        let expired_before = hold_results(&setup, HoldResult::Expired);
        let remote_before = remote_requests(&setup);
        let clients = 4;
        // Three target durations on the clock seam (1 s each).
        let answers = held_together(&setup, &target, clients, || {
            setup.advance(Duration::from_secs(3))
        });
        for answer in &answers {
            assert_eq!(answer.status, 503, "{answer:?}");
            assert_eq!(answer.header("retry-after"), Some("1"));
        }
        let expired = hold_results(&setup, HoldResult::Expired) - expired_before;
        assert_eq!(expired, clients as u64);
        assert_eq!(holds_active(&setup), 0);
        let crossed = remote_requests(&setup) - remote_before;
        assert_eq!(crossed, if shards == 1 { 0 } else { 1 });
    }
);

with_shards!(
    requests_sharing_a_hold_the_stream_ends_are_counted_ended,
    |shards| {
        let setup = Setup::live(shards, &[("admin", "127.0.0.1:0")]);
        let state = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let target = format!("{RENDITION}?_HLS_msn={}&_HLS_part=0", state.next_msn() + 1);
        let ended_before = hold_results(&setup, HoldResult::Ended);
        let clients = 4;
        let answers = held_together(&setup, &target, clients, || setup.origin.end_stream());
        for answer in &answers {
            assert_eq!(answer.status, 200, "{answer:?}");
            assert!(playlist(answer).ended, "ENDLIST reaches every held request");
        }
        let ended = hold_results(&setup, HoldResult::Ended) - ended_before;
        assert_eq!(ended, clients as u64);
        assert_eq!(holds_active(&setup), 0);
    }
);

/// Requests that join another's hold count toward their stream's rate on its owner, as
/// replica reads do: an audience of identical blocking reloads makes its stream hot though
/// about one request per part crosses the mesh (four shards; 12 viewers reloading each next
/// part of 250 ms for 2.5 s: ~48 requests a second, ~4 of them reaching the owner).
#[test]
fn joined_holds_count_toward_their_streams_rate() {
    let setup = Setup::live(4, &[("hot_stream_requests", "30")]);
    let end = std::time::Instant::now() + Duration::from_millis(2500);
    std::thread::scope(|scope| {
        for _ in 0..12 {
            scope.spawn(|| {
                let mut state = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
                while std::time::Instant::now() < end {
                    let next = state.next_part().expect("the mock lists parts");
                    let reload =
                        format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
                    let answer = setup.get(&reload);
                    assert_eq!(answer.status, 200, "{answer:?}");
                    state = playlist(&answer);
                }
            });
        }
    });
    let replicated = || setup.running().stats.sum(|s| &s.live.replicated_streams);
    assert!(
        eventually(Duration::from_secs(3), || replicated() == 1),
        "the stream became hot"
    );
}
