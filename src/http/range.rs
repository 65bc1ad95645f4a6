//! Byte-range requests (RFC 9110 14): parsing `Range`, resolving it against the length of
//! the selected representation, the `If-Range` guard (13.1.5), and the `Content-Range` values
//! of a `206` and a `416`.
//!
//! Pure: it answers which bytes to send (`Outcome`); the server streams them. The cache
//! always holds or fetches the whole object, so a range is cut from it on the way out.
//!
//! One range per response. A request for several ranges (`bytes=0-99,200-299`) is answered
//! with the full `200`, which RFC 9110 14.2 allows ("a server MAY ignore the Range header
//! field"). The objects this cache serves are live segments and playlists of a few hundred
//! kilobytes to a few megabytes, players ask for one range at a time, and a
//! `multipart/byteranges` answer would need a boundary and per-part heads generated into
//! every response instead of slicing the shared body. Ignoring the set also disposes of
//! overlapping or many small ranges, the known denial-of-service shapes (RFC 9110 14.2).
//!
//! Any other `Range` we cannot honour exactly is ignored the same way (full `200`): another
//! unit than `bytes`, invalid syntax, a repeated field, or an `If-Range` that does not hold.
//!
//! A body whose length is not known yet (a live segment still growing at the origin) has
//! one range form of its own, RFC 8673's: `first-` followed by a last position of at least
//! [`INDETERMINATE_END`] asks for everything from `first` on, however long it turns out, and
//! is answered `206` with `Content-Range: bytes first-last/*` as the bytes arrive.

use bytes::BytesMut;

use super::conditional::{http_date, EntityTag};
use super::encode::put_decimal;
use super::headers::{find, find_all, trim_ows, Header};

/// One `Range` byte-range-spec, as asked (RFC 9110 14.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last`, both inclusive; `last` may lie past the end.
    FromTo(u64, u64),
    /// `first-`: from `first` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// An inclusive, satisfiable byte range of a representation: `first <= last < length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// Bytes in the range (never zero).
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Always false: a satisfiable range holds at least one byte (for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the `Content-Range` value of a `206`: `bytes first-last/complete`.
    pub fn write_content_range(&self, dst: &mut BytesMut, complete: u64) {
        dst.extend_from_slice(b"bytes ");
        put_decimal(dst, self.first);
        dst.extend_from_slice(b"-");
        put_decimal(dst, self.last);
        dst.extend_from_slice(b"/");
        put_decimal(dst, complete);
    }
}

/// The last position a client sends to read a growing representation to its end (RFC 8673
/// 2.2): 2^53 - 1, the largest integer a JavaScript client can state exactly, and the one the
/// HLS spec (RFC 8216bis 4.4.5.3) names for a hinted byte range without a length. Larger
/// values mean the same.
pub const INDETERMINATE_END: u64 = (1 << 53) - 1;

/// Appends the `Content-Range` value of a `206` of indeterminate length (RFC 8673 2.2): the
/// range as asked, `bytes first-last/*`.
pub fn write_open_content_range(dst: &mut BytesMut, range: ByteRange) {
    dst.extend_from_slice(b"bytes ");
    put_decimal(dst, range.first);
    dst.extend_from_slice(b"-");
    put_decimal(dst, range.last);
    dst.extend_from_slice(b"/*");
}

/// Appends the `Content-Range` value of a `416`: `bytes */complete` (RFC 9110 14.4).
pub fn write_unsatisfied_range(dst: &mut BytesMut, complete: u64) {
    dst.extend_from_slice(b"bytes */");
    put_decimal(dst, complete);
}

/// What to send for a request's `Range` against a representation of known length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No usable range: the whole representation, `200`.
    Full,
    /// `206 Partial Content` with these bytes.
    Partial(ByteRange),
    /// `416 Range Not Satisfiable`.
    Unsatisfiable,
}

/// Parses a `Range` field value. `None` means "ignore it and send the whole representation":
/// a unit other than `bytes` (the unit is case-insensitive), invalid syntax, or more than one
/// range (see the module doc). OWS around list elements and empty elements are allowed.
pub fn parse(value: &[u8]) -> Option<RangeSpec> {
    let value = trim_ows(value);
    let eq = value.iter().position(|&b| b == b'=')?;
    if !value[..eq].eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = value[eq + 1..]
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|s| !s.is_empty());
    let spec = specs.next()?;
    if specs.next().is_some() {
        return None;
    }
    let dash = spec.iter().position(|&b| b == b'-')?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (first.is_empty(), last.is_empty()) {
        (true, false) => Some(RangeSpec::Suffix(digits(last)?)),
        (false, true) => Some(RangeSpec::From(digits(first)?)),
        (false, false) => {
            let (first, last) = (digits(first)?, digits(last)?);
            // last < first makes the whole set invalid (RFC 9110 14.1.1).
            (first <= last).then_some(RangeSpec::FromTo(first, last))
        }
        (true, true) => None,
    }
}

/// 1*DIGIT as a u64, saturating: `0-99999999999999999999` still means "to the end", and a
/// first position that large is simply past it.
fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

impl RangeSpec {
    /// Resolves against a representation of `length` bytes (RFC 9110 14.1.1): the last
    /// position is clamped to the end, a suffix longer than the representation means all of
    /// it, a first position at or past the end (or a zero suffix) is unsatisfiable. An empty
    /// representation has no byte a `206` could describe; a suffix on it gets the (empty) `200`.
    pub fn resolve(self, length: u64) -> Outcome {
        let (first, last) = match self {
            RangeSpec::FromTo(first, last) => (first, last),
            RangeSpec::From(first) => (first, u64::MAX),
            RangeSpec::Suffix(0) => return Outcome::Unsatisfiable,
            RangeSpec::Suffix(_) if length == 0 => return Outcome::Full,
            RangeSpec::Suffix(n) => (length - n.min(length), u64::MAX),
        };
        if first >= length {
            return Outcome::Unsatisfiable;
        }
        Outcome::Partial(ByteRange {
            first,
            last: last.min(length - 1),
        })
    }
}

/// Whether an `If-Range` value lets the range apply to the response with `fields` (RFC 9110
/// 13.1.5). An entity tag must match the response's `ETag` by strong comparison (a weak tag
/// never does). A date must equal `Last-Modified` exactly, and that `Last-Modified` must be a
/// strong validator: at least one second before the response's `Date` (8.8.2.2). Anything
/// else, an unparseable value included, is false: the client then gets the whole `200`.
pub fn if_range_holds(if_range: &[u8], fields: &[Header]) -> bool {
    let value = trim_ows(if_range);
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        let Some(asked) = EntityTag::parse(value) else {
            return false;
        };
        return find(fields, "etag")
            .and_then(|v| EntityTag::parse(v))
            .is_some_and(|current| current.strong_eq(&asked));
    }
    let (Some(asked), Some(modified), Some(date)) = (
        http_date(value),
        find(fields, "last-modified").and_then(|v| http_date(v)),
        find(fields, "date").and_then(|v| http_date(v)),
    ) else {
        return false;
    };
    let strong = date
        .duration_since(modified)
        .is_ok_and(|d| d.as_secs() >= 1);
    asked == modified && strong
}

/// Decides what a GET (or HEAD) with these `request` fields gets of a `200` response with
/// `fields` and a body of `length` bytes (RFC 9110 13.2.2 step 5, then 14.2): `Full` unless
/// there is exactly one `Range` field, at most one `If-Range` and it holds, and the range
/// parses; then whatever the range resolves to.
pub fn evaluate(request: &[Header], fields: &[Header], length: u64) -> Outcome {
    match applicable(request, fields) {
        Some(spec) => spec.resolve(length),
        None => Outcome::Full,
    }
}

/// For a body whose length is not known yet: the RFC 8673 range the request asks, `first-`
/// to a last position of at least [`INDETERMINATE_END`], under the same conditions as
/// [`evaluate`]. Any other range gets the whole `200`: a `206` must state where its range
/// ends, and only this form lets it say "where the body ends".
pub fn indeterminate(request: &[Header], fields: &[Header]) -> Option<ByteRange> {
    match applicable(request, fields)? {
        RangeSpec::FromTo(first, last) if last >= INDETERMINATE_END => {
            Some(ByteRange { first, last })
        }
        _ => None,
    }
}

/// The last byte a request's range needs, when that is known before any response: one
/// `Range` field with one `first-last` spec, and no `If-Range` (whose verdict needs the
/// response's validators). An incomplete stored response holding that byte can answer it.
pub fn closed_end(request: &[Header]) -> Option<u64> {
    if find(request, "if-range").is_some() {
        return None;
    }
    let mut ranges = find_all(request, "range");
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        return None;
    };
    match parse(range)? {
        RangeSpec::FromTo(_, last) => Some(last),
        RangeSpec::From(_) | RangeSpec::Suffix(_) => None,
    }
}

/// The one `Range` of a request that may apply: exactly one field, at most one `If-Range`
/// and it holds, and a value that parses.
fn applicable(request: &[Header], fields: &[Header]) -> Option<RangeSpec> {
    let mut ranges = find_all(request, "range");
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        return None;
    };
    let mut if_ranges = find_all(request, "if-range");
    match (if_ranges.next(), if_ranges.next()) {
        (None, _) => {}
        (Some(if_range), None) if if_range_holds(if_range, fields) => {}
        _ => return None,
    }
    parse(range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::headers::hs;

    const LM: &str = "Thu, 01 Jan 2015 00:00:00 GMT";

    fn fields() -> Vec<Header> {
        hs(&[
            ("ETag", "\"v1\""),
            ("Last-Modified", LM),
            ("Date", "Sat, 01 Mar 2025 10:00:00 GMT"),
        ])
    }

    fn partial(first: u64, last: u64) -> Outcome {
        Outcome::Partial(ByteRange { first, last })
    }

    #[test]
    fn parse_forms() {
        assert_eq!(parse(b"bytes=0-499"), Some(RangeSpec::FromTo(0, 499)));
        assert_eq!(parse(b"bytes=500-"), Some(RangeSpec::From(500)));
        assert_eq!(parse(b"bytes=-500"), Some(RangeSpec::Suffix(500)));
        assert_eq!(parse(b"Bytes=1-1"), Some(RangeSpec::FromTo(1, 1)));
        assert_eq!(parse(b"BYTES= 2-3 "), Some(RangeSpec::FromTo(2, 3)));
        assert_eq!(parse(b" bytes=, 2-3 ,"), Some(RangeSpec::FromTo(2, 3)));
        assert_eq!(
            parse(b"bytes=0-99999999999999999999999"),
            Some(RangeSpec::FromTo(0, u64::MAX))
        );
    }

    #[test]
    fn parse_ignores_invalid_other_units_and_multiple() {
        for bad in [
            &b""[..],
            b"bytes",
            b"bytes=",
            b"bytes=-",
            b"bytes=a-b",
            b"bytes=1-a",
            b"bytes=5-4",
            b"bytes=1 -2",
            b"bytes=+1-2",
            b"bytes=0x1-2",
            b"items=0-1",
            b"bytes=0-1,2-3",
            b"bytes=0-1, -5",
            b"bytes=0-1,0-1",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn resolve_clamps_and_rejects() {
        assert_eq!(RangeSpec::FromTo(0, 499).resolve(1000), partial(0, 499));
        assert_eq!(
            RangeSpec::FromTo(900, 5000).resolve(1000),
            partial(900, 999)
        );
        assert_eq!(RangeSpec::FromTo(999, 999).resolve(1000), partial(999, 999));
        assert_eq!(RangeSpec::From(10).resolve(1000), partial(10, 999));
        assert_eq!(RangeSpec::Suffix(100).resolve(1000), partial(900, 999));
        assert_eq!(RangeSpec::Suffix(5000).resolve(1000), partial(0, 999));
        assert_eq!(
            RangeSpec::FromTo(1000, 1001).resolve(1000),
            Outcome::Unsatisfiable
        );
        assert_eq!(RangeSpec::From(1000).resolve(1000), Outcome::Unsatisfiable);
        assert_eq!(RangeSpec::Suffix(0).resolve(1000), Outcome::Unsatisfiable);
        assert_eq!(RangeSpec::From(0).resolve(0), Outcome::Unsatisfiable);
        assert_eq!(RangeSpec::Suffix(5).resolve(0), Outcome::Full);
    }

    #[test]
    fn byte_range_len_and_content_range_values() {
        let range = ByteRange {
            first: 10,
            last: 19,
        };
        assert_eq!(range.len(), 10);
        let mut out = BytesMut::new();
        range.write_content_range(&mut out, 1000);
        assert_eq!(&out[..], b"bytes 10-19/1000");
        let mut out = BytesMut::new();
        write_unsatisfied_range(&mut out, 1000);
        assert_eq!(&out[..], b"bytes */1000");
    }

    #[test]
    fn if_range_entity_tag_must_match_strongly() {
        assert!(if_range_holds(b"\"v1\"", &fields()));
        assert!(!if_range_holds(b"\"v2\"", &fields()));
        assert!(!if_range_holds(b"W/\"v1\"", &fields()));
        let weak = hs(&[("ETag", "W/\"v1\"")]);
        assert!(!if_range_holds(b"\"v1\"", &weak));
        assert!(!if_range_holds(b"\"v1", &fields()));
        assert!(!if_range_holds(b"\"v1\"", &hs(&[("Last-Modified", LM)])));
    }

    #[test]
    fn if_range_date_must_equal_a_strong_last_modified() {
        assert!(if_range_holds(LM.as_bytes(), &fields()));
        assert!(!if_range_holds(b"Fri, 02 Jan 2015 00:00:00 GMT", &fields()));
        assert!(!if_range_holds(b"Wed, 31 Dec 2014 23:59:59 GMT", &fields()));
        assert!(!if_range_holds(b"not a date", &fields()));
        // Date within the same second as Last-Modified: a weak validator.
        let weak = hs(&[("Last-Modified", LM), ("Date", LM)]);
        assert!(!if_range_holds(LM.as_bytes(), &weak));
        // No Date: strength unknown, so not strong.
        assert!(!if_range_holds(
            LM.as_bytes(),
            &hs(&[("Last-Modified", LM)])
        ));
        let one_second = hs(&[
            ("Last-Modified", LM),
            ("Date", "Thu, 01 Jan 2015 00:00:01 GMT"),
        ]);
        assert!(if_range_holds(LM.as_bytes(), &one_second));
    }

    #[test]
    fn evaluate_combines_range_and_if_range() {
        let f = fields();
        assert_eq!(evaluate(&hs(&[]), &f, 1000), Outcome::Full);
        assert_eq!(
            evaluate(&hs(&[("Range", "bytes=0-9")]), &f, 1000),
            partial(0, 9)
        );
        assert_eq!(
            evaluate(
                &hs(&[("Range", "bytes=0-9"), ("If-Range", "\"v1\"")]),
                &f,
                1000
            ),
            partial(0, 9)
        );
        assert_eq!(
            evaluate(
                &hs(&[("Range", "bytes=0-9"), ("If-Range", "\"v0\"")]),
                &f,
                1000
            ),
            Outcome::Full
        );
        // If-Range is evaluated first: a failed one turns even a 416 into a 200.
        assert_eq!(
            evaluate(
                &hs(&[("Range", "bytes=2000-"), ("If-Range", "\"v0\"")]),
                &f,
                1000
            ),
            Outcome::Full
        );
        assert_eq!(
            evaluate(&hs(&[("Range", "bytes=2000-")]), &f, 1000),
            Outcome::Unsatisfiable
        );
        assert_eq!(
            evaluate(
                &hs(&[("Range", "bytes=0-1"), ("Range", "bytes=0-1")]),
                &f,
                1000
            ),
            Outcome::Full
        );
        assert_eq!(
            evaluate(
                &hs(&[
                    ("Range", "bytes=0-1"),
                    ("If-Range", "\"v1\""),
                    ("If-Range", "\"v1\"")
                ]),
                &f,
                1000
            ),
            Outcome::Full
        );
        assert_eq!(
            evaluate(&hs(&[("Range", "bytes=0-1,5-6")]), &f, 1000),
            Outcome::Full
        );
        // If-Range without Range means nothing.
        assert_eq!(
            evaluate(&hs(&[("If-Range", "\"v1\"")]), &f, 1000),
            Outcome::Full
        );
    }

    #[test]
    fn indeterminate_ranges_of_a_growing_body() {
        let f = fields();
        let open = |value: &'static str| indeterminate(&hs(&[("Range", value)]), &f);
        let asked = |first, last| Some(ByteRange { first, last });
        assert_eq!(
            open("bytes=500-9007199254740991"),
            asked(500, INDETERMINATE_END)
        );
        assert_eq!(open("bytes=0-18446744073709551615"), asked(0, u64::MAX));
        // Forms that do not say "to the end, however long": the whole 200.
        for other in [
            "bytes=500-",
            "bytes=0-9007199254740990",
            "bytes=-5",
            "bytes=0-1,3-4",
        ] {
            assert_eq!(open(other), None, "{other}");
        }
        let failed_if_range = hs(&[
            ("Range", "bytes=500-9007199254740991"),
            ("If-Range", "\"v0\""),
        ]);
        assert_eq!(indeterminate(&failed_if_range, &f), None);
        let mut out = BytesMut::new();
        write_open_content_range(
            &mut out,
            ByteRange {
                first: 500,
                last: INDETERMINATE_END,
            },
        );
        assert_eq!(&out[..], b"bytes 500-9007199254740991/*");
    }
}
