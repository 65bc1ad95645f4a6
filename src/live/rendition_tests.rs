//! Unit tests of the edge's rendition decisions on the mock origin's playlists: answer, hold
//! or 400 by how current the playlist is, which successors are refused, progress and
//! staleness.

use super::*;
use crate::live::fixtures::mock_llhls;

fn parse(text: &str) -> MediaPlaylist {
    MediaPlaylist::parse(text).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn too_far_is_trusted_only_of_a_current_playlist() {
    // Segments 10 and 11 complete, no part of 12 yet; PT 0.5 s, TD 2 s.
    let p = parse(&mock_llhls(10, 2, 0));
    assert_eq!(
        decide(&p, 11, Some(3), ms(9000), false),
        HoldDecision::Answer
    );
    assert_eq!(decide(&p, 12, Some(0), ms(0), false), HoldDecision::Hold);
    assert_eq!(decide(&p, 14, None, ms(100), false), HoldDecision::TooFar);
    assert_eq!(decide(&p, 14, None, ms(500), false), HoldDecision::TooFar);
    // Older than a part target: the edge may be behind the origin.
    assert_eq!(decide(&p, 14, None, ms(501), false), HoldDecision::Hold);
    // ...unless a long-poll is keeping it current.
    assert_eq!(decide(&p, 14, None, ms(5000), true), HoldDecision::TooFar);
    assert_eq!(decide(&p, 13, Some(2), ms(0), false), HoldDecision::TooFar);
    assert_eq!(hold_limit(&p, ms(60_000)), ms(6000));
    let huge = parse(&mock_llhls(10, 2, 0).replace("TARGETDURATION:2", "TARGETDURATION:3600"));
    assert_eq!(hold_limit(&huge, ms(60_000)), ms(60_000));
    assert_eq!(current_for(&p), ms(500));
}

#[test]
fn an_ended_playlist_answers_everything() {
    let mut text = mock_llhls(10, 2, 0);
    text.push_str("#EXT-X-ENDLIST\n");
    let p = parse(&text);
    assert_eq!(decide(&p, 99, Some(3), ms(0), false), HoldDecision::Answer);
    assert!(!is_stale(&p, ms(60_000), ms(60_000)));
}

#[test]
fn playlists_without_parts_are_current_for_half_a_target_duration() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:5\n\
                #EXTINF:4,\na.ts\n#EXTINF:4,\nb.ts\n";
    let p = parse(text);
    assert_eq!(current_for(&p), ms(2000));
    assert_eq!(decide(&p, 9, None, ms(2000), false), HoldDecision::TooFar);
    assert_eq!(decide(&p, 9, None, ms(2001), false), HoldDecision::Hold);
    assert_eq!(decide(&p, 7, None, ms(0), false), HoldDecision::Hold);
    assert_eq!(decide(&p, 6, None, ms(0), false), HoldDecision::Answer);
}

#[test]
fn successors_that_go_back_or_rewrite_history_are_refused() {
    let served = parse(&mock_llhls(10, 2, 2));
    assert_eq!(
        check_successor(&served, &parse(&mock_llhls(10, 2, 3))),
        Ok(())
    );
    assert_eq!(
        check_successor(&served, &parse(&mock_llhls(11, 2, 0))),
        Ok(())
    );
    assert_eq!(check_successor(&served, &served), Ok(()));
    let back = Err(Rejection::SequenceBackwards);
    assert_eq!(check_successor(&served, &parse(&mock_llhls(9, 2, 2))), back);
    assert_eq!(
        check_successor(&served, &parse(&mock_llhls(10, 2, 1))),
        back
    );
    assert_eq!(
        check_successor(&served, &parse(&mock_llhls(10, 1, 3))),
        back
    );
    let renamed = mock_llhls(10, 2, 2).replace("seg-11.m4s\n", "other-11.m4s\n");
    assert_eq!(
        check_successor(&served, &parse(&renamed)),
        Err(Rejection::UriChanged)
    );
    let longer = mock_llhls(10, 2, 3).replace("TARGETDURATION:2", "TARGETDURATION:3");
    assert_eq!(
        check_successor(&served, &parse(&longer)),
        Err(Rejection::TargetDurationChanged)
    );
    let typed = mock_llhls(10, 2, 3).replace(
        "#EXT-X-VERSION:9\n",
        "#EXT-X-VERSION:9\n#EXT-X-PLAYLIST-TYPE:EVENT\n",
    );
    assert_eq!(
        check_successor(&served, &parse(&typed)),
        Err(Rejection::TypeChanged)
    );
    let disc = |n: u64| {
        let text = mock_llhls(10, 2, 2).replace(
            "#EXT-X-MEDIA-SEQUENCE",
            &format!("#EXT-X-DISCONTINUITY-SEQUENCE:{n}\n#EXT-X-MEDIA-SEQUENCE"),
        );
        parse(&text)
    };
    assert_eq!(
        check_successor(&disc(3), &disc(2)),
        Err(Rejection::DiscontinuityBackwards)
    );
    assert_eq!(check_successor(&disc(2), &disc(3)), Ok(()));
    // Every reason's counter slot is its position in `ALL`.
    for (i, why) in Rejection::ALL.iter().enumerate() {
        assert_eq!(*why as usize, i, "{}", why.label());
    }
}

#[test]
fn progress_and_staleness() {
    let a = parse(&mock_llhls(10, 2, 2));
    let b = parse(&mock_llhls(10, 2, 3));
    let c = parse(&mock_llhls(10, 3, 0));
    assert_eq!(progress(&a, &a), Progress::default());
    assert_eq!(
        progress(&a, &b),
        Progress {
            segment: false,
            part: true
        }
    );
    assert_eq!(
        progress(&b, &c),
        Progress {
            segment: true,
            part: true
        }
    );
    // TD 2 s: a segment at least every 3 s; PT 0.5 s: a part at least every 1.5 s.
    assert!(!is_stale(&a, ms(3000), ms(1500)));
    assert!(is_stale(&a, ms(3001), ms(0)));
    assert!(is_stale(&a, ms(0), ms(1501)));
}

#[test]
fn another_packagers_first_version_may_rename_but_not_go_back() {
    // LIVE.md F9, independent mode: the backup numbers and names its segments its own way.
    let served = parse(&mock_llhls(10, 2, 2));
    let renamed = parse(&mock_llhls(10, 2, 2).replace("seg-11.m4s\n", "other-11.m4s\n"));
    assert_eq!(check_switch(&served, &renamed), Ok(()));
    assert_eq!(
        check_switch(&served, &parse(&mock_llhls(500, 2, 0))),
        Ok(())
    );
    let back = Err(Rejection::SequenceBackwards);
    assert_eq!(check_switch(&served, &parse(&mock_llhls(9, 2, 2))), back);
    assert_eq!(check_switch(&served, &parse(&mock_llhls(10, 1, 3))), back);
    let longer = mock_llhls(10, 2, 3).replace("TARGETDURATION:2", "TARGETDURATION:3");
    assert_eq!(
        check_switch(&served, &parse(&longer)),
        Err(Rejection::TargetDurationChanged)
    );
}

#[test]
fn an_independent_switch_waits_three_target_durations() {
    // TD 2 s: stale after 3 s without a segment, moved to an independent packager after 6 s.
    let live = parse(&mock_llhls(10, 2, 2));
    assert!(!switch_due(&live, ms(6000)));
    assert!(switch_due(&live, ms(6001)));
    let ended = parse(&format!("{}#EXT-X-ENDLIST\n", mock_llhls(10, 2, 0)));
    assert!(!switch_due(&ended, ms(60_000)));
}
