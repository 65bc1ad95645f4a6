//! Conditional GET/HEAD (RFC 9110 13): entity tags and their comparison, `If-None-Match` and
//! `If-Modified-Since` evaluated against the validators of the response that would be sent,
//! and the fields a `304 Not Modified` keeps of that response.
//!
//! Pure: it reads header fields and answers a verdict. Which responses it applies to (a
//! cacheable `200`, whether it came from the store or is still arriving from the origin) and
//! how the `304` is written is the server's business. The cache always fetches the whole
//! object unconditionally, so every client condition is evaluated here, against what the
//! cache holds, never forwarded.
//!
//! Not evaluated: `If-Match` and `If-Unmodified-Since` (RFC 9110 13.1.1, 13.1.4). They guard
//! state-changing requests against lost updates; on a GET they would only ever turn a cached
//! answer into a `412`, which no player asks for, and the methods they matter for are passed
//! to the origin untouched.
//!
//! `If-Modified-Since` is compared with `Last-Modified` only. RFC 9111 4.3.2 lets a cache fall
//! back to the response's `Date`, but a live playlist without `Last-Modified` is rewritten
//! within the second its `Date` names: a `304` built on that one-second resolution could keep a
//! player on a stale playlist, and a player that cares sends `If-None-Match` anyway.

use std::time::SystemTime;

use super::headers::{find, find_all, trim_ows, Header};
use super::request::Method;

/// An entity tag (RFC 9110 8.8.3): the opaque part between the quotes, and whether it was
/// marked weak (`W/"..."`). Borrowed from the field value it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntityTag<'a> {
    pub weak: bool,
    /// The characters between the double quotes (quotes excluded).
    pub opaque: &'a [u8],
}

impl<'a> EntityTag<'a> {
    /// Parses a whole field value holding exactly one entity tag (OWS around it allowed), as
    /// in `ETag` or `If-Range`. `None` for anything else, `*` included.
    pub fn parse(value: &'a [u8]) -> Option<EntityTag<'a>> {
        match EntityTag::parse_prefix(trim_ows(value)) {
            Some((tag, [])) => Some(tag),
            _ => None,
        }
    }

    /// Parses one entity tag at the start of `s`; returns it and what follows it.
    fn parse_prefix(s: &'a [u8]) -> Option<(EntityTag<'a>, &'a [u8])> {
        // The weak indicator is case-sensitive (`%s"W/"`).
        let (weak, quoted) = match s.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let inner = quoted.strip_prefix(b"\"")?;
        let end = inner.iter().position(|&b| b == b'"')?;
        let opaque = &inner[..end];
        // etagc = %x21 / %x23-7E / obs-text: no controls, no space, no DEL.
        if !opaque
            .iter()
            .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        Some((EntityTag { weak, opaque }, &inner[end + 1..]))
    }

    /// Strong comparison (RFC 9110 8.8.3.2): both tags strong and the opaque parts equal.
    /// Required wherever a byte range of one response is combined with another.
    pub fn strong_eq(&self, other: &EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison (RFC 9110 8.8.3.2): the opaque parts equal, whatever the weakness.
    /// Enough to say a representation is "the same" for a `304`.
    pub fn weak_eq(&self, other: &EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

/// What a request's conditional fields say about sending the selected response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send the response as selected (no condition, or the client's copy is outdated).
    Send,
    /// The client's copy is current: answer `304 Not Modified`.
    NotModified,
}

/// Evaluates `If-None-Match`, else `If-Modified-Since`, of `request` against the `ETag` and
/// `Last-Modified` of the `200` response that would be sent (RFC 9110 13.2.2, steps 3 and 4).
///
/// Only GET and HEAD can be answered `304`; any other method gets `Send` (a failed
/// `If-None-Match` on those would be a `412`, which is the origin's call). `If-Modified-Since`
/// is ignored when `If-None-Match` is present (RFC 9110 13.1.3), when it appears more than
/// once, or when it is not a valid HTTP-date; without `Last-Modified` the response's `Date`
/// stands for it. An `If-None-Match` that does not parse matches
/// nothing, so the full response is sent: the safe reading of a field we cannot understand.
pub fn evaluate(method: &Method, request: &[Header], response: &[Header]) -> Verdict {
    if !method.is_cacheable_read() {
        return Verdict::Send;
    }
    let mut if_none_match = find_all(request, "if-none-match").peekable();
    if if_none_match.peek().is_some() {
        let current = find(response, "etag").and_then(|v| EntityTag::parse(v));
        return match none_match(if_none_match, current.as_ref()) {
            true => Verdict::NotModified,
            false => Verdict::Send,
        };
    }
    let Some(since) = single(request, "if-modified-since").and_then(http_date) else {
        return Verdict::Send;
    };
    // A stored response without `Last-Modified` was not modified after its `Date` (RFC 9111
    // 4.3.2: a cache may use it as the modification date; RFC 9110 13.1.3).
    let modified = find(response, "last-modified").or_else(|| find(response, "date"));
    match modified.and_then(|v| http_date(v)) {
        Some(modified) if modified <= since => Verdict::NotModified,
        _ => Verdict::Send,
    }
}

/// Whether any `If-None-Match` member matches `current` by weak comparison (`*` matches any
/// existing response). False as soon as one field value is not a valid list.
fn none_match<'a>(
    values: impl Iterator<Item = &'a bytes::Bytes>,
    current: Option<&EntityTag<'_>>,
) -> bool {
    let mut matched = false;
    for value in values {
        match members_match(value, current) {
            Some(hit) => matched |= hit,
            None => return false,
        }
    }
    matched
}

/// Walks one `If-None-Match` value (`"*"` or `#entity-tag`). Entity tags may contain commas,
/// so the list is split by parsing, not by `headers::list_items`. `None`: invalid syntax.
fn members_match(value: &[u8], current: Option<&EntityTag<'_>>) -> Option<bool> {
    let mut matched = false;
    let mut rest = value;
    loop {
        // Leading OWS and empty list elements (RFC 9110 5.6.1).
        while let [b' ' | b'\t' | b',', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return Some(matched);
        }
        if let Some(tail) = rest.strip_prefix(b"*") {
            matched = true;
            rest = tail;
        } else {
            let (tag, tail) = EntityTag::parse_prefix(rest)?;
            matched |= current.is_some_and(|c| c.weak_eq(&tag));
            rest = tail;
        }
        // After a member: OWS, then a comma or the end.
        rest = trim_ows(rest);
        if !rest.is_empty() && rest[0] != b',' {
            return None;
        }
    }
}

/// The value of a field that must appear at most once; `None` when absent or repeated.
fn single<'a>(headers: &'a [Header], name: &'a str) -> Option<&'a [u8]> {
    let mut values = find_all(headers, name);
    let first = values.next()?;
    match values.next() {
        Some(_) => None,
        None => Some(first),
    }
}

/// Parses an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient
/// must accept, RFC 9110 5.6.7), whatever the case of its names (`sun, 06 nov 1994 ... gmt`
/// is read as the date it obviously is). `None` for anything else.
pub fn http_date(value: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(trim_ows(value)).ok()?;
    if let Ok(date) = httpdate::parse_http_date(text) {
        return Some(date);
    }
    httpdate::parse_http_date(&canonical_case(text)).ok()
}

/// `text` with each run of letters as the date formats spell them: `GMT` in capitals, day and
/// month names capitalised.
fn canonical_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = true;
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            out.push(match word_start {
                true => c.to_ascii_uppercase(),
                false => c.to_ascii_lowercase(),
            });
            word_start = false;
        } else {
            out.push(c);
            word_start = true;
        }
    }
    out.replace("Gmt", "GMT")
}

/// Representation metadata and framing a `304` must not carry (RFC 9110 15.4.5): the client
/// keeps those of its own stored copy. Every other field is kept, in particular
/// Cache-Control, Content-Location, Date, ETag, Expires, Vary and Last-Modified.
const NOT_IN_304: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-language",
    "content-range",
    "content-length",
    "transfer-encoding",
];

/// Whether a field of the `200` response is repeated in the `304` that stands for it.
pub fn kept_in_not_modified(field: &Header) -> bool {
    !NOT_IN_304.iter().any(|name| field.is(name))
}

/// The fields of a `200` response that its `304` carries, in order.
pub fn not_modified_fields(headers: &[Header]) -> impl Iterator<Item = &Header> {
    headers.iter().filter(|h| kept_in_not_modified(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::headers::hs;

    const LM: &str = "Thu, 01 Jan 2015 00:00:00 GMT";

    fn response() -> Vec<Header> {
        hs(&[
            ("ETag", "\"v1\""),
            ("Last-Modified", LM),
            ("Content-Type", "video/mp4"),
        ])
    }

    fn verdict(request: &[(&'static str, &'static str)]) -> Verdict {
        evaluate(&Method::Get, &hs(request), &response())
    }

    #[test]
    fn entity_tag_parse() {
        let tag = EntityTag::parse(b" \"abc\" ").unwrap();
        assert_eq!((tag.weak, tag.opaque), (false, &b"abc"[..]));
        let tag = EntityTag::parse(b"W/\"a,b\"").unwrap();
        assert_eq!((tag.weak, tag.opaque), (true, &b"a,b"[..]));
        assert_eq!(EntityTag::parse(b"\"\"").unwrap().opaque, b"");
        for bad in [
            &b"abc"[..],
            b"\"abc",
            b"w/\"abc\"",
            b"W/abc",
            b"\"a\" x",
            b"\"a b\"",
            b"*",
            b"",
        ] {
            assert_eq!(EntityTag::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strong_and_weak_comparison_table() {
        // RFC 9110 8.8.3.2's table.
        let w1 = EntityTag::parse(b"W/\"1\"").unwrap();
        let w2 = EntityTag::parse(b"W/\"2\"").unwrap();
        let s1 = EntityTag::parse(b"\"1\"").unwrap();
        assert!(!w1.strong_eq(&w1) && w1.weak_eq(&w1));
        assert!(!w1.strong_eq(&w2) && !w1.weak_eq(&w2));
        assert!(!w1.strong_eq(&s1) && w1.weak_eq(&s1));
        assert!(s1.strong_eq(&s1) && s1.weak_eq(&s1));
    }

    #[test]
    fn if_none_match_strong_weak_list_star() {
        assert_eq!(
            verdict(&[("If-None-Match", "\"v1\"")]),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("If-None-Match", "W/\"v1\"")]),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("If-None-Match", "\"x\", \"v1\"")]),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("If-None-Match", "\"x\""), ("if-none-match", "\"v1\"")]),
            Verdict::NotModified
        );
        assert_eq!(verdict(&[("If-None-Match", "*")]), Verdict::NotModified);
        assert_eq!(verdict(&[("If-None-Match", "\"v2\"")]), Verdict::Send);
        assert_eq!(verdict(&[("If-None-Match", "\"V1\"")]), Verdict::Send);
    }

    #[test]
    fn if_none_match_weak_response_tag_matches_weakly() {
        let response = hs(&[("ETag", "W/\"v1\"")]);
        let request = hs(&[("If-None-Match", "\"v1\"")]);
        assert_eq!(
            evaluate(&Method::Get, &request, &response),
            Verdict::NotModified
        );
    }

    #[test]
    fn if_none_match_invalid_or_no_etag_sends() {
        assert_eq!(verdict(&[("If-None-Match", "v1")]), Verdict::Send);
        assert_eq!(verdict(&[("If-None-Match", "\"v1\" junk")]), Verdict::Send);
        assert_eq!(
            verdict(&[("If-None-Match", "\"v1\""), ("If-None-Match", "bad")]),
            Verdict::Send
        );
        let no_etag = hs(&[("Last-Modified", LM)]);
        let request = hs(&[("If-None-Match", "\"v1\"")]);
        assert_eq!(evaluate(&Method::Get, &request, &no_etag), Verdict::Send);
        let star = hs(&[("If-None-Match", "*")]);
        assert_eq!(
            evaluate(&Method::Get, &star, &no_etag),
            Verdict::NotModified
        );
    }

    #[test]
    fn if_none_match_tolerates_empty_elements_and_ows() {
        assert_eq!(
            verdict(&[("If-None-Match", " , \"x\" ,, W/\"v1\" ,")]),
            Verdict::NotModified
        );
    }

    #[test]
    fn if_modified_since() {
        assert_eq!(verdict(&[("If-Modified-Since", LM)]), Verdict::NotModified);
        assert_eq!(
            verdict(&[("If-Modified-Since", "Fri, 02 Jan 2015 00:00:00 GMT")]),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("If-Modified-Since", "Wed, 31 Dec 2014 23:59:59 GMT")]),
            Verdict::Send
        );
        // The obsolete forms a recipient must accept.
        assert_eq!(
            verdict(&[("If-Modified-Since", "Thursday, 01-Jan-15 00:00:00 GMT")]),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("If-Modified-Since", "Thu Jan  1 00:00:00 2015")]),
            Verdict::NotModified
        );
    }

    #[test]
    fn http_dates_in_any_of_the_three_forms_and_any_case() {
        // RFC 9110 5.6.7: a recipient MUST accept all three formats.
        let day = http_date(b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        for spelling in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "sun, 06 nov 1994 08:49:37 gmt",
            "SUNDAY, 06-NOV-94 08:49:37 GMT",
            "sun nov  6 08:49:37 1994",
        ] {
            assert_eq!(http_date(spelling.as_bytes()), Some(day), "{spelling}");
        }
        assert_eq!(http_date(b"yesterday"), None);
    }

    #[test]
    fn if_modified_since_falls_back_to_date_without_last_modified() {
        // RFC 9110 13.1.3 with RFC 9111 4.3.2: the stored Date stands for Last-Modified.
        let stored = hs(&[("Date", LM), ("ETag", "\"v1\"")]);
        let ask = |since: &'static str| {
            evaluate(&Method::Get, &hs(&[("If-Modified-Since", since)]), &stored)
        };
        assert_eq!(ask(LM), Verdict::NotModified);
        assert_eq!(ask("Wed, 31 Dec 2014 23:59:59 GMT"), Verdict::Send);
        let undated = hs(&[("ETag", "\"v1\"")]);
        let since = hs(&[("If-Modified-Since", LM)]);
        assert_eq!(evaluate(&Method::Get, &since, &undated), Verdict::Send);
    }

    #[test]
    fn if_modified_since_ignored_when_invalid_repeated_or_with_if_none_match() {
        assert_eq!(
            verdict(&[("If-Modified-Since", "yesterday")]),
            Verdict::Send
        );
        assert_eq!(
            verdict(&[("If-Modified-Since", LM), ("If-Modified-Since", LM)]),
            Verdict::Send
        );
        assert_eq!(
            verdict(&[("If-None-Match", "\"v2\""), ("If-Modified-Since", LM)]),
            Verdict::Send
        );
        let no_lm = hs(&[("ETag", "\"v1\"")]);
        let request = hs(&[("If-Modified-Since", LM)]);
        assert_eq!(evaluate(&Method::Get, &request, &no_lm), Verdict::Send);
    }

    #[test]
    fn only_get_and_head() {
        let request = hs(&[("If-None-Match", "\"v1\"")]);
        assert_eq!(
            evaluate(&Method::Head, &request, &response()),
            Verdict::NotModified
        );
        assert_eq!(
            evaluate(&Method::Post, &request, &response()),
            Verdict::Send
        );
        assert_eq!(verdict(&[]), Verdict::Send);
    }

    #[test]
    fn not_modified_keeps_validators_and_caching_fields() {
        let fields = hs(&[
            ("Cache-Control", "max-age=60"),
            ("Content-Type", "video/mp4"),
            ("content-encoding", "gzip"),
            ("Content-Language", "en"),
            ("Content-Location", "/a"),
            ("Content-Range", "bytes 0-1/2"),
            ("Content-Length", "2"),
            ("Transfer-Encoding", "chunked"),
            ("Date", LM),
            ("ETag", "\"v1\""),
            ("Expires", LM),
            ("Vary", "Accept"),
            ("Last-Modified", LM),
            ("X-Custom", "1"),
        ]);
        let kept: Vec<&[u8]> = not_modified_fields(&fields).map(|h| &h.name[..]).collect();
        assert_eq!(
            kept,
            vec![
                &b"Cache-Control"[..],
                b"Content-Location",
                b"Date",
                b"ETag",
                b"Expires",
                b"Vary",
                b"Last-Modified",
                b"X-Custom"
            ]
        );
    }
}
