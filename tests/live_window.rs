//! Memory that follows the live window (issue "Live video II", item 2; LIVE.md F7, T7.1): a
//! segment a tracked playlist let go of is dropped once its availability has passed (its
//! duration plus the playlist's, HLS 6.2.2), by the daemon's clock, while what the playlist
//! still lists stays; `live_window_memory = off` leaves everything to the LRU.
//!
//! The mock origin is a classic packager publishing 1 s segments in a 3-segment window, in
//! real time; the availability is passed by moving the daemon's clock, not by sleeping.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{eventually, playlist, MockOrigin, Setup};
use mock_origin::LiveConfig;

const RENDITION: &str = "/live/s0/r0/index.m3u8";
const DIRECTORY: &str = "/live/s0/r0/";

fn short_window(shards: usize, extra: &[(&str, &str)]) -> Setup {
    let live = LiveConfig {
        segment_duration: Duration::from_secs(1),
        part_duration: Duration::from_secs(1),
        low_latency: false,
        window: 3,
        start: Instant::now().checked_sub(Duration::from_secs(5)),
        ..LiveConfig::default()
    };
    let origin = MockOrigin::start_with("127.0.0.1:0", live).expect("mock origin starts");
    Setup::in_front_of(origin, shards, extra)
}

fn dead_evictions(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.store_dead_evictions)
}

/// Plays the rendition: stores its playlist, tracks it, fetches the segments it lists; then
/// follows it until the oldest of them has left the playlist, and moves the daemon's clock
/// past that segment's availability (1 s + the 3 s playlist). Returns the oldest segment's
/// path.
fn play_until_the_oldest_leaves(setup: &Setup) -> String {
    let first = playlist(&setup.get(RENDITION));
    setup.get(RENDITION);
    for segment in &first.segments {
        let response = setup.get(&format!("{DIRECTORY}{}", segment.uri));
        assert_eq!(response.status, 200);
    }
    let oldest = first.segments[0].uri.clone();
    let left = eventually(Duration::from_secs(10), || {
        let current = playlist(&setup.get(RENDITION));
        !current.segments.iter().any(|s| s.uri == oldest)
    });
    assert!(left, "the window moved on");
    setup.advance(Duration::from_secs(5));
    format!("{DIRECTORY}{oldest}")
}

with_shards!(
    a_segment_the_playlist_let_go_of_is_dropped_after_its_availability,
    |shards| {
        let setup = short_window(shards, &[]);
        let oldest = play_until_the_oldest_leaves(&setup);
        // The next version the poll takes finds the drop due.
        let dropped = eventually(Duration::from_secs(5), || {
            setup.get(RENDITION);
            dead_evictions(&setup) >= 1
        });
        assert!(dropped, "nothing dropped");
        let again = setup.get(&oldest);
        assert_eq!(again.status, 200);
        assert!(!again.cache_status().contains("hit"), "{again:?}");
        assert_eq!(setup.origin.path_hits(&oldest), 2);
        // What the playlist still lists stays stored.
        let current = playlist(&setup.get(RENDITION));
        let newest = format!("{DIRECTORY}{}", current.segments.last().unwrap().uri);
        setup.get(&newest);
        assert!(setup.get(&newest).cache_status().contains("hit"));
    }
);

with_shards!(off_leaves_every_segment_to_the_lru, |shards| {
    let setup = short_window(shards, &[("live_window_memory", "off")]);
    let oldest = play_until_the_oldest_leaves(&setup);
    // Several versions later, the segment is still stored.
    let first_versions = setup.running().stats.sum(|s| &s.live.versions);
    assert!(eventually(Duration::from_secs(5), || {
        setup.get(RENDITION);
        setup.running().stats.sum(|s| &s.live.versions) >= first_versions + 2
    }));
    assert_eq!(dead_evictions(&setup), 0);
    assert!(setup.get(&oldest).cache_status().contains("hit"));
    assert_eq!(setup.origin.path_hits(&oldest), 1);
});
