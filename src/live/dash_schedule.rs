//! When the segments of a live DASH presentation appear, in the terms an edge sees them: a
//! request target (LIVE.md F12). Each representation of a dynamic MPD whose effective
//! `SegmentTemplate` is number-based (`$Number$` with `@duration`) becomes one
//! [`SegmentSchedule`]: the target of its segments before and after the number, resolved
//! against the MPD's URL and the `BaseURL`s of every level, and the arithmetic of
//! `segment_template` that says when number `n` can be requested (availabilityStartTime +
//! period start + the segment's end − availabilityTimeOffset). `$Time$` templates and
//! timelines are not scheduled: the edge then forwards their requests as any other.
//!
//! The edge holds a request that comes a little early instead of letting the origin answer
//! 404, and bounds the silence it accepts inside a chunked segment by the chunk duration
//! (availability offset of a chunked segment = its duration − one chunk's). Pure: times are
//! parameters.

use std::time::{Duration, SystemTime};

use url::{Position, Url};

use super::mpd::Mpd;
use super::segment_template::{expand_template, SegmentTemplate, TemplateValues};

/// A number put into templates to find where numbers go in the resolved target: long
/// enough that no template or path text repeats it by chance.
const MARKER: u64 = 9_071_530_466_172_883;

/// The shortest between-bytes silence tolerated inside a live DASH segment.
const MIN_GAP: Duration = Duration::from_secs(2);

/// Where and when one representation's numbered segments appear.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSchedule {
    /// Request target (path and query) before the segment number.
    prefix: String,
    /// Request target after the segment number.
    suffix: String,
    availability_start: SystemTime,
    period_start: Duration,
    /// The effective template: number-based, with `@duration`.
    template: SegmentTemplate,
}

impl SegmentSchedule {
    /// A target of this representation's segments, with `number` in it (used to find the
    /// stream, and so the shard, the segments belong to).
    pub fn target_of(&self, number: u64) -> String {
        format!("{}{number}{}", self.prefix, self.suffix)
    }

    /// The segment number `target` names, if it is one of this representation's segments.
    pub fn number_of(&self, target: &[u8]) -> Option<u64> {
        let digits = target
            .strip_prefix(self.prefix.as_bytes())?
            .strip_suffix(self.suffix.as_bytes())?;
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// When segment `number` can first be requested.
    pub fn available_at(&self, number: u64) -> Option<SystemTime> {
        self.template
            .number_available_at(self.availability_start, self.period_start, number)
    }

    /// The duration of one chunk of a segment delivered as it is produced: the segment's
    /// duration less its availability offset (`None` when the segment is requested whole or
    /// the offset says nothing of chunks).
    pub fn chunk_duration(&self) -> Option<Duration> {
        let segment = self.template.segment_duration()?;
        let offset = self.template.availability_time_offset?;
        if !offset.is_finite() || offset <= 0.0 {
            return None;
        }
        let offset = Duration::try_from_secs_f64(offset).ok()?;
        segment.checked_sub(offset).filter(|c| !c.is_zero())
    }

    /// The longest silence accepted between two bytes of a segment delivered in chunks: two
    /// chunk durations, at least two seconds (LIVE.md F12); a longer gap is a failed origin.
    /// `None` for a segment requested whole (the configured limit applies).
    pub fn gap_limit(&self) -> Option<Duration> {
        self.chunk_duration()
            .map(|chunk| chunk.saturating_mul(2).max(MIN_GAP))
    }
}

/// The schedules of `mpd`, fetched from `host` at `target` (at most `max` of them): none
/// for a static MPD or one without `availabilityStartTime`, and none for a representation
/// whose segments are on another host or not number-addressed.
pub fn segment_schedules(mpd: &Mpd, host: &str, target: &str, max: usize) -> Vec<SegmentSchedule> {
    let mut schedules = Vec::new();
    let (true, Some(availability_start)) = (mpd.is_dynamic(), mpd.availability_start_time) else {
        return schedules;
    };
    let Ok(document) = Url::parse(&format!("http://{host}{target}")) else {
        return schedules;
    };
    for (period, set, representation) in mpd.representations() {
        if schedules.len() >= max {
            break;
        }
        let Some(template) = representation.segment_template(set, period) else {
            continue;
        };
        if template.duration.is_none_or(|d| d == 0) || template.timeline.is_some() {
            continue;
        }
        let bases = [
            &mpd.base_url,
            &period.base_url,
            &set.base_url,
            &representation.base_url,
        ];
        let Some(base) = bases
            .iter()
            .filter_map(|b| b.as_deref())
            .try_fold(document.clone(), |url, reference| url.join(reference).ok())
        else {
            continue;
        };
        let values = TemplateValues {
            representation_id: &representation.id,
            number: Some(MARKER),
            time: None,
            bandwidth: Some(representation.bandwidth),
        };
        let Some(media) = template
            .media
            .as_deref()
            .and_then(|media| expand_template(media, &values))
        else {
            continue;
        };
        let Some((prefix, suffix)) = split_at_marker(&base, &media, &document) else {
            continue;
        };
        schedules.push(SegmentSchedule {
            prefix,
            suffix,
            availability_start,
            period_start: period.start.unwrap_or_default(),
            template,
        });
    }
    schedules
}

/// The resolved target of `media` (a template expanded with the marker) split around the
/// marker; `None` off the MPD's host, or when the marker is not there exactly once.
fn split_at_marker(base: &Url, media: &str, document: &Url) -> Option<(String, String)> {
    let resolved = base.join(media).ok()?;
    let same_host = resolved.host_str() == document.host_str()
        && resolved.port_or_known_default() == document.port_or_known_default();
    if !same_host {
        return None;
    }
    let target = &resolved[Position::BeforePath..Position::AfterQuery];
    let marker = MARKER.to_string();
    let at = target.find(&marker)?;
    let (prefix, rest) = target.split_at(at);
    let suffix = &rest[marker.len()..];
    (!suffix.contains(&marker)).then(|| (prefix.to_owned(), suffix.to_owned()))
}

#[cfg(test)]
#[path = "dash_schedule_tests.rs"]
mod tests;
