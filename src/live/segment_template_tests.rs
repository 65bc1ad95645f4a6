//! Unit tests of DASH addressing: template expansion (widths, `$$`, malformed templates),
//! inheritance, `$Number$` availability against the mock origin's schedule, and lazy
//! `SegmentTimeline` runs (repeats, `r="-1"`, huge repeat counts).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn values(number: Option<u64>, time: Option<u64>) -> TemplateValues<'static> {
    TemplateValues {
        representation_id: "r0",
        number,
        time,
        bandwidth: Some(800_000),
    }
}

#[test]
fn templates_expand() {
    let v = values(Some(7), Some(90_000));
    let expand = |t| expand_template(t, &v);
    assert_eq!(
        expand("r0/seg-$Number$.m4s").as_deref(),
        Some("r0/seg-7.m4s")
    );
    assert_eq!(
        expand("$RepresentationID$/$Number%05d$.m4s").as_deref(),
        Some("r0/00007.m4s")
    );
    assert_eq!(
        expand("$Bandwidth$/$Time$.mp4").as_deref(),
        Some("800000/90000.mp4")
    );
    assert_eq!(expand("a$$b$Time%02d$").as_deref(), Some("a$b90000"));
    assert_eq!(expand("plain.mp4").as_deref(), Some("plain.mp4"));
    assert_eq!(expand("$Number%064d$").map(|s| s.len()), Some(64));
    for bad in [
        "$Number",
        "$Unknown$",
        "$Number%5d$",
        "$Number%05x$",
        "$Number%065d$",
        "$Number%0100d$",
        "$RepresentationID%02d$",
        "$Number%0d$",
        "$%02d$",
    ] {
        assert_eq!(expand(bad), None, "{bad:?}");
    }
    assert_eq!(expand_template("$Time$", &values(Some(1), None)), None);
    assert_eq!(expand_template("$Number$", &values(None, Some(1))), None);
}

#[test]
fn templates_inherit_attribute_by_attribute() {
    let set = SegmentTemplate {
        timescale: Some(90_000),
        media: Some("$RepresentationID$/$Number$.m4s".into()),
        start_number: Some(5),
        ..SegmentTemplate::default()
    };
    let rep = SegmentTemplate {
        initialization: Some("$RepresentationID$/init.mp4".into()),
        start_number: Some(9),
        ..SegmentTemplate::default()
    };
    let t = rep.inherit(&set);
    assert_eq!((t.timescale(), t.start_number()), (90_000, 9));
    assert_eq!(t.media, set.media);
    assert_eq!(t.initialization, rep.initialization);
    let bare = SegmentTemplate::default();
    assert_eq!(
        (
            bare.timescale(),
            bare.start_number(),
            bare.segment_duration()
        ),
        (1, 1, None)
    );
}

fn at(secs: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
}

#[test]
fn number_availability_follows_the_mock_origins_schedule() {
    // The mock origin: segment startNumber + k is available at AST + (k+1) * 2 s.
    let t = SegmentTemplate {
        timescale: Some(1000),
        duration: Some(2000),
        start_number: Some(7),
        ..SegmentTemplate::default()
    };
    let ast = at(1_700_000_000, 0);
    let zero = Duration::ZERO;
    assert_eq!(t.segment_duration(), Some(Duration::from_secs(2)));
    assert_eq!(
        t.number_available_at(ast, zero, 7),
        Some(at(1_700_000_002, 0))
    );
    assert_eq!(
        t.number_available_at(ast, zero, 9),
        Some(at(1_700_000_006, 0))
    );
    assert_eq!(
        t.number_available_at(ast, Duration::from_secs(10), 7),
        Some(at(1_700_000_012, 0))
    );
    assert_eq!(t.number_available_at(ast, zero, 6), None);
    assert_eq!(
        t.latest_number_at(ast, zero, at(1_700_000_005, 500)),
        Some(8)
    );
    assert_eq!(t.latest_number_at(ast, zero, at(1_700_000_006, 0)), Some(9));
    assert_eq!(t.latest_number_at(ast, zero, at(1_700_000_001, 999)), None);
    assert_eq!(t.latest_number_at(ast, zero, at(1_600_000_000, 0)), None);
    // Low-latency DASH: an offset of 1.5 s makes each segment requestable 1.5 s early.
    let ll = SegmentTemplate {
        availability_time_offset: Some(1.5),
        availability_time_complete: Some(false),
        ..t.clone()
    };
    assert_eq!(
        ll.number_available_at(ast, zero, 7),
        Some(at(1_700_000_000, 500))
    );
    assert_eq!(
        ll.latest_number_at(ast, zero, at(1_700_000_000, 500)),
        Some(7)
    );
    let inf = SegmentTemplate {
        availability_time_offset: Some(f64::INFINITY),
        ..t.clone()
    };
    assert_eq!(
        inf.number_available_at(ast, zero, 8),
        Some(at(1_700_000_002, 0))
    );
    assert_eq!(
        inf.latest_number_at(ast, zero, at(1_700_000_002, 1)),
        Some(8)
    );
    let no_duration = SegmentTemplate::default();
    assert_eq!(no_duration.number_available_at(ast, zero, 1), None);
    // Huge numbers do not overflow into a wrong answer (or a panic).
    assert_eq!(t.number_available_at(ast, zero, u64::MAX), None);
    let fine = SegmentTemplate {
        timescale: Some(u64::MAX),
        duration: Some(1),
        ..SegmentTemplate::default()
    };
    assert_eq!(
        fine.latest_number_at(UNIX_EPOCH, zero, at(4_000_000_000, 0)),
        None
    );
}

#[test]
fn timelines_are_lazy_runs() {
    let entry = |t, d, r| TimelineEntry { t, d, r };
    let tl = SegmentTimeline {
        entries: vec![
            entry(Some(1000), 90, 2),
            entry(None, 50, 0),
            entry(Some(2000), 100, -1),
            entry(Some(2250), 100, 1),
        ],
    };
    let all: Vec<_> = tl.segments(None).map(|s| (s.time, s.duration)).collect();
    assert_eq!(
        all,
        [
            (1000, 90),
            (1090, 90),
            (1180, 90),
            (1270, 50),
            (2000, 100),
            (2100, 100),
            (2200, 100),
            (2250, 100),
            (2350, 100)
        ]
    );
    assert_eq!(
        tl.last(None),
        Some((
            8,
            TimelineSegment {
                time: 2350,
                duration: 100
            }
        ))
    );
    // A trailing r=-1 runs to `end`, and counts one segment without it.
    let open = SegmentTimeline {
        entries: vec![entry(Some(0), 10, -1)],
    };
    assert_eq!(open.segments(None).count(), 1);
    assert_eq!(open.segments(Some(35)).count(), 4);
    assert_eq!(
        open.last(Some(35)),
        Some((
            3,
            TimelineSegment {
                time: 30,
                duration: 10
            }
        ))
    );
    // A repeat count near i64::MAX is arithmetic, not a loop or an allocation.
    let huge = SegmentTimeline {
        entries: vec![entry(None, 1, i64::MAX - 1)],
    };
    assert_eq!(huge.segments(None).nth(1_000).map(|s| s.time), Some(1_000));
    assert_eq!(
        huge.last(None),
        Some((
            i64::MAX as u64 - 1,
            TimelineSegment {
                time: i64::MAX as u64 - 1,
                duration: 1
            }
        ))
    );
    let overflow = SegmentTimeline {
        entries: vec![entry(Some(u64::MAX - 5), 2, 10)],
    };
    assert_eq!(
        overflow.segments(None).count(),
        3,
        "stops where a time would overflow"
    );
    assert_eq!(overflow.last(None), None);
    let t = SegmentTemplate {
        timescale: Some(90_000),
        presentation_time_offset: Some(900_000),
        ..SegmentTemplate::default()
    };
    let seg = TimelineSegment {
        time: 900_000 + 180_000,
        duration: 180_000,
    };
    assert_eq!(
        t.timeline_available_at(at(1_700_000_000, 0), Duration::ZERO, seg),
        Some(at(1_700_000_004, 0))
    );
}
