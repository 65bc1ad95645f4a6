//! Secondary cache keys (RFC 9111 section 4.1): a response with `Vary` may only be reused for
//! requests whose listed fields match those of the request that brought it. The match is on a
//! normalised form: field values combined in order with `,`, whitespace around list commas
//! removed and runs of whitespace folded, and case folded for the content-negotiation fields
//! whose values are case-insensitive tokens. `Vary: *` never matches. Pure: no I/O.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::directives::MAX_FIELD_NAMES;
use crate::http::headers::{find_all, list_items, Header};

/// The request fields a response varies on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vary {
    /// No `Vary`: one variant serves every request.
    None,
    /// `Vary: *`: the response can never be reused.
    Star,
    /// Lower-cased field names, sorted and without duplicates, so two responses that list the
    /// same fields in another order agree.
    Fields(Arc<[Bytes]>),
}

impl Vary {
    pub fn of(headers: &[Header]) -> Vary {
        let mut names: Vec<Bytes> = Vec::new();
        for item in list_items(headers, "vary") {
            // Past `MAX_FIELD_NAMES` names the response varies on nearly everything: as `*`, it is
            // never reused (and its many small allocations never reach the store).
            if item == b"*" || names.len() == MAX_FIELD_NAMES {
                return Vary::Star;
            }
            names.push(Bytes::from(item.to_ascii_lowercase()));
        }
        if names.is_empty() {
            return Vary::None;
        }
        names.sort();
        names.dedup();
        Vary::Fields(names.into())
    }

    /// The secondary key of a request under these fields (empty for `None`).
    pub fn secondary_key(&self, request: &[Header]) -> Bytes {
        match self {
            Vary::Fields(names) => secondary_key(names, request),
            Vary::None | Vary::Star => Bytes::new(),
        }
    }

    /// These fields plus the operator's `key_fields` (lower-cased, sorted), which key every
    /// response as if it said `Vary` for them: the cache keys variants by those fields whatever
    /// the origin says.
    pub fn with_key_fields(self, key: &[Bytes]) -> Vary {
        match self {
            _ if key.is_empty() => self,
            Vary::Star => Vary::Star,
            Vary::None => Vary::Fields(key.into()),
            Vary::Fields(names) => {
                let mut all: Vec<Bytes> = names.iter().chain(key).cloned().collect();
                all.sort();
                all.dedup();
                Vary::Fields(all.into())
            }
        }
    }

    pub fn fields(&self) -> &[Bytes] {
        match self {
            Vary::Fields(names) => names,
            Vary::None | Vary::Star => &[],
        }
    }
}

/// Fields whose values are case-insensitive tokens (RFC 9110 12.5): their case is folded.
const CASE_INSENSITIVE: &[&[u8]] = &[
    b"accept",
    b"accept-charset",
    b"accept-encoding",
    b"accept-language",
];

/// `name:value` per listed field, each line ended by `\n`; an absent field is `name` alone
/// without a colon, so absent and empty stay different.
pub fn secondary_key(names: &[Bytes], request: &[Header]) -> Bytes {
    let mut key = BytesMut::new();
    for name in names {
        let text = std::str::from_utf8(name).unwrap_or_default();
        key.put_slice(name);
        let fold = CASE_INSENSITIVE.contains(&name.as_ref());
        if name.as_ref() == b"accept-language" {
            let values: Vec<&[u8]> = find_all(request, text).map(|v| &v[..]).collect();
            // An absent field stays apart from an empty one (below).
            let normal = (!values.is_empty())
                .then(|| language_preferences(&values.join(&b',')))
                .flatten();
            if let Some(normal) = normal {
                key.put_u8(b':');
                key.put_slice(&normal);
                key.put_u8(b'\n');
                continue;
            }
        }
        let mut first = true;
        for value in find_all(request, text) {
            key.put_u8(if first { b':' } else { b',' });
            first = false;
            normalise_into(&mut key, value, fold);
        }
        key.put_u8(b'\n');
    }
    key.freeze()
}

/// An `Accept-Language` value as the preferences it states (RFC 9110 12.5.4), so spellings of
/// one preference list share a variant: tags lower-cased, `q` written canonically (omitted when
/// 1), items ordered by `q`, highest first, keeping the client's order among equal weights (an
/// origin that breaks ties by order sees the same list). `None` when anything is not a plain
/// `tag[;q=weight]` item: then only case and whitespace are folded, as for other fields.
fn language_preferences(value: &[u8]) -> Option<Vec<u8>> {
    let mut items: Vec<(Vec<u8>, u16)> = Vec::new();
    for item in value.split(|&b| b == b',') {
        let item = item.trim_ascii();
        if item.is_empty() {
            continue;
        }
        let mut parts = item.split(|&b| b == b';');
        let tag = parts.next()?.trim_ascii();
        let plain = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'*';
        if tag.is_empty() || !tag.iter().all(plain) {
            return None;
        }
        let weight = match parts.next() {
            None => 1000,
            Some(param) => {
                let param = param.trim_ascii();
                let q = param
                    .strip_prefix(b"q=")
                    .or_else(|| param.strip_prefix(b"Q="))?;
                qvalue(q)?
            }
        };
        if parts.next().is_some() {
            return None;
        }
        items.push((tag.to_ascii_lowercase(), weight));
    }
    // Stable: equal weights keep the client's order.
    items.sort_by_key(|item| std::cmp::Reverse(item.1));
    let mut out = Vec::with_capacity(value.len());
    for (i, (tag, weight)) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(tag);
        if *weight != 1000 {
            // `;q=0.` and the thousandths without trailing zeros (0.900 is 0.9).
            out.extend_from_slice(b";q=0.");
            let digits = [weight / 100, weight / 10 % 10, weight % 10].map(|d| b'0' + d as u8);
            let significant = digits.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
            out.extend_from_slice(&digits[..significant]);
        }
    }
    Some(out)
}

/// An RFC 9110 12.4.2 qvalue in thousandths: `0[.ddd]` or `1[.000]`.
fn qvalue(text: &[u8]) -> Option<u16> {
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &[][..]),
    };
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let thousandths = fraction
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(3)
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match whole {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Appends `value` with list commas tight, whitespace runs folded to one space, and case
/// folded when `fold`.
fn normalise_into(out: &mut BytesMut, value: &[u8], fold: bool) {
    for (i, item) in value.split(|&b| b == b',').enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        let mut space = false;
        for &b in item.trim_ascii() {
            if b == b' ' || b == b'\t' {
                space = true;
                continue;
            }
            if space {
                out.put_u8(b' ');
                space = false;
            }
            out.put_u8(if fold { b.to_ascii_lowercase() } else { b });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_preferences_are_compared_as_preferences() {
        let key =
            |v: &str| language_preferences(v.as_bytes()).map(|k| String::from_utf8(k).unwrap());
        let a = key("en-US,en;q=0.9,fr;q=0.8");
        assert_eq!(a.as_deref(), Some("en-us,en;q=0.9,fr;q=0.8"));
        assert_eq!(key("fr;q=0.800, EN-us , en;Q=0.9"), a);
        assert_eq!(key("en-US;q=1.0,en;q=0.9,,fr;q=0.8"), a);
        // Equal weights keep their order: an origin may break ties by it.
        assert_ne!(key("fr,en"), key("en,fr"));
        assert_eq!(
            key("da, en-gb;q=0.8, en;q=0.7").as_deref(),
            Some("da,en-gb;q=0.8,en;q=0.7")
        );
        for unsafe_value in ["en;q=2", "en;q=0.1234", "en;level=1", "en_US", "en;q"] {
            assert_eq!(key(unsafe_value), None, "{unsafe_value}");
        }
        assert_eq!(qvalue(b"0"), Some(0));
        assert_eq!(qvalue(b"0.5"), Some(500));
        assert_eq!(qvalue(b"1.000"), Some(1000));
        assert_eq!(qvalue(b"1.001"), None);
    }

    #[test]
    fn too_many_vary_fields_count_as_star() {
        let many: String = (0..MAX_FIELD_NAMES + 1)
            .map(|i| format!("x-f{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let headers = [Header::new("Vary", many)];
        assert_eq!(Vary::of(&headers), Vary::Star);
        let few = [Header::new("Vary", "x-a, x-b")];
        assert_eq!(Vary::of(&few).fields().len(), 2);
    }

    #[test]
    fn key_fields_join_the_response_fields() {
        let key = [Bytes::from_static(b"x-device")];
        assert_eq!(Vary::None.with_key_fields(&[]), Vary::None);
        assert_eq!(Vary::None.with_key_fields(&key).fields(), &key[..]);
        assert_eq!(Vary::Star.with_key_fields(&key), Vary::Star);
        let both = Vary::of(&crate::http::headers::hs(&[("Vary", "Accept, X-Device")]))
            .with_key_fields(&key);
        assert_eq!(
            both.fields(),
            &[
                Bytes::from_static(b"accept"),
                Bytes::from_static(b"x-device")
            ][..]
        );
    }

    fn h(name: &'static str, value: &str) -> Header {
        Header::new(name, Bytes::copy_from_slice(value.as_bytes()))
    }

    #[test]
    fn vary_lists_are_normalised() {
        let a = Vary::of(&[h("Vary", "Accept-Language, accept-encoding")]);
        let b = Vary::of(&[h("Vary", "Accept-Encoding"), h("vary", "ACCEPT-LANGUAGE")]);
        assert_eq!(a, b);
        assert_eq!(Vary::of(&[h("Vary", "Accept, *")]), Vary::Star);
        assert_eq!(Vary::of(&[]), Vary::None);
        assert_eq!(Vary::of(&[h("Vary", " , ")]), Vary::None);
    }

    #[test]
    fn equivalent_requests_share_a_secondary_key() {
        let vary = Vary::of(&[h("Vary", "Accept-Encoding, X-Device")]);
        let a = vary.secondary_key(&[h("Accept-Encoding", "gzip,  BR"), h("X-Device", "tv")]);
        let b = vary.secondary_key(&[h("accept-encoding", "gzip , br"), h("x-device", "tv")]);
        let split = vary.secondary_key(&[
            h("Accept-Encoding", "gzip"),
            h("Accept-Encoding", "br"),
            h("X-Device", "tv"),
        ]);
        assert_eq!(a, b);
        assert_eq!(a, split);
        let other = vary.secondary_key(&[h("Accept-Encoding", "gzip, br"), h("X-Device", "TV")]);
        assert_ne!(a, other, "only negotiation fields are case-folded");
    }

    #[test]
    fn absent_and_empty_differ() {
        let vary = Vary::of(&[h("Vary", "Accept-Language")]);
        assert_ne!(
            vary.secondary_key(&[]),
            vary.secondary_key(&[h("Accept-Language", "")])
        );
        assert_eq!(
            Vary::None.secondary_key(&[h("Accept-Language", "fr")]),
            Bytes::new()
        );
    }
}
