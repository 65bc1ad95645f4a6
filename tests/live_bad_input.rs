//! An origin gone wrong under a blocking playlist reload (issue "Live video I", bad input): an
//! answer that is not a media playlist, one over `max_playlist_size`, one that varies on a
//! field the rendition is not keyed by, or one meant for a single client (`private`, a
//! `Set-Cookie`) is passed to the viewers unchanged, never becomes rendition state, and is
//! counted; rendition state stays within `max_renditions` and `live_state_memory`.

mod common;

use common::live::hold_results;
use common::{expected_body, Setup};
use livecache::metrics::HoldResult;

fn unusable(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.live.unusable)
}

fn passed(setup: &Setup) -> u64 {
    hold_results(setup, HoldResult::Passed)
}

with_shards!(
    an_answer_that_is_not_a_playlist_is_passed_through,
    |shards| {
        let setup = Setup::new(shards);
        let target = "/vod/index.m3u8?size=300&_HLS_msn=3";
        let response = setup.get(target);
        assert_eq!(response.status, 200);
        assert_eq!(response.body, expected_body("/vod/index.m3u8", 300));
        assert_eq!(unusable(&setup), 1);
        // Meanwhile the rendition's requests go the ordinary way (cached by URL as usual).
        let again = setup.get(target);
        assert_eq!(again.body, expected_body("/vod/index.m3u8", 300));
        assert!(passed(&setup) >= 2);
        let stats = &setup.running().stats;
        assert_eq!(stats.sum(|s| &s.live.versions), 0, "never state");
    }
);

with_shards!(a_playlist_over_the_size_limit_is_passed_through, |shards| {
    let setup = Setup::live(shards, &[("max_playlist_size", "100B")]);
    let response = setup.get("/live/s0/r0/index.m3u8?_HLS_msn=0");
    assert_eq!(response.status, 200);
    let text = String::from_utf8(response.body).unwrap();
    assert!(text.starts_with("#EXTM3U") && text.len() > 100, "{text}");
    assert_eq!(unusable(&setup), 1);
    let stats = &setup.running().stats;
    assert_eq!(stats.sum(|s| &s.live.versions), 0);
});

with_shards!(
    a_playlist_varying_on_an_unkeyed_field_is_not_shared,
    |shards| {
        let setup = Setup::live(shards, &[]);
        let target = "/live/s0/r0/index.m3u8?hdr=Vary:Accept-Language&_HLS_msn=0";
        let response = setup.get(target);
        assert_eq!(response.status, 200);
        assert_eq!(response.header("vary"), Some("Accept-Language"));
        assert_eq!(unusable(&setup), 1);
        let stats = &setup.running().stats;
        assert_eq!(stats.sum(|s| &s.live.versions), 0);
    }
);

with_shards!(rendition_state_stays_within_its_limits, |shards| {
    // One rendition per shard at most, and little memory for its versions.
    let renditions = shards.to_string();
    let setup = Setup::live(
        shards,
        &[
            ("max_renditions", &renditions),
            ("live_state_memory", "64KiB"),
        ],
    );
    let stats = &setup.running().stats;
    assert_eq!(setup.get("/live/s0/r0/index.m3u8?_HLS_msn=0").status, 200);
    assert_eq!(stats.sum(|s| &s.live.renditions), 1);
    // A second rendition of the same stream (same owner) is not tracked: its request goes
    // upstream as the client spelled it.
    let other = "/live/s0/r0/index.m3u8?x=1&_HLS_part=0&_HLS_msn=0";
    assert_eq!(setup.get(other).status, 200);
    assert_eq!(stats.sum(|s| &s.live.renditions), 1);
    assert_eq!(setup.origin_count("GET", other), 1);
    let state = stats.sum(|s| &s.live.state_bytes);
    assert!(state > 0 && state <= 64 * 1024 / shards as u64, "{state}");
    // Too little memory for one version (a playlist counts three times its ~1.2 KB): the
    // answer is passed through to its viewer and never becomes state.
    let setup = Setup::live(shards, &[("live_state_memory", "1KiB")]);
    let response = setup.get("/live/s0/r0/index.m3u8?_HLS_msn=0");
    assert_eq!(response.status, 200);
    let stats = &setup.running().stats;
    assert_eq!(stats.sum(|s| &s.live.versions), 0);
    assert_eq!(stats.sum(|s| &s.live.state_bytes), 0);
    assert_eq!(unusable(&setup), 1);
});

with_shards!(a_playlist_for_one_client_is_never_shared, |shards| {
    let setup = Setup::live(shards, &[]);
    let stats = &setup.running().stats;
    for (i, marker) in ["hdr=Set-Cookie:sid%3Dviewer-a", "cc=private"]
        .iter()
        .enumerate()
    {
        let target = format!("/live/s0/r0/index.m3u8?{marker}&_HLS_msn=0");
        let response = setup.get(&target);
        assert_eq!(response.status, 200);
        assert_eq!(unusable(&setup), i as u64 + 1, "{target}");
        assert_eq!(stats.sum(|s| &s.live.versions), 0, "never state");
    }
    // Another viewer of the cookie-setting playlist gets the origin's answer to its own
    // request, never a version carrying the first viewer's cookie.
    let other = setup.get("/live/s0/r0/index.m3u8?hdr=Set-Cookie:sid%3Dviewer-a&_HLS_msn=0");
    assert!(!other.cache_status().contains("live-state"));
    assert!(!other.cache_status().contains("detail=held"));
});
