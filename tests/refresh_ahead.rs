//! Live manifests with viewers never wait on the origin (LIVE.md F1.9, issue "Live video I"
//! item 5): a stored playlist a viewer asked for is refreshed in the background once half the
//! freshness it arrived with is spent, even if nobody asks in that window, so a viewer
//! arriving after it would have expired is still a hit; a version nobody asked for is left to
//! expire; other objects are not refreshed early; `off` turns it off.
//! On the clock seam: the mock origin's playlists say `max-age=1`. Rendition tracking is off
//! here: a tracked playlist is kept current by its rendition's poll instead (`live_classic`),
//! and refresh-ahead is what keeps the rest (DASH MPDs, untracked playlists) current.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::{eventually, Setup};

/// A live playlist kept 4 s (the mock's own `max-age=1` is too short to test against: `Date`
/// has whole seconds, so a response may arrive up to a second old).
const PLAYLIST: &str = "/live/s0/r0/index.m3u8?cc=max-age=4";

/// Waits until no fetch is in flight: a refresh the origin has seen is also stored before the
/// clock moves on.
fn settle(setup: &Setup) {
    let stats = &setup.running().stats;
    let settled = || stats.sum(|s| &s.inflight_fetches) == 0;
    assert!(eventually(Duration::from_secs(5), settled));
}

fn refreshes_while_viewers_ask(shards: usize) {
    let setup = Setup::with(shards, &[("track_playlists", "off")]);
    let first = setup.get(PLAYLIST);
    assert_eq!(first.status, 200);
    assert_eq!(setup.origin.plain_playlist_hits(), 1);
    // Before half its lifetime: a plain hit.
    setup.advance(Duration::from_millis(1000));
    assert!(setup.get(PLAYLIST).cache_status().contains("hit"));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(setup.origin.plain_playlist_hits(), 1);
    // Past half, with no request in that window (viewers reload in bursts): the refresh
    // planned at the hit goes upstream in the background all the same.
    setup.advance(Duration::from_millis(1500));
    let refreshed = |n| {
        eventually(Duration::from_secs(5), || {
            setup.origin.plain_playlist_hits() == n
        })
    };
    assert!(refreshed(2));
    settle(&setup);
    // Where the first copy would have expired, the refreshed one answers (and, half spent
    // itself by now, is refreshed in turn).
    setup.advance(Duration::from_millis(2200));
    let later = setup.get(PLAYLIST);
    assert!(later.cache_status().contains("hit"), "{later:?}");
    assert!(refreshed(3));
    settle(&setup);
    // Nobody asks for a while: no refresh, the playlist expires and the next viewer waits.
    setup.advance(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(setup.origin.plain_playlist_hits(), 3);
    let cold = setup.get(PLAYLIST);
    assert!(cold.cache_status().contains("fwd="), "{cold:?}");
}

with_shards!(
    a_watched_playlist_is_refreshed_before_it_expires,
    |shards| {
        refreshes_while_viewers_ask(shards);
    }
);

with_shards!(
    other_objects_and_the_off_switch_are_not_refreshed_early,
    |shards| {
        let setup = Setup::with(shards, &[("refresh_manifests_ahead", "off")]);
        assert_eq!(setup.get(PLAYLIST).status, 200);
        setup.advance(Duration::from_millis(2500));
        assert!(setup.get(PLAYLIST).cache_status().contains("hit"));
        let setup_on = Setup::new(shards);
        let segment = "/vod/a.m4s?cc=max-age=4&size=100";
        assert_eq!(setup_on.get(segment).status, 200);
        setup_on.advance(Duration::from_millis(2500));
        assert!(setup_on.get(segment).cache_status().contains("hit"));
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(setup.origin.plain_playlist_hits(), 1);
        assert_eq!(setup_on.origin_count("GET", segment), 1);
    }
);
