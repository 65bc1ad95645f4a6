//! Unit tests of the MPD parser: the mock origin's live MPD, a low-latency MPD with a
//! SegmentTimeline at the adaptation-set level and BaseURLs, and malformed documents.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::live::{parse_date_time, MpdType, SegmentTemplate, TimelineEntry};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// What `tools/mock-origin/src/live/dash.rs` serves 5.5 s into a stream with renditions of
/// 800 and 5000 kbit/s and first sequence number 7.
const MOCK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="2023-11-14T22:13:20.000Z" publishTime="2023-11-14T22:13:24.000Z" minimumUpdatePeriod="PT2S" minBufferTime="PT2S" timeShiftBufferDepth="PT12S" suggestedPresentationDelay="PT6S" maxSegmentDuration="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <Representation id="r0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360">
        <SegmentTemplate timescale="1000" duration="2000" startNumber="7" media="r0/seg-$Number$.m4s" initialization="r0/init.mp4"/>
      </Representation>
      <Representation id="r1" bandwidth="5000000" codecs="avc1.64001f" width="1920" height="1080">
        <SegmentTemplate timescale="1000" duration="2000" startNumber="7" media="r1/seg-$Number$.m4s" initialization="r1/init.mp4"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"#;

#[test]
fn the_mock_origins_mpd() {
    let m = Mpd::parse(MOCK).unwrap();
    assert!(m.is_dynamic());
    assert_eq!(
        m.availability_start_time,
        Some(UNIX_EPOCH + secs(1_700_000_000))
    );
    assert_eq!(m.publish_time, parse_date_time("2023-11-14T22:13:24Z"));
    assert_eq!(m.minimum_update_period, Some(secs(2)));
    assert_eq!(m.time_shift_buffer_depth, Some(secs(12)));
    assert_eq!(m.suggested_presentation_delay, Some(secs(6)));
    assert_eq!(
        (m.max_segment_duration, m.min_buffer_time),
        (Some(secs(2)), Some(secs(2)))
    );
    let period = &m.periods[0];
    assert_eq!(
        (period.id.as_deref(), period.start),
        (Some("0"), Some(Duration::ZERO))
    );
    let set = &period.adaptation_sets[0];
    assert_eq!(
        (
            set.content_type.as_deref(),
            set.mime_type.as_deref(),
            set.segment_alignment
        ),
        (Some("video"), Some("video/mp4"), true)
    );
    let reps: Vec<_> = m
        .representations()
        .map(|(_, _, r)| (r.id.as_str(), r.bandwidth, r.width, r.height))
        .collect();
    assert_eq!(
        reps,
        [
            ("r0", 800_000, Some(640), Some(360)),
            ("r1", 5_000_000, Some(1920), Some(1080))
        ]
    );
    let (p, a, r) = m.representations().nth(1).unwrap();
    let t = r.segment_template(a, p).unwrap();
    assert_eq!(
        (t.timescale(), t.duration, t.start_number()),
        (1000, Some(2000), 7)
    );
    assert_eq!(
        r.media_url(&t, Some(9), None).as_deref(),
        Some("r1/seg-9.m4s")
    );
    assert_eq!(r.initialization_url(&t).as_deref(), Some("r1/init.mp4"));
    let ast = m.availability_start_time.unwrap();
    assert_eq!(
        t.latest_number_at(ast, Duration::ZERO, ast + Duration::from_millis(5500)),
        Some(8)
    );
    assert_eq!(Mpd::from_bytes(MOCK.as_bytes()), Ok(m));
}

const LOW_LATENCY: &str = r#"<?xml version="1.0"?>
<mpd:MPD xmlns:mpd="urn:mpeg:dash:schema:mpd:2011" type="dynamic" availabilityStartTime="1970-01-01T00:00:00Z"
     publishTime="2024-05-01T10:00:00+02:00" minimumUpdatePeriod="PT500S" timeShiftBufferDepth="PT1M30S" maxSegmentDuration="PT2.002S">
  <mpd:BaseURL>https://cdn.example.com/live/?a=1&amp;b=2</mpd:BaseURL>
  <mpd:UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="https://time.example.com/?iso"/>
  <mpd:UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2024-05-01T08:00:00Z"/>
  <mpd:Period id="p0" start="PT0S">
    <mpd:EventStream schemeIdUri="urn:scte:scte35:2013:xml"><mpd:Representation id="ignored" bandwidth="x"/></mpd:EventStream>
    <mpd:AdaptationSet id="1" contentType="audio" segmentAlignment="1" mimeType="audio/mp4">
      <mpd:SegmentTemplate timescale="48000" media="$RepresentationID$/$Time$.m4s" initialization="$RepresentationID$/init.mp4"
          presentationTimeOffset="0" availabilityTimeOffset="1.968" availabilityTimeComplete="false">
        <mpd:SegmentTimeline>
          <mpd:S t="81024000000" d="96256" r="2"/>
          <mpd:S d="95232"/>
          <mpd:S d="96256" r="-1"/>
        </mpd:SegmentTimeline>
      </mpd:SegmentTemplate>
      <mpd:Representation id="a0" bandwidth="128000" codecs="mp4a.40.2"><mpd:BaseURL><![CDATA[audio/]]></mpd:BaseURL></mpd:Representation>
    </mpd:AdaptationSet>
  </mpd:Period>
</mpd:MPD>"#;

#[test]
fn a_low_latency_mpd_with_a_timeline() {
    let m = Mpd::parse(LOW_LATENCY).unwrap();
    assert_eq!(
        m.base_url.as_deref(),
        Some("https://cdn.example.com/live/?a=1&b=2")
    );
    assert_eq!(m.publish_time, parse_date_time("2024-05-01T08:00:00Z"));
    assert_eq!(
        (m.time_shift_buffer_depth, m.max_segment_duration),
        (Some(secs(90)), Some(Duration::from_millis(2002)))
    );
    assert_eq!(m.utc_timings.len(), 2);
    assert_eq!(
        m.utc_timings[0].scheme_id_uri,
        "urn:mpeg:dash:utc:http-iso:2014"
    );
    assert_eq!(
        m.utc_timings[1].value.as_deref(),
        Some("2024-05-01T08:00:00Z")
    );
    let (p, a, r) = m.representations().next().unwrap();
    assert_eq!(
        m.representations().count(),
        1,
        "nothing read inside unknown elements"
    );
    assert!(a.segment_alignment);
    assert_eq!(r.base_url.as_deref(), Some("audio/"));
    assert_eq!(r.segment_template, None);
    let t = r.segment_template(a, p).unwrap();
    assert_eq!(t.availability_time_offset, Some(1.968));
    assert_eq!(t.availability_time_complete, Some(false));
    let tl = t.timeline.as_ref().unwrap();
    assert_eq!(
        tl.entries[0],
        TimelineEntry {
            t: Some(81_024_000_000),
            d: 96_256,
            r: 2
        }
    );
    assert_eq!(tl.entries[2].r, -1);
    let times: Vec<_> = tl.segments(None).map(|s| s.time).collect();
    assert_eq!(
        times,
        [
            81_024_000_000,
            81_024_096_256,
            81_024_192_512,
            81_024_288_768,
            81_024_384_000
        ]
    );
    let (_, last) = tl.last(Some(81_024_384_000 + 3 * 96_256)).unwrap();
    assert_eq!(
        r.media_url(&t, None, Some(last.time)).as_deref(),
        Some("a0/81024576512.m4s")
    );
}

#[test]
fn templates_at_every_level_merge() {
    let text = r#"<MPD type="static"><Period><SegmentTemplate timescale="90000" startNumber="3"/>
        <AdaptationSet><SegmentTemplate media="$Number%03d$.ts" duration="180000"/>
        <Representation id="v" bandwidth="1"><SegmentTemplate startNumber="4"/></Representation>
        <Representation id="w" bandwidth="2"/></AdaptationSet></Period></MPD>"#;
    let m = Mpd::parse(text).unwrap();
    assert_eq!(m.kind, MpdType::Static);
    let merged: Vec<SegmentTemplate> = m
        .representations()
        .map(|(p, a, r)| r.segment_template(a, p).unwrap())
        .collect();
    assert_eq!(
        (
            merged[0].timescale(),
            merged[0].start_number(),
            merged[0].duration
        ),
        (90_000, 4, Some(180_000))
    );
    assert_eq!(merged[1].start_number(), 3);
    assert_eq!(merged[0].segment_duration(), Some(secs(2)));
    let (p, a, r) = m.representations().next().unwrap();
    assert_eq!(
        r.media_url(&merged[0], Some(5), None).as_deref(),
        Some("005.ts")
    );
    let bare = Mpd::parse(r#"<MPD><Period><AdaptationSet><Representation id="x" bandwidth="1"/></AdaptationSet></Period></MPD>"#).unwrap();
    let (bp, ba, br) = bare.representations().next().unwrap();
    assert_eq!(br.segment_template(ba, bp), None);
    let _ = (p, a);
}

#[test]
fn malformed_mpds() {
    let bad = [
        ("", "not MPD"),
        ("<?xml version=\"1.0\"?>", "not MPD"),
        ("<Manifest/>", "line 1: the root element is not MPD"),
        ("<MPD/><MPD/>", "not MPD"),
        ("<MPD type=\"live\"/>", "MPD@type is not static or dynamic"),
        ("<MPD\n minimumUpdatePeriod=\"2s\"/>", "line 2: MPD@minimumUpdatePeriod is not an xs:duration"),
        ("<MPD availabilityStartTime=\"yesterday\"/>", "MPD@availabilityStartTime is not an xs:dateTime"),
        ("<MPD><Period>\n<AdaptationSet><Representation bandwidth=\"1\"/></AdaptationSet></Period></MPD>", "line 2: Representation without @id"),
        ("<MPD><Period><AdaptationSet><Representation id=\"a\"/></AdaptationSet></Period></MPD>", "Representation without @bandwidth"),
        ("<MPD><Period><AdaptationSet><Representation id=\"a\" bandwidth=\"-1\"/></AdaptationSet></Period></MPD>", "Representation@bandwidth is not an unsigned integer"),
        ("<MPD><Period><SegmentTemplate timescale=\"0\"/></Period></MPD>", "SegmentTemplate@timescale"),
        ("<MPD><Period><SegmentTemplate availabilityTimeOffset=\"soon\"/></Period></MPD>", "SegmentTemplate@availabilityTimeOffset"),
        ("<MPD><Period><SegmentTemplate><SegmentTimeline><S d=\"0\"/></SegmentTimeline></SegmentTemplate></Period></MPD>", "S@d is not an unsigned integer over 0"),
        ("<MPD><Period><SegmentTemplate><SegmentTimeline><S d=\"1\" r=\"-2\"/></SegmentTimeline></SegmentTemplate></Period></MPD>", "S@r"),
        ("<MPD><Period><SegmentTemplate><SegmentTimeline><S/></SegmentTimeline></SegmentTemplate></Period></MPD>", "S without @d"),
        ("<MPD><UTCTiming value=\"x\"/></MPD>", "UTCTiming without @schemeIdUri"),
        ("<MPD><Period></MPD>", "malformed XML"),
        ("<MPD><Period>", "an element is not closed"),
        ("<MPD><BaseURL>&bogus;</BaseURL></MPD>", "unknown entity"),
        ("<MPD><Period id=\"&bogus;\"/></MPD>", "malformed XML"),
        ("<!DOCTYPE MPD [<!ENTITY x \"boom\">]><MPD><BaseURL>&x;</BaseURL></MPD>", "unknown entity"),
    ];
    for (text, want) in bad {
        let e = Mpd::parse(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
    assert!(Mpd::from_bytes(b"<MPD>\xff</MPD>").is_err());
}
