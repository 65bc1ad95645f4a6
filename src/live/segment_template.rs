//! DASH segment addressing (ISO/IEC 23009-1 §5.3.9.4-5): the `SegmentTemplate` model with
//! its inheritance from the levels above, the `SegmentTimeline` as lazy runs of `S@t,d,r`,
//! URL templates (`$RepresentationID$`, `$Number%05d$`, `$Time$`, `$Bandwidth$`, `$$`), and
//! when a `$Number$` or timeline segment becomes available (availabilityStartTime + period
//! start + the segment's end − availabilityTimeOffset), and which number is the newest
//! available at a given time.
//!
//! A repeat count is never expanded: [`SegmentTimeline::segments`] is an iterator and
//! [`SegmentTimeline::last`] is arithmetic, so `r="9223372036854775806"` costs nothing until
//! walked. Times are parameters; nothing here reads a clock.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// A `SegmentTemplate`; absent attributes inherit from the level above ([`Self::inherit`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentTemplate {
    /// `@media`: the segment URL template.
    pub media: Option<String>,
    /// `@initialization`: the initialization segment URL template.
    pub initialization: Option<String>,
    /// `@timescale` (ticks per second; default 1).
    pub timescale: Option<u64>,
    /// `@duration` in ticks (number-based addressing).
    pub duration: Option<u64>,
    /// `@startNumber` (default 1).
    pub start_number: Option<u64>,
    /// `@presentationTimeOffset` in ticks.
    pub presentation_time_offset: Option<u64>,
    /// `@availabilityTimeOffset` in seconds (may be infinite).
    pub availability_time_offset: Option<f64>,
    /// `@availabilityTimeComplete` (false: segments are delivered as they are produced).
    pub availability_time_complete: Option<bool>,
    /// The `SegmentTimeline` child.
    pub timeline: Option<SegmentTimeline>,
}

/// A `SegmentTimeline`: its `S` elements as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentTimeline {
    pub entries: Vec<TimelineEntry>,
}

/// One `S` element: `@t` (start; absent: right after the previous), `@d` (duration, > 0) and
/// `@r` (repeats after the first; -1: until the next `@t` or the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineEntry {
    pub t: Option<u64>,
    pub d: u64,
    pub r: i64,
}

/// One segment of a timeline, in timescale ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineSegment {
    pub time: u64,
    pub duration: u64,
}

impl SegmentTemplate {
    /// This template with every absent attribute (and the timeline) taken from `parent`.
    pub fn inherit(&self, parent: &SegmentTemplate) -> SegmentTemplate {
        SegmentTemplate {
            media: self.media.clone().or_else(|| parent.media.clone()),
            initialization: self
                .initialization
                .clone()
                .or_else(|| parent.initialization.clone()),
            timescale: self.timescale.or(parent.timescale),
            duration: self.duration.or(parent.duration),
            start_number: self.start_number.or(parent.start_number),
            presentation_time_offset: self
                .presentation_time_offset
                .or(parent.presentation_time_offset),
            availability_time_offset: self
                .availability_time_offset
                .or(parent.availability_time_offset),
            availability_time_complete: self
                .availability_time_complete
                .or(parent.availability_time_complete),
            timeline: self.timeline.clone().or_else(|| parent.timeline.clone()),
        }
    }

    /// `@timescale`, 1 when absent.
    pub fn timescale(&self) -> u64 {
        self.timescale.unwrap_or(1).max(1)
    }

    /// `@startNumber`, 1 when absent.
    pub fn start_number(&self) -> u64 {
        self.start_number.unwrap_or(1)
    }

    /// `@duration` as time.
    pub fn segment_duration(&self) -> Option<Duration> {
        Some(ticks(self.duration?, self.timescale()))
    }

    /// When number-addressed segment `number` can be requested: the end of its media,
    /// `availabilityStartTime + period_start + (number − startNumber + 1) × duration`, less
    /// the availabilityTimeOffset (an infinite offset: its start). `None` without
    /// `@duration` or for a number before `@startNumber`.
    pub fn number_available_at(
        &self,
        availability_start: SystemTime,
        period_start: Duration,
        number: u64,
    ) -> Option<SystemTime> {
        let d = self.duration?;
        let k = number.checked_sub(self.start_number())?;
        let start = u128::from(k) * u128::from(d);
        self.available(availability_start, period_start, start, u128::from(d))
    }

    /// When timeline segment `segment` can be requested (as [`Self::number_available_at`],
    /// its times taken relative to `@presentationTimeOffset`).
    pub fn timeline_available_at(
        &self,
        availability_start: SystemTime,
        period_start: Duration,
        segment: TimelineSegment,
    ) -> Option<SystemTime> {
        let pto = self.presentation_time_offset.unwrap_or(0);
        let start = u128::from(segment.time.saturating_sub(pto));
        self.available(
            availability_start,
            period_start,
            start,
            u128::from(segment.duration),
        )
    }

    fn available(
        &self,
        availability_start: SystemTime,
        period_start: Duration,
        start_ticks: u128,
        duration_ticks: u128,
    ) -> Option<SystemTime> {
        let ato = self.availability_time_offset.unwrap_or(0.0);
        let media_end = if ato.is_infinite() && ato > 0.0 {
            start_ticks
        } else {
            start_ticks + duration_ticks
        };
        let end = availability_start
            .checked_add(period_start)?
            .checked_add(ticks_u128(media_end, self.timescale())?)?;
        let offset = Duration::try_from_secs_f64(ato).unwrap_or(Duration::ZERO);
        Some(end.checked_sub(offset).unwrap_or(end))
    }

    /// The newest number-addressed segment available at `now` (see
    /// [`Self::number_available_at`]); `None` before the first one or without `@duration`.
    pub fn latest_number_at(
        &self,
        availability_start: SystemTime,
        period_start: Duration,
        now: SystemTime,
    ) -> Option<u64> {
        let d = u128::from(self.duration?.max(1));
        let ato = self.availability_time_offset.unwrap_or(0.0);
        let offset = Duration::try_from_secs_f64(ato).unwrap_or(Duration::ZERO);
        let origin = availability_start.checked_add(period_start)?;
        let elapsed = (now.checked_add(offset)?).duration_since(origin).ok()?;
        let elapsed_ticks = elapsed
            .as_nanos()
            .checked_mul(u128::from(self.timescale()))?
            / 1_000_000_000;
        // Segments whose media has ended; with an infinite offset the one in progress too.
        let mut available = elapsed_ticks / d;
        if ato.is_infinite() && ato > 0.0 {
            available += 1;
        }
        let k = u64::try_from(available.checked_sub(1)?).ok()?;
        self.start_number().checked_add(k)
    }
}

/// `n` ticks of `timescale` per second as time.
fn ticks(n: u64, timescale: u64) -> Duration {
    ticks_u128(u128::from(n), timescale).unwrap_or(Duration::MAX)
}

fn ticks_u128(n: u128, timescale: u64) -> Option<Duration> {
    let timescale = u128::from(timescale.max(1));
    let secs = u64::try_from(n / timescale).ok()?;
    let nanos = (n % timescale) * 1_000_000_000 / timescale;
    Some(Duration::new(secs, nanos as u32))
}

/// A run of equal segments: `count` of `duration` ticks from `start`.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    duration: u64,
    count: u64,
}

impl SegmentTimeline {
    /// The runs of the timeline; `end` (in ticks) bounds an `r="-1"` with no later `@t`
    /// (without it such a run counts one segment).
    fn runs(&self, end: Option<u64>) -> impl Iterator<Item = Run> + '_ {
        let mut next_start = 0u64;
        self.entries.iter().enumerate().map(move |(i, e)| {
            let start = e.t.unwrap_or(next_start);
            let d = e.d.max(1);
            let count = if e.r >= 0 {
                (e.r as u64).saturating_add(1)
            } else {
                let until = self.entries.get(i + 1).and_then(|n| n.t).or(end);
                match until {
                    Some(u) if u > start => (u - start).div_ceil(d),
                    _ => 1,
                }
            };
            next_start = start.saturating_add(d.saturating_mul(count));
            Run {
                start,
                duration: d,
                count,
            }
        })
    }

    /// Every segment in order, lazily. `end` as for the runs.
    pub fn segments(&self, end: Option<u64>) -> TimelineSegments<'_> {
        TimelineSegments {
            runs: Box::new(self.runs(end)),
            current: None,
            index: 0,
        }
    }

    /// The last segment and its index (0-based; add `@startNumber` for its number), without
    /// walking the repeats.
    pub fn last(&self, end: Option<u64>) -> Option<(u64, TimelineSegment)> {
        let mut before = 0u64;
        let mut last = None;
        for run in self.runs(end) {
            let k = run.count - 1;
            let time = run.start.checked_add(run.duration.checked_mul(k)?)?;
            last = Some((
                before.saturating_add(k),
                TimelineSegment {
                    time,
                    duration: run.duration,
                },
            ));
            before = before.saturating_add(run.count);
        }
        last
    }
}

/// The iterator of [`SegmentTimeline::segments`]; it stops where a time would overflow.
pub struct TimelineSegments<'a> {
    runs: Box<dyn Iterator<Item = Run> + 'a>,
    current: Option<Run>,
    index: u64,
}

impl Iterator for TimelineSegments<'_> {
    type Item = TimelineSegment;

    fn next(&mut self) -> Option<TimelineSegment> {
        loop {
            if let Some(run) = self.current {
                if self.index < run.count {
                    let time = run
                        .start
                        .checked_add(run.duration.checked_mul(self.index)?)?;
                    self.index += 1;
                    return Some(TimelineSegment {
                        time,
                        duration: run.duration,
                    });
                }
            }
            self.current = Some(self.runs.next()?);
            self.index = 0;
        }
    }
}

/// The values a URL template may name.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateValues<'a> {
    /// `$RepresentationID$`.
    pub representation_id: &'a str,
    /// `$Number$`.
    pub number: Option<u64>,
    /// `$Time$`.
    pub time: Option<u64>,
    /// `$Bandwidth$`.
    pub bandwidth: Option<u64>,
}

/// The widest `%0Nd` accepted: wider formats are refused rather than allocated.
const MAX_WIDTH: usize = 64;

/// A URL template with its identifiers replaced; `None` when it is malformed (an unclosed
/// `$`, an unknown identifier, a format other than `%0Nd`, a width over 64) or names a value
/// `values` lacks.
pub fn expand_template(template: &str, values: &TemplateValues<'_>) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let close = after.find('$')?;
        let identifier = &after[..close];
        rest = &after[close + 1..];
        let (name, format) = match identifier.split_once('%') {
            Some((name, format)) => (name, Some(format)),
            None => (identifier, None),
        };
        let number = match name {
            "" if format.is_none() => {
                out.push('$');
                continue;
            }
            "RepresentationID" if format.is_none() => {
                out.push_str(values.representation_id);
                continue;
            }
            "Number" => values.number?,
            "Time" => values.time?,
            "Bandwidth" => values.bandwidth?,
            _ => return None,
        };
        let width = match format {
            None => 0,
            Some(f) => {
                let digits = f.strip_prefix('0')?.strip_suffix('d')?;
                if digits.is_empty()
                    || digits.len() > 2
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                digits.parse::<usize>().ok().filter(|&w| w <= MAX_WIDTH)?
            }
        };
        let _ = write!(out, "{number:0width$}");
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
#[path = "segment_template_tests.rs"]
mod tests;
