//! Incomplete responses kept for completion (RFC 9111 3.3, 3.4). A shared fetch whose origin
//! fails mid-body leaves the bytes it received, when the response can be completed later: a
//! storable `200` of known length with a strong `ETag` and no variants. The next request that
//! needs no byte past them is answered from them (the connection cuts its `206`); any other
//! starts the one coalesced fetch of the rest, `Range: bytes=N-` with `If-Range`, and a `206`
//! for exactly that rest under the same strong tag joins the two into the whole `200`, which
//! streams to every reader as it arrives and is stored. Any other answer replaces the kept
//! bytes. While kept, the bytes count in the store's in-flight budget; at most `MAX_KEPT` per
//! shard, each for at most `KEPT_FOR`, and a purge drops them with the object.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::leader::Leader;
use super::Shard;
use crate::cache::{CacheKey, CachedHead, Freshness};
use crate::http::conditional::EntityTag;
use crate::http::encode::put_decimal;
use crate::http::headers::{find, Header};
use crate::http::response::{ResponseBody, ResponseHead};
use crate::metrics::ShardStats;

/// `ShardStats::incomplete` slots.
pub(super) const KEPT: usize = 0;
pub(super) const SERVED: usize = 1;
pub(super) const COMPLETED: usize = 2;

/// Incomplete responses kept per shard at most.
const MAX_KEPT: usize = 64;
/// How long one is kept at most (also never past its freshness): the viewers of a segment
/// whose fetch broke ask again within seconds, or not at all.
const KEPT_FOR: Duration = Duration::from_secs(300);

/// The first `len` bytes of a `200` of `total` bytes.
#[derive(Clone)]
pub(super) struct Partial {
    pub head: Arc<CachedHead>,
    pub chunks: Arc<[Bytes]>,
    pub len: u64,
    pub total: u64,
    pub freshness: Freshness,
    kept_until: Instant,
}

impl Partial {
    /// What an interrupted response left, if it can be completed later (`None` otherwise).
    pub fn of(head: Arc<CachedHead>, chunks: Vec<Bytes>, freshness: Freshness) -> Option<Self> {
        let len = chunks.iter().map(|c| c.len() as u64).sum();
        let total = head.content_length?;
        let strong = find(&head.headers, "etag")
            .and_then(|tag| EntityTag::parse(tag))
            .is_some_and(|tag| !tag.weak);
        let complete_later = head.status == 200 && strong && head.variant.is_empty();
        (complete_later && len > 0 && len < total).then(|| Partial {
            kept_until: freshness.stored_at + KEPT_FOR,
            head,
            chunks: chunks.into(),
            len,
            total,
            freshness,
        })
    }

    fn usable(&self, now: Instant) -> bool {
        now < self.kept_until && self.freshness.is_fresh(now)
    }

    /// The fields that ask for the rest, and only if it is still the same representation.
    pub fn resume_fields(&self) -> [Header; 2] {
        let mut range = BytesMut::from(&b"bytes="[..]);
        put_decimal(&mut range, self.len);
        range.extend_from_slice(b"-");
        let tag = find(&self.head.headers, "etag")
            .cloned()
            .unwrap_or_default();
        [
            Header::new("Range", range.freeze()),
            Header::new("If-Range", tag),
        ]
    }

    /// What the answer to the completion request is; its head becomes the whole `200`'s when
    /// it completes this response.
    pub fn judge(&self, head: &mut ResponseHead, framing: ResponseBody) -> Answer {
        let rest = self.total - self.len;
        let status = head.status;
        match status {
            206 if framing == ResponseBody::Length(rest) && self.completed_by(head) => {
                Answer::Completes
            }
            200 => Answer::Replaces,
            _ => Answer::AskAgain,
        }
    }

    /// Whether `head` is the `206` that completes this response (exactly the rest, under the
    /// same strong tag: RFC 9111 3.4); if so, it becomes the whole `200`'s head.
    fn completed_by(&self, head: &mut ResponseHead) -> bool {
        let mut expected = BytesMut::from(&b"bytes "[..]);
        put_decimal(&mut expected, self.len);
        expected.extend_from_slice(b"-");
        put_decimal(&mut expected, self.total - 1);
        expected.extend_from_slice(b"/");
        put_decimal(&mut expected, self.total);
        let tag_of = |fields| find(fields, "etag").and_then(|t| EntityTag::parse(t));
        let same_tag = match (tag_of(&self.head.headers), tag_of(&head.headers)) {
            (Some(kept), Some(new)) => kept.strong_eq(&new),
            _ => false,
        };
        let exact_rest = find(&head.headers, "content-range").is_some_and(|r| r == &expected[..]);
        if head.status != 206 || !same_tag || !exact_rest {
            return false;
        }
        head.status = 200;
        head.reason = Bytes::from_static(b"OK");
        head.headers
            .retain(|h| !h.is("content-range") && !h.is("content-length"));
        let mut total = BytesMut::new();
        put_decimal(&mut total, self.total);
        head.headers
            .push(Header::new("Content-Length", total.freeze()));
        true
    }
}

/// What a fetch that was storing received before its upstream failed, kept if it can be
/// completed later and nobody purged the object meanwhile.
pub(super) fn keep_incomplete(leader: &mut Leader, head: Arc<CachedHead>, freshness: Freshness) {
    let (Some(chunks), true) = (leader.flight.retained(), leader.still_wanted()) else {
        return;
    };
    // Its bytes leave the fetch's books before they enter the kept ones.
    leader.release();
    if let Some(partial) = Partial::of(head, chunks, freshness) {
        let shard = Rc::clone(&leader.shard);
        shard.keep_partial(&leader.request.key, partial);
    }
}

/// What the answer to a completion request is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// The exact rest, under the same strong tag, of the announced length.
    Completes,
    /// A whole `200`: the representation changed, and this answer replaces the kept bytes.
    Replaces,
    /// Anything else (another range, a `416`, an error): the whole object is asked for again,
    /// unconditionally, so no follower gets the answer to a `Range` it never sent.
    AskAgain,
}

/// A shard's kept incomplete responses, by URL.
#[derive(Default)]
pub(super) struct Partials {
    kept: HashMap<CacheKey, Rc<Partial>>,
}

impl Shard {
    /// Keeps what an interrupted fetch of `key` received, if it can be completed later and
    /// the budget has room.
    pub(super) fn keep_partial(&self, key: &CacheKey, partial: Partial) {
        self.drop_unusable_partials();
        let replaced = self.partials.borrow_mut().kept.remove(key);
        if let Some(old) = replaced {
            self.release_partial(&old);
        }
        if self.partials.borrow().kept.len() >= MAX_KEPT {
            return;
        }
        self.make_quota_room(partial.len);
        if !self.store.borrow_mut().reserve_inflight(partial.len) {
            self.store.borrow_mut().release_inflight(partial.len);
            return;
        }
        self.publish_store();
        let kept = Rc::new(partial);
        self.partials.borrow_mut().kept.insert(key.clone(), kept);
        ShardStats::incr(&self.my_stats().incomplete[KEPT]);
    }

    /// Puts back a kept response whose completion never got an answer.
    pub(super) fn restore_partial(&self, key: &CacheKey, partial: Rc<Partial>) {
        let partial = Rc::unwrap_or_clone(partial);
        self.keep_partial(key, partial);
    }

    /// Drops the kept responses whose key `matches` (a purge).
    pub(super) fn drop_partials(&self, matches: &dyn Fn(&CacheKey) -> bool) {
        self.drop_partials_where(|key, _| matches(key));
    }

    pub(super) fn drop_unusable_partials(&self) {
        let now = self.now();
        self.drop_partials_where(|_, partial| !partial.usable(now));
    }

    fn drop_partials_where(&self, gone: impl Fn(&CacheKey, &Partial) -> bool) {
        if self.partials.borrow().kept.is_empty() {
            return;
        }
        let mut partials = self.partials.borrow_mut();
        let dropped: Vec<_> = partials.kept.extract_if(|k, p| gone(k, p)).collect();
        drop(partials);
        dropped.iter().for_each(|(_, p)| self.release_partial(p));
    }

    fn release_partial(&self, partial: &Partial) {
        self.store.borrow_mut().release_inflight(partial.len);
        self.publish_store();
    }

    /// The usable incomplete response kept for `key`, if any.
    pub(super) fn partial_for(&self, key: &CacheKey) -> Option<Rc<Partial>> {
        if self.partials.borrow().kept.is_empty() {
            return None;
        }
        self.drop_unusable_partials();
        self.partials.borrow().kept.get(key).cloned()
    }

    /// Takes the response kept for `key` out (for the fetch that completes it, or to drop it:
    /// the object was purged, stored whole, or became unshareable).
    pub(super) fn take_partial(&self, key: &CacheKey) -> Option<Rc<Partial>> {
        let partial = self.partials.borrow_mut().kept.remove(key)?;
        self.release_partial(&partial);
        Some(partial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Version;

    fn head(etag: &str) -> Arc<CachedHead> {
        let fields = vec![Header::new("ETag", Bytes::copy_from_slice(etag.as_bytes()))];
        Arc::new(CachedHead::plain(
            200,
            Bytes::from_static(b"OK"),
            fields,
            Some(100),
        ))
    }

    fn fresh() -> Freshness {
        Freshness {
            lifetime: Duration::from_secs(60),
            initial_age: Duration::ZERO,
            stored_at: Instant::now(),
            reuse: Default::default(),
        }
    }

    fn kept(etag: &str, received: usize) -> Option<Partial> {
        let chunks = vec![Bytes::from(vec![b'x'; received])];
        Partial::of(head(etag), chunks, fresh())
    }

    fn answer(status: u16, fields: &[(&'static str, &str)]) -> ResponseHead {
        ResponseHead {
            status,
            reason: Bytes::from_static(b"Partial Content"),
            version: Version::Http11,
            headers: (fields.iter())
                .map(|(n, v)| Header::new(n, Bytes::copy_from_slice(v.as_bytes())))
                .collect(),
        }
    }

    #[test]
    fn only_a_strong_tagged_incomplete_200_is_kept() {
        assert!(kept("\"a\"", 40).is_some());
        assert!(
            kept("W/\"a\"", 40).is_none(),
            "a weak tag cannot join two pieces"
        );
        assert!(kept("\"a\"", 0).is_none() && kept("\"a\"", 100).is_none());
        let mut unknown = (*head("\"a\"")).clone();
        unknown.content_length = None;
        let chunks = vec![Bytes::from_static(b"xx")];
        assert!(Partial::of(Arc::new(unknown), chunks, fresh()).is_none());
    }

    #[test]
    fn the_rest_is_asked_for_and_only_the_exact_rest_completes_it() {
        let partial = kept("\"a\"", 40).unwrap();
        let [range, if_range] = partial.resume_fields();
        assert_eq!(
            (&range.value[..], &if_range.value[..]),
            (&b"bytes=40-"[..], &b"\"a\""[..])
        );
        let rest = [
            ("ETag", "\"a\""),
            ("Content-Range", "bytes 40-99/100"),
            ("Content-Length", "60"),
        ];
        let exact = ResponseBody::Length(60);
        let mut chunked = answer(206, &rest);
        let judged = partial.judge(&mut chunked, ResponseBody::Chunked);
        assert_eq!(judged, Answer::AskAgain, "a length it does not announce");
        let mut short = answer(206, &rest);
        assert_eq!(
            partial.judge(&mut short, ResponseBody::Length(59)),
            Answer::AskAgain
        );
        let mut head = answer(206, &rest);
        assert_eq!(partial.judge(&mut head, exact), Answer::Completes);
        assert_eq!(head.status, 200);
        assert_eq!(
            find(&head.headers, "content-length").map(|v| &v[..]),
            Some(&b"100"[..])
        );
        assert!(find(&head.headers, "content-range").is_none());
        let mut whole = answer(200, &[("ETag", "\"b\"")]);
        assert_eq!(partial.judge(&mut whole, exact), Answer::Replaces);
        for wrong in [
            answer(416, &[("Content-Range", "bytes */30")]),
            answer(
                206,
                &[("ETag", "\"b\""), ("Content-Range", "bytes 40-99/100")],
            ),
            answer(
                206,
                &[("ETag", "W/\"a\""), ("Content-Range", "bytes 40-99/100")],
            ),
            answer(206, &[("Content-Range", "bytes 40-99/100")]),
            answer(
                206,
                &[("ETag", "\"a\""), ("Content-Range", "bytes 41-99/100")],
            ),
            answer(
                206,
                &[("ETag", "\"a\""), ("Content-Range", "bytes 40-99/120")],
            ),
        ] {
            let mut head = wrong.clone();
            assert_eq!(
                partial.judge(&mut head, exact),
                Answer::AskAgain,
                "{wrong:?}"
            );
            assert_eq!(head.status, wrong.status, "left as it came");
        }
    }
}
