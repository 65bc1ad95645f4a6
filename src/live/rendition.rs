//! What the edge decides from a rendition's latest playlist (LIVE.md F1, F9): how a blocking
//! reload is answered (now, held, or 400 because it is too far ahead of a playlist known to
//! be current), whether a new upstream version may replace the one being served, whether a
//! version advanced the stream, and when a stream that stopped advancing counts as stale.
//!
//! Pure: ages and durations are parameters, so every rule is unit-tested at fixed values. The
//! hold itself, the long-poll and the clock belong to the shard.

use std::time::Duration;

use super::blocking::Readiness;
use super::media::MediaPlaylist;

/// How a blocking reload is answered from the latest playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldDecision {
    /// Answer with the latest playlist now (it has the part, or it ended).
    Answer,
    /// Wait for a later version.
    Hold,
    /// 400: further ahead than the spec allows of a playlist known to be current.
    TooFar,
}

/// Decides a blocking reload for `msn` (and `part`) against `playlist`, which is `age` old.
/// "Too far" is only trusted of a current playlist: one no older than a part target (half a
/// target duration without parts), or one a long-poll is refreshing right now; on older
/// knowledge the edge may be behind the origin, so it holds instead.
pub fn decide(
    playlist: &MediaPlaylist,
    msn: u64,
    part: Option<u64>,
    age: Duration,
    polling: bool,
) -> HoldDecision {
    match playlist.readiness(msn, part) {
        Readiness::Ended | Readiness::Satisfied => HoldDecision::Answer,
        Readiness::Pending => HoldDecision::Hold,
        Readiness::TooFar if polling || age <= current_for(playlist) => HoldDecision::TooFar,
        Readiness::TooFar => HoldDecision::Hold,
    }
}

/// How long a version counts as current: a part target, or half a target duration.
pub fn current_for(playlist: &MediaPlaylist) -> Duration {
    playlist.part_target.unwrap_or(playlist.target_duration / 2)
}

/// How long a held request may wait: three target durations (RFC 8216bis 6.2.5.2), at least
/// a second and at most `max` (the operator's cap: a request is not kept waiting for minutes
/// on the word of one playlist).
pub fn hold_limit(playlist: &MediaPlaylist, max: Duration) -> Duration {
    playlist
        .target_duration
        .saturating_mul(3)
        .min(max)
        .max(Duration::from_secs(1))
}

/// Why a new upstream version is refused (F9); the last good one keeps being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Its media sequence, or its newest segment or part, is behind the served version.
    SequenceBackwards = 0,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` decreased.
    DiscontinuityBackwards = 1,
    /// A media sequence number already seen now names another URI or byte range.
    UriChanged = 2,
    /// `EXT-X-TARGETDURATION` changed.
    TargetDurationChanged = 3,
    /// `EXT-X-PLAYLIST-TYPE` appeared or changed on a live playlist.
    TypeChanged = 4,
}

impl Rejection {
    pub const ALL: [Rejection; 5] = [
        Rejection::SequenceBackwards,
        Rejection::DiscontinuityBackwards,
        Rejection::UriChanged,
        Rejection::TargetDurationChanged,
        Rejection::TypeChanged,
    ];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::SequenceBackwards => "sequence_backwards",
            Rejection::DiscontinuityBackwards => "discontinuity_backwards",
            Rejection::UriChanged => "uri_changed",
            Rejection::TargetDurationChanged => "target_duration_changed",
            Rejection::TypeChanged => "playlist_type_changed",
        }
    }
}

/// Whether `next` may replace `served` (RFC 8216bis 6.2.2: sequence numbers never decrease,
/// a media sequence number keeps its URI, the target duration never changes).
pub fn check_successor(served: &MediaPlaylist, next: &MediaPlaylist) -> Result<(), Rejection> {
    check(served, next, true)
}

/// Whether `next`, the first version from another packager that numbers and names its
/// segments its own way (LIVE.md F9, independent mode), may replace `served`: as a successor,
/// except that a media sequence number may name another URI (and the sequence may jump
/// forward). No viewer goes backwards: its media sequence and newest segment are no lower.
pub fn check_switch(served: &MediaPlaylist, next: &MediaPlaylist) -> Result<(), Rejection> {
    check(served, next, false)
}

fn check(served: &MediaPlaylist, next: &MediaPlaylist, same_uris: bool) -> Result<(), Rejection> {
    if next.media_sequence < served.media_sequence || behind(served, next) {
        return Err(Rejection::SequenceBackwards);
    }
    if next.discontinuity_sequence < served.discontinuity_sequence {
        return Err(Rejection::DiscontinuityBackwards);
    }
    if next.target_duration != served.target_duration {
        return Err(Rejection::TargetDurationChanged);
    }
    if next.playlist_type != served.playlist_type && served.is_live() {
        return Err(Rejection::TypeChanged);
    }
    let changed = same_uris
        && next.segments.iter().any(|s| {
            served
                .segment(s.msn)
                .is_some_and(|old| old.uri != s.uri || old.byte_range != s.byte_range)
        });
    if changed {
        return Err(Rejection::UriChanged);
    }
    Ok(())
}

/// Whether `next` lists less than `served` does: an older newest segment, or fewer parts
/// of the same segment in progress (an origin replica behind the one answered before).
fn behind(served: &MediaPlaylist, next: &MediaPlaylist) -> bool {
    if next.next_msn() != served.next_msn() {
        return next.next_msn() < served.next_msn();
    }
    next.trailing_parts.len() < served.trailing_parts.len()
}

/// What a new version added: a segment, a part (or only tags, e.g. ENDLIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub segment: bool,
    pub part: bool,
}

/// What `next` adds over `served`.
pub fn progress(served: &MediaPlaylist, next: &MediaPlaylist) -> Progress {
    let segment = next.next_msn() > served.next_msn();
    let part = match (served.last_part(), next.last_part()) {
        (Some(old), Some(new)) => new > old,
        (None, Some(_)) => true,
        _ => false,
    };
    Progress { segment, part }
}

/// Whether a live playlist whose last segment came `since_segment` ago and last part
/// `since_part` ago has stopped advancing: no new segment for 1.5 target durations (the
/// MUST bound of RFC 8216bis 6.2.1), or, with parts, no new part for three part targets.
pub fn is_stale(playlist: &MediaPlaylist, since_segment: Duration, since_part: Duration) -> bool {
    if !playlist.is_live() {
        return false;
    }
    let segment_limit = playlist.target_duration.saturating_mul(3) / 2;
    let part_limit = playlist.part_target.map(|p| p.saturating_mul(3));
    since_segment > segment_limit || part_limit.is_some_and(|limit| since_part > limit)
}

/// Whether a live playlist that last advanced (a segment or a part) `since_progress` ago has
/// been stale long enough to move to a packager with its own timeline (LIVE.md F9,
/// independent mode): three target durations, twice the staleness bound, as a switch costs
/// its viewers a jump in the timeline.
pub fn switch_due(playlist: &MediaPlaylist, since_progress: Duration) -> bool {
    playlist.is_live() && since_progress > playlist.target_duration.saturating_mul(3)
}

#[cfg(test)]
#[path = "rendition_tests.rs"]
mod tests;
