//! Unit tests of the blocking-reload arithmetic: the mock origin's own decisions
//! (`tools/mock-origin/src/live/llhls.rs`) replayed on the playlists it serves at those
//! moments, Apple's twelve-part example, the draft's §9.11 example, ENDLIST and playlists
//! without parts.

use super::*;
use crate::live::fixtures::{apple_low_latency, mock_llhls, DRAFT_LOW_LATENCY};

fn parse(text: &str) -> MediaPlaylist {
    MediaPlaylist::parse(text).unwrap()
}

fn at(msn: u64, part: u64) -> PartRef {
    PartRef { msn, part }
}

#[test]
fn the_mock_origins_decisions() {
    use Readiness::*;
    // 4.2 s into the mock's stream: segments 10 and 11 complete, no part of 12 yet.
    let p = parse(&mock_llhls(10, 2, 0));
    assert_eq!(p.readiness(11, None), Satisfied);
    assert_eq!(p.readiness(3, None), Satisfied);
    assert_eq!(p.readiness(12, None), Pending);
    assert_eq!(p.readiness(13, None), Pending);
    assert_eq!(p.readiness(14, None), TooFar);
    assert_eq!(p.readiness(12, Some(0)), Pending);
    assert_eq!(p.readiness(12, Some(1)), Pending);
    // A part number past the segment's last part means part 0 of the next segment.
    assert_eq!(p.readiness(12, Some(9)), Pending);
    assert_eq!(p.parts_ahead(at(12, 9)), Some(5));
    // Advance Part Limit: 6 parts of 0.5 s past the last part (11.3).
    assert_eq!(p.readiness(13, Some(1)), Pending);
    assert_eq!(p.readiness(13, Some(2)), TooFar);
    assert_eq!(p.advance_part_limit(), Some(6));
    assert_eq!(
        (p.last_part(), p.next_part()),
        (Some(at(11, 3)), Some(at(12, 0)))
    );
    assert_eq!(p.readiness(11, Some(3)), Satisfied);
    assert_eq!(
        p.readiness(11, Some(4)),
        Pending,
        "part 0 of 12 is not out yet"
    );
    // 4.6 s: part 0 of segment 12 is listed.
    let later = parse(&mock_llhls(10, 2, 1));
    assert_eq!(later.readiness(12, Some(0)), Satisfied);
    assert_eq!(later.readiness(11, Some(4)), Satisfied);
    assert_eq!(
        (later.last_part(), later.next_part()),
        (Some(at(12, 0)), Some(at(12, 1)))
    );
    // Before the first segment: the first two are worth a hold, the third is too far.
    let start = parse(&mock_llhls(0, 0, 0));
    assert_eq!(start.readiness(0, None), Pending);
    assert_eq!(start.readiness(1, None), Pending);
    assert_eq!(start.readiness(2, None), TooFar);
    assert_eq!(start.last_part(), None);
    assert_eq!(
        start.parts_per_segment(),
        Some(4),
        "TD / PT without a listed segment"
    );
}

#[test]
fn apples_example_answers_what_it_was_asked() {
    let p = parse(&apple_low_latency(false));
    assert_eq!(p.last_part(), Some(at(273, 2)));
    assert_eq!(p.next_part(), Some(at(273, 3)));
    assert_eq!(p.parts_per_segment(), Some(12));
    assert_eq!(p.advance_part_limit(), Some(9));
    assert!(p.satisfies(273, Some(2)));
    assert!(!p.satisfies(273, Some(3)));
    assert!(p.satisfies(272, Some(11)) && p.satisfies(272, Some(12)));
    assert!(p.satisfies(271, Some(40)) && p.satisfies(100, Some(0)));
    assert!(p.satisfies(272, None) && !p.satisfies(273, None));
    assert_eq!(p.parts_ahead(at(273, 11)), Some(9));
    assert_eq!(p.readiness(273, Some(11)), Readiness::Pending);
    assert_eq!(p.parts_ahead(at(274, 0)), Some(10));
    assert_eq!(p.readiness(274, Some(0)), Readiness::TooFar);
    assert_eq!(p.readiness(274, None), Readiness::Pending);
    assert_eq!(p.readiness(275, None), Readiness::TooFar);
    assert_eq!(p.parts_ahead(at(200, 0)), Some(0));
    // The delta update stands in the same place.
    let delta = parse(&apple_low_latency(true));
    assert_eq!(
        (delta.last_part(), delta.parts_per_segment()),
        (Some(at(273, 2)), Some(12))
    );
}

#[test]
fn the_drafts_low_latency_example() {
    let p = parse(DRAFT_LOW_LATENCY);
    assert_eq!(
        p.advance_part_limit(),
        Some(3),
        "a part target of a second or more"
    );
    assert_eq!(
        (p.last_part(), p.parts_per_segment()),
        (Some(at(274, 0)), Some(2))
    );
    assert_eq!(p.readiness(274, Some(0)), Readiness::Satisfied);
    assert_eq!(p.readiness(274, Some(1)), Readiness::Pending);
    assert_eq!(p.parts_ahead(at(275, 1)), Some(3));
    assert_eq!(p.readiness(275, Some(1)), Readiness::Pending);
    assert_eq!(
        p.parts_ahead(at(275, 2)),
        Some(4),
        "part 2 of a 2-part segment is 276.0"
    );
    assert_eq!(p.readiness(275, Some(2)), Readiness::TooFar);
    assert!(
        p.satisfies(273, Some(2)),
        "past 273's last part: 274.0 is listed"
    );
}

#[test]
fn ended_playlists_and_playlists_without_parts() {
    let ended = parse(&format!(
        "{}#EXT-X-ENDLIST\n",
        mock_llhls(10, 2, 0).replace("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-12.0.m4s\"\n", "")
    ));
    assert_eq!(ended.readiness(99, Some(3)), Readiness::Ended);
    let plain = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:2,\na\n#EXTINF:2,\nb\n",
    );
    assert_eq!(
        (
            plain.last_part(),
            plain.next_part(),
            plain.parts_per_segment()
        ),
        (None, None, None)
    );
    assert_eq!(plain.advance_part_limit(), None);
    assert_eq!(
        plain.readiness(6, Some(5)),
        Readiness::Satisfied,
        "a complete segment has every part"
    );
    assert_eq!(plain.readiness(7, Some(0)), Readiness::Pending);
    assert_eq!(plain.readiness(7, None), Readiness::Pending);
    assert_eq!(plain.readiness(8, None), Readiness::Pending);
    assert_eq!(plain.readiness(9, None), Readiness::TooFar);
    assert_eq!(plain.parts_ahead(at(7, 0)), None);
    let huge = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551614\n#EXTINF:2,\na\n");
    assert_eq!(huge.next_msn(), u64::MAX);
    assert_eq!(huge.readiness(u64::MAX, Some(u64::MAX)), Readiness::Pending);
}

#[test]
fn advance_part_limits() {
    let ms = std::time::Duration::from_millis;
    assert_eq!(advance_part_limit(ms(500)), 6);
    assert_eq!(
        advance_part_limit(std::time::Duration::from_nanos(333_340_000)),
        9
    );
    assert_eq!(advance_part_limit(ms(300)), 10);
    assert_eq!(advance_part_limit(ms(200)), 15);
    assert_eq!(advance_part_limit(ms(1000)), 3);
    assert_eq!(advance_part_limit(ms(2000)), 3);
    assert_eq!(advance_part_limit(std::time::Duration::ZERO), 3_000_000_000);
}
