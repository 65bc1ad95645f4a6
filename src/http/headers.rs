//! Header fields: the `Header` type and field-level semantics shared by the
//! request and response parsers and by the proxy layer (lookup, list
//! splitting, token tests, hop-by-hop stripping, Content-Length values).
//!
//! It must not decide message framing (that is `request`/`response`) and must
//! not copy field bytes on lookup: names and values are `Bytes` slices of the
//! received head, so everything here borrows.

use bytes::Bytes;

/// One header field as received (name case preserved, value without
/// surrounding OWS, as httparse trims it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: Bytes,
    pub value: Bytes,
}

impl Header {
    /// A field with a static name; used for fields we generate ourselves,
    /// so the name costs nothing.
    pub fn new(name: &'static str, value: impl Into<Bytes>) -> Header {
        Header {
            name: Bytes::from_static(name.as_bytes()),
            value: value.into(),
        }
    }

    /// Field names are case-insensitive (RFC 9110 5.1), so every lookup
    /// goes through this.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// The first field called `name` (case-insensitive).
pub fn find<'a>(headers: &'a [Header], name: &str) -> Option<&'a Bytes> {
    headers.iter().find(|h| h.is(name)).map(|h| &h.value)
}

/// Every field called `name`, in order received.
pub fn find_all<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a Bytes> {
    headers.iter().filter(move |h| h.is(name)).map(|h| &h.value)
}

/// Comma-separated list elements across all fields of that name, trimmed of
/// OWS, empty elements skipped.
///
/// RFC 9110 5.3 makes `A: x, y` equivalent to `A: x` + `A: y`, and 5.6.1
/// requires recipients to ignore empty elements, so callers must never look
/// at raw values of list-valued fields. Quoted strings are not special-cased:
/// this is meant for token lists (Connection, Transfer-Encoding, ...).
pub fn list_items<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    find_all(headers, name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|item| !item.is_empty())
}

/// Whether the list-valued field `name` contains `token` (case-insensitive).
pub fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    list_items(headers, name).any(|item| item.eq_ignore_ascii_case(token.as_bytes()))
}

/// Fields that describe one connection and must never be forwarded
/// (RFC 9110 7.6.1, plus the legacy Keep-Alive / Proxy-Connection).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Copy of `headers` without hop-by-hop fields: Connection, Keep-Alive,
/// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
/// Proxy-Authenticate, Proxy-Authorization, and every field named in
/// Connection. (Content-Length is NOT hop-by-hop; callers handle framing.)
///
/// A proxy that forwards these would let a client steer the proxy-to-origin
/// connection (or strip end-to-end fields via `Connection: X`), so this is
/// applied in both directions. Cloning a `Header` only bumps refcounts.
pub fn end_to_end(headers: &[Header]) -> Vec<Header> {
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let hop = HOP_BY_HOP.iter().any(|n| h.is(n))
            || list_items(headers, "connection").any(|t| h.name.eq_ignore_ascii_case(t));
        if !hop {
            out.push(h.clone());
        }
    }
    out
}

/// Strips optional whitespace (SP / HTAB, RFC 9110 5.6.3) from both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses a Content-Length element: 1+ ASCII digits, nothing else, fitting
/// u64. Signs, inner spaces, hex and overflow all fail, because any leniency
/// here is a request-smuggling vector between us and the origin.
pub fn parse_content_length(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Whether `b` may appear in a token (RFC 9110 5.6.2 `tchar`): field names, parameter names.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` starts with `prefix`, ASCII case ignored (schemes, media types).
pub fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Fields from `(name, value)` pairs, for the unit tests of the HTTP modules.
#[cfg(test)]
pub(crate) fn hs(pairs: &[(&'static str, &'static str)]) -> Vec<Header> {
    pairs
        .iter()
        .map(|(n, v)| Header::new(n, Bytes::from_static(v.as_bytes())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_is_case_insensitive() {
        let h = Header::new("Content-Type", "text/plain");
        assert_eq!(&h.name[..], b"Content-Type");
        assert!(h.is("content-type"));
        assert!(h.is("CONTENT-TYPE"));
        assert!(!h.is("content-typ"));
    }

    #[test]
    fn find_first_and_all() {
        let h = hs(&[("A", "1"), ("b", "2"), ("a", "3")]);
        assert_eq!(find(&h, "a").map(|v| &v[..]), Some(&b"1"[..]));
        assert_eq!(find(&h, "B").map(|v| &v[..]), Some(&b"2"[..]));
        assert_eq!(find(&h, "c"), None);
        let all: Vec<&[u8]> = find_all(&h, "A").map(|v| &v[..]).collect();
        assert_eq!(all, vec![&b"1"[..], &b"3"[..]]);
    }

    #[test]
    fn list_items_split_trim_skip_empty_across_fields() {
        let h = hs(&[("X", " a ,b,, \t,c\t"), ("Y", "z"), ("x", ",d")]);
        let items: Vec<&[u8]> = list_items(&h, "x").collect();
        assert_eq!(items, vec![&b"a"[..], b"b", b"c", b"d"]);
        assert_eq!(list_items(&h, "nope").count(), 0);
    }

    #[test]
    fn has_token_case_insensitive() {
        let h = hs(&[("Connection", "Keep-Alive, Upgrade")]);
        assert!(has_token(&h, "connection", "keep-alive"));
        assert!(has_token(&h, "CONNECTION", "upgrade"));
        assert!(!has_token(&h, "connection", "close"));
        assert!(!has_token(&h, "connection", "keep"));
    }

    #[test]
    fn end_to_end_strips_hop_by_hop_and_connection_named() {
        let h = hs(&[
            ("Host", "a"),
            ("Connection", "close, X-Secret"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Trailer", "X"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Proxy-Authenticate", "Basic"),
            ("Proxy-Authorization", "Basic abc"),
            ("x-secret", "1"),
            ("Content-Length", "5"),
            ("Cache-Control", "max-age=1"),
        ]);
        let out = end_to_end(&h);
        let names: Vec<&[u8]> = out.iter().map(|h| &h.name[..]).collect();
        assert_eq!(
            names,
            vec![&b"Host"[..], b"Content-Length", b"Cache-Control"]
        );
    }

    #[test]
    fn trim_ows_edges() {
        assert_eq!(trim_ows(b" \t x y\t "), b"x y");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }

    #[test]
    fn content_length_digits_only() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b"0042"), Some(42));
        assert_eq!(
            parse_content_length(b"18446744073709551615"),
            Some(u64::MAX)
        );
        assert_eq!(parse_content_length(b"18446744073709551616"), None);
        for bad in [&b""[..], b"+1", b"-1", b"1 2", b" 1", b"0x10", b"1,1", b"a"] {
            assert_eq!(parse_content_length(bad), None, "{bad:?}");
        }
    }
}
