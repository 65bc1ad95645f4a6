//! What a live viewer decides, without any I/O: where a plain-HLS or LL-HLS viewer joins a
//! playlist, how far behind the live edge an object is, how long it waits before reloading a
//! playlist, and when the player's buffer runs dry (a stall). The viewer loop in `live`
//! fetches and calls these; the rules themselves are described in the `live` module docs.
//! Playlists are livecache's model ([`MediaPlaylist`]); these are a player's readings of it.

use std::time::{Duration, Instant};

use livecache::live::MediaPlaylist;

/// A player's buffer: when its buffered media runs out.
#[derive(Debug, Default, Clone)]
pub struct Playback {
    buffer_end: Option<Instant>,
}

impl Playback {
    /// A media object of `duration` finished arriving at `done` (`ok`), or failed. Returns
    /// how late it was when it stalled the player. Playback starts when the first object
    /// arrives; an object arriving after the buffer ran dry stalls and playback resumes on
    /// its arrival; a failed object stalls and playback restarts with the next arrival.
    pub fn arrived(&mut self, done: Instant, duration: Duration, ok: bool) -> Option<Duration> {
        let end = self.buffer_end;
        if !ok {
            self.buffer_end = None;
            return Some(end.map_or(Duration::ZERO, |e| done.saturating_duration_since(e)));
        }
        match end {
            None => {
                self.buffer_end = Some(done + duration);
                None
            }
            Some(end) if done > end => {
                self.buffer_end = Some(done + duration);
                Some(done - end)
            }
            Some(end) => {
                self.buffer_end = Some(end + duration);
                None
            }
        }
    }
}

/// Where a player joins the live stream: the segment at least `holdback` of media before
/// the end of the playlist (walking back from the newest segment until the segments walked
/// cover `holdback`), or the first segment when the playlist is shorter;
/// [`MediaPlaylist::next_msn`] for an empty playlist.
pub fn live_start(pl: &MediaPlaylist, holdback: Duration) -> u64 {
    let mut covered = Duration::ZERO;
    for s in pl.segments.iter().rev() {
        covered = covered.saturating_add(s.duration);
        if covered >= holdback {
            return s.msn;
        }
    }
    pl.segments.first().map_or(pl.next_msn(), |s| s.msn)
}

/// How far behind the live edge an object is: the media listed after it (later segments,
/// counting the segment in progress by its listed parts). `part` picks a part of segment
/// `msn`; `None` means the whole segment.
pub fn edge_lag(pl: &MediaPlaylist, msn: u64, part: Option<usize>) -> Duration {
    // Saturating: absurd durations in a playlist must not panic the viewer.
    let parts = match part {
        Some(p) => pl.parts(msn).get(p + 1..).unwrap_or_default(),
        None => &[],
    };
    let later = pl
        .segments
        .iter()
        .filter(|s| s.msn > msn)
        .map(|s| s.duration);
    let in_progress = if pl.next_msn() > msn {
        &pl.trailing_parts[..]
    } else {
        &[]
    };
    parts
        .iter()
        .chain(in_progress)
        .map(|p| p.duration)
        .chain(later)
        .fold(Duration::ZERO, Duration::saturating_add)
}

/// Where a plain-HLS viewer joins: [`live_start`] with a hold-back of three
/// target durations, or `None` (reload and ask again) while the playlist is still filling:
/// its complete segments cover less than the hold-back, it has not ended, and its media
/// sequence is still `first_sequence`, the one of the viewer's first playlist. A playlist
/// that stays short while rolling (a window under three target durations) is joined at
/// its first segment instead of waited on forever.
pub fn plain_start(pl: &MediaPlaylist, first_sequence: u64) -> Option<u64> {
    let holdback = 3 * pl.target_duration;
    let filling = !pl.ended && pl.media_sequence == first_sequence;
    if filling && pl.duration() < holdback {
        return None;
    }
    Some(live_start(pl, holdback))
}

/// Where an LL-HLS viewer joins: `(msn, part)`.
pub fn ll_start(pl: &MediaPlaylist) -> (u64, usize) {
    if let Some(s) = pl.segments.iter().rev().find(|s| !s.parts.is_empty()) {
        return (s.msn, 0);
    }
    if !pl.trailing_parts.is_empty() {
        return (pl.next_msn(), 0);
    }
    (live_start(pl, 3 * pl.target_duration), 0)
}

/// The reload interval after a plain reload (see the module docs).
pub fn reload_interval(pl: &MediaPlaylist, changed: bool) -> Duration {
    let base = pl
        .segments
        .last()
        .map_or(pl.target_duration, |s| s.duration.min(pl.target_duration));
    let base = base.max(Duration::from_millis(50));
    if changed {
        base
    } else {
        base / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn parse(text: &str) -> MediaPlaylist {
        MediaPlaylist::parse(text).unwrap()
    }

    const LIVE: &str =
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
#EXTINF:2.000,\nseg-10.ts\n#EXTINF:2.000,title\nseg-11.ts\n#EXTINF:1.5,\nhttp://other/seg-12.ts\n";

    #[test]
    fn live_start_and_lag() {
        let p = parse(LIVE);
        // 3 target durations = 6 s but the playlist only holds 5.5 s: the first segment.
        assert_eq!(live_start(&p, ms(6000)), 10);
        assert_eq!(live_start(&p, ms(3500)), 11);
        assert_eq!(live_start(&p, ms(1000)), 12);
        assert_eq!(edge_lag(&p, 12, None), Duration::ZERO);
        assert_eq!(edge_lag(&p, 10, None), ms(3500));
        let empty = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n");
        assert_eq!(live_start(&empty, ms(6000)), 7);
    }

    /// The mock origin's playlist 8.5 s into a stream (1 s segments, 250 ms parts, window
    /// 6): parts listed for the segments of the last 3 target durations and for the
    /// segment in progress, then a preload hint and rendition reports.
    const MOCK_ORIGIN: &str = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.750\n#EXT-X-PART-INF:PART-TARGET=0.250\n\
#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:49:18.912Z\n\
#EXTINF:1.000,\nseg-2.m4s\n#EXTINF:1.000,\nseg-3.m4s\n#EXTINF:1.000,\nseg-4.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-5.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-5.1.m4s\"\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-5.2.m4s\"\n#EXT-X-PART:DURATION=0.250,URI=\"seg-5.3.m4s\"\n\
#EXTINF:1.000,\nseg-5.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-6.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-6.1.m4s\"\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-6.2.m4s\"\n#EXT-X-PART:DURATION=0.250,URI=\"seg-6.3.m4s\"\n\
#EXTINF:1.000,\nseg-6.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-7.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-7.1.m4s\"\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-7.2.m4s\"\n#EXT-X-PART:DURATION=0.250,URI=\"seg-7.3.m4s\"\n\
#EXTINF:1.000,\nseg-7.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-8.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-8.1.m4s\"\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-8.2.m4s\"\n\
#EXT-X-RENDITION-REPORT:URI=\"../r0/index.m3u8\",LAST-MSN=8,LAST-PART=1\n\
#EXT-X-RENDITION-REPORT:URI=\"../r2/index.m3u8\",LAST-MSN=8,LAST-PART=1\n";

    #[test]
    fn live_start_and_lag_with_parts() {
        let p = parse(MOCK_ORIGIN);
        assert_eq!(
            (p.media_sequence, p.segments.len(), p.next_msn()),
            (2, 6, 8)
        );
        assert_eq!(p.duration(), ms(6000));
        assert_eq!(p.trailing_parts.len(), 2);
        // Three target durations back from the end of the complete segments (seg-7 ends
        // it; the parts of seg-8 in progress do not count): seg-5, seg-6, seg-7 are
        // buffered before playback catches up with the edge.
        assert_eq!(live_start(&p, 3 * p.target_duration), 5);
        assert_eq!(p.segment(5).unwrap().uri, "seg-5.m4s");
        assert_eq!(live_start(&p, ms(3001)), 4);
        assert_eq!(live_start(&p, ms(1000)), 7);
        // Lag: all media listed after the object, the parts in progress included, the same
        // way whether a whole segment or a part is asked for.
        assert_eq!(edge_lag(&p, 5, None), ms(2000 + 500));
        assert_eq!(edge_lag(&p, 7, None), ms(500));
        assert_eq!(edge_lag(&p, 7, Some(3)), ms(500));
        assert_eq!(edge_lag(&p, 7, Some(1)), ms(500 + 500));
        assert_eq!(edge_lag(&p, 8, Some(0)), ms(250));
        assert_eq!(edge_lag(&p, 8, Some(1)), Duration::ZERO);
        assert_eq!(edge_lag(&p, 2, None), ms(5000 + 500));
    }

    #[test]
    fn lag_across_parts() {
        let p = parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.25\n#EXT-X-MEDIA-SEQUENCE:4\n\
#EXTINF:1.0,\ns4.m4s\n\
#EXT-X-PART:DURATION=0.25,URI=\"s5.p0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.25,URI=\"s5.p1.m4s\"\n\
#EXT-X-PART:DURATION=0.25,URI=\"s5.p2.m4s\"\n#EXT-X-PART:DURATION=0.25,URI=\"s5.p3.m4s\"\n#EXTINF:1.0,\ns5.m4s\n\
#EXT-X-PART:DURATION=0.25,URI=\"s6.p0.m4s\",INDEPENDENT=YES\n",
        );
        assert_eq!(edge_lag(&p, 5, Some(1)), ms(500 + 250));
        assert_eq!(edge_lag(&p, 6, Some(0)), Duration::ZERO);
        assert_eq!(edge_lag(&p, 4, None), ms(1250));
    }

    #[test]
    fn playback_deadlines() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let ms = Duration::from_millis;
        let mut p = Playback::default();
        assert_eq!(p.arrived(t0, s, true), None); // plays t0..t0+1
        assert_eq!(p.arrived(t0 + ms(100), s, true), None); // buffered until t0+2
        assert_eq!(p.arrived(t0 + ms(2000), s, true), None); // exactly on time
        assert_eq!(p.arrived(t0 + ms(3500), s, true), Some(ms(500))); // ran dry at t0+3
        assert_eq!(p.arrived(t0 + ms(4000), s, true), None); // resumed at 3.5: until 5.5
        assert_eq!(p.arrived(t0 + ms(6000), s, false), Some(ms(500))); // failed
        assert_eq!(p.arrived(t0 + ms(9000), s, true), None); // restarts
        let mut fresh = Playback::default();
        assert_eq!(fresh.arrived(t0, s, false), Some(Duration::ZERO));
    }

    #[test]
    fn join_points_and_reload() {
        let plain = MediaPlaylist::parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:0.2,\na\n#EXTINF:0.2,\nb\n",
        )
        .unwrap();
        assert_eq!(ll_start(&plain), (3, 0));
        assert_eq!(reload_interval(&plain, true), Duration::from_millis(200));
        assert_eq!(reload_interval(&plain, false), Duration::from_millis(100));
        let ll = MediaPlaylist::parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.1\n#EXT-X-MEDIA-SEQUENCE:3\n\
#EXT-X-PART:DURATION=0.1,URI=\"a0\"\n#EXTINF:0.2,\na\n#EXT-X-PART:DURATION=0.1,URI=\"b0\"\n#EXT-X-PART:DURATION=0.1,URI=\"b1\"\n#EXTINF:0.2,\nb\n\
#EXT-X-PART:DURATION=0.1,URI=\"c0\"\n",
        )
        .unwrap();
        assert_eq!(ll_start(&ll), (4, 0));
        let only_trailing = MediaPlaylist::parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.2,\na\n#EXT-X-PART:DURATION=0.1,URI=\"b0\"\n",
        )
        .unwrap();
        assert_eq!(ll_start(&only_trailing), (1, 0));
    }

    #[test]
    fn plain_join_point() {
        let full = parse(MOCK_ORIGIN);
        assert_eq!(plain_start(&full, 2), Some(5));
        assert_eq!(plain_start(&full, 0), Some(5));
        // A stream that has just started: nothing complete yet, then one segment and the
        // parts of the next; the viewer waits instead of joining at the edge.
        let young = |complete: u64, parts: u64| {
            let mut t = String::from(
                "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.750\n#EXT-X-PART-INF:PART-TARGET=0.250\n\
#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init.mp4\"\n",
            );
            for k in 0..complete {
                for p in 0..4 {
                    t += &format!("#EXT-X-PART:DURATION=0.250,URI=\"seg-{k}.{p}.m4s\"\n");
                }
                t += &format!("#EXTINF:1.000,\nseg-{k}.m4s\n");
            }
            for p in 0..parts {
                t += &format!("#EXT-X-PART:DURATION=0.250,URI=\"seg-{complete}.{p}.m4s\"\n");
            }
            t += &format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-{complete}.{parts}.m4s\"\n");
            parse(&t)
        };
        assert_eq!(plain_start(&young(0, 1), 0), None);
        assert_eq!(plain_start(&young(1, 3), 0), None);
        assert_eq!(plain_start(&young(2, 3), 0), None);
        assert_eq!(plain_start(&young(3, 0), 0), Some(0));
        assert_eq!(plain_start(&young(4, 2), 0), Some(1));
        // Short but rolling (a window under three target durations), or ended: the first
        // segment rather than waiting forever.
        let short = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:11\n\
#EXTINF:2.000,\na\n#EXTINF:2.000,\nb\n";
        let rolling = parse(short);
        assert_eq!(plain_start(&rolling, 11), None);
        assert_eq!(plain_start(&rolling, 10), Some(11));
        let ended = parse(&format!("{short}#EXT-X-ENDLIST\n"));
        assert_eq!(plain_start(&ended, 11), Some(11));
    }
}
