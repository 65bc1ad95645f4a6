//! Byte-range preload hints on a growing segment (LIVE.md F3, T3.3; RFC 8216bis 4.4.5.3, RFC
//! 8673): an origin that lists parts as byte ranges of the segment being written hints the
//! next one as `BYTERANGE-START`, and players ask the segment from there to "the end, however
//! long" (`bytes=S-9007199254740991`). Every such viewer joins one upstream fetch of the whole
//! segment and gets `206` with `Content-Range: bytes S-9007199254740991/*` at once, then the
//! bytes as the origin sends them, to the segment's end; once stored, the same request gets an
//! ordinary `206` that states the length.
//!
//! The mock origin publishes 1 s segments of four 250 ms parts, started 5 s before the test.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{expected_body, get_with, Conn, MockOrigin, Setup};
use livecache::live::{HintType, MediaPlaylist};
use mock_origin::LiveConfig;

const DIR: &str = "/live/s0/r0";
/// What a player asks for a hinted range without a length (RFC 8673 2.2).
const TO_THE_END: u64 = 9_007_199_254_740_991;

fn setup(shards: usize) -> (Setup, LiveConfig) {
    let live = LiveConfig {
        segment_duration: Duration::from_secs(1),
        part_duration: Duration::from_millis(250),
        start: Instant::now().checked_sub(Duration::from_secs(5)),
        byterange_parts: true,
        ..LiveConfig::default()
    };
    let origin = MockOrigin::start_with("127.0.0.1:0", live.clone()).expect("mock origin starts");
    (Setup::in_front_of(origin, shards, &[]), live)
}

/// The segment path and first byte the playlist's part hint names.
fn hinted(setup: &Setup) -> (String, u64) {
    let response = setup.get(&format!("{DIR}/index.m3u8"));
    assert_eq!(response.status, 200);
    let text = std::str::from_utf8(&response.body).unwrap();
    let playlist = MediaPlaylist::parse(text).unwrap();
    let hint = playlist.hint(HintType::Part).expect("a part hint");
    assert!(hint.uri.ends_with(".m4s") && hint.byte_range_length.is_none());
    (format!("{DIR}/{}", hint.uri), hint.byte_range_start)
}

with_shards!(
    viewers_of_a_hinted_byte_range_share_one_growing_fetch,
    |shards| {
        let (setup, live) = setup(shards);
        let (path, first) = hinted(&setup);
        let size = live.segment_size(live.renditions[0]);
        let whole = expected_body(&path, size);
        let range = format!("bytes={first}-{TO_THE_END}");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test.local\r\nRange: {range}\r\n\r\n");
        // While the packager is paused the segment cannot be complete, so an answer that starts
        // now streams what the origin has and waits for the rest.
        setup.origin.pause_publishing();
        let mut viewers: Vec<Conn> = (0..8).map(|_| Conn::open(setup.addr)).collect();
        for viewer in &mut viewers {
            viewer.send(request.as_bytes());
        }
        for viewer in &mut viewers {
            assert!(
                viewer.wait_for_head(),
                "the 206 starts before the segment is whole"
            );
        }
        setup.origin.resume_publishing();
        for viewer in &mut viewers {
            let response = viewer.read_response(false).expect("a response");
            assert_eq!(response.status, 206, "{response:?}");
            let content_range = format!("bytes {first}-{TO_THE_END}/*");
            assert_eq!(
                response.header("content-range"),
                Some(content_range.as_str())
            );
            assert_eq!(response.header("content-length"), None);
            assert_eq!(response.header("transfer-encoding"), Some("chunked"));
            assert!(response.complete);
            assert!(
                response.body == whole[first as usize..],
                "the segment from the hint on"
            );
        }
        assert_eq!(
            setup.origin.hits(&path),
            1,
            "one upstream fetch of the segment"
        );
        // Stored whole now: the same form gets the ordinary answer, which states the length.
        let stored = get_with(setup.addr, &path, &[("Range", &range)]);
        assert_eq!(stored.status, 206);
        let content_range = format!("bytes {first}-{}/{size}", size - 1);
        assert_eq!(stored.header("content-range"), Some(content_range.as_str()));
        assert!(stored.cache_status().contains("hit"));
        assert_eq!(setup.origin.hits(&path), 1);
    }
);

with_shards!(other_ranges_of_a_growing_segment_get_it_whole, |shards| {
    let (setup, live) = setup(shards);
    let (path, first) = hinted(&setup);
    let size = live.segment_size(live.renditions[0]);
    // `first-` cannot be answered with a 206 before the length is known (RFC 9110 14.2
    // lets the whole 200 stand in); the same goes for a bounded range. (Paused, so both ask
    // while the segment still grows.)
    setup.origin.pause_publishing();
    let ranges = [
        format!("bytes={first}-"),
        format!("bytes={first}-{}", first + 9),
        // Past where the segment will end: the 206 has gone out, so the body is cut.
        format!("bytes={}-{TO_THE_END}", size + 10),
    ];
    let mut viewers: Vec<Conn> = ranges
        .iter()
        .map(|range| {
            let mut viewer = Conn::open(setup.addr);
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: test.local\r\nRange: {range}\r\n\r\n");
            viewer.send(request.as_bytes());
            assert!(viewer.wait_for_head());
            viewer
        })
        .collect();
    setup.origin.resume_publishing();
    let beyond = viewers.pop().unwrap().read_response(false);
    assert!(
        beyond
            .as_ref()
            .is_none_or(|r| r.status == 206 && !r.complete),
        "{beyond:?}"
    );
    for (viewer, range) in viewers.iter_mut().zip(&ranges) {
        let response = viewer.read_response(false).expect("a response");
        assert_eq!(response.status, 200, "{range}");
        assert!(response.body == expected_body(&path, size));
    }
    assert_eq!(setup.origin.hits(&path), 1);
});
