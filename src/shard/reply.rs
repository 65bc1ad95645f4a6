//! What a request receives from the shard that owns its object, wherever it runs: a `Reply`
//! sequence (head, chunks, end) that is `Send`, so the same values travel over the mesh to
//! another shard or are consumed in place. `OwnerStream` produces that sequence on the owner
//! from a stored object or an in-flight fetch, and turns "not shareable" into a private fetch
//! transparently, so the connection side never sees coalescing details.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{FetchRequest, Lookup, Shard};
use crate::cache::{CachedHead, Event, Reader, StoredObject};

/// Why a request went upstream (RFC 9211 `fwd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fwd {
    /// Nothing stored for the URL.
    UriMiss,
    /// Something stored for the URL, but no variant matched the request's `Vary` fields.
    VaryMiss,
    /// Stored but unusable for another reason (too big, not shareable, ...).
    Miss,
    /// The request's own directives (or method) required going upstream.
    Request,
    /// A stored response was stale and had to be revalidated.
    Stale,
    /// Forwarded because of the method (never cached); rendered as `request`.
    Pass,
}

impl Fwd {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Fwd::UriMiss => b"uri-miss",
            Fwd::VaryMiss => b"vary-miss",
            Fwd::Miss => b"miss",
            Fwd::Request | Fwd::Pass => b"request",
            Fwd::Stale => b"stale",
        }
    }
}

/// How the response relates to the cache, rendered as `Cache-Status` (RFC 9211). `fwd` is
/// `None` for a hit (served without going upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStatus {
    pub fwd: Option<Fwd>,
    /// The status the upstream answered with, when it differs from the response's.
    pub fwd_status: Option<u16>,
    /// Whether the response was stored (or is being stored) by this fetch.
    pub stored: bool,
    /// Joined another request's fetch.
    pub collapsed: bool,
    /// Remaining freshness in seconds (negative: stale); `None` when not stored.
    pub ttl: Option<i64>,
    pub detail: Option<&'static str>,
}

impl CacheStatus {
    pub fn hit(ttl: i64) -> CacheStatus {
        CacheStatus {
            fwd: None,
            fwd_status: None,
            stored: false,
            collapsed: false,
            ttl: Some(ttl),
            detail: None,
        }
    }

    pub fn forwarded(fwd: Fwd) -> CacheStatus {
        CacheStatus {
            fwd: Some(fwd),
            fwd_status: None,
            stored: false,
            collapsed: false,
            ttl: None,
            detail: None,
        }
    }

    pub fn pass() -> CacheStatus {
        CacheStatus::forwarded(Fwd::Pass)
    }

    pub fn is_hit(&self) -> bool {
        self.fwd.is_none()
    }

    pub fn is_pass(&self) -> bool {
        self.fwd == Some(Fwd::Pass)
    }

    /// The coarse class counted in metrics and the access log.
    pub fn result(&self) -> crate::metrics::CacheResult {
        use crate::metrics::CacheResult;
        match self.fwd {
            None => CacheResult::Hit,
            Some(Fwd::Pass) => CacheResult::Pass,
            Some(_) if self.collapsed => CacheResult::Collapsed,
            Some(_) => CacheResult::Miss,
        }
    }

    /// Appends the `Cache-Status` field value to `out`, with no allocation of its own.
    pub fn write_value(&self, out: &mut bytes::BytesMut) {
        use crate::http::encode::put_decimal;
        out.extend_from_slice(b"livecache");
        match self.fwd {
            None => out.extend_from_slice(b"; hit"),
            Some(fwd) => {
                out.extend_from_slice(b"; fwd=");
                out.extend_from_slice(fwd.as_bytes());
            }
        }
        if let Some(status) = self.fwd_status {
            out.extend_from_slice(b"; fwd-status=");
            put_decimal(out, u64::from(status));
        }
        if self.collapsed {
            out.extend_from_slice(b"; collapsed");
        }
        if self.stored {
            out.extend_from_slice(b"; stored");
        }
        if let Some(ttl) = self.ttl {
            out.extend_from_slice(b"; ttl=");
            if ttl < 0 {
                out.extend_from_slice(b"-");
            }
            put_decimal(out, ttl.unsigned_abs());
        }
        if let Some(detail) = self.detail {
            out.extend_from_slice(b"; detail=");
            out.extend_from_slice(detail.as_bytes());
        }
    }
}

/// One step of a response, `Send` so it can cross shards.
#[derive(Debug)]
pub enum Reply {
    /// An informational (1xx) head from upstream, before the final one.
    Interim(Arc<CachedHead>),
    Head {
        head: Arc<CachedHead>,
        age_secs: u64,
        status: CacheStatus,
        /// The body's length when known: always for a stored object, for a fetch when the
        /// origin declared it.
        body_len: Option<u64>,
    },
    Chunk(Bytes),
    End,
    /// Upstream failed mid-body: cut the response.
    Aborted,
    /// No response head could be had: answer with this status.
    Failed(u16),
}

enum Source {
    Stored {
        object: Rc<StoredObject>,
        status: CacheStatus,
        next: usize,
    },
    Flight {
        reader: Reader,
        /// Why it went upstream and whether it collapsed; the rest comes with the head.
        status: CacheStatus,
    },
    Refused(u16),
}

/// The owner-side producer of one request's replies.
pub struct OwnerStream {
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    source: Source,
    /// Already moved to its own variant's fetch once.
    vary_retried: bool,
}

impl OwnerStream {
    /// Looks the request up on its owner shard (which must be the current one).
    pub fn open(shard: &Rc<Shard>, request: Arc<FetchRequest>) -> OwnerStream {
        let source = Self::source(shard.lookup(&request));
        OwnerStream {
            shard: Rc::clone(shard),
            request,
            source,
            vary_retried: false,
        }
    }

    fn source(lookup: Lookup) -> Source {
        match lookup {
            Lookup::Hit { object, status } => Source::Stored {
                object,
                status,
                next: 0,
            },
            Lookup::Follow { reader, status } => Source::Flight { reader, status },
            Lookup::Refuse(code) => Source::Refused(code),
        }
    }

    pub async fn next(&mut self) -> Reply {
        loop {
            match &mut self.source {
                Source::Refused(code) => return Reply::Failed(*code),
                Source::Stored {
                    object,
                    status,
                    next,
                } => {
                    let index = *next;
                    *next += 1;
                    return if index == 0 {
                        Reply::Head {
                            head: Arc::clone(&object.head),
                            age_secs: object.freshness.age(Instant::now()).as_secs(),
                            status: *status,
                            body_len: Some(object.body_len),
                        }
                    } else {
                        match object.body.get(index - 1) {
                            Some(chunk) => Reply::Chunk(chunk.clone()),
                            None => Reply::End,
                        }
                    };
                }
                Source::Flight { reader, status } => match reader.next().await {
                    Event::Head(head) => {
                        if head.variant != head.vary.secondary_key(&self.request.upstream_headers) {
                            // The response varies on fields this request differs in: its own
                            // variant's fetch, once; an origin whose Vary keeps changing
                            // gets a fetch for this request alone.
                            self.source = if self.vary_retried {
                                let status = CacheStatus::forwarded(Fwd::VaryMiss);
                                let reader = self.shard.fetch_private(&self.request);
                                Source::Flight { reader, status }
                            } else {
                                Self::source(self.shard.lookup_variant(&self.request, &head.vary))
                            };
                            self.vary_retried = true;
                            continue;
                        }
                        let arrival = head.arrival;
                        let status = CacheStatus {
                            // Only what is stored already, not what will be (RFC 9211 2.7).
                            stored: reader.is_stored(),
                            ttl: arrival.stored_ttl.or(arrival.served_ttl),
                            fwd_status: arrival.fwd_status,
                            detail: arrival.detail,
                            ..*status
                        };
                        return Reply::Head {
                            body_len: head.content_length,
                            age_secs: arrival.initial_age_secs,
                            head,
                            status,
                        };
                    }
                    Event::Interim(head) => return Reply::Interim(head),
                    Event::Chunk(chunk) => return Reply::Chunk(chunk),
                    Event::End => return Reply::End,
                    Event::Aborted => return Reply::Aborted,
                    Event::Failed(code) => return Reply::Failed(code),
                    Event::NotShared => {
                        let status = CacheStatus {
                            detail: Some("not-shareable"),
                            ..CacheStatus::forwarded(Fwd::Miss)
                        };
                        let reader = self.shard.fetch_private(&self.request);
                        self.source = Source::Flight { reader, status };
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(status: CacheStatus) -> String {
        let mut out = bytes::BytesMut::new();
        status.write_value(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn cache_status_values_follow_rfc_9211() {
        assert_eq!(value(CacheStatus::hit(27)), "livecache; hit; ttl=27");
        assert_eq!(value(CacheStatus::hit(-3)), "livecache; hit; ttl=-3");
        let stored = CacheStatus {
            stored: true,
            ttl: Some(60),
            ..CacheStatus::forwarded(Fwd::UriMiss)
        };
        assert_eq!(value(stored), "livecache; fwd=uri-miss; stored; ttl=60");
        assert_eq!(
            value(CacheStatus::forwarded(Fwd::Miss)),
            "livecache; fwd=miss"
        );
        let collapsed = CacheStatus {
            collapsed: true,
            stored: true,
            ttl: Some(5),
            ..CacheStatus::forwarded(Fwd::VaryMiss)
        };
        assert_eq!(
            value(collapsed),
            "livecache; fwd=vary-miss; collapsed; stored; ttl=5"
        );
        let stale = CacheStatus {
            fwd_status: Some(503),
            ttl: Some(-4),
            detail: Some("stale-if-error"),
            ..CacheStatus::forwarded(Fwd::Stale)
        };
        assert_eq!(
            value(stale),
            "livecache; fwd=stale; fwd-status=503; ttl=-4; detail=stale-if-error"
        );
        assert_eq!(value(CacheStatus::pass()), "livecache; fwd=request");
    }
}
