//! A stored head's fields as a hit sends them, encoded once, and the facts about them that
//! every response would otherwise look up field by field: a hit then copies one block instead
//! of walking the field list (whose names and values sit apart from the list, in memory a cold
//! object no longer has in the CPU cache), and decides `Date`, `Age` exposure, CMSD and
//! manifest handling from a few flags.
//!
//! Each is made the first time a response needs it and kept with the head, which is read-only
//! once shared (`Arc<CachedHead>`; nothing in the crate mutates a shared head). A head that is
//! cloned to be changed (a delta playlist's, a non-blocking answer's) starts without them, so
//! they are never stale. Pure.

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};

use crate::http::cmsd::kind_of;
use crate::http::encode;
use crate::http::headers::{find, list_items, Header};

/// What the stored fields say, decided once: the flags every response with stored fields
/// reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldFacts {
    /// The origin sent `Date`.
    pub has_date: bool,
    /// A cross-origin response (`Access-Control-Allow-Origin`) that does not expose `Age` to
    /// scripts (by name or `*`): the cache adds `Age` to the exposed fields.
    pub hides_age: bool,
    /// The origin sent its own `CMSD-Static`.
    pub has_cmsd_static: bool,
    /// CMSD's object type (`ot`) and streaming format (`sf`) from `Content-Type`.
    pub kind: (&'static str, Option<&'static str>),
}

impl FieldFacts {
    pub fn of(headers: &[Header]) -> FieldFacts {
        let exposes_age = list_items(headers, "access-control-expose-headers")
            .any(|name| name.eq_ignore_ascii_case(b"age") || name == b"*");
        FieldFacts {
            has_date: find(headers, "date").is_some(),
            hides_age: find(headers, "access-control-allow-origin").is_some() && !exposes_age,
            has_cmsd_static: find(headers, "cmsd-static").is_some(),
            kind: kind_of(find(headers, "content-type").map(|v| &v[..])),
        }
    }

    /// `Content-Type` names an HLS playlist or a DASH MPD.
    pub fn is_manifest_type(&self) -> bool {
        self.kind.0 == "m"
    }
}

/// Every field but `Accept-Ranges`, then `Accept-Ranges: bytes`, as lines: what a cacheable
/// `200` of known length (or a `206` of it) carries of the stored head.
pub fn ranged_block(headers: &[Header]) -> Bytes {
    let mut ranged = BytesMut::with_capacity(block_cost(headers));
    for h in headers.iter().filter(|h| !h.is("accept-ranges")) {
        encode::header(&mut ranged, &h.name, &h.value);
    }
    encode::header(&mut ranged, b"Accept-Ranges", b"bytes");
    ranged.freeze()
}

/// Bytes the encoded block costs at most, counted in its head's cost whether or not it was
/// built.
pub fn block_cost(headers: &[Header]) -> usize {
    // Each line adds ": " and CRLF; ours is 23 bytes.
    headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 4)
        .sum::<usize>()
        + 24
}

/// Where a head keeps what is decided and encoded from its fields, each part made on first
/// use: the facts by any response with stored fields, the block only by the responses that
/// send it (a pass-through or error head never builds it). A clone starts empty: a head is
/// cloned to be changed, and the copy's are made from what its fields become.
#[derive(Debug, Default)]
pub struct EncodedSlot {
    facts: OnceLock<FieldFacts>,
    ranged: OnceLock<Bytes>,
}

impl EncodedSlot {
    /// The facts of `headers`, decided on the first call.
    pub fn facts(&self, headers: &[Header]) -> &FieldFacts {
        self.facts.get_or_init(|| FieldFacts::of(headers))
    }

    /// The ranged block of `headers`, encoded on the first call.
    pub fn ranged(&self, headers: &[Header]) -> &Bytes {
        self.ranged.get_or_init(|| ranged_block(headers))
    }
}

impl Clone for EncodedSlot {
    fn clone(&self) -> Self {
        EncodedSlot::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&'static str, &'static str)]) -> Vec<Header> {
        list.iter()
            .map(|(n, v)| Header::new(n, Bytes::from_static(v.as_bytes())))
            .collect()
    }

    #[test]
    fn the_block_is_the_fields_with_our_accept_ranges() {
        let headers = fields(&[
            ("Content-Type", "video/mp4"),
            ("Accept-Ranges", "none"),
            ("ETag", "\"a\""),
        ]);
        let ranged = ranged_block(&headers);
        assert_eq!(
            &ranged[..],
            b"Content-Type: video/mp4\r\nETag: \"a\"\r\nAccept-Ranges: bytes\r\n"
        );
        assert!(block_cost(&headers) >= ranged.len());
        let facts = FieldFacts::of(&headers);
        assert_eq!(facts.kind, ("v", None));
        assert!(!facts.has_date && !facts.hides_age && !facts.has_cmsd_static);
    }

    #[test]
    fn flags_say_what_the_fields_say() {
        let cors = fields(&[
            ("Date", "Sun, 06 Dec 2026 22:00:00 GMT"),
            ("Access-Control-Allow-Origin", "*"),
            ("Content-Type", "application/vnd.apple.mpegurl"),
            ("CMSD-Static", "ot=m"),
        ]);
        let facts = FieldFacts::of(&cors);
        assert!(facts.has_date && facts.hides_age && facts.has_cmsd_static);
        assert!(facts.is_manifest_type());
        let exposed = fields(&[
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "Content-Length, age"),
        ]);
        assert!(!FieldFacts::of(&exposed).hides_age);
        let all = fields(&[
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "*"),
        ]);
        assert!(!FieldFacts::of(&all).hides_age);
    }

    #[test]
    fn a_cloned_slot_is_encoded_again_from_its_own_fields() {
        let slot = EncodedSlot::default();
        let before = fields(&[("Content-Type", "video/mp4")]);
        assert_eq!(slot.facts(&before).kind, ("v", None));
        assert!(slot.ranged(&before).starts_with(b"Content-Type: video/mp4"));
        let copy = slot.clone();
        let after = fields(&[("Content-Type", "audio/aac")]);
        assert_eq!(copy.facts(&after).kind, ("a", None));
        assert!(copy.ranged(&after).starts_with(b"Content-Type: audio/aac"));
        assert_eq!(slot.facts(&after).kind, ("v", None));
    }
}
