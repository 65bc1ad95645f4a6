//! What an hls.js-like low-latency viewer decides and measures, without any I/O: which
//! part its next blocking reload asks for and how it spells the request, which part a
//! response answers that request with, and when a part was published, computed from the
//! playlist alone (`EXT-X-PROGRAM-DATE-TIME` plus the durations after it), so it works
//! against any origin whose clock is this machine's.
//!
//! A packager publishes a part when it ends: part `p` of segment `m` is published at the
//! start of `m` plus the durations of parts `0..=p`. A playlist that dates none of its
//! segments (a delta update from an origin that does not re-date the first listed segment)
//! is dated from the last dated segment this viewer saw ([`PublishClock`] keeps it).

use std::time::{Duration, SystemTime};

use livecache::live::{parse_date_time, MediaPlaylist};

/// How a viewer spells its blocking reload (mixed player populations).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spelling {
    /// `_HLS_part=N&_HLS_msn=M` instead of `_HLS_msn=M&_HLS_part=N`.
    pub swapped: bool,
    /// `&_HLS_skip=YES` appended (a delta update where the origin offers them).
    pub skip: bool,
}

impl Spelling {
    /// The spelling of viewer `g`: a fraction `swapped` of the viewers swap the order and a
    /// fraction `skip` append `_HLS_skip=YES`, spread evenly over the viewer numbers
    /// (independently of each other: two low-discrepancy sequences, `g * (golden ratio)`
    /// and `g * (sqrt 2)`, modulo 1).
    pub fn for_viewer(g: usize, swapped: f64, skip: f64) -> Spelling {
        let at = |step: f64| (g as f64 * step).fract();
        Spelling {
            swapped: at(0.618_033_988_749_895) < swapped,
            skip: at(0.414_213_562_373_095) < skip,
        }
    }

    /// The query of a blocking reload for `target`.
    pub fn query(&self, target: Target) -> String {
        let msn = format!("_HLS_msn={}", target.msn);
        let mut q = match target.part {
            None => msn,
            Some(p) if self.swapped => format!("_HLS_part={p}&{msn}"),
            Some(p) => format!("{msn}&_HLS_part={p}"),
        };
        if self.skip {
            q.push_str("&_HLS_skip=YES");
        }
        q
    }
}

/// What a blocking reload asks for: segment `msn`, or part `part` of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub msn: u64,
    pub part: Option<u64>,
}

/// What hls.js asks for next: the part after the newest listed one, or the segment in
/// progress when the playlist lists no parts.
pub fn next_target(pl: &MediaPlaylist) -> Target {
    match pl.next_part() {
        Some(p) => Target {
            msn: p.msn,
            part: Some(p.part),
        },
        None => Target {
            msn: pl.next_msn(),
            part: None,
        },
    }
}

/// The part of `pl` that answers `target`: `(msn, index)` of the requested part, or part 0
/// of the next segment when the index is past the segment's last part (RFC 8216bis
/// §6.2.5.2); `None` when it is not listed. A segment target is answered by its last part
/// (its end), `usize::MAX` standing for a segment listed without parts.
pub fn answering_part(pl: &MediaPlaylist, target: Target) -> Option<(u64, usize)> {
    let Some(part) = target.part else {
        let seg = pl.segment(target.msn)?;
        return Some((
            target.msn,
            seg.parts.len().checked_sub(1).unwrap_or(usize::MAX),
        ));
    };
    let part = usize::try_from(part).ok()?;
    let parts = pl.parts(target.msn);
    if part < parts.len() {
        return Some((target.msn, part));
    }
    // Past the last part of a complete segment: part 0 of the next.
    if pl.segment(target.msn).is_some() && !parts.is_empty() {
        let next = target.msn + 1;
        return (!pl.parts(next).is_empty()).then_some((next, 0));
    }
    None
}

/// The newest listed part, `(msn, index)` as in [`answering_part`].
pub fn newest_part(pl: &MediaPlaylist) -> Option<(u64, usize)> {
    match pl.last_part() {
        Some(p) => Some((p.msn, usize::try_from(p.part).ok()?)),
        None => pl.last_msn().map(|m| (m, usize::MAX)),
    }
}

/// A position counting parts from the stream's start (`msn * parts_per_segment + part`),
/// for how many parts were published between two playlists.
pub fn part_ordinal(pl: &MediaPlaylist) -> Option<u64> {
    let (msn, part) = newest_part(pl)?;
    let per = pl.parts_per_segment().unwrap_or(1);
    let part = if part == usize::MAX {
        per - 1
    } else {
        part as u64
    };
    Some(msn.saturating_mul(per).saturating_add(part))
}

/// Dates segments and parts from playlists.
#[derive(Clone, Debug, Default)]
pub struct PublishClock {
    /// The start of a segment seen dated (directly or through the durations before it).
    anchor: Option<(u64, SystemTime)>,
}

impl PublishClock {
    /// Remembers where `pl` puts its newest segment, for later playlists without a date.
    pub fn learn(&mut self, pl: &MediaPlaylist) {
        let msn = pl.next_msn();
        if let Some(at) = self.segment_start(pl, msn) {
            self.anchor = Some((msn, at));
        }
    }

    /// When segment `msn` (listed, or the one in progress) started.
    pub fn segment_start(&self, pl: &MediaPlaylist, msn: u64) -> Option<SystemTime> {
        let dated = pl.segments.iter().find_map(|s| {
            let at = parse_date_time(s.program_date_time.as_deref()?)?;
            Some((s.msn, at))
        });
        let (from, at) = dated.or(self.anchor)?;
        if from < pl.first_msn() || from > pl.next_msn() || msn < pl.first_msn() {
            return None;
        }
        let span = |a: u64, b: u64| {
            pl.segments
                .iter()
                .filter(|s| s.msn >= a && s.msn < b)
                .fold(Duration::ZERO, |d, s| d.saturating_add(s.duration))
        };
        if msn >= from {
            at.checked_add(span(from, msn))
        } else {
            at.checked_sub(span(msn, from))
        }
    }

    /// When part `(msn, index)` was published: its end. `usize::MAX` means the whole
    /// segment (its end).
    pub fn published(&self, pl: &MediaPlaylist, (msn, index): (u64, usize)) -> Option<SystemTime> {
        let start = self.segment_start(pl, msn)?;
        let within = if index == usize::MAX {
            pl.segment(msn)?.duration
        } else {
            let parts = pl.parts(msn).get(..=index)?;
            parts
                .iter()
                .fold(Duration::ZERO, |d, p| d.saturating_add(p.duration))
        };
        start.checked_add(within)
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

    /// 2 s segments of four 0.5 s parts; 20..=21 complete, 22 has two parts.
    const LL: &str = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,CAN-SKIP-UNTIL=12.000\n\
#EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MEDIA-SEQUENCE:20\n#EXT-X-MAP:URI=\"init.mp4\"\n\
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:14:00.000Z\n\
#EXTINF:2.000,\nseg-20.m4s\n\
#EXT-X-PART:DURATION=0.500,URI=\"seg-21.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.500,URI=\"seg-21.1.m4s\"\n\
#EXT-X-PART:DURATION=0.500,URI=\"seg-21.2.m4s\"\n#EXT-X-PART:DURATION=0.500,URI=\"seg-21.3.m4s\"\n\
#EXTINF:2.000,\nseg-21.m4s\n\
#EXT-X-PART:DURATION=0.500,URI=\"seg-22.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.500,URI=\"seg-22.1.m4s\"\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-22.2.m4s\"\n";

    fn at(s: &str) -> SystemTime {
        parse_date_time(s).unwrap()
    }

    #[test]
    fn spellings() {
        let t = Target {
            msn: 22,
            part: Some(2),
        };
        let plain = Spelling::default();
        assert_eq!(plain.query(t), "_HLS_msn=22&_HLS_part=2");
        let odd = Spelling {
            swapped: true,
            skip: true,
        };
        assert_eq!(odd.query(t), "_HLS_part=2&_HLS_msn=22&_HLS_skip=YES");
        let seg = Target { msn: 7, part: None };
        assert_eq!(odd.query(seg), "_HLS_msn=7&_HLS_skip=YES");
        // Fractions of a population, spread evenly and independently.
        let count = |f: fn(Spelling) -> bool, sw, sk| {
            (0..1000)
                .filter(|&g| f(Spelling::for_viewer(g, sw, sk)))
                .count()
        };
        assert_eq!(count(|s| s.swapped || s.skip, 0.0, 0.0), 0);
        assert_eq!(count(|s| s.swapped && s.skip, 1.0, 1.0), 1000);
        let swapped = count(|s| s.swapped, 0.25, 0.0);
        assert!((240..=260).contains(&swapped), "{swapped}");
        let both = count(|s| s.swapped && s.skip, 0.5, 0.5);
        assert!((200..=300).contains(&both), "{both}");
        let tenth = count(|s| s.skip, 0.0, 0.1);
        assert!((98..=102).contains(&tenth), "{tenth}");
    }

    #[test]
    fn targets_and_answers() {
        let pl = parse(LL);
        let next = next_target(&pl);
        assert_eq!(
            next,
            Target {
                msn: 22,
                part: Some(2)
            }
        );
        assert_eq!(answering_part(&pl, next), None);
        let t = |msn, part| Target { msn, part };
        assert_eq!(answering_part(&pl, t(22, Some(1))), Some((22, 1)));
        // Past the last part of 21: part 0 of 22.
        assert_eq!(answering_part(&pl, t(21, Some(4))), Some((22, 0)));
        assert_eq!(answering_part(&pl, t(21, None)), Some((21, 3)));
        assert_eq!(answering_part(&pl, t(20, None)), Some((20, usize::MAX)));
        assert_eq!(answering_part(&pl, t(20, Some(0))), None, "not listed");
        assert_eq!(newest_part(&pl), Some((22, 1)));
        assert_eq!(part_ordinal(&pl), Some(22 * 4 + 1));
        let plain =
            parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:2,\na\n");
        assert_eq!(next_target(&plain), Target { msn: 4, part: None });
        assert_eq!(newest_part(&plain), Some((3, usize::MAX)));
        assert_eq!(part_ordinal(&plain), Some(3));
    }

    #[test]
    fn publish_times_from_the_date() {
        let pl = parse(LL);
        let mut clock = PublishClock::default();
        let start = at("2023-11-14T22:14:00.000Z");
        assert_eq!(clock.segment_start(&pl, 20), Some(start));
        assert_eq!(clock.segment_start(&pl, 22), Some(start + ms(4000)));
        assert_eq!(clock.published(&pl, (21, 0)), Some(start + ms(2500)));
        assert_eq!(clock.published(&pl, (22, 1)), Some(start + ms(5000)));
        assert_eq!(
            clock.published(&pl, (20, usize::MAX)),
            Some(start + ms(2000))
        );
        assert_eq!(clock.published(&pl, (22, 2)), None, "not listed yet");
        assert_eq!(clock.segment_start(&pl, 19), None, "before the playlist");
        // A delta update that dates nothing: from what the viewer saw before.
        let undated = LL
            .replace("#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:14:00.000Z\n", "")
            .replace(
                "#EXTINF:2.000,\nseg-20.m4s\n",
                "#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n",
            );
        let delta = parse(&undated);
        assert_eq!(delta.first_msn(), 21);
        assert_eq!(clock.published(&delta, (22, 1)), None);
        clock.learn(&pl);
        assert_eq!(clock.published(&delta, (22, 1)), Some(start + ms(5000)));
        assert_eq!(clock.published(&delta, (21, 3)), Some(start + ms(4000)));
        // An anchor the playlist no longer reaches is not used.
        let later = undated.replace("MEDIA-SEQUENCE:20", "MEDIA-SEQUENCE:30");
        assert_eq!(clock.published(&parse(&later), (32, 1)), None);
    }
}
