//! The Low-Latency HLS tags (RFC 8216bis §4.4.3.7-8, §4.4.4.9, §4.4.5.2-4): their model and
//! how each is read from its tag's value. `EXT-X-SERVER-CONTROL` (what the origin supports:
//! blocking reload, delta updates, hold-backs), `EXT-X-PART-INF`, `EXT-X-PART`,
//! `EXT-X-PRELOAD-HINT`, `EXT-X-RENDITION-REPORT` and `EXT-X-SKIP`.
//!
//! Decisions on them (is a blocking request satisfied, how far ahead is too far) live in
//! `blocking`; where parts and hints sit in a playlist is the media parser's business.

use std::time::Duration;

use super::attributes::AttributeList;
use super::error::ErrorKind;
use super::lines::TagAttributes;
use super::segment_tags::{byte_range_attribute, ByteRange};

/// `EXT-X-SERVER-CONTROL`; the default (all absent) when the playlist has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerControl {
    /// `CAN-BLOCK-RELOAD=YES`: the server holds `_HLS_msn` requests.
    pub can_block_reload: bool,
    /// `CAN-SKIP-UNTIL`: the Skip Boundary; the server makes delta updates.
    pub can_skip_until: Option<Duration>,
    /// `CAN-SKIP-DATERANGES=YES`: delta updates may also drop old date ranges (`v2`).
    pub can_skip_dateranges: bool,
    /// `HOLD-BACK` (absent: three target durations).
    pub hold_back: Option<Duration>,
    /// `PART-HOLD-BACK`.
    pub part_hold_back: Option<Duration>,
}

/// An `EXT-X-PART`: a partial segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `URI`.
    pub uri: String,
    /// `DURATION`.
    pub duration: Duration,
    /// `INDEPENDENT=YES`: starts with an independent frame.
    pub independent: bool,
    /// `BYTERANGE`.
    pub byte_range: Option<ByteRange>,
    /// `GAP=YES`: not available.
    pub gap: bool,
}

/// What an `EXT-X-PRELOAD-HINT` hints at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintType {
    /// `TYPE=PART`: the next partial segment.
    Part,
    /// `TYPE=MAP`: the next media initialization section.
    Map,
}

/// An `EXT-X-PRELOAD-HINT`: a resource a client may request before it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadHint {
    /// `TYPE`.
    pub kind: HintType,
    /// `URI`.
    pub uri: String,
    /// `BYTERANGE-START` (absent: 0).
    pub byte_range_start: u64,
    /// `BYTERANGE-LENGTH` (absent: to the end of the resource).
    pub byte_range_length: Option<u64>,
}

/// An `EXT-X-RENDITION-REPORT`: where another rendition stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionReport {
    /// `URI` of that rendition's media playlist, relative to this one.
    pub uri: String,
    /// `LAST-MSN` (the server may omit it when equal to this playlist's).
    pub last_msn: Option<u64>,
    /// `LAST-PART`.
    pub last_part: Option<u64>,
}

/// An `EXT-X-SKIP`: this is a delta update with the first segments left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// `SKIPPED-SEGMENTS`.
    pub skipped_segments: u64,
    /// `RECENTLY-REMOVED-DATERANGES`, split at its tabs.
    pub recently_removed_dateranges: Vec<String>,
}

/// `EXT-X-SERVER-CONTROL:<attribute-list>`.
pub(crate) fn server_control(value: &str) -> Result<ServerControl, ErrorKind> {
    let attrs = TagAttributes::parse("EXT-X-SERVER-CONTROL", value)?;
    Ok(ServerControl {
        can_block_reload: attrs.flag("CAN-BLOCK-RELOAD")?,
        can_skip_until: attrs.optional(AttributeList::seconds, "CAN-SKIP-UNTIL")?,
        can_skip_dateranges: attrs.flag("CAN-SKIP-DATERANGES")?,
        hold_back: attrs.optional(AttributeList::seconds, "HOLD-BACK")?,
        part_hold_back: attrs.optional(AttributeList::seconds, "PART-HOLD-BACK")?,
    })
}

/// `EXT-X-PART-INF:PART-TARGET=<s>`.
pub(crate) fn part_target(value: &str) -> Result<Duration, ErrorKind> {
    TagAttributes::parse("EXT-X-PART-INF", value)?.required(AttributeList::seconds, "PART-TARGET")
}

/// `EXT-X-PART:<attribute-list>`.
pub(crate) fn part(value: &str) -> Result<Part, ErrorKind> {
    const TAG: &str = "EXT-X-PART";
    let attrs = TagAttributes::parse(TAG, value)?;
    Ok(Part {
        uri: attrs.required(AttributeList::quoted, "URI")?.to_string(),
        duration: attrs.required(AttributeList::seconds, "DURATION")?,
        independent: attrs.flag("INDEPENDENT")?,
        byte_range: byte_range_attribute(TAG, &attrs)?,
        gap: attrs.flag("GAP")?,
    })
}

/// `EXT-X-PRELOAD-HINT:<attribute-list>`; `None` for a TYPE this version does not know
/// (clients ignore such hints).
pub(crate) fn preload_hint(value: &str) -> Result<Option<PreloadHint>, ErrorKind> {
    let attrs = TagAttributes::parse("EXT-X-PRELOAD-HINT", value)?;
    let kind = match attrs.required(AttributeList::enumerated, "TYPE")? {
        "PART" => HintType::Part,
        "MAP" => HintType::Map,
        _ => return Ok(None),
    };
    Ok(Some(PreloadHint {
        kind,
        uri: attrs.required(AttributeList::quoted, "URI")?.to_string(),
        byte_range_start: attrs
            .optional(AttributeList::decimal_integer, "BYTERANGE-START")?
            .unwrap_or(0),
        byte_range_length: attrs.optional(AttributeList::decimal_integer, "BYTERANGE-LENGTH")?,
    }))
}

/// `EXT-X-RENDITION-REPORT:<attribute-list>`.
pub(crate) fn rendition_report(value: &str) -> Result<RenditionReport, ErrorKind> {
    let attrs = TagAttributes::parse("EXT-X-RENDITION-REPORT", value)?;
    Ok(RenditionReport {
        uri: attrs.required(AttributeList::quoted, "URI")?.to_string(),
        last_msn: attrs.optional(AttributeList::decimal_integer, "LAST-MSN")?,
        last_part: attrs.optional(AttributeList::decimal_integer, "LAST-PART")?,
    })
}

/// `EXT-X-SKIP:<attribute-list>`.
pub(crate) fn skip(value: &str) -> Result<Skip, ErrorKind> {
    let attrs = TagAttributes::parse("EXT-X-SKIP", value)?;
    let removed = attrs
        .optional(AttributeList::quoted, "RECENTLY-REMOVED-DATERANGES")?
        .unwrap_or("");
    Ok(Skip {
        skipped_segments: attrs.required(AttributeList::decimal_integer, "SKIPPED-SEGMENTS")?,
        recently_removed_dateranges: removed
            .split('\t')
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn server_control_attributes() {
        let c = server_control(
            "CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=36,CAN-SKIP-DATERANGES=YES,HOLD-BACK=12.0,PART-HOLD-BACK=1.0",
        )
        .unwrap();
        assert_eq!(
            c,
            ServerControl {
                can_block_reload: true,
                can_skip_until: Some(ms(36_000)),
                can_skip_dateranges: true,
                hold_back: Some(ms(12_000)),
                part_hold_back: Some(ms(1000)),
            }
        );
        assert_eq!(server_control(""), Ok(ServerControl::default()));
        assert!(server_control("CAN-BLOCK-RELOAD=MAYBE").is_err());
        assert!(server_control("PART-HOLD-BACK=\"1.0\"").is_err());
    }

    #[test]
    fn parts() {
        let p = part("DURATION=0.33334,URI=\"filePart271.4.mp4\",INDEPENDENT=YES").unwrap();
        assert_eq!(p.duration, Duration::from_nanos(333_340_000));
        assert!(p.independent && !p.gap && p.byte_range.is_none());
        let p = part("DURATION=0.5,URI=\"seg.mp4\",BYTERANGE=\"1000@2000\",GAP=YES").unwrap();
        assert_eq!(
            p.byte_range,
            Some(ByteRange {
                length: 1000,
                offset: Some(2000)
            })
        );
        assert!(p.gap);
        for (bad, want) in [
            ("DURATION=0.5", "EXT-X-PART without URI"),
            ("URI=\"a\"", "EXT-X-PART without DURATION"),
            (
                "DURATION=x,URI=\"a\"",
                "EXT-X-PART: attribute DURATION is not a decimal-floating-point",
            ),
        ] {
            assert_eq!(part(bad).unwrap_err().to_string(), want);
        }
        assert_eq!(part_target("PART-TARGET=0.5"), Ok(ms(500)));
        assert!(part_target("").is_err());
    }

    #[test]
    fn hints_reports_and_skips() {
        assert_eq!(
            preload_hint("TYPE=PART,URI=\"seg.mp4\",BYTERANGE-START=5000"),
            Ok(Some(PreloadHint {
                kind: HintType::Part,
                uri: "seg.mp4".into(),
                byte_range_start: 5000,
                byte_range_length: None,
            }))
        );
        let map = preload_hint("TYPE=MAP,URI=\"init.mp4\",BYTERANGE-LENGTH=700").unwrap();
        assert_eq!(
            map.map(|h| (h.kind, h.byte_range_start, h.byte_range_length)),
            Some((HintType::Map, 0, Some(700)))
        );
        assert_eq!(preload_hint("TYPE=FUTURE,URI=\"x\""), Ok(None));
        assert!(preload_hint("URI=\"x\"").is_err());
        assert!(preload_hint("TYPE=PART").is_err());
        assert_eq!(
            rendition_report("URI=\"/1M/LL-HLS.m3u8\",LAST-MSN=274,LAST-PART=1"),
            Ok(RenditionReport {
                uri: "/1M/LL-HLS.m3u8".into(),
                last_msn: Some(274),
                last_part: Some(1),
            })
        );
        assert!(rendition_report("LAST-MSN=1").is_err());
        assert_eq!(
            skip("SKIPPED-SEGMENTS=3,RECENTLY-REMOVED-DATERANGES=\"a\tb\""),
            Ok(Skip {
                skipped_segments: 3,
                recently_removed_dateranges: vec!["a".into(), "b".into()],
            })
        );
        assert_eq!(
            skip("SKIPPED-SEGMENTS=3,RECENTLY-REMOVED-DATERANGES=\"\"")
                .map(|s| s.recently_removed_dateranges.len()),
            Ok(0)
        );
        assert!(skip("").is_err());
    }
}
