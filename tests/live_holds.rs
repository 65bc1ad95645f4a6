//! LL-HLS blocking playlist reloads held at the edge (LIVE.md F1, F9; RFC 8216bis 6.2.5.2):
//! malformed and too-far requests refused without the origin (T1.2), one upstream long-poll
//! per rendition however the clients spell their requests (T1.1, also with a `no-cache`
//! origin, T1.6), 503 with `Retry-After` after three target durations (T1.3, on the clock
//! seam), directives ignored after `EXT-X-ENDLIST` (T1.4), a regressed playlist never served
//! (T9.2), a stalled one flagged stale, and a part not yet published never cached as missing
//! (F3), viewers of a hinted part sharing one upstream request (T3.1), a state nobody kept
//! current never served, a withdrawn hint's 404 never kept (T3.2), and a draining node
//! releasing its holds at once.
//!
//! The mock origin publishes 1 s segments of four 250 ms parts (TD 1 s, so holds last 3 s),
//! started 5 s before the test.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::live::{hold_results, holds_active, releases_timed, sample};
use common::{all_at_once, eventually, get, playlist, Setup};
use livecache::live::{HintType, MediaPlaylist};
use livecache::metrics::HoldResult;

const RENDITION: &str = "/live/s0/r0/index.m3u8";

/// The value of `name`'s sample for the stream of `RENDITION` in a scrape.
fn stream_sample(setup: &Setup, name: &str) -> Option<u64> {
    let prefix = format!("{name}{{");
    sample(setup, |l| {
        l.starts_with(&prefix) && l.contains("/live/s0/r0\"")
    })
}

/// Upstream requests carrying delivery directives, by target.
fn blocking_targets(setup: &Setup) -> Vec<String> {
    let requests = setup.origin.requests();
    let blocking = requests.iter().filter(|r| r.target.contains("_HLS_"));
    blocking.map(|r| r.target.clone()).collect()
}

/// A blocking request answered from the edge's state: the playlist it was answered with.
fn warm(setup: &Setup) -> MediaPlaylist {
    playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")))
}

with_shards!(
    malformed_and_too_far_requests_never_reach_the_origin,
    |shards| {
        let setup = Setup::live(shards, &[]);
        for bad in [
            "?_HLS_part=1",
            "?_HLS_msn=abc",
            "?_HLS_msn=1&_HLS_msn=2",
            "?_HLS_msn=1&_HLS_part=-1",
            "?_HLS_msn=1&_HLS_skip=NO",
        ] {
            let response = setup.get(&format!("{RENDITION}{bad}"));
            assert_eq!(response.status, 400, "{bad}");
            assert_eq!(response.header("cache-control"), Some("no-store"));
        }
        assert_eq!(setup.origin.total(), 0, "decided without the origin");
        assert_eq!(hold_results(&setup, HoldResult::BadDirective), 5);
        let state = warm(&setup);
        // The last complete segment plus three: 400 while the state is current (a long-poll
        // keeps it so), and the origin never sees it.
        let far = state.next_msn() + 2;
        let response = setup.get(&format!("{RENDITION}?_HLS_msn={far}"));
        assert_eq!(response.status, 400);
        let asked = format!("_HLS_msn={far}");
        assert!(!blocking_targets(&setup).iter().any(|t| t.contains(&asked)));
        assert_eq!(hold_results(&setup, HoldResult::TooFar), 1);
    }
);

/// Clients ask for the next part and the one after, in several spellings, at once: each gets
/// a playlist that has its part, and the origin sees each part asked once, in the canonical
/// spelling. `query` is the rendition's own query (`cc=no-cache`: the origin forbids caching).
fn one_long_poll_per_rendition(shards: usize, query: &str) {
    let setup = Setup::live(shards, &[("admin", "127.0.0.1:0")]);
    let base = format!("{RENDITION}{query}");
    let joiner = if query.is_empty() { '?' } else { '&' };
    let state = playlist(&setup.get(&format!("{base}{joiner}_HLS_msn=0")));
    let next = state.next_part().expect("the mock lists parts");
    let (m, n) = (next.msn, next.part);
    let spellings = [
        format!("{base}{joiner}_HLS_msn={m}&_HLS_part={n}"),
        format!("{base}{joiner}_HLS_part={n}&_HLS_msn={m}"),
        format!("{base}{joiner}_hls_msn={m}&_HLS_PART={n}"),
        format!("{base}{joiner}_HLS_msn={m}&_HLS_part={}", n + 1),
        format!("{base}{joiner}_HLS_part={}&_HLS_msn={m}", n + 1),
    ];
    let started = Instant::now();
    let before = blocking_targets(&setup).len();
    let responses = all_at_once(setup.addr, 20, |i, conn| conn.get(&spellings[i % 5]));
    let took = started.elapsed();
    for (i, response) in responses.iter().enumerate() {
        let part = if i % 5 < 3 { n } else { n + 1 };
        let answer = playlist(response);
        assert!(
            answer.satisfies(m, Some(part)),
            "{}: answered without its part",
            spellings[i % 5]
        );
    }
    // Every answer released from a hold is timed once, by whichever shard wrote it (with 4
    // shards most clients are on another shard than the rendition's owner).
    let satisfied = hold_results(&setup, HoldResult::Satisfied);
    assert!(satisfied > 0, "some of the clients were held");
    assert!(
        eventually(Duration::from_secs(5), || releases_timed(&setup)
            == satisfied),
        "releases timed {} for {satisfied} held answers",
        releases_timed(&setup)
    );
    // Answered at once from the edge's state: with its age (App. C tune-in reads it).
    let immediate = get(setup.addr, &spellings[0]);
    assert!(playlist(&immediate).satisfies(m, Some(n)));
    assert!(immediate.header("age").is_some(), "{immediate:?}");
    let upstream = blocking_targets(&setup);
    let during = &upstream[before..];
    let distinct: HashSet<_> = during.iter().collect();
    assert_eq!(
        distinct.len(),
        during.len(),
        "each part asked once: {during:?}"
    );
    for target in during {
        let canonical = target.starts_with(&format!("{base}{joiner}_HLS_msn="))
            && target.contains("&_HLS_part=")
            && !target.contains("_hls_")
            && !target.contains("_HLS_PART");
        assert!(canonical, "{target}");
    }
    // One long-poll per part published meanwhile (250 ms each), plus the one in flight.
    let parts = took.as_millis() / 250 + 2;
    assert!(during.len() as u128 <= parts, "{during:?} in {took:?}");
}

with_shards!(many_spellings_share_one_long_poll, |shards| {
    one_long_poll_per_rendition(shards, "");
});

with_shards!(a_no_cache_origin_is_coalesced_all_the_same, |shards| {
    one_long_poll_per_rendition(shards, "?cc=no-cache");
});

with_shards!(
    a_stalled_origin_gets_holds_503_after_three_target_durations,
    |shards| {
        let setup = Setup::live(shards, &[("admin", "127.0.0.1:0")]);
        let state = warm(&setup);
        setup.origin.pause_publishing();
        let next = state.next_msn() + 1;
        let target = format!("{RENDITION}?_HLS_msn={next}");
        let addr = setup.addr;
        let held = std::thread::spawn(move || get(addr, &target));
        assert!(eventually(Duration::from_secs(5), || holds_active(&setup) == 1));
        // Short of three target durations (real time passes too): still held.
        setup.advance(Duration::from_millis(2500));
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(holds_active(&setup), 1);
        assert_eq!(
            stream_sample(&setup, "livecache_stream_holds_active"),
            Some(1)
        );
        setup.advance(Duration::from_millis(500));
        let response = held.join().unwrap();
        assert_eq!(response.status, 503);
        assert_eq!(response.header("retry-after"), Some("1"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(hold_results(&setup, HoldResult::Expired), 1);
        // Stale: no new part for three part targets.
        let stats = &setup.running().stats;
        assert!(eventually(Duration::from_secs(5), || stats
            .sum(|s| &s.live.stale_renditions)
            == 1));
        // ...for its stream too, with the hold it answered.
        let stale = stream_sample(&setup, "livecache_stream_stale_renditions");
        assert_eq!(stale, Some(1));
        let active = stream_sample(&setup, "livecache_stream_holds_active");
        assert_eq!(active, Some(0));
        // The warm-up request waited for the first version too.
        let held = stream_sample(&setup, "livecache_stream_hold_seconds_count");
        assert_eq!(held, Some(2));
        // Publishing again: the next request is answered with the new part.
        setup.origin.resume_publishing();
        let next_part = state.next_part().unwrap();
        let target = format!(
            "{RENDITION}?_HLS_msn={}&_HLS_part={}",
            next_part.msn, next_part.part
        );
        let answer = playlist(&setup.get(&target));
        assert!(answer.satisfies(next_part.msn, Some(next_part.part)));
    }
);

with_shards!(an_ended_stream_ignores_directives, |shards| {
    let setup = Setup::live(shards, &[]);
    let state = warm(&setup);
    setup.origin.end_stream();
    let ahead = state.next_msn() + 1;
    let response = setup.get(&format!("{RENDITION}?_HLS_msn={ahead}&_HLS_part=0"));
    let ended = playlist(&response);
    assert!(ended.ended, "ENDLIST reaches the held request");
    // Later requests, even far ahead, are answered at once from the ended playlist.
    let started = Instant::now();
    let response = setup.get(&format!("{RENDITION}?_HLS_msn={}", ahead + 50));
    assert!(playlist(&response).ended);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(hold_results(&setup, HoldResult::Ended) >= 1);
});

with_shards!(a_regressed_playlist_is_never_served, |shards| {
    let setup = Setup::live(shards, &[]);
    let state = warm(&setup);
    let mut seen = state.last_msn().unwrap();
    // Back to the stream's first second: the long-poll in flight waits out its hold (3 s),
    // then finds its part too far ahead, and the plain playlist has gone back.
    setup.origin.rewind_publishing(5);
    // Requests keep coming meanwhile: none is answered with a playlist that went back.
    let stats = &setup.running().stats;
    let backwards = livecache::live::Rejection::SequenceBackwards;
    let rejected = || {
        stats
            .shards
            .iter()
            .map(|s| s.live.rejected(backwards))
            .sum::<u64>()
    };
    let until = Instant::now() + Duration::from_secs(8);
    while rejected() == 0 && Instant::now() < until {
        let answer = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let last = answer.last_msn().unwrap();
        assert!(last >= seen, "went back from {seen} to {last}");
        seen = last;
    }
    assert!(rejected() >= 1, "the regression was counted");
    // Once refused, the regressed playlist is not served either.
    for _ in 0..5 {
        let answer = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let last = answer.last_msn().unwrap();
        assert!(last >= seen, "went back from {seen} to {last}");
    }
});

with_shards!(
    a_part_not_yet_published_is_never_cached_as_missing,
    |shards| {
        let setup = Setup::live(shards, &[]);
        let state = warm(&setup);
        // Two segments ahead: the origin says 404 (it holds only the hinted part), with
        // `max-age=1`; the edge passes the 404 on and keeps nothing.
        let future = format!("/live/s0/r0/seg-{}.1.m4s", state.next_msn() + 1);
        for _ in 0..2 {
            let response = setup.get(&future);
            assert_eq!(response.status, 404);
            assert!(
                response.cache_status().contains("detail=live-edge"),
                "{response:?}"
            );
        }
        assert_eq!(setup.origin_count("GET", &future), 2);
        // Published: the next request gets it.
        let published = eventually(Duration::from_secs(5), || setup.get(&future).status == 200);
        assert!(published);
    }
);

with_shards!(a_state_nobody_kept_current_is_not_served, |shards| {
    let setup = Setup::live(shards, &[]);
    let state = warm(&setup);
    // Nobody asks for a while: the long-poll stops after the answer in flight.
    setup.advance(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(600));
    // A request the old state would satisfy waits for the next version instead.
    let response = setup.get(&format!("{RENDITION}?_HLS_msn=0"));
    assert!(
        response.cache_status().contains("detail=held"),
        "{response:?}"
    );
    let answer = playlist(&response);
    assert!(answer.last_part() > state.last_part());
});

with_shards!(
    viewers_of_a_hinted_part_share_one_upstream_request,
    |shards| {
        let setup = Setup::live(shards, &[]);
        let state = warm(&setup);
        let hint = state
            .hint(HintType::Part)
            .expect("the mock hints the next part");
        let target = format!("/live/s0/r0/{}", hint.uri);
        // Everyone asks before the part exists; the origin holds the one request it gets.
        let responses = all_at_once(setup.addr, 12, |_, conn| conn.get(&target));
        let first = &responses[0];
        assert_eq!(first.status, 200, "{first:?}");
        for response in &responses {
            assert_eq!(response.status, 200);
            assert!(response.complete);
            assert_eq!(response.body, first.body);
        }
        assert_eq!(setup.origin_count("GET", &target), 1);
    }
);

with_shards!(plain_requests_are_answered_from_the_live_state, |shards| {
    let setup = Setup::live(shards, &[]);
    let state = warm(&setup);
    let plain_before = setup.origin.plain_playlist_hits();
    for _ in 0..5 {
        let response = setup.get(RENDITION);
        assert!(
            response.cache_status().contains("detail=live-state"),
            "{response:?}"
        );
        assert!(response.header("age").is_some());
        // Half a target duration (0.5 s, 0 in whole seconds, never rounded up), not the
        // blocking answer's lifetime (3 s at the mock).
        assert_eq!(response.header("cache-control"), Some("max-age=0"));
        assert!(playlist(&response).next_msn() >= state.next_msn());
    }
    assert_eq!(setup.origin.plain_playlist_hits(), plain_before);
});

with_shards!(
    an_origin_without_cache_control_gets_the_appendix_b_lifetimes,
    |shards| {
        let setup = Setup::live(shards, &[]);
        let blocking = setup.get(&format!("{RENDITION}?cc=none&_HLS_msn=0"));
        assert_eq!(blocking.status, 200);
        // TD 1 s: six target durations for a blocking answer, half of one (0 in whole seconds)
        // for the playlist's URL.
        assert_eq!(blocking.header("cache-control"), Some("max-age=6"));
        let plain = setup.get(&format!("{RENDITION}?cc=none"));
        assert!(plain.cache_status().contains("live-state"), "{plain:?}");
        assert_eq!(plain.header("cache-control"), Some("max-age=0"));
    }
);

with_shards!(
    a_draining_node_answers_its_held_requests_at_once,
    |shards| {
        let setup = Setup::live(shards, &[]);
        let state = warm(&setup);
        setup.origin.pause_publishing();
        let target = format!("{RENDITION}?_HLS_msn={}", state.next_msn() + 1);
        let addr = setup.addr;
        let held = std::thread::spawn(move || get(addr, &target));
        assert!(eventually(Duration::from_secs(5), || holds_active(&setup) == 1));
        // SIGTERM: the player is told to retry now (elsewhere), not kept for three target durations.
        let stopping = Instant::now();
        setup.running().shutdown.trigger();
        let response = held.join().unwrap();
        assert_eq!(response.status, 503);
        assert_eq!(response.header("retry-after"), Some("1"));
        assert!(
            stopping.elapsed() < Duration::from_secs(2),
            "{:?}",
            stopping.elapsed()
        );
    }
);

with_shards!(a_withdrawn_hint_gets_404_and_nothing_is_cached, |shards| {
    let setup = Setup::live(shards, &[]);
    let state = warm(&setup);
    setup.origin.pause_publishing();
    let hint = state
        .hint(HintType::Part)
        .expect("the mock hints the next part");
    let target = format!("/live/s0/r0/{}", hint.uri);
    let addr = setup.addr;
    let asked = target.clone();
    let held = std::thread::spawn(move || get(addr, &asked));
    assert!(eventually(Duration::from_secs(5), || setup
        .origin_count("GET", &target)
        == 1));
    // The stream ends before the hinted part exists: the hint is withdrawn (T3.2).
    setup.origin.end_stream();
    let response = held.join().unwrap();
    assert_eq!(response.status, 404);
    // Never kept: the next request asks the origin again.
    assert_eq!(setup.get(&target).status, 404);
    assert_eq!(setup.origin_count("GET", &target), 2);
});
