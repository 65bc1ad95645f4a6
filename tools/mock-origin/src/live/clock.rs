//! The live timeline. This module owns the arithmetic that turns "time since
//! the stream started" into which segments and parts exist: segment `k`
//! (counted from the first, so its media sequence number is
//! `first_sequence + k`) covers `[k*S, (k+1)*S)` and becomes available at its
//! end, `(k+1)*S`; its parts are `ceil(S/P)` slices of `P` (the last one
//! shorter when `P` does not divide `S`), each available at its own end.
//!
//! Everything here is pure: callers pass an elapsed [`Duration`] and get the
//! same answer every time, which is what lets the playlist generators be
//! unit-tested at fixed clock values. Anchoring to wall-clock time (for
//! dates) happens in [`Clock`]; mapping a real `Instant` to elapsed time,
//! with the runtime pause/rewind controls, in `publishing`.

use std::time::Duration;

/// Segment and part lengths plus the first media sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeline {
    pub(crate) segment: Duration,
    pub(crate) part: Duration,
    pub(crate) first_sequence: u64,
}

/// What exists at some instant: `complete` whole segments (relative indices
/// `0..complete`) and, of the segment in progress (`complete`), its first
/// `parts` parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) complete: u64,
    pub(crate) parts: u64,
}

fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

fn from_nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

impl Timeline {
    /// Parts per segment: `ceil(S / P)`, at least 1.
    pub(crate) fn parts_per_segment(&self) -> u64 {
        let (s, p) = (nanos(self.segment), nanos(self.part).max(1));
        (s.div_ceil(p) as u64).max(1)
    }

    /// `EXT-X-TARGETDURATION`: the segment duration rounded up to whole
    /// seconds (at least 1).
    pub(crate) fn target_duration_secs(&self) -> u64 {
        (nanos(self.segment).div_ceil(1_000_000_000) as u64).max(1)
    }

    /// How long a blocking request may be held: three target durations.
    pub(crate) fn hold_limit(&self) -> Duration {
        Duration::from_secs(3 * self.target_duration_secs())
    }

    /// Start of relative segment `k`.
    pub(crate) fn segment_start(&self, k: u64) -> Duration {
        from_nanos(nanos(self.segment) * u128::from(k))
    }

    /// End (= availability) of relative segment `k`.
    pub(crate) fn segment_end(&self, k: u64) -> Duration {
        self.segment_start(k + 1)
    }

    /// Offset of part `p` within its segment, and its length.
    pub(crate) fn part_span(&self, p: u64) -> (Duration, Duration) {
        let (s, len) = (nanos(self.segment), nanos(self.part));
        let start = (len * u128::from(p)).min(s);
        let end = (len * u128::from(p + 1)).min(s);
        (from_nanos(start), from_nanos(end - start))
    }

    /// End (= availability) of part `p` of relative segment `k`.
    pub(crate) fn part_end(&self, k: u64, p: u64) -> Duration {
        let (offset, len) = self.part_span(p);
        self.segment_start(k) + offset + len
    }

    /// What exists `elapsed` after the start.
    pub(crate) fn edge(&self, elapsed: Duration) -> Edge {
        let (e, s) = (nanos(elapsed), nanos(self.segment).max(1));
        let complete = (e / s) as u64;
        let into = e - s * u128::from(complete);
        let parts = ((into / nanos(self.part).max(1)) as u64).min(self.parts_per_segment() - 1);
        Edge { complete, parts }
    }

    /// When the content at `edge` was last extended: the end of its newest
    /// part (or segment), so playlists change only at part boundaries.
    pub(crate) fn edge_time(&self, edge: Edge) -> Duration {
        self.segment_start(edge.complete) + self.part_span(edge.parts).0
    }

    /// Relative index of media sequence number `msn`, if not before the first.
    pub(crate) fn relative(&self, msn: u64) -> Option<u64> {
        msn.checked_sub(self.first_sequence)
    }

    /// Byte range `(offset, len)` of part `p` in a segment of `total` bytes:
    /// proportional to the part's duration, and the parts tile the segment.
    pub(crate) fn part_bytes(&self, total: usize, p: u64) -> (usize, usize) {
        let s = nanos(self.segment).max(1);
        let (offset, len) = self.part_span(p);
        let at = |t: u128| (t * total as u128 / s) as usize;
        let start = at(nanos(offset));
        (start, at(nanos(offset + len)) - start)
    }
}

/// The timeline anchored to wall-clock time: elapsed zero is
/// `wall_start_ms` (dates follow the media timeline, so pauses and rewinds
/// do not move them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub(crate) timeline: Timeline,
    /// Unix milliseconds at the start (for dates in playlists and headers).
    pub(crate) wall_start_ms: i64,
}

impl Clock {
    /// Unix milliseconds `elapsed` after the start.
    pub(crate) fn wall_ms(&self, elapsed: Duration) -> i64 {
        self.wall_start_ms
            .saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }

    /// Unix seconds `elapsed` after the start (for `Last-Modified`).
    pub(crate) fn wall_secs(&self, elapsed: Duration) -> i64 {
        self.wall_ms(elapsed).div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn timeline(segment: u64, part: u64) -> Timeline {
        Timeline {
            segment: ms(segment),
            part: ms(part),
            first_sequence: 100,
        }
    }

    #[test]
    fn edges_at_fixed_times() {
        let t = timeline(2000, 500);
        assert_eq!(t.parts_per_segment(), 4);
        let edge = |e| {
            let Edge { complete, parts } = t.edge(ms(e));
            (complete, parts)
        };
        assert_eq!(edge(0), (0, 0));
        assert_eq!(edge(499), (0, 0));
        assert_eq!(edge(500), (0, 1));
        assert_eq!(edge(1999), (0, 3));
        assert_eq!(edge(2000), (1, 0));
        assert_eq!(edge(7250), (3, 2));
        assert_eq!(t.edge_time(t.edge(ms(7250))), ms(7000));
        assert_eq!(t.segment_end(0), ms(2000));
        assert_eq!(t.part_end(3, 2), ms(7500));
        assert_eq!((t.relative(99), t.relative(105)), (None, Some(5)));
    }

    #[test]
    fn uneven_parts_and_target_duration() {
        let t = timeline(2100, 1000);
        assert_eq!(t.parts_per_segment(), 3);
        assert_eq!(t.part_span(2), (ms(2000), ms(100)));
        assert_eq!(t.target_duration_secs(), 3);
        assert_eq!(t.hold_limit(), Duration::from_secs(9));
        assert_eq!(
            t.edge(ms(2050)),
            Edge {
                complete: 0,
                parts: 2
            }
        );
        assert_eq!(timeline(200, 50).target_duration_secs(), 1);
        assert_eq!(timeline(2000, 2000).parts_per_segment(), 1);
    }

    #[test]
    fn part_bytes_tile_the_segment() {
        let t = timeline(2100, 1000);
        let spans: Vec<_> = (0..3).map(|p| t.part_bytes(1001, p)).collect();
        assert_eq!(spans[0].0, 0);
        assert_eq!(spans[1].0, spans[0].1);
        assert_eq!(spans[2].0, spans[1].0 + spans[1].1);
        assert_eq!(spans.iter().map(|s| s.1).sum::<usize>(), 1001);
        assert_eq!(spans[2].1, 48);
    }

    #[test]
    fn clock_maps_to_wall_time() {
        let clock = Clock {
            timeline: timeline(2000, 500),
            wall_start_ms: 1_700_000_000_500,
        };
        assert_eq!(clock.wall_ms(ms(1500)), 1_700_000_002_000);
        assert_eq!(clock.wall_secs(ms(499)), 1_700_000_000);
    }
}
