//! Which media a new playlist version lets go of, and for how long it must stay available
//! (LIVE.md F7; HLS 6.2.2): the edge keeps an object while a playlist lists it and for its
//! availability after, then it is dead and its memory goes to what viewers can still ask for.
//!
//! A segment removed from the playlist stays available for its own duration plus the
//! playlist's (a player may have loaded the version before the removal just now); a part for
//! three target durations. Byte ranges are never let go here (their resource is the whole
//! segment, which another entry may still list), and neither is a part or hint the new
//! version still names. Maps stay with the general policy (one serves many segments).

use std::collections::HashSet;
use std::time::Duration;

use super::MediaPlaylist;

/// The URIs `previous` listed and `next` no longer names, each with how long after now it
/// must stay available. Only the segments before `next`'s first one and the parts (listed
/// near the live edge only) can leave; `next` is read whole only when there are some.
pub fn left_window<'a>(
    previous: &'a MediaPlaylist,
    next: &MediaPlaylist,
) -> Vec<(&'a str, Duration)> {
    let first = next.first_msn();
    let gone: Vec<_> = previous
        .segments
        .iter()
        .take_while(|s| s.msn < first)
        .filter(|s| s.byte_range.is_none())
        .collect();
    let parts: Vec<_> = previous
        .all_parts()
        .filter(|p| p.byte_range.is_none())
        .collect();
    if gone.is_empty() && parts.is_empty() {
        return Vec::new();
    }
    // A URI let go of at one place may still be named at another (a reused slate segment, a
    // map): it stays.
    let named: HashSet<&str> = named_by(next).collect();
    let playlist = previous.duration();
    let part_grace = previous.target_duration.saturating_mul(3);
    let mut left = Vec::new();
    let mut seen = HashSet::new();
    for part in parts {
        let uri = part.uri.as_str();
        if !named.contains(uri) && seen.insert(uri) {
            left.push((uri, part_grace));
        }
    }
    for segment in gone {
        let uri = segment.uri.as_str();
        if !named.contains(uri) && seen.insert(uri) {
            left.push((uri, segment.duration.saturating_add(playlist)));
        }
    }
    left
}

/// Every URI a playlist names: segments, parts, maps and hints.
pub fn named_by(playlist: &MediaPlaylist) -> impl Iterator<Item = &str> {
    let segments = playlist.segments.iter().flat_map(|s| {
        let parts = s.parts.iter().map(|p| p.uri.as_str());
        let map = s.map.as_deref().map(|m| m.uri.as_str());
        parts.chain(map).chain([s.uri.as_str()])
    });
    let trailing = playlist.trailing_parts.iter().map(|p| p.uri.as_str());
    let hints = playlist.preload_hints.iter().map(|h| h.uri.as_str());
    let map = playlist.current_map.as_deref().map(|m| m.uri.as_str());
    segments.chain(trailing).chain(hints).chain(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MediaPlaylist {
        MediaPlaylist::parse(text).unwrap()
    }

    fn classic(first: u64, last: u64) -> MediaPlaylist {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        );
        for msn in first..=last {
            text.push_str(&format!("#EXTINF:2.0,\nseg-{msn}.m4s\n"));
        }
        parse(&text)
    }

    #[test]
    fn a_removed_segment_stays_for_its_duration_and_the_playlist_s() {
        let previous = classic(10, 15);
        let next = classic(12, 17);
        // Six segments of 2 s: 12 s of playlist, plus the segment's own 2 s.
        let grace = Duration::from_secs(14);
        assert_eq!(
            left_window(&previous, &next),
            vec![("seg-10.m4s", grace), ("seg-11.m4s", grace)]
        );
        assert!(left_window(&next, &next).is_empty());
    }

    #[test]
    fn a_uri_still_named_elsewhere_stays() {
        let slate = |first: u64| {
            let mut text =
                format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
            for msn in first..first + 3 {
                let uri = if msn % 2 == 0 {
                    "slate.ts".to_string()
                } else {
                    format!("seg-{msn}.ts")
                };
                text.push_str(&format!("#EXTINF:2.0,\n{uri}\n"));
            }
            parse(&text)
        };
        // 10 (slate) and 11 leave; the slate is listed again at 12.
        let (previous, next) = (slate(10), slate(12));
        let left = left_window(&previous, &next);
        assert_eq!(left, vec![("seg-11.ts", Duration::from_secs(8))]);
    }

    #[test]
    fn parts_stay_three_target_durations_and_shared_resources_stay() {
        let head = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.5\n\
                    #EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-MAP:URI=\"init.mp4\"\n";
        let previous = parse(&format!(
            "{head}#EXT-X-PART:DURATION=0.5,URI=\"p5.0.m4s\"\n\
             #EXT-X-PART:DURATION=0.5,URI=\"s5.m4s\",BYTERANGE=\"100@0\"\n#EXTINF:1.0,\ns5.m4s\n\
             #EXT-X-PART:DURATION=0.5,URI=\"p6.0.m4s\"\n"
        ));
        let next = parse(&format!(
            "{head}#EXTINF:1.0,\ns5.m4s\n#EXT-X-PART:DURATION=0.5,URI=\"p6.0.m4s\"\n"
        ));
        assert_eq!(
            left_window(&previous, &next),
            vec![("p5.0.m4s", Duration::from_secs(3))]
        );
        // Every segment before the new first one is let go of, with the old playlist's
        // duration added; so is a part no longer listed.
        let later = parse(&(head.replace("SEQUENCE:5", "SEQUENCE:7") + "#EXTINF:1.0,\ns7.m4s\n"));
        assert_eq!(
            left_window(&next, &later),
            vec![
                ("p6.0.m4s", Duration::from_secs(3)),
                ("s5.m4s", Duration::from_secs(2))
            ]
        );
    }
}
