//! The M3U8 line grammar both HLS parsers read through (RFC 8216bis §4.1): the `#EXTM3U`
//! header, then lines that are tags (`#EXT...`, split into name and value), URIs, comments
//! or blanks; and which kind of playlist a tag belongs to, so a media playlist holding a
//! multivariant tag (or the reverse) is refused, and [`playlist_kind`] can tell the two
//! apart before parsing.
//!
//! This file owns the line-level rules only (line endings, what a comment is, the tag
//! tables, a tag's attribute list read with errors that name the tag, the tags kept
//! unread); what each tag means belongs to the parsers.

use super::attributes::{split_at_byte, AttrError, AttributeList};
use super::error::{ErrorKind, ParseError};

/// One meaningful line: blank lines and comments are dropped before the parsers see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// `#EXT-X-NAME:value` as (`EXT-X-NAME`, `value`); the value is empty without a ':'.
    Tag { name: &'a str, value: &'a str },
    /// A URI line, as written.
    Uri(&'a str),
}

/// A tag the parser does not read, kept as written (clients MUST ignore unknown tags; a
/// cache passes them on untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTag {
    /// Its 1-based line.
    pub line: usize,
    /// The name without `#` (`EXT-X-CUE-OUT`).
    pub name: String,
    /// Everything after the first ':' (empty without one).
    pub value: String,
}

impl UnknownTag {
    pub(crate) fn new(line: usize, name: &str, value: &str) -> UnknownTag {
        UnknownTag {
            line,
            name: name.to_string(),
            value: value.to_string(),
        }
    }
}

/// Which kind of HLS playlist a text is (RFC 8216bis §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistKind {
    /// Segments of one rendition (`EXTINF`, `EXT-X-TARGETDURATION`, ...).
    Media,
    /// The variant streams and renditions of a presentation (`EXT-X-STREAM-INF`, ...).
    Multivariant,
}

/// Tags that only a multivariant playlist may hold (§4.4.6).
const MULTIVARIANT_TAGS: [&str; 6] = [
    "EXT-X-MEDIA",
    "EXT-X-STREAM-INF",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY",
    "EXT-X-CONTENT-STEERING",
];

/// Media playlist tags, media segment tags and media metadata tags (§4.4.3-4.4.5).
const MEDIA_TAGS: [&str; 21] = [
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY",
    "EXT-X-PART-INF",
    "EXT-X-SERVER-CONTROL",
    "EXTINF",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-GAP",
    "EXT-X-BITRATE",
    "EXT-X-PART",
    "EXT-X-DATERANGE",
    "EXT-X-SKIP",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
];

/// The kind of playlist tag `name` belongs to, with its name as a `'static` string; `None`
/// for tags allowed in both (`EXT-X-VERSION`, `EXT-X-START`, ...) and unknown ones.
pub(crate) fn tag_kind(name: &str) -> Option<(PlaylistKind, &'static str)> {
    let find = |table: &[&'static str]| table.iter().copied().find(|t| *t == name);
    find(&MULTIVARIANT_TAGS)
        .map(|t| (PlaylistKind::Multivariant, t))
        .or_else(|| find(&MEDIA_TAGS).map(|t| (PlaylistKind::Media, t)))
}

/// The meaningful lines of `text` with their 1-based numbers, after checking that the first
/// line is `#EXTM3U`. Lines end in LF or CRLF; surrounding whitespace is ignored.
pub(crate) fn lines(text: &str) -> Result<impl Iterator<Item = (usize, Line<'_>)>, ParseError> {
    let mut all = RawLines { rest: text }
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()));
    match all.next() {
        Some((_, "#EXTM3U")) => {}
        _ => return Err(ParseError::new(1, ErrorKind::NoHeader)),
    }
    Ok(all.filter_map(|(n, l)| classify(l).map(|line| (n, line))))
}

/// `text` split at each LF (`str::lines` without its CR handling, which the callers' trim
/// makes moot), found with `memchr`: `str::lines` searched each line byte by byte and was a
/// third of a live-edge playlist's parse (`benches/playlists.rs`).
struct RawLines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for RawLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        // An LF is never inside a multi-byte character: both slices are on char boundaries.
        let (line, rest) = match memchr::memchr(b'\n', self.rest.as_bytes()) {
            Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
            None => (self.rest, ""),
        };
        self.rest = rest;
        Some(line)
    }
}

fn classify(line: &str) -> Option<Line<'_>> {
    if line.is_empty() {
        return None;
    }
    if line.starts_with("#EXT") {
        let tag = &line[1..];
        let (name, value) = split_at_byte(tag, b':').unwrap_or((tag, ""));
        return Some(Line::Tag { name, value });
    }
    if line.starts_with('#') {
        return None; // a comment
    }
    Some(Line::Uri(line))
}

/// A typed read of one attribute (an [`AttributeList`] accessor such as
/// [`AttributeList::quoted`]).
pub(crate) type Read<'a, T> = fn(&AttributeList<'a>, &'static str) -> Result<Option<T>, AttrError>;

/// The attribute list of tag `tag`, whose errors name the tag.
pub(crate) struct TagAttributes<'a> {
    tag: &'static str,
    list: AttributeList<'a>,
}

impl<'a> TagAttributes<'a> {
    pub(crate) fn parse(tag: &'static str, value: &'a str) -> Result<TagAttributes<'a>, ErrorKind> {
        let list =
            AttributeList::parse(value).map_err(|error| ErrorKind::Attribute { tag, error })?;
        Ok(TagAttributes { tag, list })
    }

    /// Attribute `name` read by `read`, if present.
    pub(crate) fn optional<T>(
        &self,
        read: Read<'a, T>,
        name: &'static str,
    ) -> Result<Option<T>, ErrorKind> {
        read(&self.list, name).map_err(|error| ErrorKind::Attribute {
            tag: self.tag,
            error,
        })
    }

    /// Attribute `name` read by `read`, which the tag must have.
    pub(crate) fn required<T>(
        &self,
        read: Read<'a, T>,
        name: &'static str,
    ) -> Result<T, ErrorKind> {
        self.optional(read, name)?
            .ok_or(ErrorKind::MissingAttribute {
                tag: self.tag,
                attribute: name,
            })
    }

    /// A `YES`/`NO` attribute (absent: `NO`).
    pub(crate) fn flag(&self, name: &'static str) -> Result<bool, ErrorKind> {
        self.list
            .yes_no(name)
            .map_err(|error| ErrorKind::Attribute {
                tag: self.tag,
                error,
            })
    }
}

/// `bytes` as UTF-8 text, or the error naming the line of the first bad byte.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(bytes).map_err(|e| ParseError::not_utf8(bytes, e))
}

/// Tells a media playlist from a multivariant one by the first tag that only one of them
/// may hold. A text with both kinds is refused (clients MUST fail to parse it), one with
/// neither is an empty multivariant playlist (§4.1), one without `#EXTM3U` is no playlist.
pub fn playlist_kind(text: &str) -> Result<PlaylistKind, ParseError> {
    let mut seen = None;
    for (n, line) in lines(text)? {
        let Line::Tag { name, .. } = line else {
            continue;
        };
        match (seen, tag_kind(name)) {
            (_, None) => {}
            (None, Some((kind, _))) => seen = Some(kind),
            (Some(PlaylistKind::Media), Some((PlaylistKind::Multivariant, tag))) => {
                return Err(ParseError::new(n, ErrorKind::MultivariantTag(tag)));
            }
            (Some(PlaylistKind::Multivariant), Some((PlaylistKind::Media, tag))) => {
                return Err(ParseError::new(n, ErrorKind::MediaTag(tag)));
            }
            (Some(_), Some(_)) => {}
        }
    }
    Ok(seen.unwrap_or(PlaylistKind::Multivariant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_tags_and_uris() {
        let text =
            "#EXTM3U\r\n\r\n# a comment\n#EXT-X-ENDLIST\n  #EXTINF:2,title  \nseg.ts\n#EXTM3U\n";
        let got: Vec<_> = lines(text).unwrap().collect();
        assert_eq!(
            got,
            vec![
                (
                    4,
                    Line::Tag {
                        name: "EXT-X-ENDLIST",
                        value: ""
                    }
                ),
                (
                    5,
                    Line::Tag {
                        name: "EXTINF",
                        value: "2,title"
                    }
                ),
                (6, Line::Uri("seg.ts")),
                (
                    7,
                    Line::Tag {
                        name: "EXTM3U",
                        value: ""
                    }
                ),
            ]
        );
    }

    #[test]
    fn raw_lines_are_str_lines_once_trimmed() {
        for text in [
            "",
            "a",
            "a\n",
            "a\n\n",
            "a\r\nb\r\n",
            "a\rb\n\r\n c \r",
            "\n\nx\ny",
            "é\nü\r\n",
        ] {
            let ours: Vec<&str> = RawLines { rest: text }.map(str::trim).collect();
            let std: Vec<&str> = text.lines().map(str::trim).collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }

    #[test]
    fn the_header_comes_first() {
        for bad in [
            "",
            "\n#EXTM3U",
            "#EXTM3",
            "\u{feff}#EXTM3U\n",
            "#EXT-X-VERSION:3\n#EXTM3U",
        ] {
            let e = lines(bad).err().unwrap();
            assert_eq!((e.line, e.kind), (1, ErrorKind::NoHeader), "{bad:?}");
        }
    }

    #[test]
    fn kinds() {
        let media = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n";
        let multi = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n";
        assert_eq!(playlist_kind(media), Ok(PlaylistKind::Media));
        assert_eq!(playlist_kind(multi), Ok(PlaylistKind::Multivariant));
        // EXT-X-MEDIA-SEQUENCE is a media tag even though it starts like EXT-X-MEDIA.
        assert_eq!(
            playlist_kind("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n"),
            Ok(PlaylistKind::Media)
        );
        assert_eq!(playlist_kind("#EXTM3U\n"), Ok(PlaylistKind::Multivariant));
        let mixed = format!("{media}#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n");
        assert_eq!(
            playlist_kind(&mixed),
            Err(ParseError::new(
                4,
                ErrorKind::MultivariantTag("EXT-X-STREAM-INF")
            ))
        );
        let mixed = format!("{multi}#EXTINF:2,\n");
        assert_eq!(
            playlist_kind(&mixed).unwrap_err().kind,
            ErrorKind::MediaTag("EXTINF")
        );
        assert_eq!(playlist_kind("x").unwrap_err().kind, ErrorKind::NoHeader);
        assert_eq!(tag_kind("EXT-X-VERSION"), None);
        assert_eq!(tag_kind("EXT-X-UNKNOWN"), None);
    }
}
