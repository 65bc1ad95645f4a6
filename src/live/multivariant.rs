//! The HLS multivariant playlist (RFC 8216bis §4.4.6): its model and parser. A cache reads it
//! to learn a presentation's renditions (the variant streams with their URIs and bandwidths,
//! the alternative renditions of `EXT-X-MEDIA`, the I-frame playlists) and its content
//! steering server. `EXT-X-SESSION-DATA`, `EXT-X-SESSION-KEY`, `EXT-X-DEFINE`, `EXT-X-START`
//! and unknown tags are kept unread.
//!
//! Strict as the media parser is: no `#EXTM3U`, a URI line not preceded by
//! `EXT-X-STREAM-INF` (or a `EXT-X-STREAM-INF` with none after it), a malformed attribute, a
//! missing required one (`BANDWIDTH`, `TYPE`, `GROUP-ID`, `NAME`, `SERVER-URI`), or a media
//! playlist tag are errors.

use super::attributes::{decimal_integer, AttributeList, Resolution};
use super::error::{ErrorKind, ParseError};
use super::lines::{lines, tag_kind, utf8, Line, PlaylistKind, TagAttributes, UnknownTag};

/// A parsed multivariant playlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MultivariantPlaylist {
    /// `EXT-X-VERSION`.
    pub version: Option<u64>,
    /// `EXT-X-INDEPENDENT-SEGMENTS`.
    pub independent_segments: bool,
    /// `EXT-X-STREAM-INF` and their URI lines, in order.
    pub variants: Vec<Variant>,
    /// `EXT-X-MEDIA`, in order.
    pub renditions: Vec<Rendition>,
    /// `EXT-X-I-FRAME-STREAM-INF`, in order.
    pub i_frame_streams: Vec<IFrameStream>,
    /// `EXT-X-CONTENT-STEERING`.
    pub content_steering: Option<ContentSteering>,
    /// Tags the parser does not read, kept as written.
    pub unknown_tags: Vec<UnknownTag>,
}

/// An `EXT-X-STREAM-INF` and the media playlist URI on the line after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `BANDWIDTH`: peak bits per second.
    pub bandwidth: u64,
    /// `AVERAGE-BANDWIDTH`.
    pub average_bandwidth: Option<u64>,
    /// `CODECS`.
    pub codecs: Option<String>,
    /// `RESOLUTION`.
    pub resolution: Option<Resolution>,
    /// `FRAME-RATE`.
    pub frame_rate: Option<f64>,
    /// `AUDIO`: the GROUP-ID of its audio renditions.
    pub audio: Option<String>,
    /// `VIDEO`: the GROUP-ID of its video renditions.
    pub video: Option<String>,
    /// `SUBTITLES`: the GROUP-ID of its subtitle renditions.
    pub subtitles: Option<String>,
    /// `PATHWAY-ID` (content steering).
    pub pathway_id: Option<String>,
    /// The URI line as written.
    pub uri: String,
    /// The 1-based line of the `EXT-X-STREAM-INF`.
    pub line: usize,
}

/// `EXT-X-MEDIA` `TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Audio,
    Video,
    Subtitles,
    ClosedCaptions,
}

/// An `EXT-X-MEDIA`: an alternative rendition in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// `TYPE`.
    pub kind: MediaType,
    /// `GROUP-ID`.
    pub group_id: String,
    /// `NAME`.
    pub name: String,
    /// `URI` of its media playlist (absent: it is carried in the variant's own segments).
    pub uri: Option<String>,
    /// `DEFAULT=YES`.
    pub default: bool,
    /// `AUTOSELECT=YES`.
    pub autoselect: bool,
    /// `LANGUAGE`.
    pub language: Option<String>,
}

/// An `EXT-X-I-FRAME-STREAM-INF`: a playlist of I-frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IFrameStream {
    /// `BANDWIDTH`.
    pub bandwidth: u64,
    /// `URI`.
    pub uri: String,
    /// `CODECS`.
    pub codecs: Option<String>,
    /// `RESOLUTION`.
    pub resolution: Option<Resolution>,
}

/// `EXT-X-CONTENT-STEERING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentSteering {
    /// `SERVER-URI`: the steering manifest.
    pub server_uri: String,
    /// `PATHWAY-ID`: the pathway to start with.
    pub pathway_id: Option<String>,
}

fn text(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

impl MultivariantPlaylist {
    /// Parses a multivariant playlist.
    pub fn parse(text: &str) -> Result<MultivariantPlaylist, ParseError> {
        let mut pl = MultivariantPlaylist::default();
        // An EXT-X-STREAM-INF waiting for its URI line.
        let mut pending: Option<Variant> = None;
        let mut once: Vec<&'static str> = Vec::new();
        for (n, line) in lines(text)? {
            let at = |kind| ParseError::new(n, kind);
            let (name, value) = match line {
                Line::Uri(uri) => {
                    let mut variant = pending
                        .take()
                        .ok_or(at(ErrorKind::UriWithoutTag("EXT-X-STREAM-INF")))?;
                    variant.uri = uri.to_string();
                    pl.variants.push(variant);
                    continue;
                }
                Line::Tag { name, value } => (name, value),
            };
            if let Some((PlaylistKind::Media, tag)) = tag_kind(name) {
                return Err(at(ErrorKind::MediaTag(tag)));
            }
            if let Some(v) = &pending {
                return Err(ParseError::new(
                    v.line,
                    ErrorKind::TagWithoutUri("EXT-X-STREAM-INF"),
                ));
            }
            let mut first_time = |tag: &'static str| {
                if once.contains(&tag) {
                    return Err(at(ErrorKind::Duplicate(tag)));
                }
                once.push(tag);
                Ok(())
            };
            match name {
                "EXT-X-VERSION" => {
                    first_time("EXT-X-VERSION")?;
                    let v = decimal_integer(value);
                    pl.version = Some(v.ok_or(at(ErrorKind::BadValue {
                        tag: "EXT-X-VERSION",
                        what: "a decimal-integer",
                    }))?);
                }
                "EXT-X-INDEPENDENT-SEGMENTS" => {
                    first_time("EXT-X-INDEPENDENT-SEGMENTS")?;
                    pl.independent_segments = true;
                }
                "EXT-X-STREAM-INF" => pending = Some(variant(value, n).map_err(at)?),
                "EXT-X-MEDIA" => pl.renditions.push(rendition(value).map_err(at)?),
                "EXT-X-I-FRAME-STREAM-INF" => {
                    pl.i_frame_streams.push(i_frame_stream(value).map_err(at)?)
                }
                "EXT-X-CONTENT-STEERING" => {
                    first_time("EXT-X-CONTENT-STEERING")?;
                    pl.content_steering = Some(content_steering(value).map_err(at)?);
                }
                _ => pl.unknown_tags.push(UnknownTag::new(n, name, value)),
            }
        }
        if let Some(v) = pending {
            return Err(ParseError::new(
                v.line,
                ErrorKind::TagWithoutUri("EXT-X-STREAM-INF"),
            ));
        }
        Ok(pl)
    }

    /// Parses a multivariant playlist from bytes, which must be UTF-8.
    pub fn from_bytes(bytes: &[u8]) -> Result<MultivariantPlaylist, ParseError> {
        MultivariantPlaylist::parse(utf8(bytes)?)
    }

    /// Every media playlist URI it names: variant streams, renditions with a URI, I-frame
    /// playlists, in that order.
    pub fn media_playlist_uris(&self) -> impl Iterator<Item = &str> {
        let variants = self.variants.iter().map(|v| v.uri.as_str());
        let renditions = self.renditions.iter().filter_map(|r| r.uri.as_deref());
        let i_frames = self.i_frame_streams.iter().map(|i| i.uri.as_str());
        variants.chain(renditions).chain(i_frames)
    }
}

/// `EXT-X-STREAM-INF:<attribute-list>` on line `line`; its URI comes later.
fn variant(value: &str, line: usize) -> Result<Variant, ErrorKind> {
    let a = TagAttributes::parse("EXT-X-STREAM-INF", value)?;
    let quoted = |name| a.optional(AttributeList::quoted, name).map(text);
    Ok(Variant {
        bandwidth: a.required(AttributeList::decimal_integer, "BANDWIDTH")?,
        average_bandwidth: a.optional(AttributeList::decimal_integer, "AVERAGE-BANDWIDTH")?,
        codecs: quoted("CODECS")?,
        resolution: a.optional(AttributeList::resolution, "RESOLUTION")?,
        frame_rate: a.optional(AttributeList::float, "FRAME-RATE")?,
        audio: quoted("AUDIO")?,
        video: quoted("VIDEO")?,
        subtitles: quoted("SUBTITLES")?,
        pathway_id: quoted("PATHWAY-ID")?,
        uri: String::new(),
        line,
    })
}

/// `EXT-X-MEDIA:<attribute-list>`.
fn rendition(value: &str) -> Result<Rendition, ErrorKind> {
    let a = TagAttributes::parse("EXT-X-MEDIA", value)?;
    let kind = match a.required(AttributeList::enumerated, "TYPE")? {
        "AUDIO" => MediaType::Audio,
        "VIDEO" => MediaType::Video,
        "SUBTITLES" => MediaType::Subtitles,
        "CLOSED-CAPTIONS" => MediaType::ClosedCaptions,
        _ => {
            return Err(ErrorKind::BadValue {
                tag: "EXT-X-MEDIA",
                what: "a TYPE of AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS",
            })
        }
    };
    Ok(Rendition {
        kind,
        group_id: a.required(AttributeList::quoted, "GROUP-ID")?.to_string(),
        name: a.required(AttributeList::quoted, "NAME")?.to_string(),
        uri: text(a.optional(AttributeList::quoted, "URI")?),
        default: a.flag("DEFAULT")?,
        autoselect: a.flag("AUTOSELECT")?,
        language: text(a.optional(AttributeList::quoted, "LANGUAGE")?),
    })
}

/// `EXT-X-I-FRAME-STREAM-INF:<attribute-list>`.
fn i_frame_stream(value: &str) -> Result<IFrameStream, ErrorKind> {
    let a = TagAttributes::parse("EXT-X-I-FRAME-STREAM-INF", value)?;
    Ok(IFrameStream {
        bandwidth: a.required(AttributeList::decimal_integer, "BANDWIDTH")?,
        uri: a.required(AttributeList::quoted, "URI")?.to_string(),
        codecs: text(a.optional(AttributeList::quoted, "CODECS")?),
        resolution: a.optional(AttributeList::resolution, "RESOLUTION")?,
    })
}

/// `EXT-X-CONTENT-STEERING:SERVER-URI="...",PATHWAY-ID="..."`.
fn content_steering(value: &str) -> Result<ContentSteering, ErrorKind> {
    let a = TagAttributes::parse("EXT-X-CONTENT-STEERING", value)?;
    Ok(ContentSteering {
        server_uri: a.required(AttributeList::quoted, "SERVER-URI")?.to_string(),
        pathway_id: text(a.optional(AttributeList::quoted, "PATHWAY-ID")?),
    })
}

#[cfg(test)]
#[path = "multivariant_tests.rs"]
mod tests;
