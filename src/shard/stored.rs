//! How an upstream response becomes what the cache keeps and hands out: the stored fields
//! (end-to-end, without framing and `Age`, with a `Date`, packed into one buffer), the fields
//! a qualified `no-cache` withholds, forwarded informational heads, and a stored body made
//! contiguous. Used by the fetch leader and by revalidation alike.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};

use crate::cache::rules::SetCookie;
use crate::cache::CachedHead;
use crate::http::headers::{end_to_end, find, Header};
use crate::http::response::ResponseHead;

/// The body as one exact-size buffer, copied once when stored: every hit is then one write
/// instead of one per upstream read, and the store's accounting is the memory really held
/// (chunks sliced from read buffers would keep those whole buffers alive).
pub(super) fn contiguous(chunks: Vec<Bytes>, body_len: u64) -> Arc<[Bytes]> {
    let mut body = BytesMut::with_capacity(body_len as usize);
    for chunk in &chunks {
        body.extend_from_slice(chunk);
    }
    vec![body.freeze()].into()
}

/// The origin's fields as the cache keeps them: end-to-end only, without the framing and
/// `Age`, which every response gets afresh, without `Set-Cookie` when `set_cookie = strip`,
/// and with a `Date` when the origin sent none (RFC 9110 6.6.1: a cache adds it, so later
/// ages are computed from the arrival); copied into one exact-size buffer so a stored head
/// does not pin the read buffer it was parsed from.
pub(super) fn stored_fields(
    headers: &[Header],
    response_time: SystemTime,
    set_cookie: SetCookie,
) -> Vec<Header> {
    let mut fields = end_to_end(headers);
    let strip_cookies = set_cookie == SetCookie::Strip;
    // `CMSD-Dynamic` describes one delivery: never kept (LIVE.md F6).
    let dropped = |h: &Header| {
        h.is("content-length")
            || h.is("age")
            || h.is("cmsd-dynamic")
            || (strip_cookies && h.is("set-cookie"))
    };
    fields.retain(|h| !dropped(h));
    if find(&fields, "date").is_none() {
        fields.push(Header::new("Date", httpdate::fmt_http_date(response_time)));
    }
    packed(fields)
}

/// `fields` with names and values copied into one exact-size buffer.
fn packed(mut fields: Vec<Header>) -> Vec<Header> {
    let mut packed =
        BytesMut::with_capacity(fields.iter().map(|h| h.name.len() + h.value.len()).sum());
    for h in &fields {
        packed.extend_from_slice(&h.name);
        packed.extend_from_slice(&h.value);
    }
    let packed = packed.freeze();
    let mut at = 0;
    for h in &mut fields {
        let (name_len, value_len) = (h.name.len(), h.value.len());
        h.name = packed.slice(at..at + name_len);
        h.value = packed.slice(at + name_len..at + name_len + value_len);
        at += name_len + value_len;
    }
    fields
}

/// An informational head worth forwarding to clients (103 Early Hints and the like): not
/// 100 Continue, which answers an expectation livecache never sends, nor 101. Its fields are
/// copied out of the read buffer, like a stored head's.
pub fn interim_head(head: &ResponseHead) -> Option<Arc<CachedHead>> {
    (head.status != 100 && head.status != 101).then(|| {
        let mut fields = end_to_end(&head.headers);
        fields.retain(|h| !h.is("content-length"));
        Arc::new(CachedHead::plain(
            head.status,
            Bytes::copy_from_slice(&head.reason),
            packed(fields),
            None,
        ))
    })
}

/// `fields` without those a qualified `no-cache`/`private` names (lower-case names).
pub(super) fn withhold(fields: &[Header], withheld: &[Bytes]) -> Vec<Header> {
    fields
        .iter()
        .filter(|h| !withheld.iter().any(|w| h.name.eq_ignore_ascii_case(w)))
        .cloned()
        .collect()
}
