//! Black-box test of LL-HLS Playlist Delta Updates over real sockets
//! (`LiveConfig::can_skip_until`, RFC 8216bis §6.2.5.1): the advertised
//! Skip Boundary, the `EXT-X-SKIP` answer to `_HLS_skip=YES` (plain and
//! blocking), that merging it into the full playlist gives the full playlist
//! back, the `_HLS_skip` counter in the API and in `/__stats`, and the full
//! playlist once the stream has ended. The timeline is paused first, so
//! every request sees the same instant.

mod common;

use std::time::{Duration, Instant};

use common::{media_playlist, Client};
use mock_origin::{LiveConfig, MockOrigin};

/// The segment URIs (`seg-N.m4s` lines) in order.
fn segments(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("seg-") && l.ends_with(".m4s"))
        .collect()
}

fn tag<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Milliseconds into the day of an `EXT-X-PROGRAM-DATE-TIME` value.
fn day_ms(date: &str) -> u64 {
    let time = &date[date.find('T').expect("a date-time") + 1..date.len() - 1];
    let fields: Vec<f64> = time.split(':').map(|f| f.parse().unwrap()).collect();
    ((fields[0] * 3600.0 + fields[1] * 60.0 + fields[2]) * 1000.0).round() as u64
}

#[test]
fn skip_requests_get_delta_updates_that_merge_into_the_full_playlist() {
    // 1 s segments, a 12-segment window and a 6 s Skip Boundary: the five
    // segments ending 7..=11 s before the last one's end are skipped.
    let live = LiveConfig {
        streams: 1,
        segment_duration: Duration::from_secs(1),
        part_duration: Duration::from_millis(250),
        window: 12,
        can_skip_until: Some(Duration::from_secs(6)),
        start: Instant::now().checked_sub(Duration::from_secs(30)),
        ..LiveConfig::default()
    };
    let origin = MockOrigin::start_with("127.0.0.1:0", live).expect("start origin");
    origin.pause_publishing();

    let full = media_playlist(&origin, "");
    assert!(full.contains(
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.750,CAN-SKIP-UNTIL=6.000\n"
    ));
    assert!(!full.contains("EXT-X-SKIP"));
    let all = segments(&full);
    assert_eq!(all.len(), 12);
    let last: u64 = all[11]["seg-".len()..all[11].len() - ".m4s".len()]
        .parse()
        .unwrap();

    let delta = media_playlist(&origin, "_HLS_skip=YES");
    let blocking = media_playlist(&origin, &format!("_HLS_msn={last}&_HLS_skip=YES"));
    assert_eq!(blocking, delta, "a blocking delta update, answered at once");
    assert_eq!(tag(&delta, "#EXT-X-SKIP:"), "SKIPPED-SEGMENTS=5");
    assert_eq!(
        tag(&delta, "#EXT-X-MEDIA-SEQUENCE:"),
        tag(&full, "#EXT-X-MEDIA-SEQUENCE:")
    );
    // The map stays ahead of the skip; the first listed segment is dated.
    assert!(delta.contains(
        "#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n#EXT-X-PROGRAM-DATE-TIME:"
    ));
    assert_eq!(
        day_ms(tag(&delta, "#EXT-X-PROGRAM-DATE-TIME:")),
        day_ms(tag(&full, "#EXT-X-PROGRAM-DATE-TIME:")) + 5000
    );
    // Merged with the previous copy (§6.3.7): the skipped segments from the
    // full playlist, then the delta's, is the full playlist; everything
    // after the first listed segment is byte-identical.
    let kept = segments(&delta);
    let mut merged = all[..5].to_vec();
    merged.extend(&kept);
    assert_eq!(merged, all);
    let tail = |text: &str| text[text.find(kept[0]).unwrap()..].to_string();
    assert_eq!(tail(&delta), tail(&full));

    // Counted, in the API and in /__stats; an unknown value is ignored.
    let other = media_playlist(&origin, "_HLS_skip=NO");
    assert_eq!(other, full);
    assert_eq!(
        (
            origin.skip_playlist_hits(),
            origin.blocking_playlist_hits(),
            origin.plain_playlist_hits()
        ),
        (3, 1, 3)
    );
    let stats = Client::connect(&origin).get("/__stats");
    let json = String::from_utf8(stats.body).unwrap();
    assert!(
        json.ends_with(r#","playlists":{"blocking":1,"plain":3,"skip":3}}"#),
        "{json}"
    );

    // Ended: the directive is ignored, the full playlist comes back.
    origin.end_stream();
    let ended = media_playlist(&origin, "_HLS_skip=YES");
    assert!(ended.ends_with("#EXT-X-ENDLIST\n") && !ended.contains("EXT-X-SKIP"));
    assert_eq!(segments(&ended), all);
    origin.reset();
    assert_eq!(origin.skip_playlist_hits(), 0);
}
