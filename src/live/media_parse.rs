//! The HLS media playlist parser: text in, [`MediaPlaylist`] or a [`ParseError`] naming the
//! line out. It owns the order rules: which tags apply to the next segment (`EXTINF`,
//! `EXT-X-BYTERANGE`, `EXT-X-DISCONTINUITY`, `EXT-X-GAP`, `EXT-X-PROGRAM-DATE-TIME`, the
//! parts), which to every later one (`EXT-X-MAP`, `EXT-X-KEY`), which may appear only once
//! or only before the first segment, and what is kept without being read.
//!
//! Strict where a cache's decisions depend on it: no `#EXTM3U`, no target duration, a URI
//! with no `EXTINF` before it (or an `EXTINF` never followed by one), a malformed number or
//! attribute list in a tag it reads, a required attribute missing, a playlist-wide tag
//! twice, a sequence tag after the first segment, or a multivariant tag are errors. Unknown
//! tags, comments and preload hints of unknown type are not. Memory is bounded by the
//! input: `EXT-X-MAP` and `EXT-X-KEY` are shared by the segments they apply to, and no
//! number read from the text sizes an allocation.

use std::sync::Arc;
use std::time::Duration;

use super::attributes::{decimal_integer, decimal_seconds, split_at_byte};
use super::error::{ErrorKind, ParseError};
use super::lines::{lines, tag_kind, utf8, Line, PlaylistKind, UnknownTag};
use super::low_latency::{self as ll, Part};
use super::media::{MediaPlaylist, PlaylistType, Segment};
use super::segment_tags::{self as tags, ByteRange, Key};

impl MediaPlaylist {
    /// Parses a media playlist.
    pub fn parse(text: &str) -> Result<MediaPlaylist, ParseError> {
        let mut b = Builder::default();
        let mut last_line = 1;
        for (n, line) in lines(text)? {
            last_line = n;
            b.line(n, line).map_err(|kind| ParseError::new(n, kind))?;
        }
        b.finish(last_line)
    }

    /// Parses a media playlist from bytes, which must be UTF-8.
    pub fn from_bytes(bytes: &[u8]) -> Result<MediaPlaylist, ParseError> {
        MediaPlaylist::parse(utf8(bytes)?)
    }
}

/// The tags seen so far that apply to the next segment.
#[derive(Default)]
struct Pending {
    /// `EXTINF`: duration, title and line.
    extinf: Option<(Duration, String, usize)>,
    byte_range: Option<ByteRange>,
    discontinuity: bool,
    gap: bool,
    program_date_time: Option<String>,
    parts: Vec<Part>,
}

#[derive(Default)]
struct Builder {
    pl: MediaPlaylist,
    target_duration: Option<Duration>,
    /// Playlist-wide tags seen (each may appear once); a handful at most.
    once: Vec<&'static str>,
    pending: Pending,
    key: Option<Arc<Key>>,
}

fn bad(tag: &'static str, what: &'static str) -> ErrorKind {
    ErrorKind::BadValue { tag, what }
}

impl Builder {
    fn line(&mut self, n: usize, line: Line<'_>) -> Result<(), ErrorKind> {
        match line {
            Line::Uri(uri) => self.segment(n, uri),
            Line::Tag { name, value } => self.tag(n, name, value),
        }
    }

    fn tag(&mut self, n: usize, name: &str, value: &str) -> Result<(), ErrorKind> {
        if let Some((PlaylistKind::Multivariant, tag)) = tag_kind(name) {
            return Err(ErrorKind::MultivariantTag(tag));
        }
        if self.pending.extinf.is_some()
            && matches!(
                name,
                "EXTINF"
                    | "EXT-X-PART"
                    | "EXT-X-ENDLIST"
                    | "EXT-X-PRELOAD-HINT"
                    | "EXT-X-RENDITION-REPORT"
            )
        {
            // Tags that may sit between EXTINF and its URI are the segment's own; these may not.
            return Err(ErrorKind::TagWithoutUri("EXTINF"));
        }
        match name {
            "EXT-X-VERSION" => {
                self.once("EXT-X-VERSION")?;
                self.pl.version =
                    Some(decimal_integer(value).ok_or(bad("EXT-X-VERSION", "a decimal-integer"))?);
            }
            "EXT-X-TARGETDURATION" => {
                self.once("EXT-X-TARGETDURATION")?;
                let secs = decimal_integer(value)
                    .ok_or(bad("EXT-X-TARGETDURATION", "a decimal-integer"))?;
                self.target_duration = Some(Duration::from_secs(secs));
            }
            "EXT-X-MEDIA-SEQUENCE" => {
                self.before_segments("EXT-X-MEDIA-SEQUENCE")?;
                self.pl.media_sequence = decimal_integer(value)
                    .ok_or(bad("EXT-X-MEDIA-SEQUENCE", "a decimal-integer"))?;
            }
            "EXT-X-DISCONTINUITY-SEQUENCE" => {
                self.before_segments("EXT-X-DISCONTINUITY-SEQUENCE")?;
                self.pl.discontinuity_sequence = decimal_integer(value)
                    .ok_or(bad("EXT-X-DISCONTINUITY-SEQUENCE", "a decimal-integer"))?;
            }
            "EXT-X-PLAYLIST-TYPE" => {
                self.once("EXT-X-PLAYLIST-TYPE")?;
                self.pl.playlist_type = Some(match value {
                    "EVENT" => PlaylistType::Event,
                    "VOD" => PlaylistType::Vod,
                    _ => return Err(bad("EXT-X-PLAYLIST-TYPE", "EVENT or VOD")),
                });
            }
            "EXT-X-INDEPENDENT-SEGMENTS" => {
                self.once("EXT-X-INDEPENDENT-SEGMENTS")?;
                self.pl.independent_segments = true;
            }
            "EXT-X-I-FRAMES-ONLY" => {
                self.once("EXT-X-I-FRAMES-ONLY")?;
                self.pl.i_frames_only = true;
            }
            "EXT-X-ENDLIST" => self.pl.ended = true,
            "EXT-X-SERVER-CONTROL" => {
                self.once("EXT-X-SERVER-CONTROL")?;
                self.pl.server_control = ll::server_control(value)?;
            }
            "EXT-X-PART-INF" => {
                self.once("EXT-X-PART-INF")?;
                self.pl.part_target = Some(ll::part_target(value)?);
            }
            "EXT-X-SKIP" => {
                self.before_segments("EXT-X-SKIP")?;
                self.pl.skip = Some(ll::skip(value)?);
            }
            "EXTINF" => {
                let (secs, title) = split_at_byte(value, b',').unwrap_or((value, ""));
                let duration = decimal_seconds(secs)
                    .ok_or(bad("EXTINF", "a decimal-floating-point duration"))?;
                self.pending.extinf = Some((duration, title.to_string(), n));
            }
            "EXT-X-BYTERANGE" => self.pending.byte_range = Some(tags::byte_range(value)?),
            "EXT-X-DISCONTINUITY" => self.pending.discontinuity = true,
            "EXT-X-GAP" => self.pending.gap = true,
            "EXT-X-PROGRAM-DATE-TIME" => self.pending.program_date_time = Some(value.to_string()),
            "EXT-X-MAP" => self.pl.current_map = Some(Arc::new(tags::map(value)?)),
            "EXT-X-KEY" => self.key = tags::key(value)?.map(Arc::new),
            "EXT-X-PART" => self.pending.parts.push(ll::part(value)?),
            "EXT-X-PRELOAD-HINT" => self.pl.preload_hints.extend(ll::preload_hint(value)?),
            "EXT-X-RENDITION-REPORT" => {
                self.pl.rendition_reports.push(ll::rendition_report(value)?)
            }
            "EXT-X-DATERANGE" => {
                let msn = self.next_msn()?;
                self.pl.date_ranges.push(tags::date_range(value, msn, n)?);
            }
            _ => self.pl.unknown_tags.push(UnknownTag::new(n, name, value)),
        }
        Ok(())
    }

    /// A tag that may appear once.
    fn once(&mut self, tag: &'static str) -> Result<(), ErrorKind> {
        if self.once.contains(&tag) {
            return Err(ErrorKind::Duplicate(tag));
        }
        self.once.push(tag);
        Ok(())
    }

    /// A tag that may appear once, before the first segment and its parts.
    fn before_segments(&mut self, tag: &'static str) -> Result<(), ErrorKind> {
        let p = &self.pending;
        if !self.pl.segments.is_empty() || p.extinf.is_some() || !p.parts.is_empty() {
            return Err(ErrorKind::OutOfPlace {
                tag,
                why: "after the first segment",
            });
        }
        self.once(tag)
    }

    /// The media sequence number the next segment will get.
    fn next_msn(&self) -> Result<u64, ErrorKind> {
        let listed = u64::try_from(self.pl.segments.len()).unwrap_or(u64::MAX);
        let skipped = self.pl.skip.as_ref().map_or(0, |s| s.skipped_segments);
        self.pl
            .media_sequence
            .checked_add(skipped)
            .and_then(|m| m.checked_add(listed))
            .ok_or(bad(
                "EXT-X-MEDIA-SEQUENCE",
                "a number that leaves room for the playlist's segments",
            ))
    }

    fn segment(&mut self, n: usize, uri: &str) -> Result<(), ErrorKind> {
        let (duration, title, _) = self
            .pending
            .extinf
            .take()
            .ok_or(ErrorKind::UriWithoutTag("EXTINF"))?;
        let msn = self.next_msn()?;
        let p = std::mem::take(&mut self.pending);
        self.pl.segments.push(Segment {
            msn,
            duration,
            title,
            uri: uri.to_string(),
            byte_range: p.byte_range,
            discontinuity: p.discontinuity,
            gap: p.gap,
            program_date_time: p.program_date_time,
            map: self.pl.current_map.clone(),
            key: self.key.clone(),
            parts: p.parts,
            line: n,
        });
        Ok(())
    }

    fn finish(mut self, last_line: usize) -> Result<MediaPlaylist, ParseError> {
        if let Some((_, _, line)) = self.pending.extinf {
            return Err(ParseError::new(line, ErrorKind::TagWithoutUri("EXTINF")));
        }
        self.pl.target_duration = self.target_duration.ok_or(ParseError::new(
            last_line,
            ErrorKind::MissingTag("EXT-X-TARGETDURATION"),
        ))?;
        self.pl.trailing_parts = self.pending.parts;
        Ok(self.pl)
    }
}

#[cfg(test)]
mod tests {
    use crate::live::MediaPlaylist;

    #[test]
    fn strict_errors_name_the_line() {
        let td = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n";
        let bad = [
            (
                "#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n".to_string(),
                "line 1: playlist does not start with #EXTM3U",
            ),
            (
                "#EXTM3U\n#EXTINF:2,\na.ts\n".into(),
                "line 3: no EXT-X-TARGETDURATION",
            ),
            (format!("{td}a.ts\n"), "line 3: URI without EXTINF"),
            (format!("{td}#EXTINF:2,\n"), "line 3: EXTINF without a URI"),
            (
                format!("{td}#EXTINF:2,\n#EXTINF:2,\na.ts\n"),
                "line 4: EXTINF without a URI",
            ),
            (
                format!("{td}#EXTINF:2,\n#EXT-X-PART:DURATION=1,URI=\"p\"\na.ts\n"),
                "line 4: EXTINF without a URI",
            ),
            (
                format!("{td}#EXTINF:x,\na.ts\n"),
                "line 3: bad EXTINF: not a decimal-floating-point duration",
            ),
            (format!("{td}#EXTINF:-1,\na.ts\n"), "bad EXTINF"),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n".into(),
                "line 2: bad EXT-X-TARGETDURATION: not a decimal-integer",
            ),
            (
                format!("{td}#EXT-X-TARGETDURATION:2\n"),
                "line 3: EXT-X-TARGETDURATION appears twice",
            ),
            (
                format!("{td}#EXT-X-VERSION:3\n#EXT-X-VERSION:3\n"),
                "line 4: EXT-X-VERSION appears twice",
            ),
            (
                format!("{td}#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:3\n"),
                "line 5: EXT-X-MEDIA-SEQUENCE after the first segment",
            ),
            (
                format!("{td}#EXT-X-PART:DURATION=1,URI=\"p\"\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n"),
                "line 4: EXT-X-DISCONTINUITY-SEQUENCE after the first segment",
            ),
            (
                format!("{td}#EXT-X-MEDIA-SEQUENCE:x\n"),
                "line 3: bad EXT-X-MEDIA-SEQUENCE",
            ),
            (
                format!("{td}#EXT-X-PLAYLIST-TYPE:LIVE\n"),
                "line 3: bad EXT-X-PLAYLIST-TYPE: not EVENT or VOD",
            ),
            (
                format!("{td}#EXT-X-PART:DURATION=0.5\n"),
                "line 3: EXT-X-PART without URI",
            ),
            (
                format!("{td}#EXT-X-PART:URI=\"a\"\n"),
                "EXT-X-PART without DURATION",
            ),
            (
                format!("{td}#EXT-X-PART:DURATION=0.5,URI=\"a\n"),
                "line 3: EXT-X-PART: malformed attribute list",
            ),
            (
                format!("{td}#EXT-X-PART:DURATION=0.5,URI=\"a\",URI=\"b\"\n"),
                "attribute URI appears twice",
            ),
            (
                format!("{td}#EXT-X-PRELOAD-HINT:URI=\"a\"\n"),
                "EXT-X-PRELOAD-HINT without TYPE",
            ),
            (
                format!("{td}#EXT-X-KEY:URI=\"k\"\n"),
                "line 3: EXT-X-KEY without METHOD",
            ),
            (
                format!("{td}#EXT-X-MAP:BYTERANGE=\"1@0\"\n"),
                "EXT-X-MAP without URI",
            ),
            (
                format!("{td}#EXT-X-BYTERANGE:1@\n"),
                "line 3: bad EXT-X-BYTERANGE",
            ),
            (
                format!("{td}#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=yes\n"),
                "attribute CAN-BLOCK-RELOAD is not YES or NO",
            ),
            (
                format!("{td}#EXT-X-RENDITION-REPORT:URI=\"r\",LAST-MSN=-1\n"),
                "attribute LAST-MSN is not a decimal-integer",
            ),
            (
                format!("{td}#EXT-X-DATERANGE:START-DATE=\"2014-03-05T11:15:00Z\"\n"),
                "EXT-X-DATERANGE without ID",
            ),
            (
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nr1/index.m3u8\n".into(),
                "line 2: EXT-X-STREAM-INF: a multivariant playlist, not a media playlist",
            ),
            (
                format!(
                    "{td}#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXTINF:2,\na\n#EXTINF:2,\nb\n"
                ),
                "line 7: bad EXT-X-MEDIA-SEQUENCE",
            ),
        ];
        for (text, want) in bad {
            let e = MediaPlaylist::parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
