//! Where a media playlist stands for a blocking playlist reload (RFC 8216bis §6.2.5.2; LIVE.md
//! F1.4-F1.6): its newest part, the part an upstream long-poll asks for next, whether it
//! already answers `_HLS_msn=M&_HLS_part=N`, how many parts a request is ahead of it, the
//! Advance Part Limit and the parts per segment those distances are counted in, and the
//! outcome a request gets ([`Readiness`]).
//!
//! Pure arithmetic over a parsed [`MediaPlaylist`]: whether the playlist is fresh enough to
//! trust a "too far" (F1.5), the hold, and the deadline are the caller's.

use std::time::Duration;

use super::media::MediaPlaylist;

/// A partial segment's place: its parent segment's media sequence number and its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartRef {
    pub msn: u64,
    pub part: u64,
}

/// What a blocking request for `(M, N)` gets from a playlist version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// `EXT-X-ENDLIST`: directives are ignored, answer with the playlist (MUST).
    Ended,
    /// The playlist holds segment M (or part N of M, or what follows it): answer now.
    Satisfied,
    /// Not yet: hold until a later version satisfies it.
    Pending,
    /// More than two segments past the last one, or more parts ahead of the newest part
    /// than the Advance Part Limit: 400 (SHOULD), when the playlist is known to be current.
    TooFar,
}

/// The Advance Part Limit, in parts: 3 / PART-TARGET (rounded up) when the part target is
/// under a second, else 3.
pub fn advance_part_limit(part_target: Duration) -> u64 {
    if part_target >= Duration::from_secs(1) {
        return 3;
    }
    let nanos = part_target.as_nanos().max(1);
    u64::try_from(3_000_000_000u128.div_ceil(nanos)).unwrap_or(u64::MAX)
}

impl MediaPlaylist {
    /// The newest listed part: the last part of the segment in progress, else the last part
    /// of the newest complete segment; `None` when neither lists parts.
    pub fn last_part(&self) -> Option<PartRef> {
        if let Some(i) = self.trailing_parts.len().checked_sub(1) {
            return Some(PartRef {
                msn: self.next_msn(),
                part: i as u64,
            });
        }
        let newest = self.segments.last()?;
        Some(PartRef {
            msn: newest.msn,
            part: newest.parts.len().checked_sub(1)? as u64,
        })
    }

    /// The part right after the newest one: what a long-poll upstream asks for next
    /// (`_HLS_msn`/`_HLS_part`). `None` without parts (then ask for [`Self::next_msn`]).
    pub fn next_part(&self) -> Option<PartRef> {
        let last = self.last_part()?;
        Some(if last.msn < self.next_msn() {
            PartRef {
                msn: self.next_msn(),
                part: 0,
            }
        } else {
            PartRef {
                msn: last.msn,
                part: last.part + 1,
            }
        })
    }

    /// Parts per segment, for counting distances across segment boundaries: the part count
    /// of the newest complete segment that lists parts, else the target duration divided by
    /// the part target (rounded up). `None` without `EXT-X-PART-INF`.
    pub fn parts_per_segment(&self) -> Option<u64> {
        let part_target = self.part_target?;
        if let Some(s) = self.segments.iter().rev().find(|s| !s.parts.is_empty()) {
            return Some(s.parts.len() as u64);
        }
        let per = self
            .target_duration
            .as_nanos()
            .div_ceil(part_target.as_nanos().max(1));
        Some(u64::try_from(per).unwrap_or(u64::MAX).max(1))
    }

    /// [`advance_part_limit`] of this playlist's part target.
    pub fn advance_part_limit(&self) -> Option<u64> {
        self.part_target.map(advance_part_limit)
    }

    /// How many parts segment `msn` has or is expected to have.
    fn part_count(&self, msn: u64) -> u64 {
        let listed = self.parts(msn).len() as u64;
        let complete = msn < self.next_msn();
        match self.parts_per_segment() {
            _ if complete && listed > 0 => listed,
            Some(per) => per.max(listed),
            // No parts in this playlist: a complete segment holds every part asked of it.
            None if complete => u64::MAX,
            None => listed,
        }
    }

    /// Whether this playlist answers a blocking request for segment `msn` (`part` `None`) or
    /// part `part` of it: it lists segment `msn` or a later one; or that part or a later
    /// one, where a part index past the segment's last part means part 0 of the next.
    pub fn satisfies(&self, msn: u64, part: Option<u64>) -> bool {
        let next = self.next_msn();
        let Some(part) = part else {
            return msn < next;
        };
        if msn >= next {
            return msn == next && part < self.trailing_parts.len() as u64;
        }
        if msn + 1 < next || part < self.part_count(msn) {
            return true;
        }
        // Past the last part of the newest complete segment: part 0 of the one in progress.
        !self.trailing_parts.is_empty()
    }

    /// How many parts `target` is past the newest listed part (0 when it is not past it),
    /// counting across segment boundaries with [`Self::parts_per_segment`]. `None` when the
    /// playlist lists no parts.
    pub fn parts_ahead(&self, target: PartRef) -> Option<u64> {
        let last = self.last_part()?;
        let per = self.parts_per_segment()?.max(1);
        let mut t = target;
        if t.part >= self.part_count(t.msn) {
            t = PartRef {
                msn: t.msn.saturating_add(1),
                part: 0,
            };
        }
        if t <= last {
            return Some(0);
        }
        if t.msn == last.msn {
            return Some(t.part - last.part);
        }
        let rest_of_last = self.part_count(last.msn).saturating_sub(last.part + 1);
        let between = (t.msn - last.msn - 1).saturating_mul(per);
        Some(
            rest_of_last
                .saturating_add(between)
                .saturating_add(t.part)
                .saturating_add(1),
        )
    }

    /// The outcome of a blocking request for `msn` and optionally `part`.
    pub fn readiness(&self, msn: u64, part: Option<u64>) -> Readiness {
        if self.ended {
            return Readiness::Ended;
        }
        if self.satisfies(msn, part) {
            return Readiness::Satisfied;
        }
        // The last complete segment is next_msn - 1: more than two past it is too far.
        if msn > self.next_msn().saturating_add(1) {
            return Readiness::TooFar;
        }
        if let (Some(part), Some(limit)) = (part, self.advance_part_limit()) {
            let ahead = self.parts_ahead(PartRef { msn, part });
            if ahead.is_some_and(|a| a > limit) {
                return Readiness::TooFar;
            }
        }
        Readiness::Pending
    }
}

#[cfg(test)]
#[path = "blocking_tests.rs"]
mod tests;
