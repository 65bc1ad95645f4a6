//! Unit tests of `dash_schedule`: a low-latency MPD's segment targets and times, BaseURL
//! resolution, and the representations that cannot be scheduled.

use std::time::{Duration, UNIX_EPOCH};

use super::*;

/// 2 s segments in 500 ms chunks (availabilityTimeOffset 1.5), numbered from 7, starting at
/// Unix time 1,700,000,000; `{base}` and `{media}` vary per test.
fn mpd(kind: &str, base: &str, media: &str) -> Mpd {
    let text = format!(
        r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="{kind}" availabilityStartTime="2023-11-14T22:13:20Z" minimumUpdatePeriod="PT2S">
  {base}
  <Period id="0" start="PT10S">
    <AdaptationSet id="0" mimeType="video/mp4">
      <SegmentTemplate timescale="1000" duration="2000" startNumber="7" availabilityTimeOffset="1.5" availabilityTimeComplete="false" media="{media}"/>
      <Representation id="v1" bandwidth="800000"/>
      <Representation id="v2" bandwidth="5000000"><BaseURL>hi/</BaseURL></Representation>
    </AdaptationSet>
  </Period>
</MPD>"#
    );
    Mpd::parse(&text).unwrap()
}

fn at(secs: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(1_700_000_000.0 + secs)
}

#[test]
fn numbered_segments_resolve_against_the_mpd_and_every_base_url() {
    let m = mpd("dynamic", "", "$RepresentationID$/seg-$Number%05d$.m4s?x=1");
    let s = segment_schedules(&m, "edge.test", "/live/ch1/manifest.mpd?token=a", 10);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].target_of(42), "/live/ch1/v1/seg-42.m4s?x=1");
    assert_eq!(s[0].number_of(b"/live/ch1/v1/seg-00042.m4s?x=1"), Some(42));
    assert_eq!(
        s[1].number_of(b"/live/ch1/hi/v2/seg-00042.m4s?x=1"),
        Some(42)
    );
    for other in [
        &b"/live/ch1/v1/seg-00042.m4s"[..],
        b"/live/ch1/v1/seg-.m4s?x=1",
        b"/live/ch1/v1/seg-4a.m4s?x=1",
        b"/live/ch1/v2/seg-00042.m4s?x=1",
        b"/live/ch1/v1/seg-99999999999999999999.m4s?x=1",
    ] {
        assert_eq!(s[0].number_of(other), None, "{other:?}");
    }
    let with_root = mpd(
        "dynamic",
        "<BaseURL>/cdn/</BaseURL>",
        "$RepresentationID$/$Number$",
    );
    let s = segment_schedules(&with_root, "edge.test", "/live/ch1/manifest.mpd", 10);
    assert_eq!(s[1].target_of(3), "/cdn/hi/v2/3");
}

#[test]
fn availability_follows_the_offset_and_chunks_bound_the_gap() {
    let m = mpd("dynamic", "", "$RepresentationID$/$Number$.m4s");
    let s = &segment_schedules(&m, "edge.test", "/m.mpd", 10)[0];
    // Segment 7 spans 10 s to 12 s of the timeline; with 1.5 s of offset it may be asked
    // for from 10.5 s.
    assert_eq!(s.available_at(7), Some(at(10.5)));
    assert_eq!(s.available_at(9), Some(at(14.5)));
    assert_eq!(s.available_at(6), None);
    assert_eq!(s.chunk_duration(), Some(Duration::from_millis(500)));
    assert_eq!(s.gap_limit(), Some(Duration::from_secs(2)));
}

#[test]
fn what_cannot_be_scheduled_is_left_out() {
    let none = |m: &Mpd| segment_schedules(m, "edge.test", "/m.mpd", 10).is_empty();
    assert!(none(&mpd("static", "", "$Number$.m4s")));
    assert!(none(&mpd("dynamic", "", "$Time$.m4s")));
    assert!(none(&mpd(
        "dynamic",
        "<BaseURL>http://elsewhere.test/</BaseURL>",
        "$Number$.m4s"
    )));
    let m = mpd("dynamic", "", "$Number$.m4s");
    assert_eq!(segment_schedules(&m, "edge.test", "/m.mpd", 1).len(), 1);
    let absolute_here = mpd(
        "dynamic",
        "<BaseURL>http://edge.test/x/</BaseURL>",
        "$Number$",
    );
    let s = segment_schedules(&absolute_here, "edge.test", "/m.mpd", 10);
    assert_eq!(s[0].target_of(1), "/x/1");
}

#[test]
fn absurd_durations_saturate_instead_of_overflowing() {
    let text = r#"<MPD type="dynamic" availabilityStartTime="2023-11-14T22:13:20Z">
  <Period><AdaptationSet>
    <SegmentTemplate timescale="1" duration="18446744073709551615" availabilityTimeOffset="1" media="$Number$.m4s"/>
    <Representation id="v" bandwidth="1"/>
  </AdaptationSet></Period></MPD>"#;
    let m = Mpd::parse(text).unwrap();
    let s = &segment_schedules(&m, "edge.test", "/m.mpd", 10)[0];
    assert_eq!(s.gap_limit(), Some(Duration::MAX));
    assert_eq!(s.available_at(u64::MAX), None);
}
