//! Fuzz target `playlist`: the live playlist parsers of `livecache::live` on arbitrary bytes,
//! as an edge reads what an origin sends: the HLS media playlist (with the LL-HLS tags), the
//! multivariant playlist, the kind dispatch, and the DASH MPD; then the arithmetic the live
//! features run on what parsed (blocking-reload readiness, parts ahead, SegmentTemplate
//! availability, SegmentTimeline walks, URL template expansion), the edge's decisions on a
//! media playlist (hold or answer, successor checks, staleness), the delta update made from
//! it, and the LL-HLS delivery directives read from the input as a request target.
//!
//! Checked: no panic; every parse and every helper stays within a memory budget linear in the
//! input (a repeat count, a sequence number or a `%0Nd` width must never size an allocation);
//! a parsed media playlist's segments are numbered consecutively from `first_msn`; a delta
//! update made from it parses, skips whole segments from the first and lists the rest with
//! the same numbers.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use livecache::live::{
    check_successor, decide, delta_update, expand_template, hold_limit, is_stale, parse_directives,
    MediaPlaylist, Mpd, MultivariantPlaylist, PartRef, Playlist, TemplateValues,
};
use livecache_fuzz::within_budget;

/// Bytes a parse may hold per input byte: the smallest segment (`#EXTINF:1\na\n`, 12 bytes)
/// becomes a `Segment` of about 200 bytes in a Vec that may double; an MPD element of 40
/// bytes a `Representation` of about 300.
const FACTOR: usize = 64;

fn media(p: &MediaPlaylist) {
    let first = p.first_msn();
    for (i, s) in p.segments.iter().enumerate() {
        assert_eq!(
            Some(s.msn),
            first.checked_add(i as u64),
            "segments out of sequence"
        );
    }
    let _ = (
        p.duration(),
        p.maps().len(),
        p.next_part(),
        p.parts_per_segment(),
    );
    let next = p.next_msn();
    for msn in [
        0,
        first,
        next,
        next.saturating_add(1),
        next.saturating_add(2),
        u64::MAX,
    ] {
        for part in [None, Some(0), Some(1), Some(7), Some(u64::MAX)] {
            let _ = p.readiness(msn, part);
            let _ = decide(p, msn, part, Duration::ZERO, false);
            let _ = decide(p, msn, part, Duration::MAX, true);
            if let Some(part) = part {
                let _ = p.parts_ahead(PartRef { msn, part });
            }
        }
    }
}

/// The edge's decisions and the delta update of `p`, parsed from `text`.
fn edge(text: &str, p: &MediaPlaylist) {
    assert_eq!(
        check_successor(p, p),
        Ok(()),
        "a playlist may follow itself"
    );
    let _ = (
        hold_limit(p, Duration::MAX),
        is_stale(p, Duration::MAX, Duration::ZERO),
    );
    let Some(delta) = delta_update(text, p) else {
        return;
    };
    let d = MediaPlaylist::parse(&delta).expect("a delta update parses");
    let skipped = d
        .skip
        .as_ref()
        .expect("a delta has EXT-X-SKIP")
        .skipped_segments;
    assert!(skipped > 0 && skipped as usize <= p.segments.len());
    let rest: Vec<_> = p.segments[skipped as usize..]
        .iter()
        .map(|s| (s.msn, &s.uri))
        .collect();
    let listed: Vec<_> = d.segments.iter().map(|s| (s.msn, &s.uri)).collect();
    assert_eq!(rest, listed, "a delta lists the rest with the same numbers");
}

fn mpd(m: &Mpd) {
    let ast = m.availability_start_time.unwrap_or(UNIX_EPOCH);
    let late = UNIX_EPOCH + Duration::from_secs(4_000_000_000);
    for (period, set, rep) in m.representations() {
        let Some(t) = rep.segment_template(set, period) else {
            continue;
        };
        let start = period.start.unwrap_or_default();
        let _ = rep.media_url(&t, Some(u64::MAX), Some(u64::MAX));
        let _ = rep.initialization_url(&t);
        let _ = t.number_available_at(ast, start, u64::MAX);
        let _ = t.latest_number_at(ast, start, late);
        if let Some(timeline) = &t.timeline {
            let _ = timeline.segments(Some(u64::MAX)).take(1000).count();
            if let Some((_, last)) = timeline.last(Some(u64::MAX)) {
                let _ = t.timeline_available_at(ast, start, last);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let budget = FACTOR * data.len() + (64 << 10);
    within_budget(budget, "playlist", || {
        if let Ok(p) = MediaPlaylist::from_bytes(data) {
            media(&p);
            if let Ok(text) = std::str::from_utf8(data) {
                edge(text, &p);
            }
        }
        if let Ok(m) = MultivariantPlaylist::from_bytes(data) {
            let _ = m.media_playlist_uris().count();
        }
        let _ = Playlist::from_bytes(data);
        if let Ok(m) = Mpd::from_bytes(data) {
            mpd(&m);
        }
        if let Ok(template) = std::str::from_utf8(data) {
            let values = TemplateValues {
                representation_id: "r0",
                number: Some(u64::MAX),
                time: Some(0),
                bandwidth: Some(1),
            };
            let _ = expand_template(template, &values);
            let _ = parse_directives(template);
        }
    });
});
