//! The live-video room: what livecache (and `loadgen`) know of playlists. Today that is the
//! model and the parsers of the three documents a live stream publishes: the HLS media
//! playlist with the Low-Latency HLS tags ([`MediaPlaylist`]), the HLS multivariant playlist
//! ([`MultivariantPlaylist`]) and the DASH MPD's live fields ([`Mpd`]), plus the arithmetic
//! the live features decide by (blocking-reload readiness, SegmentTemplate addressing and
//! availability), the delivery directives of a playlist request, and the decisions the edge
//! makes from a rendition's latest playlist (answer, hold or refuse a blocking reload; accept
//! or reject a new version; staleness). The holds themselves run on the owner shard
//! (`shard::holds`).
//!
//! Pure code: no I/O, no clock (times are parameters), no glommio, nothing of ours but
//! `http` may be imported here, so every rule is unit-tested and every parser fuzzed on its
//! own. Parsers take untrusted text and return a [`ParseError`] naming the line; nothing
//! they allocate is sized by a number read from the input.
//!
//! Files: `attributes` (HLS attribute lists and value types), `lines` (the M3U8 line grammar
//! and which kind a playlist is), `segment_tags` and `low_latency` (the tags' models),
//! `media` (the media playlist model), `media_parse` (its parser), `blocking` (blocking
//! reload arithmetic), `directives` (`_HLS_*` in a request target), `cmcd` (what players
//! say in Common Media Client Data), `rendition` (the edge's
//! decisions), `delta` (delta updates made from a full playlist), `prefetch` (what a new
//! version newly lists), `window` (what a new version lets go of), `multivariant`, `mpd`
//! (the MPD model), `mpd_parse` (its parser), `segment_template` (DASH addressing),
//! `dash_schedule` (when a live MPD's segments may be asked for, by request target),
//! `iso8601` (xs:duration and xs:dateTime), `error`.

mod attributes;
mod blocking;
mod cmcd;
mod dash_schedule;
mod delta;
mod directives;
mod error;
mod iso8601;
mod lines;
mod low_latency;
mod media;
mod media_parse;
mod mpd;
mod mpd_parse;
mod multivariant;
mod prefetch;
mod rendition;
mod segment_tags;
mod segment_template;
mod window;

pub use attributes::{AttrError, AttributeList, Resolution};
pub use blocking::{advance_part_limit, PartRef, Readiness};
pub use cmcd::{Cmcd, Value as CmcdValue, MAX_NEXT as MAX_NEXT_OBJECTS};
pub use dash_schedule::{segment_schedules, SegmentSchedule};
pub use delta::delta_update;
pub use directives::{
    blocking_target, is_manifest_path, is_media_path, is_mpd, is_mpd_path, is_playlist_path,
    is_playlist_path_bytes, parse_directives, DirectiveError, Directives, SkipRequest,
};
pub use error::{ErrorKind, ParseError};
pub use iso8601::{parse_date_time, parse_duration};
pub use lines::{playlist_kind, PlaylistKind, UnknownTag};
pub use low_latency::{HintType, Part, PreloadHint, RenditionReport, ServerControl, Skip};
pub use media::{MediaPlaylist, PlaylistType, Segment};
pub use mpd::{AdaptationSet, Mpd, MpdType, Period, Representation, UtcTiming};
pub use multivariant::{
    ContentSteering, IFrameStream, MediaType, MultivariantPlaylist, Rendition, Variant,
};
pub use prefetch::{newly_listed, MediaKind, Wanted};
pub use rendition::{
    check_successor, check_switch, current_for, decide, hold_limit, is_stale, progress, switch_due,
    HoldDecision, Progress, Rejection,
};
pub use segment_tags::{ByteRange, DateRange, Key, Map};
pub use segment_template::{
    expand_template, SegmentTemplate, SegmentTimeline, TemplateValues, TimelineEntry,
    TimelineSegment, TimelineSegments,
};
pub use window::{left_window, named_by};

/// An HLS playlist of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Playlist {
    Media(MediaPlaylist),
    Multivariant(MultivariantPlaylist),
}

impl Playlist {
    /// Parses `text` as the kind [`playlist_kind`] says it is.
    pub fn parse(text: &str) -> Result<Playlist, ParseError> {
        Ok(match playlist_kind(text)? {
            PlaylistKind::Media => Playlist::Media(MediaPlaylist::parse(text)?),
            PlaylistKind::Multivariant => {
                Playlist::Multivariant(MultivariantPlaylist::parse(text)?)
            }
        })
    }

    /// Parses bytes, which must be UTF-8.
    pub fn from_bytes(bytes: &[u8]) -> Result<Playlist, ParseError> {
        Playlist::parse(lines::utf8(bytes)?)
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
#[path = "media_tests.rs"]
mod media_tests;
