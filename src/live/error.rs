//! The one error every playlist parser in `live/` returns: what was wrong ([`ErrorKind`]) and
//! on which line of the input (1-based; for an MPD, the line the XML reader had reached). A
//! parse error means "do not trust this playlist": the caller keeps its last good version,
//! counts the rejection under [`ErrorKind::label`] and logs the `Display` text.
//!
//! This file owns the wording of every rejection. It must not decide what is an error: the
//! parsers do.

use std::fmt;

use super::attributes::AttrError;

/// A playlist or manifest that cannot be used, and where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the input the problem is on.
    pub line: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What made a playlist unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes are not UTF-8 (playlists MUST be).
    NotUtf8,
    /// The first line is not `#EXTM3U`.
    NoHeader,
    /// A tag every playlist of this kind must carry is absent (`EXT-X-TARGETDURATION`).
    MissingTag(&'static str),
    /// A tag's value is not what the tag holds (a number that is not a number, an unknown
    /// enumerated value): `what` it should have been.
    BadValue {
        tag: &'static str,
        what: &'static str,
    },
    /// A tag's attribute list is malformed, or one of its attributes has the wrong type.
    Attribute { tag: &'static str, error: AttrError },
    /// A required attribute is absent.
    MissingAttribute {
        tag: &'static str,
        attribute: &'static str,
    },
    /// A tag that may appear once appears again.
    Duplicate(&'static str),
    /// A tag where it may not be (`EXT-X-MEDIA-SEQUENCE` after the first segment): why.
    OutOfPlace {
        tag: &'static str,
        why: &'static str,
    },
    /// A URI line with no `EXTINF` before it (media) or no `EXT-X-STREAM-INF` (multivariant).
    UriWithoutTag(&'static str),
    /// An `EXTINF` (or `EXT-X-STREAM-INF`) whose URI line never came.
    TagWithoutUri(&'static str),
    /// A multivariant-playlist tag in what was parsed as a media playlist.
    MultivariantTag(&'static str),
    /// A media-playlist tag in what was parsed as a multivariant playlist.
    MediaTag(&'static str),
    /// The MPD's XML is malformed (the reader's message).
    Xml(String),
    /// The document's root element is not `MPD`.
    NotMpd,
    /// An MPD attribute we read has a value of the wrong form.
    BadMpdAttribute {
        element: &'static str,
        attribute: &'static str,
        what: &'static str,
    },
    /// An MPD element lacks an attribute it must have.
    MissingMpdAttribute {
        element: &'static str,
        attribute: &'static str,
    },
}

impl ErrorKind {
    /// A short fixed label for metrics (`playlist_rejected_total{reason}`).
    pub fn label(&self) -> &'static str {
        match self {
            ErrorKind::NotUtf8 => "not_utf8",
            ErrorKind::NoHeader => "no_header",
            ErrorKind::MissingTag(_) => "missing_tag",
            ErrorKind::BadValue { .. } => "bad_value",
            ErrorKind::Attribute { .. } => "bad_attribute",
            ErrorKind::MissingAttribute { .. } => "missing_attribute",
            ErrorKind::Duplicate(_) => "duplicate_tag",
            ErrorKind::OutOfPlace { .. } => "tag_out_of_place",
            ErrorKind::UriWithoutTag(_) => "uri_without_tag",
            ErrorKind::TagWithoutUri(_) => "tag_without_uri",
            ErrorKind::MultivariantTag(_) | ErrorKind::MediaTag(_) => "wrong_playlist_kind",
            ErrorKind::Xml(_) => "bad_xml",
            ErrorKind::NotMpd => "not_mpd",
            ErrorKind::BadMpdAttribute { .. } => "bad_mpd_attribute",
            ErrorKind::MissingMpdAttribute { .. } => "missing_mpd_attribute",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotUtf8 => write!(f, "not UTF-8"),
            ErrorKind::NoHeader => write!(f, "playlist does not start with #EXTM3U"),
            ErrorKind::MissingTag(tag) => write!(f, "no {tag}"),
            ErrorKind::BadValue { tag, what } => write!(f, "bad {tag}: not {what}"),
            ErrorKind::Attribute { tag, error } => write!(f, "{tag}: {error}"),
            ErrorKind::MissingAttribute { tag, attribute } => {
                write!(f, "{tag} without {attribute}")
            }
            ErrorKind::Duplicate(tag) => write!(f, "{tag} appears twice"),
            ErrorKind::OutOfPlace { tag, why } => write!(f, "{tag} {why}"),
            ErrorKind::UriWithoutTag(tag) => write!(f, "URI without {tag}"),
            ErrorKind::TagWithoutUri(tag) => write!(f, "{tag} without a URI"),
            ErrorKind::MultivariantTag(tag) => {
                write!(f, "{tag}: a multivariant playlist, not a media playlist")
            }
            ErrorKind::MediaTag(tag) => {
                write!(f, "{tag}: a media playlist, not a multivariant playlist")
            }
            ErrorKind::Xml(message) => write!(f, "malformed XML: {message}"),
            ErrorKind::NotMpd => write!(f, "the root element is not MPD"),
            ErrorKind::BadMpdAttribute {
                element,
                attribute,
                what,
            } => write!(f, "{element}@{attribute} is not {what}"),
            ErrorKind::MissingMpdAttribute { element, attribute } => {
                write!(f, "{element} without @{attribute}")
            }
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    pub(crate) fn new(line: usize, kind: ErrorKind) -> ParseError {
        ParseError { line, kind }
    }

    /// The error for `text` that is not UTF-8, on the line of its first bad byte.
    pub(crate) fn not_utf8(bytes: &[u8], error: std::str::Utf8Error) -> ParseError {
        ParseError::new(line_at(bytes, error.valid_up_to()), ErrorKind::NotUtf8)
    }
}

/// The 1-based line of byte `offset` in `bytes` (offsets past the end count as the last line).
pub(crate) fn line_at(bytes: &[u8], offset: usize) -> usize {
    let end = offset.min(bytes.len());
    1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_line_and_the_tag() {
        let e = ParseError::new(
            7,
            ErrorKind::MissingAttribute {
                tag: "EXT-X-PART",
                attribute: "URI",
            },
        );
        assert_eq!(e.to_string(), "line 7: EXT-X-PART without URI");
        assert_eq!(e.kind.label(), "missing_attribute");
        let e = ParseError::new(1, ErrorKind::NoHeader);
        assert_eq!(
            e.to_string(),
            "line 1: playlist does not start with #EXTM3U"
        );
    }

    #[test]
    fn lines_of_offsets() {
        let text = b"a\nbc\n\nd";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 2), 2);
        assert_eq!(line_at(text, 6), 4);
        assert_eq!(line_at(text, 99), 4);
        let bad = [b"#EXTM3U\n".as_slice(), &[0xff]].concat();
        let e = std::str::from_utf8(&bad).unwrap_err();
        assert_eq!(ParseError::not_utf8(&bad, e).line, 2);
    }
}
