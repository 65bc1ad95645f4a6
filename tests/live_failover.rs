//! Failover to the backup origin on a stale live playlist (LIVE.md F9, T9.1; issue "Origin-shield
//! tiers", item 4): with `origin` a list of packagers that share media sequence numbers and
//! URIs (aligned, like redundant pipelines), a primary whose playlist stops advancing for 1.5
//! target durations has its stream moved to the backup: the playlist advances again, its
//! segments come from the backup, and no viewer ever gets a media sequence lower than one it
//! got before.
//!
//! Two mock origins on one timeline (1 s segments, started 5 s before the test); the primary's
//! publishing is paused. With `origin_failover = independent`, the backup numbers its
//! segments its own way.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{eventually, playlist, MockOrigin, Setup};
use mock_origin::LiveConfig;

const PLAYLIST: &str = "/live/s0/r0/index.m3u8";

/// The newest media sequence number a playlist lists.
fn newest(response: &common::Response) -> u64 {
    let p = playlist(response);
    p.media_sequence + p.segments.len() as u64 - 1
}

/// A daemon in front of a primary and a backup packager on one timeline (1 s classic
/// segments, started 5 s ago), viewers watching stream 0 for a moment; returns the daemon (its
/// `origin` is the primary), the backup, and the newest media sequences the viewer saw.
fn watched(shards: usize) -> (Setup, MockOrigin, Vec<u64>) {
    watched_with(shards, |_| {}, &[])
}

/// `watched`, with the backup's configuration changed by `backup` and more settings.
fn watched_with(
    shards: usize,
    backup: impl FnOnce(&mut LiveConfig),
    extra: &[(&str, &str)],
) -> (Setup, MockOrigin, Vec<u64>) {
    let live = LiveConfig {
        segment_duration: Duration::from_secs(1),
        part_duration: Duration::from_secs(1),
        low_latency: false,
        start: Instant::now().checked_sub(Duration::from_secs(5)),
        ..LiveConfig::default()
    };
    let mut backup_live = live.clone();
    backup(&mut backup_live);
    let primary = MockOrigin::start_with("127.0.0.1:0", live).expect("primary starts");
    let backup = MockOrigin::start_with("127.0.0.1:0", backup_live).expect("backup starts");
    let list = format!("{}, {}", primary.url(), backup.url());
    let mut settings = vec![("origin", list.as_str()), ("admin", "127.0.0.1:0")];
    settings.extend_from_slice(extra);
    let setup = Setup::in_front_of(primary, shards, &settings);
    // Viewers watch: the rendition is tracked and polled.
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(newest(&setup.get(PLAYLIST)));
        std::thread::sleep(Duration::from_millis(300));
    }
    (setup, backup, seen)
}

/// The `livecache_stream_active_origin` lines of a scrape.
fn active_origins(setup: &Setup) -> Vec<String> {
    let response = common::get(setup.admin_addr(), "/metrics");
    let text = String::from_utf8(response.body).expect("UTF-8");
    let lines = text.lines();
    let active = lines.filter(|l| l.starts_with("livecache_stream_active_origin{"));
    active.map(str::to_string).collect()
}

with_shards!(a_frozen_primary_moves_its_stream_to_the_backup, |shards| {
    let (setup, backup, mut seen) = watched(shards);
    setup.origin.pause_publishing();
    let frozen = *seen.last().unwrap();
    // Within 1.5 target durations (and a poll) the stream moves; generous slack here, the
    // bound is what the staleness rule says, not a timing this test measures.
    let moved = eventually(Duration::from_secs(8), || {
        seen.push(newest(&setup.get(PLAYLIST)));
        *seen.last().unwrap() > frozen + 1
    });
    assert!(moved, "the playlist stayed at {frozen}: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[1] >= w[0]),
        "a viewer went backwards: {seen:?}"
    );
    let stats = &setup.running().stats;
    assert!(stats.sum(|s| &s.live.origin_failovers) >= 1);
    // The moved stream's segments come from the backup.
    let current = playlist(&setup.get(PLAYLIST));
    let uri = &current.segments.last().unwrap().uri;
    let segment = format!("/live/s0/r0/{uri}");
    assert_eq!(setup.get(&segment).status, 200);
    assert_eq!(backup.path_hits(&segment), 1);
    assert_eq!(setup.origin.path_hits(&segment), 0);
});

with_shards!(
    a_primary_that_goes_back_moves_its_stream_to_the_backup,
    |shards| {
        // The primary rewinds three segments (a restarted packager): its version is refused and
        // the stream moves to the backup at once, so viewers keep advancing instead of waiting
        // three target durations on the last good version.
        let (setup, _backup, mut seen) = watched(shards);
        setup.origin.rewind_publishing(3);
        let before = *seen.last().unwrap();
        // For 2.5 s: on the primary alone, viewers would wait at most one segment past
        // `before` until its rewound timeline caught up; from the backup they keep the pace.
        let end = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < end {
            seen.push(newest(&setup.get(PLAYLIST)));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(*seen.last().unwrap() >= before + 2, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[1] >= w[0]), "{seen:?}");
        let stats = &setup.running().stats;
        assert!(stats.sum(|s| &s.live.origin_failovers) >= 1);
        assert_eq!(stats.sum(|s| &s.live.restarts), 0, "not taken as a restart");
    }
);

with_shards!(
    independent_packagers_switch_when_stale_and_the_sequence_jumps_forward,
    |shards| {
        // A backup that numbers its segments its own way (from 1000): after the primary has
        // not advanced for three target durations the stream moves there, the media sequence
        // jumps forward and never back, and the scrape names the origin the stream uses.
        let (setup, backup, mut seen) = watched_with(
            shards,
            |b| b.first_sequence = 1000,
            &[("origin_failover", "independent")],
        );
        assert!(active_origins(&setup).is_empty());
        setup.origin.pause_publishing();
        let moved = eventually(Duration::from_secs(10), || {
            seen.push(newest(&setup.get(PLAYLIST)));
            *seen.last().unwrap() >= 1000
        });
        assert!(moved, "never moved to the backup: {seen:?}");
        assert!(seen.windows(2).all(|w| w[1] >= w[0]), "{seen:?}");
        let current = playlist(&setup.get(PLAYLIST));
        let segment = format!("/live/s0/r0/{}", current.segments.last().unwrap().uri);
        assert_eq!(setup.get(&segment).status, 200);
        assert_eq!(backup.path_hits(&segment), 1);
        let active = active_origins(&setup);
        let backup_id = format!("origin=\"origin:{}\"", backup.addr());
        assert!(
            active.len() == 1 && active[0].contains(&backup_id) && active[0].ends_with(" 1"),
            "{active:?}"
        );
        // The primary publishes again and its rest ends: its playlist is behind the one the
        // viewers have, so they stay on the backup's timeline.
        setup.origin.resume_publishing();
        setup.advance(Duration::from_secs(61));
        let end = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < end {
            seen.push(newest(&setup.get(PLAYLIST)));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(seen.windows(2).all(|w| w[1] >= w[0]), "{seen:?}");
        assert!(*seen.last().unwrap() >= 1000);
    }
);

with_shards!(
    an_aligned_backup_answers_what_the_primary_has_not,
    |shards| {
        // Aligned packagers publish the same objects: a 404 from the primary is asked of the
        // backup (LIVE.md F9); independent ones do not share names, so their 404 is the answer.
        // The backup numbers its segments from 1000: the primary has no `seg-1002` yet.
        let numbered_from = |first_sequence| LiveConfig {
            first_sequence,
            segment_duration: Duration::from_secs(1),
            start: Instant::now().checked_sub(Duration::from_secs(10)),
            ..LiveConfig::default()
        };
        for (mode, status, backup_hits) in [("aligned", 200, 1), ("independent", 404, 0)] {
            let primary = MockOrigin::start_with("127.0.0.1:0", numbered_from(0)).unwrap();
            let backup = MockOrigin::start_with("127.0.0.1:0", numbered_from(1000)).unwrap();
            let list = format!("{}, {}", primary.url(), backup.url());
            let settings = [("origin", list.as_str()), ("origin_failover", mode)];
            let setup = Setup::in_front_of(primary, shards, &settings);
            let segment = "/live/s0/r0/seg-1002.m4s";
            assert_eq!(setup.get(segment).status, status, "{mode}");
            assert_eq!(setup.origin.path_hits(segment), 1, "{mode}");
            assert_eq!(backup.path_hits(segment), backup_hits, "{mode}");
        }
    }
);
