//! The model of an HLS media playlist: one rendition's segments (each with its media
//! sequence number, duration, URI, byte range, discontinuity and gap flags, program date,
//! initialization section, key and parts), the parts of the segment still being produced,
//! the preload hints, rendition reports and date ranges, and the playlist-wide tags
//! (target duration, sequence numbers, type, `ENDLIST`, server control). Read-only lookups
//! by media sequence number live here; parsing is in `media_parse`, the blocking-reload
//! arithmetic in `blocking`.
//!
//! Media sequence numbers: the first listed segment has `EXT-X-MEDIA-SEQUENCE` (0 when
//! absent) plus the segments an `EXT-X-SKIP` left out of a delta update; each next one adds
//! one. Parts listed before a segment's `EXTINF` belong to it; parts after the last
//! segment belong to the segment in progress, whose number is [`MediaPlaylist::next_msn`].

use std::sync::Arc;
use std::time::Duration;

use super::lines::UnknownTag;
use super::low_latency::{HintType, Part, PreloadHint, RenditionReport, ServerControl, Skip};
use super::segment_tags::{ByteRange, DateRange, Key, Map};

/// A parsed media playlist. (`Default` is an empty playlist with a zero target duration, for
/// building one by hand.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaPlaylist {
    /// `EXT-X-VERSION`.
    pub version: Option<u64>,
    /// `EXT-X-TARGETDURATION` (required).
    pub target_duration: Duration,
    /// `EXT-X-MEDIA-SEQUENCE` (0 when absent).
    pub media_sequence: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` (0 when absent).
    pub discontinuity_sequence: u64,
    /// `EXT-X-PLAYLIST-TYPE`.
    pub playlist_type: Option<PlaylistType>,
    /// `EXT-X-INDEPENDENT-SEGMENTS`.
    pub independent_segments: bool,
    /// `EXT-X-I-FRAMES-ONLY`.
    pub i_frames_only: bool,
    /// `EXT-X-ENDLIST` seen: no more segments will come.
    pub ended: bool,
    /// `EXT-X-SERVER-CONTROL` (all absent without the tag).
    pub server_control: ServerControl,
    /// `EXT-X-PART-INF:PART-TARGET`.
    pub part_target: Option<Duration>,
    /// `EXT-X-SKIP`: this is a delta update.
    pub skip: Option<Skip>,
    /// Complete segments in order.
    pub segments: Vec<Segment>,
    /// Parts of the segment in progress ([`MediaPlaylist::next_msn`]).
    pub trailing_parts: Vec<Part>,
    /// `EXT-X-PRELOAD-HINT`s (a PART and a MAP at most, by the spec).
    pub preload_hints: Vec<PreloadHint>,
    /// `EXT-X-RENDITION-REPORT`s.
    pub rendition_reports: Vec<RenditionReport>,
    /// `EXT-X-DATERANGE`s in order.
    pub date_ranges: Vec<DateRange>,
    /// The `EXT-X-MAP` in effect after the last segment (for the parts in progress).
    pub current_map: Option<Arc<Map>>,
    /// Tags the parser does not read, kept as written.
    pub unknown_tags: Vec<UnknownTag>,
}

/// `EXT-X-PLAYLIST-TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistType {
    /// Segments are only ever appended.
    Event,
    /// The playlist never changes.
    Vod,
}

/// A complete media segment and the tags that apply to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Media sequence number.
    pub msn: u64,
    /// `EXTINF` duration.
    pub duration: Duration,
    /// `EXTINF` title (often empty).
    pub title: String,
    /// The URI line as written.
    pub uri: String,
    /// `EXT-X-BYTERANGE`.
    pub byte_range: Option<ByteRange>,
    /// `EXT-X-DISCONTINUITY` before it.
    pub discontinuity: bool,
    /// `EXT-X-GAP`: not available.
    pub gap: bool,
    /// `EXT-X-PROGRAM-DATE-TIME` before it, as written.
    pub program_date_time: Option<String>,
    /// The `EXT-X-MAP` in effect (shared by every segment it applies to).
    pub map: Option<Arc<Map>>,
    /// The `EXT-X-KEY` in effect, unless `METHOD=NONE`.
    pub key: Option<Arc<Key>>,
    /// Its parts (`EXT-X-PART` lines before its `EXTINF`), possibly none.
    pub parts: Vec<Part>,
    /// The 1-based line of its URI.
    pub line: usize,
}

impl MediaPlaylist {
    /// The media sequence number of the first listed segment (after any skipped ones).
    pub fn first_msn(&self) -> u64 {
        let skipped = self.skip.as_ref().map_or(0, |s| s.skipped_segments);
        self.media_sequence.saturating_add(skipped)
    }

    /// The media sequence number of the newest complete segment, if any is listed.
    pub fn last_msn(&self) -> Option<u64> {
        self.segments.last().map(|s| s.msn)
    }

    /// The number the next complete segment will have: the segment in progress.
    pub fn next_msn(&self) -> u64 {
        self.last_msn()
            .map_or(self.first_msn(), |m| m.saturating_add(1))
    }

    /// The complete segment `msn`, if listed.
    pub fn segment(&self, msn: u64) -> Option<&Segment> {
        let i = msn.checked_sub(self.first_msn())?;
        self.segments.get(usize::try_from(i).ok()?)
    }

    /// Every listed part, oldest first: those of the complete segments, then those in
    /// progress.
    pub fn all_parts(&self) -> impl Iterator<Item = &Part> {
        self.segments
            .iter()
            .flat_map(|s| s.parts.iter())
            .chain(self.trailing_parts.iter())
    }

    /// The listed parts of segment `msn` (complete or in progress); empty when none are.
    pub fn parts(&self, msn: u64) -> &[Part] {
        if msn == self.next_msn() {
            &self.trailing_parts
        } else {
            self.segment(msn).map_or(&[], |s| &s.parts[..])
        }
    }

    /// The media the complete segments cover (parts in progress not included); saturates
    /// rather than overflow on absurd `EXTINF` values.
    pub fn duration(&self) -> Duration {
        self.segments
            .iter()
            .fold(Duration::ZERO, |sum, s| sum.saturating_add(s.duration))
    }

    /// The preload hint of `kind`, if any.
    pub fn hint(&self, kind: HintType) -> Option<&PreloadHint> {
        self.preload_hints.iter().find(|h| h.kind == kind)
    }

    /// Whether the playlist can still change: no `EXT-X-ENDLIST` and not `VOD`.
    pub fn is_live(&self) -> bool {
        !self.ended && self.playlist_type != Some(PlaylistType::Vod)
    }

    /// The `EXT-X-MAP`s the segments and the parts in progress use, oldest first, once per
    /// tag (a run of segments under one tag gives one entry; a tag repeated later with the
    /// same URI gives another).
    pub fn maps(&self) -> Vec<&Map> {
        let mut maps: Vec<&Arc<Map>> = Vec::new();
        let all = self.segments.iter().filter_map(|s| s.map.as_ref());
        for map in all.chain(self.current_map.as_ref()) {
            if !maps.last().is_some_and(|m| Arc::ptr_eq(m, map)) {
                maps.push(map);
            }
        }
        maps.into_iter().map(|m| &**m).collect()
    }
}
