//! Revalidation of a stored response (RFC 9111 section 4.3) and stale fallbacks (RFC 5861):
//! the validators a fetch sends, how a 304 refreshes the stored head and freshness (4.3.4),
//! and how an origin failure is answered with the stale response when the response's
//! `stale-if-error`, or the operator's `max_stale_on_error`, allows it. Runs inside the
//! fetch leader's task, so every follower of the revalidation gets the same answer.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::leader::Leader;
use super::stored::{stored_fields, withhold};
use crate::cache::freshness::{self, Policy};
use crate::cache::{Arrival, CachedHead, StoredObject};
use crate::config::Config;
use crate::http::conditional::EntityTag;
use crate::http::headers::{end_to_end, find, Header};

/// Adds the stored response's validators as conditions (RFC 9111 4.3.1): `If-None-Match` with
/// its entity tag, `If-Modified-Since` with its `Last-Modified`.
pub fn add_validators(headers: &mut Vec<Header>, stored: &CachedHead) {
    if let Some(etag) = find(&stored.headers, "etag") {
        headers.push(Header::new("If-None-Match", etag.clone()));
    }
    if let Some(modified) = find(&stored.headers, "last-modified") {
        headers.push(Header::new("If-Modified-Since", modified.clone()));
    }
}

/// Whether a 304 validates the stored response (RFC 9111 4.3.4): an entity tag in the 304
/// must match the stored one (strongly when the 304's is strong); without one, a
/// `Last-Modified` must equal the stored one; a 304 with no validator selects the only
/// stored response of its variant.
pub fn selects(stored: &[Header], not_modified: &[Header]) -> bool {
    if let Some(new) = find(not_modified, "etag").and_then(|v| EntityTag::parse(v)) {
        let Some(old) = find(stored, "etag").and_then(|v| EntityTag::parse(v)) else {
            return false;
        };
        return if new.weak {
            new.weak_eq(&old)
        } else {
            new.strong_eq(&old)
        };
    }
    match find(not_modified, "last-modified") {
        Some(new) => find(stored, "last-modified") == Some(new),
        None => true,
    }
}

/// Whether `stale` may answer a request whose upstream failed.
pub fn usable_on_error(stale: &StoredObject, now: Instant, config: &Config) -> bool {
    stale
        .freshness
        .may_serve_on_error(now, config.caching.max_stale_on_error)
}

/// Answers the fetch's readers with the stored response after an upstream failure
/// (`fwd_status`: the origin's error status, `None` when there was no response at all). The
/// stored response stays as it is.
pub fn serve_stale(leader: &mut Leader, stale: &StoredObject, fwd_status: Option<u16>) {
    let now = leader.shard.now();
    let head = Arc::new(CachedHead {
        arrival: Arrival {
            initial_age_secs: stale.freshness.age(now).as_secs(),
            stored_ttl: None,
            fwd_status,
            detail: Some("stale-if-error"),
            served_ttl: Some(stale.freshness.ttl_secs(now)),
            from_origin: stale.head.arrival.from_origin,
        },
        ..(*stale.head).clone()
    });
    leader.flight.publish_head(head, true);
    leader.publish_stored_body(&stale.body);
}

/// A 304 answered the revalidation of `stale`: its fields update the stored ones, its
/// freshness replaces theirs, and the readers get the stored body under the updated head.
pub fn refresh(
    leader: &mut Leader,
    stale: &Rc<StoredObject>,
    not_modified: &[Header],
    request_time: SystemTime,
) {
    let shard = Rc::clone(&leader.shard);
    let config = shard.config();
    let response_time = SystemTime::now();
    let arrived = shard.now();
    // A 304 without a Date gets one now (RFC 9110 6.6.1), or the stored response's old Date
    // would make the refreshed copy look as old as the first fetch.
    let mut update = not_modified.to_vec();
    if find(&update, "date").is_none() {
        update.push(Header::new("Date", httpdate::fmt_http_date(response_time)));
    }
    let merged = merge_fields(&stale.head.headers, &update);
    let decision = freshness::evaluate(
        stale.head.status,
        &merged,
        request_time,
        response_time,
        &config.caching.response,
    );
    let policy = decision.policy;
    let initial_age = policy.initial_age();
    let stored_ttl = match policy {
        Policy::Store { lifetime, .. } => {
            Some(lifetime.as_secs() as i64 - initial_age.as_secs() as i64)
        }
        _ => None,
    };
    let vary = decision.vary.with_key_fields(&config.forwarding.key);
    let variant = vary.secondary_key(&leader.request.upstream_headers);
    let fields = stored_fields(&merged, response_time, config.caching.response.set_cookie);
    let head = Arc::new(CachedHead {
        status: stale.head.status,
        reason: stale.head.reason.clone(),
        headers: withhold(&fields, &decision.withheld_fields),
        content_length: stale.head.content_length,
        arrival: Arrival {
            initial_age_secs: initial_age.as_secs(),
            stored_ttl,
            fwd_status: Some(304),
            detail: policy.reason(),
            served_ttl: None,
            from_origin: stale.head.arrival.from_origin,
        },
        vary,
        variant: variant.clone(),
        encoded: Default::default(),
    });
    let shared = !matches!(policy, Policy::Private { .. });
    match policy.freshness(arrived) {
        Some(mut freshness) if leader.still_wanted() => {
            let body = stale.body.first();
            if let Some(limit) = body.and_then(|b| shard.learn_mpd(&leader.request.key, &head, b)) {
                freshness.lifetime = freshness.lifetime.min(limit);
            }
            let object = StoredObject {
                head: Arc::clone(&head),
                body: Arc::clone(&stale.body),
                body_len: stale.body_len,
                freshness,
            };
            shard.forget(&leader.request.key, stale);
            if shard.store_object(&leader.request.key, variant, Rc::new(object)) {
                leader.flight.mark_stored();
            }
        }
        _ => shard.forget(&leader.request.key, stale),
    }
    leader.flight.publish_head(head, shared);
    leader.publish_stored_body(&stale.body);
}

/// The stored fields updated by a 304's (RFC 9111 3.2): every field the 304 carries replaces
/// the stored fields of that name, except the framing fields, which describe the stored body.
fn merge_fields(stored: &[Header], not_modified: &[Header]) -> Vec<Header> {
    let update: Vec<Header> = end_to_end(not_modified)
        .into_iter()
        .filter(|h| !h.is("content-length") && !h.is("content-range"))
        .collect();
    let mut merged: Vec<Header> = stored
        .iter()
        .filter(|s| !update.iter().any(|u| u.name.eq_ignore_ascii_case(&s.name)))
        .cloned()
        .collect();
    merged.extend(update);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn h(name: &'static str, value: &'static str) -> Header {
        Header::new(name, Bytes::from_static(value.as_bytes()))
    }

    #[test]
    fn a_304_replaces_the_fields_it_carries_and_nothing_else() {
        let stored = [
            h("Cache-Control", "max-age=10"),
            h("ETag", "\"v1\""),
            h("Content-Type", "video/mp4"),
            h("X-Old", "a"),
            h("X-Old", "b"),
        ];
        let not_modified = [
            h("Cache-Control", "max-age=60"),
            h("ETag", "\"v1\""),
            h("Content-Length", "0"),
            h("X-Old", "c"),
            h("Connection", "keep-alive"),
            h("Age", "3"),
        ];
        let merged = merge_fields(&stored, &not_modified);
        let values = |name| {
            merged
                .iter()
                .filter(|f| f.is(name))
                .map(|f| f.value.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(values("cache-control"), [Bytes::from_static(b"max-age=60")]);
        assert_eq!(values("x-old"), [Bytes::from_static(b"c")]);
        assert_eq!(values("content-type"), [Bytes::from_static(b"video/mp4")]);
        assert!(values("content-length").is_empty());
        assert!(values("connection").is_empty());
        assert_eq!(
            values("age"),
            [Bytes::from_static(b"3")],
            "kept for the age computation"
        );
    }

    #[test]
    fn a_304_updates_only_the_representation_it_validates() {
        let stored = [
            h("ETag", "\"v1\""),
            h("Last-Modified", "Thu, 01 Jan 2015 00:00:00 GMT"),
        ];
        assert!(selects(&stored, &[h("ETag", "\"v1\"")]));
        assert!(!selects(&stored, &[h("ETag", "\"v2\"")]));
        assert!(
            selects(&stored, &[h("ETag", "W/\"v1\"")]),
            "weak comparison for a weak tag"
        );
        assert!(!selects(&[h("ETag", "W/\"v1\"")], &[h("ETag", "\"v1\"")]));
        assert!(!selects(&[], &[h("ETag", "\"v1\"")]), "stored has no tag");
        assert!(selects(
            &stored,
            &[h("Last-Modified", "Thu, 01 Jan 2015 00:00:00 GMT")]
        ));
        assert!(!selects(
            &stored,
            &[h("Last-Modified", "Fri, 02 Jan 2015 00:00:00 GMT")]
        ));
        assert!(selects(&stored, &[h("Cache-Control", "max-age=5")]));
    }

    #[test]
    fn validators_become_conditions() {
        let head = CachedHead::plain(
            200,
            Bytes::new(),
            vec![
                h("ETag", "W/\"x\""),
                h("Last-Modified", "Thu, 01 Jan 2015 00:00:00 GMT"),
            ],
            Some(1),
        );
        let mut headers = vec![];
        add_validators(&mut headers, &head);
        assert_eq!(find(&headers, "if-none-match").unwrap(), "W/\"x\"");
        assert!(find(&headers, "if-modified-since").is_some());
    }
}
