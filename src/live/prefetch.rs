//! What a new version of a media playlist asks an edge to fetch before its viewers do
//! (LIVE.md F4): the media it lists that the version before it did not, in the order the
//! viewers will want them (parts first, then segments, then initialization sections). The
//! shard decides whether and how many to fetch (`shard::prefetch`); this only compares two
//! versions.
//!
//! Which media depends on who watches ([`Wanted`]): low-latency viewers (blocking reloads)
//! load parts at the live edge and seldom a whole segment; classic viewers load whole
//! segments and never a part. Fetching what nobody will ask for would double what the origin
//! sends. Left out always: byte ranges (a range of a resource is not a resource of its own:
//! its whole is fetched when a viewer asks), gaps, and everything of a first version (the
//! viewer that made it fetches what it needs).

use std::collections::HashSet;

use super::MediaPlaylist;

/// The kind of a newly listed object, for the order of fetches and their counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Part,
    Segment,
    Map,
}

/// Which kinds of media a rendition's viewers load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// Parts: someone asked with blocking reloads lately.
    pub parts: bool,
    /// Whole segments: someone asked for the plain playlist lately.
    pub segments: bool,
}

/// The URIs (as written, to be resolved against the playlist's URL) that `next` lists and
/// `previous` did not, of the kinds `wanted`, parts first, then segments, then maps, each
/// once. Maps go with the parts or segments that need them.
pub fn newly_listed<'a>(
    previous: &MediaPlaylist,
    next: &'a MediaPlaylist,
    wanted: Wanted,
) -> Vec<(&'a str, MediaKind)> {
    if !wanted.parts && !wanted.segments {
        return Vec::new();
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut listed = Vec::new();
    let known_parts: HashSet<&str> = previous.all_parts().map(|p| p.uri.as_str()).collect();
    for part in next.all_parts().filter(|_| wanted.parts) {
        let fetchable = !part.gap && part.byte_range.is_none();
        if fetchable && !known_parts.contains(part.uri.as_str()) && seen.insert(&part.uri) {
            listed.push((part.uri.as_str(), MediaKind::Part));
        }
    }
    // Numbers say what is new: a segment listed before may leave and never come back.
    let newest_known = previous.last_msn();
    let new_segments = next
        .segments
        .iter()
        .filter(|s| newest_known.is_none_or(|newest| s.msn > newest));
    let mut new_maps = Vec::new();
    for segment in new_segments {
        new_maps.extend(segment.map.as_deref());
        let whole = wanted.segments && !segment.gap && segment.byte_range.is_none();
        if whole && seen.insert(&segment.uri) {
            listed.push((segment.uri.as_str(), MediaKind::Segment));
        }
    }
    new_maps.extend(next.current_map.as_deref());
    let known_maps: HashSet<&str> = previous
        .segments
        .iter()
        .filter_map(|s| s.map.as_deref())
        .chain(previous.current_map.as_deref())
        .map(|m| m.uri.as_str())
        .collect();
    for map in new_maps {
        let fetchable = map.byte_range.is_none() && !known_maps.contains(map.uri.as_str());
        if fetchable && seen.insert(&map.uri) {
            listed.push((map.uri.as_str(), MediaKind::Map));
        }
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSIC: Wanted = Wanted {
        parts: false,
        segments: true,
    };
    const LOW_LATENCY: Wanted = Wanted {
        parts: true,
        segments: false,
    };

    fn parse(text: &str) -> MediaPlaylist {
        MediaPlaylist::parse(text).unwrap()
    }

    fn classic(first: u64, last: u64) -> String {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        );
        for msn in first..=last {
            text.push_str(&format!("#EXTINF:1.0,\nseg-{msn}.m4s\n"));
        }
        text
    }

    #[test]
    fn a_classic_version_lists_its_new_segments() {
        let previous = parse(&classic(10, 14));
        let next = parse(&classic(12, 16));
        assert_eq!(
            newly_listed(&previous, &next, CLASSIC),
            vec![
                ("seg-15.m4s", MediaKind::Segment),
                ("seg-16.m4s", MediaKind::Segment)
            ]
        );
        assert!(newly_listed(&next, &next, CLASSIC).is_empty());
    }

    #[test]
    fn a_new_map_is_listed_after_the_segments() {
        let previous = parse(&classic(10, 14));
        let next = parse(&format!(
            "{}#EXT-X-MAP:URI=\"init-2.mp4\"\n#EXTINF:1.0,\nseg-15.m4s\n",
            classic(10, 14)
        ));
        assert_eq!(
            newly_listed(&previous, &next, CLASSIC),
            vec![
                ("seg-15.m4s", MediaKind::Segment),
                ("init-2.mp4", MediaKind::Map)
            ]
        );
    }

    #[test]
    fn parts_go_to_low_latency_viewers_and_whole_segments_to_classic_ones() {
        let head = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.5\n\
                    #EXT-X-MEDIA-SEQUENCE:5\n";
        let previous = parse(&format!(
            "{head}#EXT-X-PART:DURATION=0.5,URI=\"p5.0.m4s\"\n#EXT-X-PART:DURATION=0.5,URI=\"p5.1.m4s\"\n\
             #EXTINF:1.0,\ns5.m4s\n#EXT-X-PART:DURATION=0.5,URI=\"p6.0.m4s\"\n"
        ));
        let next = parse(&format!(
            "{head}#EXT-X-PART:DURATION=0.5,URI=\"p5.0.m4s\"\n#EXT-X-PART:DURATION=0.5,URI=\"p5.1.m4s\"\n\
             #EXTINF:1.0,\ns5.m4s\n#EXT-X-PART:DURATION=0.5,URI=\"p6.0.m4s\"\n\
             #EXT-X-PART:DURATION=0.5,URI=\"p6.1.m4s\"\n#EXTINF:1.0,\ns6.m4s\n\
             #EXT-X-PART:DURATION=0.5,URI=\"p7.0.m4s\",GAP=YES\n\
             #EXT-X-PART:DURATION=0.5,URI=\"p7.m4s\",BYTERANGE=\"100@0\"\n"
        ));
        assert_eq!(
            newly_listed(&previous, &next, LOW_LATENCY),
            vec![("p6.1.m4s", MediaKind::Part)]
        );
        assert_eq!(
            newly_listed(&previous, &next, CLASSIC),
            vec![("s6.m4s", MediaKind::Segment)]
        );
        let both = Wanted {
            parts: true,
            segments: true,
        };
        assert_eq!(
            newly_listed(&previous, &next, both),
            vec![
                ("p6.1.m4s", MediaKind::Part),
                ("s6.m4s", MediaKind::Segment)
            ]
        );
        let nobody = Wanted {
            parts: false,
            segments: false,
        };
        assert!(newly_listed(&previous, &next, nobody).is_empty());
    }

    #[test]
    fn gaps_and_byte_ranges_are_not_fetched_whole() {
        let previous = parse(&classic(10, 10));
        let next = parse(&format!(
            "{}#EXT-X-GAP\n#EXTINF:1.0,\nseg-11.m4s\n#EXT-X-BYTERANGE:100@0\n#EXTINF:1.0,\nall.m4s\n",
            classic(10, 10)
        ));
        assert!(newly_listed(&previous, &next, CLASSIC).is_empty());
    }

    #[test]
    fn a_previous_version_without_segments_makes_every_listed_one_new() {
        let previous = parse("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"init.mp4\"\n");
        let next = parse(&classic(0, 1));
        assert_eq!(
            newly_listed(&previous, &next, CLASSIC),
            vec![
                ("seg-0.m4s", MediaKind::Segment),
                ("seg-1.m4s", MediaKind::Segment)
            ]
        );
    }
}
