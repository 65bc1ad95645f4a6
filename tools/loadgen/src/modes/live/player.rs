//! What a live viewer decides, without any I/O: where a plain-HLS or LL-HLS viewer joins a
//! playlist, how long it waits before reloading one, and when the player's buffer runs dry
//! (a stall). The viewer loop in `live` fetches and calls these; the rules themselves are
//! described in the `live` module docs.

use std::time::{Duration, Instant};

use crate::m3u8::Playlist;

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

/// Where a plain-HLS viewer joins: [`Playlist::live_start`] with a hold-back of three
/// target durations, or `None` (reload and ask again) while the playlist is still filling:
/// its complete segments cover less than the hold-back, it has not ended, and its media
/// sequence is still `first_sequence`, the one of the viewer's first playlist. A playlist
/// that stays short while rolling (a window under three target durations) is joined at
/// its first segment instead of waited on forever.
pub fn plain_start(pl: &Playlist, first_sequence: u64) -> Option<u64> {
    let holdback = 3 * pl.target_duration;
    let filling = !pl.ended && pl.media_sequence == first_sequence;
    if filling && pl.duration() < holdback {
        return None;
    }
    Some(pl.live_start(holdback))
}

/// Where an LL-HLS viewer joins: `(msn, part)`.
pub fn ll_start(pl: &Playlist) -> (u64, usize) {
    if let Some(s) = pl.segments.iter().rev().find(|s| !s.parts.is_empty()) {
        return (s.msn, 0);
    }
    if !pl.trailing_parts.is_empty() {
        return (pl.next_msn(), 0);
    }
    (pl.live_start(3 * pl.target_duration), 0)
}

/// The reload interval after a plain reload (see the module docs).
pub fn reload_interval(pl: &Playlist, changed: bool) -> Duration {
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
        let plain = Playlist::parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:0.2,\na\n#EXTINF:0.2,\nb\n",
        )
        .unwrap();
        assert_eq!(ll_start(&plain), (3, 0));
        assert_eq!(reload_interval(&plain, true), Duration::from_millis(200));
        assert_eq!(reload_interval(&plain, false), Duration::from_millis(100));
        let ll = Playlist::parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.1\n#EXT-X-MEDIA-SEQUENCE:3\n\
#EXT-X-PART:DURATION=0.1,URI=\"a0\"\n#EXTINF:0.2,\na\n#EXT-X-PART:DURATION=0.1,URI=\"b0\"\n#EXT-X-PART:DURATION=0.1,URI=\"b1\"\n#EXTINF:0.2,\nb\n\
#EXT-X-PART:DURATION=0.1,URI=\"c0\"\n",
        )
        .unwrap();
        assert_eq!(ll_start(&ll), (4, 0));
        let only_trailing = Playlist::parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.2,\na\n#EXT-X-PART:DURATION=0.1,URI=\"b0\"\n",
        )
        .unwrap();
        assert_eq!(ll_start(&only_trailing), (1, 0));
    }

    #[test]
    fn plain_join_point() {
        let full = Playlist::parse(crate::m3u8::tests::MOCK_ORIGIN).unwrap();
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
            Playlist::parse(&t).unwrap()
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
        let rolling = Playlist::parse(short).unwrap();
        assert_eq!(plain_start(&rolling, 11), None);
        assert_eq!(plain_start(&rolling, 10), Some(11));
        let ended = Playlist::parse(&format!("{short}#EXT-X-ENDLIST\n")).unwrap();
        assert_eq!(plain_start(&ended, 11), Some(11));
    }
}
