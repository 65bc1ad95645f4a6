//! What a response carries before any delivery knob applies: the
//! [`Entity`]. This module owns the entity of ordinary (query-driven)
//! requests ([`entity_for`]: the pattern body for GET/HEAD with its
//! validators, the method echo otherwise), the short failure entity of
//! `after=N&then_status=S` ([`failure`]), and the validator knobs (`etag=`,
//! `lm=`, `noetag=`, `nolm=`, `then_etag=`). The `live` module builds its own
//! entities; `response` puts any of them on the wire.

use crate::behavior::{Behavior, CacheControl, DEFAULT_CACHE_CONTROL};
use crate::body;
use crate::out::Source;
use crate::request::Request;

/// Default `Last-Modified` (2015-01-01T00:00:00Z): resources never change
/// here unless `lm=` says otherwise.
pub(crate) const LAST_MODIFIED: i64 = 1_420_070_400;

/// What a response carries, before any delivery knob applies.
pub(crate) struct Entity {
    pub(crate) status: u16,
    pub(crate) source: Source,
    /// Body length (the `Content-Length` of a well-behaved response).
    pub(crate) size: usize,
    /// The `Cache-Control` value, or none at all.
    pub(crate) cache_control: Option<String>,
    pub(crate) content_type: &'static str,
    /// The quoted `ETag`, when sent.
    pub(crate) etag: Option<String>,
    /// `Last-Modified` (Unix seconds), when sent.
    pub(crate) last_modified: Option<i64>,
}

/// The entity an ordinary (query-driven) request gets: the pattern body for
/// GET/HEAD, the method echo otherwise.
pub(crate) fn entity_for(request: &Request, path: &str, b: &Behavior) -> Entity {
    let cacheable = request.method == "GET" || request.method == "HEAD";
    let default_cc = if cacheable {
        DEFAULT_CACHE_CONTROL
    } else {
        "no-store"
    };
    let cache_control = match &b.cache_control {
        CacheControl::Value(v) => Some(v.clone()),
        CacheControl::Default => Some(default_cc.to_string()),
        CacheControl::Omit => None,
    };
    if cacheable {
        Entity {
            status: b.status,
            source: Source::Pattern {
                seed: body::path_seed(path),
                offset: 0,
            },
            size: b.size,
            cache_control,
            content_type: "application/octet-stream",
            etag: (!b.no_etag).then(|| etag_for(b, path)),
            last_modified: (!b.no_last_modified)
                .then_some(b.last_modified.unwrap_or(LAST_MODIFIED)),
        }
    } else {
        let echo = format!("method={} len={}", request.method, request.body.len()).into_bytes();
        Entity {
            status: b.status,
            size: echo.len(),
            source: Source::Bytes(echo),
            cache_control,
            content_type: "text/plain",
            etag: None,
            last_modified: None,
        }
    }
}

/// The answer from request N+1 on under `after=N&then_status=S` (any
/// method, live paths included): status `S`, the switched Cache-Control
/// (`no-store` unless `then_cc=`), a short text body and no validators, so
/// it is never answered 304.
pub(crate) fn failure(b: &Behavior) -> Entity {
    let message = format!(
        "mock-origin: status {} after {} requests\n",
        b.status,
        b.then.after.unwrap_or(0)
    );
    let cache_control = match &b.cache_control {
        CacheControl::Value(v) => Some(v.clone()),
        CacheControl::Default => Some("no-store".to_string()),
        CacheControl::Omit => None,
    };
    Entity {
        status: b.status,
        size: message.len(),
        source: Source::Bytes(message.into_bytes()),
        cache_control,
        content_type: "text/plain",
        etag: None,
        last_modified: None,
    }
}

/// `tag` as an `ETag` value: `"tag"`, or `W/"tag"` for `W/tag`.
pub(crate) fn quote_etag(tag: &str) -> String {
    match tag.strip_prefix("W/") {
        Some(weak) => format!("W/\"{weak}\""),
        None => format!("\"{tag}\""),
    }
}

/// The `etag=` tag, or the default strong tag of path and size, quoted.
fn etag_for(b: &Behavior, path: &str) -> String {
    match b.etag.as_deref() {
        Some(tag) => quote_etag(tag),
        None => format!("\"{:016x}-{:x}\"", body::fingerprint(path, b.size), b.size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str) -> Request {
        Request {
            method: method.to_string(),
            target: "/e".to_string(),
            minor: 1,
            headers: Vec::new(),
            body: b"abc".to_vec(),
            must_close: false,
        }
    }

    fn get(query: &str) -> Entity {
        entity_for(&request("GET"), "/e", &Behavior::from_query(query))
    }

    #[test]
    fn validators_follow_the_query() {
        let plain = get("");
        assert_eq!(plain.last_modified, Some(LAST_MODIFIED));
        let tag = plain.etag.expect("default etag");
        assert!(tag.starts_with('"') && tag.ends_with("-400\""), "{tag}");
        assert_eq!(get("lm=1700000000").last_modified, Some(1_700_000_000));
        assert_eq!(get("etag=v1").etag.as_deref(), Some("\"v1\""));
        assert_eq!(get("etag=W/v1").etag.as_deref(), Some("W/\"v1\""));
        let bare = get("noetag=1&nolm=1&lm=5&etag=v1");
        assert_eq!((bare.etag, bare.last_modified), (None, None));
        let post = entity_for(&request("POST"), "/e", &Behavior::default());
        assert_eq!((post.etag, post.last_modified), (None, None));
        assert_eq!(post.cache_control.as_deref(), Some("no-store"));
    }

    #[test]
    fn then_etag_and_then_status() {
        let mut b = Behavior::from_query("after=1&etag=v1&then_etag=v2");
        let first = entity_for(&request("GET"), "/e", &b);
        assert_eq!(first.etag.as_deref(), Some("\"v1\""));
        assert!(b.switch(2));
        let second = entity_for(&request("GET"), "/e", &b);
        assert_eq!(second.etag.as_deref(), Some("\"v2\""));

        let mut b = Behavior::from_query("after=2&then_status=503&cc=max-age=60");
        assert!(b.switch(3));
        let failed = failure(&b);
        assert_eq!((failed.status, failed.etag), (503, None));
        assert_eq!(failed.cache_control.as_deref(), Some("no-store"));
        let Source::Bytes(text) = failed.source else {
            panic!("text body")
        };
        assert_eq!(text, b"mock-origin: status 503 after 2 requests\n");
        assert_eq!(failed.size, text.len());
    }
}
