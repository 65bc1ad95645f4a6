//! A stored head's fields as a hit sends them, encoded once, and the facts about them that
//! every response would otherwise look up field by field: a hit then copies one block instead
//! of walking the field list (whose names and values sit apart from the list, in memory a cold
//! object no longer has in the CPU cache), and decides `Date`, `Age` exposure, CMSD and
//! manifest handling from a few flags.
//!
//! Built the first time a response needs it and kept with the head, which is read-only once
//! shared (`Arc<CachedHead>`). A head that is cloned to be changed (a delta playlist's, a
//! non-blocking answer's) starts without it, so it is never stale. Pure.

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};

use crate::http::cmsd::kind_of;
use crate::http::encode;
use crate::http::headers::{find, list_items, Header};

/// What the stored fields say, encoded and decided once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFields {
    /// Every field but `Accept-Ranges`, then `Accept-Ranges: bytes`, as lines: what a
    /// cacheable `200` of known length (or a `206` of it) carries of the stored head.
    pub ranged: Bytes,
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

impl EncodedFields {
    pub fn of(headers: &[Header]) -> EncodedFields {
        let size: usize = headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 4)
            .sum();
        let mut ranged = BytesMut::with_capacity(size + 24);
        for h in headers.iter().filter(|h| !h.is("accept-ranges")) {
            encode::header(&mut ranged, &h.name, &h.value);
        }
        encode::header(&mut ranged, b"Accept-Ranges", b"bytes");
        let exposes_age = list_items(headers, "access-control-expose-headers")
            .any(|name| name.eq_ignore_ascii_case(b"age") || name == b"*");
        EncodedFields {
            ranged: ranged.freeze(),
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

    /// Bytes the encoded block adds to its head's cost.
    pub fn cost_of(headers: &[Header]) -> usize {
        headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 4)
            .sum::<usize>()
            + 24
    }
}

/// The slot a head keeps its `EncodedFields` in. A clone starts empty: a head is cloned to
/// be changed, and the copy's fields are encoded from what they become.
#[derive(Debug, Default)]
pub struct EncodedSlot(OnceLock<EncodedFields>);

impl EncodedSlot {
    /// The fields of `headers`, encoded on the first call.
    pub fn get_or_encode(&self, headers: &[Header]) -> &EncodedFields {
        self.0.get_or_init(|| EncodedFields::of(headers))
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
        let encoded = EncodedFields::of(&headers);
        assert_eq!(
            &encoded.ranged[..],
            b"Content-Type: video/mp4\r\nETag: \"a\"\r\nAccept-Ranges: bytes\r\n"
        );
        assert_eq!(encoded.kind, ("v", None));
        assert!(!encoded.has_date && !encoded.hides_age && !encoded.has_cmsd_static);
        assert!(EncodedFields::cost_of(&headers) >= encoded.ranged.len());
    }

    #[test]
    fn flags_say_what_the_fields_say() {
        let cors = fields(&[
            ("Date", "Sun, 06 Dec 2026 22:00:00 GMT"),
            ("Access-Control-Allow-Origin", "*"),
            ("Content-Type", "application/vnd.apple.mpegurl"),
            ("CMSD-Static", "ot=m"),
        ]);
        let encoded = EncodedFields::of(&cors);
        assert!(encoded.has_date && encoded.hides_age && encoded.has_cmsd_static);
        assert!(encoded.is_manifest_type());
        let exposed = fields(&[
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "Content-Length, age"),
        ]);
        assert!(!EncodedFields::of(&exposed).hides_age);
        let all = fields(&[
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "*"),
        ]);
        assert!(!EncodedFields::of(&all).hides_age);
    }

    #[test]
    fn a_cloned_slot_is_encoded_again_from_its_own_fields() {
        let slot = EncodedSlot::default();
        let before = fields(&[("Content-Type", "video/mp4")]);
        assert_eq!(slot.get_or_encode(&before).kind, ("v", None));
        let copy = slot.clone();
        let after = fields(&[("Content-Type", "audio/aac")]);
        assert_eq!(copy.get_or_encode(&after).kind, ("a", None));
        assert_eq!(slot.get_or_encode(&after).kind, ("v", None));
    }
}
