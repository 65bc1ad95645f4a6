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
//! to the newest part), that flag and the delta-update request, so a given
//! clock value always yields byte-identical output.
//!
//! A Playlist Delta Update (`_HLS_skip`, only with
//! [`LiveConfig::can_skip_until`] set and before the end) is the same
//! playlist with the oldest segments, those ending more than the Skip
//! Boundary before the end of the last segment, replaced by one
//! `EXT-X-SKIP` (RFC 8216bis §6.2.5.1; they never list parts, which are kept
//! for three target durations only). `EXT-X-MEDIA-SEQUENCE` is unchanged.
//! `EXT-X-MAP` applies to every segment, the remaining ones too, so it stays
//! (before `EXT-X-SKIP`, as players that merge expect it); the
//! `EXT-X-PROGRAM-DATE-TIME` of the first segment goes with it, and the first
//! remaining segment gets its own, so a delta update still dates its media.

use std::fmt::Write as _;
use std::time::Duration;

use super::llhls::{self, Skip};
use super::{resolution, secs3, Live, LiveConfig};
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
/// `ended`: the stream is over (no preload hint, `EXT-X-ENDLIST` last);
/// `skip`: the request's `_HLS_skip`, honoured (a delta update) only while
/// the stream runs and delta updates are configured.
pub(crate) fn media(
    live: &Live,
    rendition: usize,
    elapsed: Duration,
    ended: bool,
    skip: Option<Skip>,
) -> String {
    let t = live.timeline();
    let edge = t.edge(elapsed);
    let first = edge.complete.saturating_sub(live.config.window as u64);
    let low_latency = live.config.low_latency;
    let boundary = live.config.can_skip_until.filter(|_| low_latency);
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:9\n");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", t.target_duration_secs());
    if low_latency {
        llhls::header(t, boundary, &mut out);
    }
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", t.first_sequence + first);
    out.push_str("#EXT-X-MAP:URI=\"init.mp4\"\n");
    let mut listed = first;
    if let (Some(skip), Some(boundary), false) = (skip, boundary, ended) {
        let skipped = llhls::skipped_segments(t, first, edge.complete, boundary);
        llhls::skip_tag(skipped, skip, &mut out);
        listed += skipped;
    }
    let _ = writeln!(
        out,
        "#EXT-X-PROGRAM-DATE-TIME:{}",
        date::iso8601_millis(live.clock.wall_ms(t.segment_start(listed)))
    );
    let extinf = secs3(t.segment);
    let uris = live.part_uris(rendition);
    for k in listed..edge.complete {
        if low_latency && llhls::lists_parts(t, edge, k) {
            llhls::parts(t, k, t.parts_per_segment(), uris, &mut out);
        }
        let _ = writeln!(out, "#EXTINF:{extinf},\nseg-{}.m4s", t.first_sequence + k);
    }
    if low_latency {
        llhls::parts(t, edge.complete, edge.parts, uris, &mut out);
        if !ended {
            llhls::preload_hint(t, edge, uris, &mut out);
        }
        let others: Vec<String> = (0..live.config.renditions.len())
            .filter(|&i| i != rendition)
            .map(LiveConfig::rendition_name)
            .collect();
        llhls::rendition_reports(t, edge, &others, &mut out);
    }
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
        let text = media(&live, 0, secs(8.6), false, None);
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
            media(&live, 0, secs(8.99), false, None),
            text,
            "stable within a part"
        );
        assert_eq!(media_changed_at(&live, secs(8.99)), secs(8.5));
    }

    #[test]
    fn window_rolls_and_sequence_advances() {
        let live = fixed(LiveConfig::default());
        let at = |s| media(&live, 1, secs(s), false, None);
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
        let text = media(&live, 0, secs(1.2), false, None);
        assert!(text.contains("seg-0.1.m4s\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-0.2.m4s\""));
        assert!(!text.contains("#EXTINF"));
        assert!(media(&live, 0, Duration::ZERO, false, None).contains("URI=\"seg-0.0.m4s\""));
        assert!(!media(&live, 0, Duration::ZERO, false, None).contains("RENDITION-REPORT"));
    }

    #[test]
    fn a_classic_playlist_lists_whole_segments_only() {
        let live = fixed(LiveConfig {
            low_latency: false,
            can_skip_until: Some(secs(12.0)),
            ..LiveConfig::default()
        });
        let text = media(&live, 0, secs(8.6), false, Some(Skip::Yes));
        for low_latency in [
            "SERVER-CONTROL",
            "PART",
            "PRELOAD-HINT",
            "RENDITION-REPORT",
            "SKIP",
        ] {
            assert!(!text.contains(low_latency), "{low_latency}: {text}");
        }
        assert_eq!(
            segments(&text),
            ["seg-0.m4s", "seg-1.m4s", "seg-2.m4s", "seg-3.m4s"]
        );
    }

    #[test]
    fn an_ended_playlist() {
        let live = fixed(LiveConfig::default());
        let running = media(&live, 0, secs(8.6), false, None);
        let ended = media(&live, 0, secs(8.6), true, None);
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

    /// Four `EXT-X-PART` lines and the `EXTINF` of complete segment `msn`.
    fn whole(msn: u64) -> String {
        let mut out = String::new();
        for p in 0..4 {
            out += &format!("#EXT-X-PART:DURATION=0.500,URI=\"seg-{msn}.{p}.m4s\"");
            out += if p == 0 { ",INDEPENDENT=YES\n" } else { "\n" };
        }
        out + &format!("#EXTINF:2.000,\nseg-{msn}.m4s\n")
    }

    #[test]
    fn delta_update_at_a_fixed_time() {
        let config = LiveConfig {
            window: 10,
            first_sequence: 100,
            renditions: vec![800, 2500],
            can_skip_until: Some(secs(12.0)),
            ..LiveConfig::default()
        };
        let live = fixed(config.clone());
        // 22.6 s: segments 100..=110 complete (101..=110 listed), 111 has
        // one part. The last segment ends at 22 s; 101..=103 end at 4, 6
        // and 8 s, more than 12 s before: skipped. 104 ends at 10 s: kept.
        let delta = media(&live, 0, secs(22.6), false, Some(Skip::Yes));
        let plain = "#EXTINF:2.000,\nseg-";
        let expected = format!(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,CAN-SKIP-UNTIL=12.000\n\
             #EXT-X-PART-INF:PART-TARGET=0.500\n\
             #EXT-X-MEDIA-SEQUENCE:101\n#EXT-X-MAP:URI=\"init.mp4\"\n\
             #EXT-X-SKIP:SKIPPED-SEGMENTS=3\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:28.000Z\n\
             {plain}104.m4s\n{plain}105.m4s\n{plain}106.m4s\n{plain}107.m4s\n\
             {}{}{}\
             #EXT-X-PART:DURATION=0.500,URI=\"seg-111.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-111.1.m4s\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../r1/index.m3u8\",LAST-MSN=111,LAST-PART=0\n",
            whole(108),
            whole(109),
            whole(110)
        );
        assert_eq!(delta, expected);
        // The full playlist: the same tail, the three segments and the
        // first segment's date instead of the skip.
        let full = media(&live, 0, secs(22.6), false, None);
        let head = "#EXT-X-MAP:URI=\"init.mp4\"\n";
        let skipped = format!(
            "{head}#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z\n\
             {plain}101.m4s\n{plain}102.m4s\n{plain}103.m4s\n"
        );
        let replaced = format!(
            "{head}#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n\
             #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:28.000Z\n"
        );
        assert_eq!(full.replace(&skipped, &replaced), delta);
        // v2 lists no removed date ranges (there are none).
        let v2 = media(&live, 0, secs(22.6), false, Some(Skip::V2));
        assert_eq!(
            v2,
            delta.replace(
                "SKIPPED-SEGMENTS=3\n",
                "SKIPPED-SEGMENTS=3,RECENTLY-REMOVED-DATERANGES=\"\"\n"
            )
        );
        // Ended: the full playlist, directive ignored.
        let ended = media(&live, 0, secs(22.6), true, Some(Skip::Yes));
        assert_eq!(ended, media(&live, 0, secs(22.6), true, None));
        assert!(!ended.contains("EXT-X-SKIP") && ended.contains("seg-101.m4s"));
        // Without a Skip Boundary: no CAN-SKIP-UNTIL, `_HLS_skip` ignored.
        let off = fixed(LiveConfig {
            can_skip_until: None,
            ..config
        });
        let text = media(&off, 0, secs(22.6), false, Some(Skip::Yes));
        assert_eq!(text, media(&off, 0, secs(22.6), false, None));
        assert!(!text.contains("CAN-SKIP-UNTIL") && !text.contains("EXT-X-SKIP"));
    }

    #[test]
    fn short_window_skips_nothing() {
        // 6 x 2 s = 12 s listed: never more than the 12 s boundary.
        let live = fixed(LiveConfig {
            can_skip_until: Some(secs(12.0)),
            ..LiveConfig::default()
        });
        for at in [0.3, 2.1, 13.0, 40.2] {
            let delta = media(&live, 0, secs(at), false, Some(Skip::Yes));
            assert!(delta.contains("\n#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n"), "{at}");
            assert_eq!(
                delta.replace("#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n", ""),
                media(&live, 0, secs(at), false, None)
            );
        }
    }
}
