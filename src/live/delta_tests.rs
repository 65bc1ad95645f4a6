//! Unit tests of edge-made delta updates: which segments go, what stays, and that the delta
//! merged with the previous full playlist (RFC 8216bis §6.3.7: the skipped segments are the
//! client's copies) lists exactly what the full playlist lists.

use super::*;
use std::fmt::Write as _;

/// A live playlist of `count` 2 s segments from `first`, a key and a map before the first,
/// a date range, a discontinuity in the middle, parts on the last two, `CAN-SKIP-UNTIL=12`.
fn playlist(first: u64, count: u64) -> String {
    let mut out = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5\n\
         #EXT-X-PART-INF:PART-TARGET=0.5\n",
    );
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{first}");
    out.push_str("#EXT-X-KEY:METHOD=AES-128,URI=\"key1\"\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    for msn in first..first + count {
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-06T00:00:{:02}.000Z",
            msn % 60
        );
        if msn == first + 3 {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if msn == first + 2 {
            out.push_str("#EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2026-12-06T00:00:00Z\"\n");
        }
        if msn + 2 >= first + count {
            for p in 0..4 {
                let _ = writeln!(out, "#EXT-X-PART:DURATION=0.5,URI=\"seg{msn}.{p}.m4s\"");
            }
        }
        let _ = write!(out, "#EXTINF:2.0,\nseg{msn}.m4s\n");
    }
    out
}

fn parse(text: &str) -> MediaPlaylist {
    MediaPlaylist::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn old_segments_give_way_to_one_skip_tag() {
    // 12 segments of 2 s: 24 s; those ending more than 12 s before the end (the first five,
    // ending at 2..10 s) go; the sixth ends exactly 12 s before and stays.
    let text = playlist(100, 12);
    let full = parse(&text);
    let delta_text = delta_update(&text, &full).expect("a delta");
    let delta = parse(&delta_text);
    assert_eq!(delta.skip.as_ref().unwrap().skipped_segments, 5);
    assert_eq!(delta.first_msn(), 105);
    assert_eq!(delta.media_sequence, 100);
    assert_eq!(delta.next_msn(), full.next_msn());
    assert_eq!(delta.segments.len(), 7);
    assert_eq!(delta_text.matches("#EXT-X-SKIP:").count(), 1);
    // What applies to later segments stays: the key, the map, the date range.
    let first = &delta.segments[0];
    assert_eq!(first.key.as_ref().unwrap().uri.as_deref(), Some("key1"));
    assert!(first.map.is_some());
    assert_eq!(delta.date_ranges.len(), 1);
    // Segment 103's discontinuity went with it; the discontinuity sequence is unchanged.
    assert!(delta.segments.iter().all(|s| !s.discontinuity));
    assert_eq!(delta.discontinuity_sequence, full.discontinuity_sequence);
    assert_eq!(delta.server_control, full.server_control);
}

#[test]
fn the_delta_merged_with_the_previous_playlist_is_the_full_one() {
    // Seven 2 s segments span 14 s: nothing lies past the 12 s skip boundary, so no delta.
    let short = playlist(0, 7);
    assert_eq!(delta_update(&short, &parse(&short)), None);
    for (first, count) in [(100, 12), (7, 30)] {
        let text = playlist(first, count);
        let full = parse(&text);
        let delta_text = delta_update(&text, &full).expect("a delta of a long playlist");
        let delta = parse(&delta_text);
        let mut merged: Vec<_> = full.segments
            [..delta.skip.as_ref().unwrap().skipped_segments as usize]
            .iter()
            .map(|s| (s.msn, s.uri.clone(), s.duration))
            .collect();
        merged.extend(
            delta
                .segments
                .iter()
                .map(|s| (s.msn, s.uri.clone(), s.duration)),
        );
        let expected: Vec<_> = full
            .segments
            .iter()
            .map(|s| (s.msn, s.uri.clone(), s.duration))
            .collect();
        assert_eq!(merged, expected, "{first}+{count}");
        assert_eq!(delta.trailing_parts, full.trailing_parts);
        assert_eq!(delta.preload_hints, full.preload_hints);
    }
}

#[test]
fn no_delta_when_the_playlist_allows_none_or_nothing_is_old_enough() {
    let short = playlist(0, 6);
    assert_eq!(
        delta_update(&short, &parse(&short)),
        None,
        "12 s: nothing skippable"
    );
    let mut ended = playlist(0, 12);
    ended.push_str("#EXT-X-ENDLIST\n");
    assert_eq!(delta_update(&ended, &parse(&ended)), None);
    let plain = playlist(0, 12).replace(",CAN-SKIP-UNTIL=12.0", "");
    assert_eq!(delta_update(&plain, &parse(&plain)), None);
    let text = playlist(0, 12);
    let delta = delta_update(&text, &parse(&text)).unwrap();
    assert_eq!(
        delta_update(&delta, &parse(&delta)),
        None,
        "a delta of a delta"
    );
}
