//! HLS playlists: the multivariant (master) playlist of a stream and the
//! rolling media playlist of one rendition. This module owns their layout;
//! the low-latency tags inside the media playlist come from `llhls`.
//!
//! A media playlist lists the newest `window` complete segments, with
//! `EXT-X-MEDIA-SEQUENCE` advancing as old ones roll out, an
//! `EXT-X-PROGRAM-DATE-TIME` for the first listed segment, and then the
//! parts of the segment in progress and a preload hint. Once the stream has
//! ended (`MockOrigin::end_stream`), the preload hint gives way to a final
//! `EXT-X-ENDLIST`. The text depends only on the elapsed time (rounded down
//! to the newest part) and that flag, so a given clock value always yields
//! byte-identical output.

use std::fmt::Write as _;
use std::time::Duration;

use super::{llhls, resolution, secs3, Live, LiveConfig};
use crate::date;

/// The multivariant playlist: one `EXT-X-STREAM-INF` per rendition.
pub(crate) fn master(live: &Live) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (i, &kbps) in live.config.renditions.iter().enumerate() {
        let (w, h) = resolution(kbps);
        let _ = writeln!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={w}x{h},CODECS=\"avc1.64001f\"\n{}/index.m3u8",
            u64::from(kbps) * 1100,
            u64::from(kbps) * 1000,
            LiveConfig::rendition_name(i)
        );
    }
    out
}

/// The media playlist of rendition `rendition`, `elapsed` after the start;
/// `ended`: the stream is over (no preload hint, `EXT-X-ENDLIST` last).
pub(crate) fn media(live: &Live, rendition: usize, elapsed: Duration, ended: bool) -> String {
    let t = live.timeline();
    let edge = t.edge(elapsed);
    let first = edge.complete.saturating_sub(live.config.window as u64);
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:9\n");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", t.target_duration_secs());
    llhls::header(t, &mut out);
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", t.first_sequence + first);
    out.push_str("#EXT-X-MAP:URI=\"init.mp4\"\n");
    let _ = writeln!(
        out,
        "#EXT-X-PROGRAM-DATE-TIME:{}",
        date::iso8601_millis(live.clock.wall_ms(t.segment_start(first)))
    );
    let extinf = secs3(t.segment);
    for k in first..edge.complete {
        if llhls::lists_parts(t, edge, k) {
            llhls::parts(t, k, t.parts_per_segment(), &mut out);
        }
        let _ = writeln!(out, "#EXTINF:{extinf},\nseg-{}.m4s", t.first_sequence + k);
    }
    llhls::parts(t, edge.complete, edge.parts, &mut out);
    if !ended {
        llhls::preload_hint(t, edge, &mut out);
    }
    let others: Vec<String> = (0..live.config.renditions.len())
        .filter(|&i| i != rendition)
        .map(LiveConfig::rendition_name)
        .collect();
    llhls::rendition_reports(t, edge, &others, &mut out);
    if ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// When the media playlist at `elapsed` last changed (its newest part).
pub(crate) fn media_changed_at(live: &Live, elapsed: Duration) -> Duration {
    let t = live.timeline();
    t.edge_time(t.edge(elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::tests::fixed;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn segments(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| l.starts_with("seg-") && !l.contains("\""))
            .collect()
    }

    fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.lines().find_map(|l| l.strip_prefix(name))
    }

    #[test]
    fn master_lists_every_rendition() {
        let live = fixed(LiveConfig::default());
        assert_eq!(
            master(&live),
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=880000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001f\"\nr0/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2750000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS=\"avc1.64001f\"\nr1/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=5500000,AVERAGE-BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS=\"avc1.64001f\"\nr2/index.m3u8\n"
        );
    }

    #[test]
    fn full_playlist_at_a_fixed_time() {
        let live = fixed(LiveConfig {
            window: 2,
            first_sequence: 100,
            renditions: vec![800, 2500],
            ..LiveConfig::default()
        });
        // 8.6 s: segments 100..=103 complete, 104 has one part.
        let text = media(&live, 0, secs(8.6), false);
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n\
             #EXT-X-PART-INF:PART-TARGET=0.500\n\
             #EXT-X-MEDIA-SEQUENCE:102\n#EXT-X-MAP:URI=\"init.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-102.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-102.1.m4s\"\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-102.2.m4s\"\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-102.3.m4s\"\n\
             #EXTINF:2.000,\nseg-102.m4s\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-103.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-103.1.m4s\"\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-103.2.m4s\"\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-103.3.m4s\"\n\
             #EXTINF:2.000,\nseg-103.m4s\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-104.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-104.1.m4s\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../r1/index.m3u8\",LAST-MSN=104,LAST-PART=0\n"
        );
        assert_eq!(
            media(&live, 0, secs(8.99), false),
            text,
            "stable within a part"
        );
        assert_eq!(media_changed_at(&live, secs(8.99)), secs(8.5));
    }

    #[test]
    fn window_rolls_and_sequence_advances() {
        let live = fixed(LiveConfig::default());
        let at = |s| media(&live, 1, secs(s), false);
        assert_eq!(segments(&at(1.9)), Vec::<&str>::new());
        assert_eq!(tag(&at(1.9), "#EXT-X-MEDIA-SEQUENCE:"), Some("0"));
        assert_eq!(segments(&at(2.0)), ["seg-0.m4s"]);
        assert_eq!(segments(&at(12.0)).len(), 6);
        assert_eq!(tag(&at(12.0), "#EXT-X-MEDIA-SEQUENCE:"), Some("0"));
        let later = at(20.1);
        assert_eq!(tag(&later, "#EXT-X-MEDIA-SEQUENCE:"), Some("4"));
        assert_eq!(
            segments(&later),
            [
                "seg-4.m4s",
                "seg-5.m4s",
                "seg-6.m4s",
                "seg-7.m4s",
                "seg-8.m4s",
                "seg-9.m4s"
            ]
        );
        assert_eq!(
            tag(&later, "#EXT-X-PROGRAM-DATE-TIME:"),
            Some("2023-11-14T22:13:28.000Z")
        );
        // Parts only for segments ending within 3 target durations (6 s) of
        // the newest part (20.0 s), plus none yet of segment 10.
        assert!(!later.contains("seg-6.0.m4s"));
        assert!(later.contains("seg-7.0.m4s") && later.contains("seg-9.3.m4s"));
        assert!(!later.contains("URI=\"seg-10.0.m4s\",INDEPENDENT"));
        assert!(later.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-10.0.m4s\""));
        assert!(later.contains("LAST-MSN=9,LAST-PART=3"));
    }

    #[test]
    fn before_the_first_segment_completes() {
        let live = fixed(LiveConfig::default());
        let text = media(&live, 0, secs(1.2), false);
        assert!(text.contains("seg-0.1.m4s\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-0.2.m4s\""));
        assert!(!text.contains("#EXTINF"));
        assert!(media(&live, 0, Duration::ZERO, false).contains("URI=\"seg-0.0.m4s\""));
        assert!(!media(&live, 0, Duration::ZERO, false).contains("RENDITION-REPORT"));
    }

    #[test]
    fn an_ended_playlist() {
        let live = fixed(LiveConfig::default());
        let running = media(&live, 0, secs(8.6), false);
        let ended = media(&live, 0, secs(8.6), true);
        assert!(ended.ends_with("LAST-PART=0\n#EXT-X-ENDLIST\n"));
        assert!(!ended.contains("PRELOAD-HINT"));
        let hint = running
            .lines()
            .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT"))
            .unwrap();
        assert_eq!(
            running.replace(&format!("{hint}\n"), ""),
            ended.replace("#EXT-X-ENDLIST\n", ""),
            "otherwise the same playlist"
        );
        assert!(ended.contains("URI=\"seg-4.0.m4s\",INDEPENDENT=YES"));
    }
}
