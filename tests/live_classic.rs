//! Rendition state for classic HLS (issue "Live video I", items 1 and 6; LIVE.md F9): a live
//! media playlist viewers ask for without delivery directives becomes a tracked rendition
//! from the cache's copy (no extra origin request), its poll keeps it current while viewers
//! ask, viewers are answered from that state, and a version that goes back is refused (the
//! last good one is served) until three target durations of refusals say the packager
//! restarted; `track_playlists = off` leaves playlists to the cache.
//!
//! The mock origin is a classic packager (no parts, no blocking reloads) publishing 1 s
//! segments, started 5 s before the test.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{eventually, playlist, Setup};
use livecache::live::Rejection;

const RENDITION: &str = "/live/s0/r0/index.m3u8";

fn seeded(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.live.seeded)
}

with_shards!(
    classic_viewers_are_answered_from_rendition_state,
    |shards| {
        let setup = Setup::classic(shards, &[]);
        let first = playlist(&setup.get(RENDITION));
        assert!(!first.server_control.can_block_reload);
        assert_eq!(seeded(&setup), 0, "nothing stored to seed from yet");
        // The stored copy answers and becomes the rendition's first version: no origin request.
        assert!(setup.get(RENDITION).cache_status().contains("hit"));
        assert_eq!(seeded(&setup), 1);
        assert_eq!(setup.origin.plain_playlist_hits(), 1);
        let from_state = setup.get(RENDITION);
        assert!(
            from_state.cache_status().contains("live-state"),
            "{from_state:?}"
        );
        assert!(from_state.header("age").is_some());
        // The poll follows the origin while viewers ask: a later segment reaches them from the
        // state, never from a request of theirs.
        let newest = first.last_msn().unwrap();
        let advanced = eventually(Duration::from_secs(5), || {
            let response = setup.get(RENDITION);
            assert!(
                response.cache_status().contains("live-state"),
                "{response:?}"
            );
            playlist(&response).last_msn().unwrap() > newest
        });
        assert!(advanced, "the state follows the origin");
        // One origin request per poll, none per viewer: each poll waits half a target duration.
        let polls = setup.running().stats.sum(|s| &s.live.upstream_polls);
        assert!(setup.origin.plain_playlist_hits() <= polls + 1);
    }
);

with_shards!(a_regressed_classic_playlist_is_never_served, |shards| {
    let setup = Setup::classic(shards, &[]);
    let _ = setup.get(RENDITION);
    let mut seen = playlist(&setup.get(RENDITION)).last_msn().unwrap();
    assert_eq!(seeded(&setup), 1);
    setup.origin.rewind_publishing(5);
    let stats = &setup.running().stats;
    let rejected = || {
        let backwards = Rejection::SequenceBackwards;
        stats
            .shards
            .iter()
            .map(|s| s.live.rejected(backwards))
            .sum::<u64>()
    };
    let until = Instant::now() + Duration::from_secs(5);
    while rejected() == 0 && Instant::now() < until {
        let last = playlist(&setup.get(RENDITION)).last_msn().unwrap();
        assert!(last >= seen, "went back from {seen} to {last}");
        seen = last;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(rejected() >= 1, "the regression was counted");
    // Viewers keep the last good version meanwhile, its Age growing.
    let kept = setup.get(RENDITION);
    assert!(playlist(&kept).last_msn().unwrap() >= seen);
    // Three target durations of nothing but refusals: the packager restarted, and its new
    // timeline becomes the state rather than freeze the viewers.
    setup.advance(Duration::from_secs(3));
    let restarts = || stats.sum(|s| &s.live.restarts);
    let asked = || setup.get(RENDITION).status == 200;
    assert!(eventually(Duration::from_secs(5), || asked() && restarts() == 1));
    let after = playlist(&setup.get(RENDITION)).last_msn().unwrap();
    assert!(
        after < seen,
        "the restarted sequence is served: {after} after {seen}"
    );
});

with_shards!(untracked_playlists_stay_with_the_cache, |shards| {
    let setup = Setup::classic(shards, &[("track_playlists", "off")]);
    for _ in 0..3 {
        let response = setup.get(RENDITION);
        assert!(!response.cache_status().contains("live-state"));
    }
    assert_eq!(seeded(&setup), 0);
    // A multivariant playlist is never tracked, whatever the switch says.
    let setup = Setup::classic(shards, &[]);
    for _ in 0..3 {
        assert_eq!(setup.get("/live/s0/master.m3u8").status, 200);
    }
    assert_eq!(seeded(&setup), 0);
    assert_eq!(setup.running().stats.sum(|s| &s.live.renditions), 0);
});
