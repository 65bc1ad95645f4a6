//! Low-Latency HLS (RFC 8216bis): the tags that advertise parts and blocking
//! reload, and the decision a blocking playlist request gets. This module
//! owns `EXT-X-SERVER-CONTROL`, `EXT-X-PART-INF`, the `EXT-X-PART` lines,
//! `EXT-X-PRELOAD-HINT`, `EXT-X-RENDITION-REPORT`, parsing of the `_HLS_msn`
//! / `_HLS_part` / `_HLS_skip` delivery directives, the hold / 400 / 503
//! rules, and which segments a Playlist Delta Update skips (`EXT-X-SKIP`).
//!
//! Parts follow the spec's retention rule: they are listed for the segment
//! in progress and for complete segments that end less than three target
//! durations before the newest part. A request is "too far ahead" (400) when
//! `_HLS_msn` exceeds the last complete segment by more than two, or the
//! requested part exceeds the last part by more than the Advance Part Limit
//! (3 / PART-TARGET seconds when the part target is under a second, else 3).
//! Everything is a pure function of the timeline and the elapsed time.

use std::fmt::Write as _;
use std::time::Duration;

use super::clock::{Edge, Timeline};
use super::secs3;
use crate::behavior::query_pairs;

/// A blocking playlist reload request: `_HLS_msn=M[&_HLS_part=P]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Directive {
    pub(crate) msn: u64,
    pub(crate) part: Option<u64>,
}

/// A request for a Playlist Delta Update (`_HLS_skip`, RFC 8216bis
/// §6.2.5.1): `YES` skips old segments, `v2` also old date ranges (the mock
/// has none, so `v2` only adds an empty `RECENTLY-REMOVED-DATERANGES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    Yes,
    V2,
}

/// The `_HLS_skip` directive of a raw query (its first occurrence); any
/// other value than `YES` or `v2` is ignored, as is a missing one.
pub(crate) fn parse_skip(query: &str) -> Option<Skip> {
    let (_, value) = query_pairs(query).find(|(key, _)| key == "_HLS_skip")?;
    match value.as_str() {
        "YES" => Some(Skip::Yes),
        "v2" => Some(Skip::V2),
        _ => None,
    }
}

/// How many of the complete segments `first..complete` (relative indices)
/// a delta update skips: those whose end lies more than `boundary` before
/// the end of the last complete segment (always a prefix, never the last).
pub(crate) fn skipped_segments(t: &Timeline, first: u64, complete: u64, boundary: Duration) -> u64 {
    let Some(last) = complete.checked_sub(1) else {
        return 0;
    };
    let end = t.segment_end(last);
    (first..complete)
        .take_while(|&k| end.saturating_sub(t.segment_end(k)) > boundary)
        .count() as u64
}

/// The `EXT-X-SKIP` tag replacing `skipped` segments.
pub(crate) fn skip_tag(skipped: u64, skip: Skip, out: &mut String) {
    let _ = write!(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
    out.push_str(match skip {
        Skip::Yes => "\n",
        Skip::V2 => ",RECENTLY-REMOVED-DATERANGES=\"\"\n",
    });
}

/// What a blocking request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The playlist already holds what was asked for: answer now.
    Ready,
    /// Hold until this elapsed time, then answer (the caller caps the hold
    /// at [`Timeline::hold_limit`] and answers 503 past it).
    Hold(Duration),
    /// Too far ahead of the live edge: 400 at once.
    TooFar,
}

/// The directives in a raw query: `Ok(None)` for a plain request, `Err` for
/// a 400 (`_HLS_part` without `_HLS_msn`, or a value that is not a number).
pub(crate) fn parse_directives(query: &str) -> Result<Option<Directive>, &'static str> {
    let (mut msn, mut part) = (None, None);
    for (key, value) in query_pairs(query) {
        let slot = match key.as_str() {
            "_HLS_msn" => &mut msn,
            "_HLS_part" => &mut part,
            _ => continue,
        };
        *slot = Some(value.parse::<u64>().map_err(|_| "bad delivery directive")?);
    }
    match (msn, part) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err("_HLS_part without _HLS_msn"),
        (Some(msn), part) => Ok(Some(Directive { msn, part })),
    }
}

/// The spec's Advance Part Limit, in parts.
fn advance_part_limit(t: &Timeline) -> u64 {
    if t.part < Duration::from_secs(1) {
        (3_000_000_000 / t.part.as_nanos().max(1)) as u64
    } else {
        3
    }
}

/// How a blocking request for `d` is answered `elapsed` after the start.
pub(crate) fn decide(t: &Timeline, elapsed: Duration, d: Directive) -> Decision {
    let edge = t.edge(elapsed);
    let Some(k) = t.relative(d.msn) else {
        return Decision::Ready;
    };
    // Last complete segment is `complete - 1`; more than two past it is 400.
    if k > edge.complete + 1 {
        return Decision::TooFar;
    }
    let pps = t.parts_per_segment();
    let ready_at = match d.part {
        None => t.segment_end(k),
        Some(part) => {
            let part = part.min(pps - 1);
            // Parts done so far, counted across segments; the last one is
            // `done - 1`.
            let done = edge.complete * pps + edge.parts;
            if (k * pps + part + 1).saturating_sub(done) > advance_part_limit(t) {
                return Decision::TooFar;
            }
            t.part_end(k, part)
        }
    };
    if ready_at <= elapsed {
        Decision::Ready
    } else {
        Decision::Hold(ready_at)
    }
}

/// `EXT-X-SERVER-CONTROL` (with `CAN-SKIP-UNTIL` when delta updates are
/// on) and `EXT-X-PART-INF`.
pub(crate) fn header(t: &Timeline, can_skip_until: Option<Duration>, out: &mut String) {
    let _ = write!(
        out,
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={}",
        secs3(t.part * 3)
    );
    if let Some(boundary) = can_skip_until {
        let _ = write!(out, ",CAN-SKIP-UNTIL={}", secs3(boundary));
    }
    out.push('\n');
    let _ = writeln!(out, "#EXT-X-PART-INF:PART-TARGET={}", secs3(t.part));
}

/// Whether complete segment `k` still has its parts listed.
pub(crate) fn lists_parts(t: &Timeline, edge: Edge, k: u64) -> bool {
    let newest = t.edge_time(edge);
    newest.saturating_sub(t.segment_end(k)) < Duration::from_secs(3 * t.target_duration_secs())
}

/// `EXT-X-PART` lines for parts `0..count` of relative segment `k`; the
/// first part of a segment starts with a key frame (`INDEPENDENT=YES`).
pub(crate) fn parts(t: &Timeline, k: u64, count: u64, uris: PartUris, out: &mut String) {
    let msn = t.first_sequence + k;
    for p in 0..count {
        let duration = secs3(t.part_span(p).1);
        let _ = match uris {
            PartUris::Files => write!(
                out,
                "#EXT-X-PART:DURATION={duration},URI=\"seg-{msn}.{p}.m4s\""
            ),
            PartUris::Ranges { segment_size } => {
                let (offset, len) = t.part_bytes(segment_size, p);
                write!(
                    out,
                    "#EXT-X-PART:DURATION={duration},URI=\"seg-{msn}.m4s\",BYTERANGE=\"{len}@{offset}\""
                )
            }
        };
        out.push_str(if p == 0 { ",INDEPENDENT=YES\n" } else { "\n" });
    }
}

/// How parts are named: files of their own, or byte ranges of their segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PartUris {
    Files,
    Ranges { segment_size: usize },
}

/// `EXT-X-PRELOAD-HINT` for the part after the newest.
pub(crate) fn preload_hint(t: &Timeline, edge: Edge, uris: PartUris, out: &mut String) {
    let msn = t.first_sequence + edge.complete;
    let _ = match uris {
        PartUris::Files => writeln!(
            out,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-{msn}.{}.m4s\"",
            edge.parts
        ),
        PartUris::Ranges { segment_size } => writeln!(
            out,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-{msn}.m4s\",BYTERANGE-START={}",
            t.part_bytes(segment_size, edge.parts).0
        ),
    };
}

/// `EXT-X-RENDITION-REPORT` for each of `others` (sibling rendition names):
/// all renditions are aligned, so each reports this playlist's newest part.
pub(crate) fn rendition_reports(t: &Timeline, edge: Edge, others: &[String], out: &mut String) {
    let (msn, part) = match (edge.complete, edge.parts) {
        (0, 0) => return,
        (c, 0) => (c - 1, t.parts_per_segment() - 1),
        (c, q) => (c, q - 1),
    };
    for name in others {
        let _ = writeln!(
            out,
            "#EXT-X-RENDITION-REPORT:URI=\"../{name}/index.m3u8\",LAST-MSN={},LAST-PART={part}",
            t.first_sequence + msn
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const T: Timeline = Timeline {
        segment: Duration::from_secs(2),
        part: Duration::from_millis(500),
        first_sequence: 10,
    };

    #[test]
    fn directives() {
        assert_eq!(parse_directives("v=1"), Ok(None));
        assert_eq!(
            parse_directives("_HLS_msn=12&_HLS_part=3"),
            Ok(Some(Directive {
                msn: 12,
                part: Some(3)
            }))
        );
        assert_eq!(
            parse_directives("_HLS_msn=12&delay_ms=5"),
            Ok(Some(Directive {
                msn: 12,
                part: None
            }))
        );
        assert!(parse_directives("_HLS_part=1").is_err());
        assert!(parse_directives("_HLS_msn=x").is_err());
        assert!(parse_directives("_HLS_msn=-1").is_err());
    }

    #[test]
    fn blocking_decisions() {
        let d = |msn, part| Directive { msn, part };
        // At 4.2 s: segments 10 and 11 complete, segment 12 has no part yet.
        let at = ms(4200);
        assert_eq!(decide(&T, at, d(11, None)), Decision::Ready);
        assert_eq!(decide(&T, at, d(3, None)), Decision::Ready);
        assert_eq!(decide(&T, at, d(12, None)), Decision::Hold(ms(6000)));
        assert_eq!(decide(&T, at, d(13, None)), Decision::Hold(ms(8000)));
        assert_eq!(decide(&T, at, d(14, None)), Decision::TooFar);
        assert_eq!(decide(&T, at, d(12, Some(0))), Decision::Hold(ms(4500)));
        assert_eq!(decide(&T, ms(4600), d(12, Some(0))), Decision::Ready);
        assert_eq!(decide(&T, at, d(12, Some(1))), Decision::Hold(ms(5000)));
        // A part number past the segment's last part means the whole segment.
        assert_eq!(decide(&T, at, d(12, Some(9))), Decision::Hold(ms(6000)));
        // Advance Part Limit: 6 parts of 0.5 s past the last part (11.3).
        assert_eq!(decide(&T, at, d(13, Some(1))), Decision::Hold(ms(7000)));
        assert_eq!(decide(&T, at, d(13, Some(2))), Decision::TooFar);
        assert_eq!(
            advance_part_limit(&Timeline {
                part: ms(1000),
                ..T
            }),
            3
        );
    }

    #[test]
    fn before_the_first_segment() {
        let t = Timeline {
            first_sequence: 0,
            ..T
        };
        let d = |msn| Directive { msn, part: None };
        assert_eq!(decide(&t, ms(10), d(0)), Decision::Hold(ms(2000)));
        assert_eq!(decide(&t, ms(10), d(1)), Decision::Hold(ms(4000)));
        assert_eq!(decide(&t, ms(10), d(2)), Decision::TooFar);
        // The longest legal wait stays within the hold limit.
        assert!(ms(4000) - ms(10) <= t.hold_limit());
    }

    #[test]
    fn tags() {
        let mut out = String::new();
        header(&T, None, &mut out);
        assert_eq!(
            out,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n\
             #EXT-X-PART-INF:PART-TARGET=0.500\n"
        );
        out.clear();
        header(&T, Some(ms(12_000)), &mut out);
        assert!(out.starts_with(
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,CAN-SKIP-UNTIL=12.000\n"
        ));
        let edge = T.edge(ms(7200)); // 3 complete (10..=12), 13 has 2 parts
        out.clear();
        parts(&T, 3, edge.parts, PartUris::Files, &mut out);
        preload_hint(&T, edge, PartUris::Files, &mut out);
        rendition_reports(&T, edge, &["r1".into()], &mut out);
        assert_eq!(
            out,
            "#EXT-X-PART:DURATION=0.500,URI=\"seg-13.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-13.1.m4s\"\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-13.2.m4s\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../r1/index.m3u8\",LAST-MSN=13,LAST-PART=1\n"
        );
        // Newest part ends at 7.0 s: segments ending after 1.0 s keep parts.
        assert!(lists_parts(&T, edge, 0));
        assert!(lists_parts(&T, edge, 2));
        let later = T.edge(ms(9000));
        assert!(!lists_parts(&T, later, 0));
        assert!(lists_parts(&T, later, 1));
        out.clear();
        rendition_reports(&T, T.edge(ms(4000)), &["r0".into()], &mut out);
        assert!(out.contains("LAST-MSN=11,LAST-PART=3"));
        // Byte-range parts: four 250-byte quarters of a 1,000-byte segment.
        out.clear();
        let ranges = PartUris::Ranges { segment_size: 1000 };
        parts(&T, 3, edge.parts, ranges, &mut out);
        preload_hint(&T, edge, ranges, &mut out);
        assert_eq!(
            out,
            "#EXT-X-PART:DURATION=0.500,URI=\"seg-13.m4s\",BYTERANGE=\"250@0\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-13.m4s\",BYTERANGE=\"250@250\"\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-13.m4s\",BYTERANGE-START=500\n"
        );
    }

    #[test]
    fn skip_directive_and_count() {
        assert_eq!(parse_skip("_HLS_skip=YES"), Some(Skip::Yes));
        assert_eq!(
            parse_skip("_HLS_msn=3&_HLS_part=1&_HLS_skip=v2"),
            Some(Skip::V2)
        );
        assert_eq!(parse_skip("_HLS_skip=yes"), None);
        assert_eq!(parse_skip("_HLS_skip=NO&_HLS_skip=YES"), None);
        assert_eq!(parse_skip("_HLS_msn=3"), None);
        // 2 s segments: relative 0..10 complete, the last ends at 20 s.
        // A 12 s boundary skips those ending before 8 s: 0, 1, 2 (end 2, 4,
        // 6); segment 3, ending exactly 12 s before the end, is kept.
        assert_eq!(skipped_segments(&T, 0, 10, ms(12_000)), 3);
        assert_eq!(skipped_segments(&T, 0, 10, ms(12_001)), 3);
        assert_eq!(skipped_segments(&T, 0, 10, ms(11_999)), 4);
        assert_eq!(skipped_segments(&T, 4, 10, ms(12_000)), 0);
        assert_eq!(skipped_segments(&T, 0, 0, ms(12_000)), 0);
        assert_eq!(
            skipped_segments(&T, 0, 10, Duration::ZERO),
            9,
            "never the last"
        );
        let mut out = String::new();
        skip_tag(3, Skip::Yes, &mut out);
        skip_tag(0, Skip::V2, &mut out);
        assert_eq!(
            out,
            "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n\
             #EXT-X-SKIP:SKIPPED-SEGMENTS=0,RECENTLY-REMOVED-DATERANGES=\"\"\n"
        );
    }
}
