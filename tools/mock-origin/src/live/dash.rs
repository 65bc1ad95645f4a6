//! The DASH manifest of a stream: a dynamic (live) MPD with one video
//! AdaptationSet and a Representation per rendition, each addressed by a
//! number-based `SegmentTemplate`. This module owns that XML.
//!
//! With `$Number$` templates a client computes segment availability from
//! `availabilityStartTime` (the clock's start), `duration`/`timescale` and
//! `startNumber` (the first media sequence number): segment `startNumber + k`
//! is available at `availabilityStartTime + (k+1) * duration`, exactly when
//! the HLS side lists it, and both name the same `seg-{n}.m4s` files. So the
//! MPD hardly changes; it is re-published per segment, like a packager that
//! rewrites it on every segment, with `publishTime` the newest segment
//! boundary. Durations use a millisecond timescale.
//!
//! Pauses and rewinds (`publishing`) make the timeline run `shift` behind
//! real time; `availabilityStartTime` moves by that shift, so a client
//! computing availability from it finds the segment numbers the HLS side
//! lists (fewer after a rewind). During a pause the MPD stays as it was
//! (no `publishTime` advance) and the shift catches up on resume.
//!
//! With `chunked_dash` the templates say so (`availabilityTimeOffset` of the
//! segment less one part, `availabilityTimeComplete="false"`): a client may
//! ask for a segment once its first part is written and reads it as it grows
//! (`growing`).

use std::fmt::Write as _;
use std::time::Duration;

use super::{resolution, Live, LiveConfig};
use crate::date;

/// `PT2S`, `PT0.5S`: an xs:duration in seconds with trailing zeros dropped.
pub(crate) fn iso_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let mut text = format!("{}.{:03}", ms / 1000, ms % 1000);
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    format!("PT{text}S")
}

/// `1.5`, `0.25`: seconds as a decimal with trailing zeros dropped.
fn seconds(d: Duration) -> String {
    let text = iso_duration(d);
    text.trim_start_matches("PT")
        .trim_end_matches('S')
        .to_string()
}

/// The MPD `elapsed` after the start, with the timeline `shift` behind
/// real time.
pub(crate) fn mpd(live: &Live, elapsed: Duration, shift: Duration) -> String {
    let t = live.timeline();
    let segment = t.segment;
    let published = t.segment_start(t.edge(elapsed).complete);
    let depth = segment * u32::try_from(live.config.window).unwrap_or(u32::MAX);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         type=\"dynamic\" availabilityStartTime=\"{}\" publishTime=\"{}\" \
         minimumUpdatePeriod=\"{}\" minBufferTime=\"{}\" timeShiftBufferDepth=\"{}\" \
         suggestedPresentationDelay=\"{}\" maxSegmentDuration=\"{}\">",
        date::iso8601_millis(live.clock.wall_ms(shift)),
        date::iso8601_millis(live.clock.wall_ms(published + shift)),
        iso_duration(segment),
        iso_duration(segment),
        iso_duration(depth),
        iso_duration(segment * 3),
        iso_duration(segment),
    );
    out.push_str("  <Period id=\"0\" start=\"PT0S\">\n");
    out.push_str(
        "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" \
         segmentAlignment=\"true\" startWithSAP=\"1\">\n",
    );
    let chunking = if live.config.chunked_dash {
        format!(
            " availabilityTimeOffset=\"{}\" availabilityTimeComplete=\"false\"",
            seconds(segment.saturating_sub(live.config.part_duration))
        )
    } else {
        String::new()
    };
    for (i, &kbps) in live.config.renditions.iter().enumerate() {
        let (w, h) = resolution(kbps);
        let name = LiveConfig::rendition_name(i);
        let _ = writeln!(
            out,
            "      <Representation id=\"{name}\" bandwidth=\"{}\" codecs=\"avc1.64001f\" width=\"{w}\" height=\"{h}\">\n\
             \x20       <SegmentTemplate timescale=\"1000\" duration=\"{}\" startNumber=\"{}\"{chunking} \
             media=\"{name}/seg-$Number$.m4s\" initialization=\"{name}/init.mp4\"/>\n\
             \x20     </Representation>",
            u64::from(kbps) * 1000,
            segment.as_millis(),
            t.first_sequence,
        );
    }
    out.push_str("    </AdaptationSet>\n  </Period>\n</MPD>\n");
    out
}

/// When the MPD at `elapsed` was last re-published.
pub(crate) fn mpd_changed_at(live: &Live, elapsed: Duration) -> Duration {
    let t = live.timeline();
    t.segment_start(t.edge(elapsed).complete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::tests::fixed;

    #[test]
    fn durations() {
        assert_eq!(iso_duration(Duration::from_secs(2)), "PT2S");
        assert_eq!(iso_duration(Duration::from_millis(500)), "PT0.5S");
        assert_eq!(iso_duration(Duration::from_millis(12_250)), "PT12.25S");
        assert_eq!(iso_duration(Duration::ZERO), "PT0S");
    }

    #[test]
    fn a_chunked_packager_says_how_early_segments_may_be_asked_for() {
        let live = fixed(LiveConfig {
            chunked_dash: true,
            ..LiveConfig::default()
        });
        let text = mpd(&live, Duration::from_millis(5_500), Duration::ZERO);
        let template = "<SegmentTemplate timescale=\"1000\" duration=\"2000\" startNumber=\"0\" \
             availabilityTimeOffset=\"1.5\" availabilityTimeComplete=\"false\" \
             media=\"r0/seg-$Number$.m4s\"";
        assert!(text.contains(template), "{text}");
    }

    #[test]
    fn mpd_at_a_fixed_time() {
        let live = fixed(LiveConfig {
            renditions: vec![800, 5000],
            first_sequence: 7,
            ..LiveConfig::default()
        });
        let text = mpd(&live, Duration::from_millis(5_500), Duration::ZERO);
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
             type=\"dynamic\" availabilityStartTime=\"2023-11-14T22:13:20.000Z\" \
             publishTime=\"2023-11-14T22:13:24.000Z\" minimumUpdatePeriod=\"PT2S\" minBufferTime=\"PT2S\" \
             timeShiftBufferDepth=\"PT12S\" suggestedPresentationDelay=\"PT6S\" maxSegmentDuration=\"PT2S\">\n  \
             <Period id=\"0\" start=\"PT0S\">\n    \
             <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">\n      \
             <Representation id=\"r0\" bandwidth=\"800000\" codecs=\"avc1.64001f\" width=\"640\" height=\"360\">\n        \
             <SegmentTemplate timescale=\"1000\" duration=\"2000\" startNumber=\"7\" media=\"r0/seg-$Number$.m4s\" initialization=\"r0/init.mp4\"/>\n      \
             </Representation>\n      \
             <Representation id=\"r1\" bandwidth=\"5000000\" codecs=\"avc1.64001f\" width=\"1920\" height=\"1080\">\n        \
             <SegmentTemplate timescale=\"1000\" duration=\"2000\" startNumber=\"7\" media=\"r1/seg-$Number$.m4s\" initialization=\"r1/init.mp4\"/>\n      \
             </Representation>\n    \
             </AdaptationSet>\n  </Period>\n</MPD>\n"
        );
        assert_eq!(
            mpd(&live, Duration::from_millis(4_000), Duration::ZERO),
            text
        );
        assert_ne!(
            mpd(&live, Duration::from_millis(6_000), Duration::ZERO),
            text
        );
        assert_eq!(
            mpd_changed_at(&live, Duration::from_millis(5_500)),
            Duration::from_secs(4)
        );
        let shifted = mpd(&live, Duration::from_millis(5_500), Duration::from_secs(3));
        assert_eq!(
            shifted,
            text.replace("22:13:20.000Z", "22:13:23.000Z")
                .replace("22:13:24.000Z", "22:13:27.000Z")
        );
    }
}
