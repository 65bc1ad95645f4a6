//! Playlist-driven prefetch (issue "Live video II", item 1; LIVE.md F4, T4.1, T4.2): a new
//! version of a watched rendition has the edge fetch the media it newly lists before any
//! viewer asks, so the first viewer of a new segment gets a cache hit; classic viewers get
//! whole segments prefetched and low-latency viewers parts; unwatched renditions cost the
//! origin nothing; an origin failing its media makes prefetch pause, and it resumes after.
//!
//! The mock origin publishes in real time (1 s segments, started 5 s before the test), so the
//! tests follow a few segments as a player would, reloading the playlist every 100 ms.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{playlist, MockOrigin, Response, Setup};
use livecache::live::MediaPlaylist;

const RENDITION: &str = "/live/s0/r0/index.m3u8";
const DIRECTORY: &str = "/live/s0/r0/";

fn live_count(
    setup: &Setup,
    f: fn(&livecache::metrics::LiveStats) -> &std::sync::atomic::AtomicU64,
) -> u64 {
    setup.running().stats.sum(|s| f(&s.live))
}

/// Plays the rendition as a classic player does until `n` segments newer than the first
/// playlist have appeared, and returns the response to the first request for each.
fn first_requests_of_new_segments(setup: &Setup, n: usize) -> Vec<(String, Response)> {
    // The first load stores the playlist; the second is a hit that makes it rendition state.
    let mut newest = playlist(&setup.get(RENDITION)).last_msn().unwrap();
    setup.get(RENDITION);
    let mut firsts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while firsts.len() < n && Instant::now() < deadline {
        let current = playlist(&setup.get(RENDITION));
        for segment in current.segments.iter().filter(|s| s.msn > newest) {
            let path = format!("{DIRECTORY}{}", segment.uri);
            firsts.push((path.clone(), setup.get(&path)));
        }
        newest = current.last_msn().unwrap().max(newest);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(firsts.len() >= n, "only {} new segments", firsts.len());
    firsts
}

/// Plays `n` new segments as a classic player does: the first request for each is a hit on
/// the one copy the origin sent.
fn first_new_segments_are_hits(setup: &Setup, n: usize) {
    for (path, response) in first_requests_of_new_segments(setup, n) {
        assert_eq!(response.status, 200, "{path}");
        assert!(
            response.cache_status().contains("hit"),
            "{path}: {response:?}"
        );
        assert_eq!(setup.origin.path_hits(&path), 1, "{path}");
    }
}

/// Origin requests for anything but `directory`'s media: other renditions and streams.
fn origin_requests_elsewhere(setup: &Setup, directory: &str) -> Vec<String> {
    let requests = setup.origin.requests();
    let targets = requests.iter().map(|r| r.target.clone());
    targets.filter(|t| !t.starts_with(directory)).collect()
}

with_shards!(the_first_viewer_of_a_new_segment_gets_a_hit, |shards| {
    let setup = Setup::classic(shards, &[("admin", "127.0.0.1:0")]);
    first_new_segments_are_hits(&setup, 3);
    assert!(live_count(&setup, |l| &l.prefetch_used) >= 3);
    assert_eq!(live_count(&setup, |l| &l.prefetch_failed), 0);
    // And per stream (F11).
    let metrics = common::get(setup.admin_addr(), "/metrics");
    let text = String::from_utf8(metrics.body).unwrap();
    let used = text
        .lines()
        .find(|l| {
            l.starts_with("livecache_stream_prefetches_total{")
                && l.contains("/live/s0/r0\"")
                && l.contains("result=\"used\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
    assert!(used.is_some_and(|n| n >= 3), "{used:?}");
    // T4.1: nobody watches the other renditions and streams, so none of their media (nor
    // their playlists) was asked of the origin.
    assert_eq!(
        origin_requests_elsewhere(&setup, DIRECTORY),
        Vec::<String>::new()
    );
});

with_shards!(without_prefetch_the_first_viewer_waits, |shards| {
    let setup = Setup::classic(shards, &[("prefetch", "off")]);
    let (path, response) = first_requests_of_new_segments(&setup, 1).remove(0);
    assert_eq!(response.status, 200);
    assert!(
        !response.cache_status().contains("hit"),
        "{path}: {response:?}"
    );
    assert_eq!(live_count(&setup, |l| &l.prefetch_started), 0);
});

with_shards!(
    low_latency_viewers_get_parts_prefetched_not_whole_segments,
    |shards| {
        let setup = Setup::live(shards, &[]);
        // A low-latency player: blocking reloads only, for the part after the newest.
        let mut current = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let first_new = current.next_msn();
        for _ in 0..8 {
            let next = current.next_part().expect("parts are listed");
            let target = format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
            current = playlist(&setup.get(&target));
        }
        let prefetched = live_count(&setup, |l| &l.prefetch_started);
        assert!(prefetched >= 4, "{prefetched} prefetches");
        // No whole segment: only parts (`seg-N.P.m4s`) were asked of the origin.
        let fetched: Vec<String> = setup
            .origin
            .requests()
            .into_iter()
            .map(|r| r.target)
            .filter(|t| t.ends_with(".m4s"))
            .collect();
        assert!(!fetched.is_empty());
        for target in &fetched {
            let name = target.rsplit('/').next().unwrap();
            assert_eq!(name.matches('.').count(), 2, "a whole segment: {target}");
        }
        // A prefetched part is one origin request, whoever asks for it afterwards.
        let part = &current.parts(first_new)[0];
        let path = format!("{DIRECTORY}{}", part.uri);
        let response = setup.get(&path);
        assert_eq!(response.status, 200);
        assert!(response.cache_status().contains("hit"), "{response:?}");
        assert_eq!(setup.origin.path_hits(&path), 1);
        assert!(live_count(&setup, |l| &l.prefetch_used) >= 1);
    }
);

with_shards!(
    prefetch_pauses_while_the_origin_fails_media_and_resumes_after,
    |shards| {
        let setup = Setup::live(shards, &[]);
        let mut current = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let follow = |n: usize, current: &mut MediaPlaylist| {
            for _ in 0..n {
                let next = current.next_part().expect("parts are listed");
                let target = format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
                *current = playlist(&setup.get(&target));
            }
        };
        follow(2, &mut current);
        setup.origin.fail_media(true);
        // Eight parts of 250 ms: without a pause, about one failed prefetch per part.
        follow(8, &mut current);
        let failed = live_count(&setup, |l| &l.prefetch_failed);
        assert!(failed >= 1, "the failing origin was tried");
        assert!(failed <= 4, "{failed} failed prefetches in 2 s: no pause");
        assert!(live_count(&setup, |l| &l.prefetch_skipped) >= 1);
        setup.origin.fail_media(false);
        std::thread::sleep(Duration::from_millis(1100));
        follow(2, &mut current);
        // The part the last version listed was prefetched again: its viewer joins that fetch
        // or finds it stored, and sends the origin nothing of its own.
        let newest = current.trailing_parts.last().expect("a part in progress");
        let path = format!("{DIRECTORY}{}", newest.uri);
        let response = setup.get(&path);
        assert_eq!(response.status, 200, "{response:?}");
        let status = response.cache_status();
        assert!(
            status.contains("hit") || status.contains("collapsed"),
            "{status}"
        );
        assert_eq!(setup.origin.path_hits(&path), 1);
    }
);

with_shards!(
    classic_viewers_of_a_low_latency_stream_get_each_new_segment_as_a_hit,
    |shards| {
        // A version per part (blocking reloads upstream), viewers without `_HLS_msn`: only
        // whole segments are prefetched, so the versions between two segments prefetch
        // nothing. Each segment takes ~0.5 s to arrive (400 kB/s), two parts' time: the hold
        // of the version that lists it must outlast those part versions, or the viewers see
        // the segment before it is cached.
        let live = mock_origin::LiveConfig {
            segment_duration: Duration::from_secs(2),
            part_duration: Duration::from_millis(250),
            renditions: vec![800],
            throughput: Some(400_000),
            start: Instant::now().checked_sub(Duration::from_secs(5)),
            ..mock_origin::LiveConfig::default()
        };
        let origin = MockOrigin::start_with("127.0.0.1:0", live).expect("origin starts");
        let setup = Setup::in_front_of(origin, shards, &[]);
        first_new_segments_are_hits(&setup, 3);
    }
);
