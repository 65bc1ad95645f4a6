//! The media segment tags that carry more than a flag (RFC 8216bis §4.4.4-4.4.5):
//! `EXT-X-BYTERANGE` (and the `n[@o]` byte ranges inside `EXT-X-MAP` and `EXT-X-PART`),
//! `EXT-X-MAP`, `EXT-X-KEY` and `EXT-X-DATERANGE`: their model and how each is read from its
//! tag's value. Which segment a tag applies to is the media parser's business.

use super::attributes::{decimal_integer, AttributeList};
use super::error::ErrorKind;
use super::lines::TagAttributes;

/// A sub-range of a resource: `length` bytes from `offset`. An absent offset means "right
/// after the previous sub-range of the same resource", as written in the playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub length: u64,
    pub offset: Option<u64>,
}

impl ByteRange {
    /// `n[@o]`, both decimal-integers.
    pub fn parse(text: &str) -> Option<ByteRange> {
        let (length, offset) = match text.split_once('@') {
            Some((n, o)) => (n, Some(decimal_integer(o)?)),
            None => (text, None),
        };
        Some(ByteRange {
            length: decimal_integer(length)?,
            offset,
        })
    }
}

/// `EXT-X-MAP`: the media initialization section of the segments after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    /// `URI`.
    pub uri: String,
    /// `BYTERANGE`.
    pub byte_range: Option<ByteRange>,
}

/// `EXT-X-KEY` with a METHOD other than `NONE`: how the segments after it are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// `METHOD` as written (`AES-128`, `SAMPLE-AES`, ...).
    pub method: String,
    /// `URI` of the key.
    pub uri: Option<String>,
}

/// `EXT-X-DATERANGE`: a date range (an ad break, a program boundary). The parser reads only
/// what the cache needs to track it; the whole attribute list is kept for anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRange {
    /// `ID`.
    pub id: String,
    /// `CLASS`.
    pub class: Option<String>,
    /// `START-DATE`, as written.
    pub start_date: Option<String>,
    /// The tag's whole attribute list, as written.
    pub attributes: String,
    /// The media sequence number of the segment the tag precedes.
    pub msn: u64,
    /// Its 1-based line.
    pub line: usize,
}

/// The `n[@o]` value of attribute `BYTERANGE` of `tag`, if present.
pub(crate) fn byte_range_attribute(
    tag: &'static str,
    attrs: &TagAttributes<'_>,
) -> Result<Option<ByteRange>, ErrorKind> {
    match attrs.optional(AttributeList::quoted, "BYTERANGE")? {
        None => Ok(None),
        Some(text) => ByteRange::parse(text).map(Some).ok_or(ErrorKind::BadValue {
            tag,
            what: "a BYTERANGE of n[@o]",
        }),
    }
}

/// `EXT-X-BYTERANGE:<n>[@<o>]`.
pub(crate) fn byte_range(value: &str) -> Result<ByteRange, ErrorKind> {
    ByteRange::parse(value).ok_or(ErrorKind::BadValue {
        tag: "EXT-X-BYTERANGE",
        what: "n[@o]",
    })
}

/// `EXT-X-MAP:URI="...",BYTERANGE="n@o"`.
pub(crate) fn map(value: &str) -> Result<Map, ErrorKind> {
    const TAG: &str = "EXT-X-MAP";
    let attrs = TagAttributes::parse(TAG, value)?;
    Ok(Map {
        uri: attrs.required(AttributeList::quoted, "URI")?.to_string(),
        byte_range: byte_range_attribute(TAG, &attrs)?,
    })
}

/// `EXT-X-KEY:METHOD=...,URI="..."`: `None` for `METHOD=NONE` (segments in the clear).
pub(crate) fn key(value: &str) -> Result<Option<Key>, ErrorKind> {
    let attrs = TagAttributes::parse("EXT-X-KEY", value)?;
    let method = attrs.required(AttributeList::enumerated, "METHOD")?;
    let uri = attrs.optional(AttributeList::quoted, "URI")?;
    if method == "NONE" {
        return Ok(None);
    }
    Ok(Some(Key {
        method: method.to_string(),
        uri: uri.map(str::to_string),
    }))
}

/// `EXT-X-DATERANGE:ID="...",...` on `line`, preceding segment `msn`.
pub(crate) fn date_range(value: &str, msn: u64, line: usize) -> Result<DateRange, ErrorKind> {
    let attrs = TagAttributes::parse("EXT-X-DATERANGE", value)?;
    let text = |s: Option<&str>| s.map(str::to_string);
    Ok(DateRange {
        id: attrs.required(AttributeList::quoted, "ID")?.to_string(),
        class: text(attrs.optional(AttributeList::quoted, "CLASS")?),
        start_date: text(attrs.optional(AttributeList::quoted, "START-DATE")?),
        attributes: value.to_string(),
        msn,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        let r = |length, offset| Some(ByteRange { length, offset });
        assert_eq!(ByteRange::parse("1000"), r(1000, None));
        assert_eq!(ByteRange::parse("1000@0"), r(1000, Some(0)));
        for bad in ["", "@1", "1@", "x", "1@2@3", "-1"] {
            assert_eq!(ByteRange::parse(bad), None, "{bad:?}");
        }
        assert!(byte_range("5@x").is_err());
    }

    #[test]
    fn maps_and_keys() {
        assert_eq!(
            map("URI=\"init.mp4\",BYTERANGE=\"720@0\""),
            Ok(Map {
                uri: "init.mp4".into(),
                byte_range: Some(ByteRange {
                    length: 720,
                    offset: Some(0)
                })
            })
        );
        assert_eq!(
            map("BYTERANGE=\"720@0\""),
            Err(ErrorKind::MissingAttribute {
                tag: "EXT-X-MAP",
                attribute: "URI"
            })
        );
        assert!(matches!(
            map("URI=\"i.mp4\",BYTERANGE=\"7x\""),
            Err(ErrorKind::BadValue { .. })
        ));
        assert_eq!(key("METHOD=NONE"), Ok(None));
        assert_eq!(
            key("METHOD=AES-128,URI=\"https://priv.example.com/key.php?r=52\""),
            Ok(Some(Key {
                method: "AES-128".into(),
                uri: Some("https://priv.example.com/key.php?r=52".into())
            }))
        );
        assert!(key("URI=\"k\"").is_err());
    }

    #[test]
    fn date_ranges_keep_their_text() {
        let text = "ID=\"splice-6FFFFFF0\",START-DATE=\"2014-03-05T11:15:00Z\",PLANNED-DURATION=59.993,SCTE35-OUT=0xFC002F";
        let d = date_range(text, 12, 40).unwrap();
        assert_eq!(d.id, "splice-6FFFFFF0");
        assert_eq!(d.start_date.as_deref(), Some("2014-03-05T11:15:00Z"));
        assert_eq!(d.class, None);
        assert_eq!((d.attributes.as_str(), d.msn, d.line), (text, 12, 40));
        assert!(date_range("START-DATE=\"2014-03-05T11:15:00Z\"", 0, 1).is_err());
    }
}
