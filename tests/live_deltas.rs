//! Delta updates made at the edge (LIVE.md F2; RFC 8216bis 4.4.5.2, 6.2.5.1): `_HLS_skip=YES`
//! is answered from the rendition's full playlist, blocking or not and however it is spelled,
//! and the origin sees no such request (T2.2); the delta merged with the previous full playlist
//! lists what the full one lists, version after version (T2.1); after `EXT-X-ENDLIST` the
//! full playlist is the answer (T2.3); `v2` goes upstream.
//!
//! The mock origin: 1 s segments of four 250 ms parts, 12 segments listed, a skip boundary of
//! 6 s, started 14 s before the test.

mod common;

use std::time::{Duration, Instant};

use common::{playlist, Setup};
use livecache::live::MediaPlaylist;

const RENDITION: &str = "/live/s0/r0/index.m3u8";

/// (msn, URI) of every segment.
fn listed(p: &MediaPlaylist) -> Vec<(u64, String)> {
    p.segments.iter().map(|s| (s.msn, s.uri.clone())).collect()
}

with_shards!(yes_deltas_are_made_at_the_edge, |shards| {
    let setup = Setup::live_deltas(shards, &[]);
    let full = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
    let next = full.next_part().unwrap();
    let (m, n) = (next.msn, next.part);
    let spellings = [
        format!("{RENDITION}?_HLS_skip=YES"),
        format!("{RENDITION}?_HLS_msn={m}&_HLS_part={n}&_HLS_skip=YES"),
        format!("{RENDITION}?_hls_skip=yes&_HLS_part={n}&_HLS_msn={m}"),
        format!("{RENDITION}?_HLS_msn=0&_HLS_skip=YES"),
    ];
    for target in &spellings {
        let response = setup.get(target);
        let delta = playlist(&response);
        let skip = delta
            .skip
            .as_ref()
            .unwrap_or_else(|| panic!("{target}: no delta"));
        assert!(skip.skipped_segments >= 1, "{target}");
        assert!(
            response.header("etag").is_none(),
            "the delta is not the full playlist"
        );
    }
    assert_eq!(
        setup.origin.skip_playlist_hits(),
        0,
        "no delta request upstream"
    );
    // A request that did not ask for a delta never gets one.
    for target in [RENDITION.to_string(), format!("{RENDITION}?_HLS_msn={m}")] {
        assert!(playlist(&setup.get(&target)).skip.is_none(), "{target}");
    }
});

with_shards!(
    deltas_merged_with_the_previous_playlist_are_the_full_one,
    |shards| {
        let setup = Setup::live_deltas(shards, &[]);
        let mut previous = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        for _ in 0..8 {
            let next = previous.next_part().unwrap();
            let blocking = format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
            let delta = playlist(&setup.get(&format!("{blocking}&_HLS_skip=YES")));
            let full = playlist(&setup.get(&blocking));
            let skipped = delta.skip.as_ref().expect("a delta").skipped_segments;
            // RFC 8216bis 6.3.7: the skipped segments are the client's copies from before.
            let mut merged: Vec<_> = listed(&previous)
                .into_iter()
                .filter(|(msn, _)| *msn >= delta.media_sequence && *msn < delta.first_msn())
                .collect();
            assert_eq!(
                merged.len() as u64,
                skipped,
                "the client had every skipped one"
            );
            merged.extend(listed(&delta));
            // The full playlist fetched just after may be a version later: compare what both list.
            let full_listed = listed(&full);
            let common: Vec<_> = merged
                .iter()
                .filter(|(msn, _)| *msn >= full.media_sequence)
                .cloned()
                .collect();
            assert_eq!(&full_listed[..common.len()], &common[..]);
            previous = full;
        }
    }
);

with_shards!(ended_and_v2_requests_get_what_the_spec_says, |shards| {
    let setup = Setup::live_deltas(shards, &[]);
    let _ = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
    // v2 needs date-range history the edge does not keep: it goes upstream.
    let v2 = setup.get(&format!("{RENDITION}?_HLS_skip=v2"));
    assert_eq!(v2.status, 200);
    assert_eq!(setup.origin.skip_playlist_hits(), 1);
    setup.origin.end_stream();
    let until = Instant::now() + Duration::from_secs(5);
    let ended = loop {
        let answer = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0&_HLS_skip=YES")));
        if answer.ended || Instant::now() > until {
            break answer;
        }
    };
    assert!(ended.ended, "the end reaches the edge");
    assert!(ended.skip.is_none(), "after ENDLIST, the full playlist");
});
