//! What a request receives from the shard that owns its object, wherever it runs: a `Reply`
//! sequence (head, chunks, end) that is `Send`, so the same values travel over the mesh to
//! another shard or are consumed in place. `OwnerStream` produces that sequence on the owner
//! from a stored object or an in-flight fetch, and turns "not shareable" into a private fetch
//! transparently, so the connection side never sees coalescing details.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{FetchRequest, Shard};
use crate::cache::{CachedHead, Event, Reader, StoredObject};

/// How the response relates to the cache, rendered as `Cache-Status` (RFC 9211).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the store.
    Hit { ttl: i64 },
    /// Fetched for this request; `stored_ttl` when it is being stored.
    Miss { stored_ttl: Option<i64> },
    /// Collapsed onto another request's fetch.
    Collapsed { stored_ttl: Option<i64> },
    /// Forwarded because of the request method; never cached.
    Pass,
}

impl CacheStatus {
    /// Appends the `Cache-Status` field value to `out`, with no allocation of its own.
    pub fn write_value(&self, out: &mut bytes::BytesMut) {
        let (value, ttl): (&[u8], Option<i64>) = match *self {
            CacheStatus::Hit { ttl } => (b"livecache; hit", Some(ttl)),
            CacheStatus::Miss {
                stored_ttl: Some(ttl),
            } => (b"livecache; fwd=miss; stored", Some(ttl)),
            CacheStatus::Miss { stored_ttl: None } => (b"livecache; fwd=miss", None),
            CacheStatus::Collapsed {
                stored_ttl: Some(ttl),
            } => (b"livecache; fwd=miss; collapsed; stored", Some(ttl)),
            CacheStatus::Collapsed { stored_ttl: None } => {
                (b"livecache; fwd=miss; collapsed", None)
            }
            CacheStatus::Pass => (b"livecache; fwd=request", None),
        };
        out.extend_from_slice(value);
        if let Some(ttl) = ttl {
            out.extend_from_slice(b"; ttl=");
            if ttl < 0 {
                out.extend_from_slice(b"-");
            }
            crate::http::encode::put_decimal(out, ttl.unsigned_abs());
        }
    }
}

/// One step of a response, `Send` so it can cross shards.
#[derive(Debug)]
pub enum Reply {
    Head {
        head: Arc<CachedHead>,
        age_secs: u64,
        status: CacheStatus,
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
        next: usize,
    },
    Flight {
        reader: Reader,
        collapsed: bool,
    },
}

/// The owner-side producer of one request's replies.
pub struct OwnerStream {
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    source: Source,
}

impl OwnerStream {
    /// Looks the request up on its owner shard (which must be the current one).
    pub fn open(shard: &Rc<Shard>, request: Arc<FetchRequest>) -> OwnerStream {
        let source = match shard.lookup(&request) {
            super::Lookup::Hit(object) => Source::Stored { object, next: 0 },
            super::Lookup::Follow { reader, collapsed } => Source::Flight { reader, collapsed },
        };
        OwnerStream {
            shard: Rc::clone(shard),
            request,
            source,
        }
    }

    pub async fn next(&mut self) -> Reply {
        loop {
            match &mut self.source {
                Source::Stored { object, next } => {
                    let index = *next;
                    *next += 1;
                    return if index == 0 {
                        let now = Instant::now();
                        Reply::Head {
                            head: Arc::clone(&object.head),
                            age_secs: object.freshness.age(now).as_secs(),
                            status: CacheStatus::Hit {
                                ttl: object.freshness.ttl_secs(now),
                            },
                        }
                    } else {
                        match object.body.get(index - 1) {
                            Some(chunk) => Reply::Chunk(chunk.clone()),
                            None => Reply::End,
                        }
                    };
                }
                Source::Flight { reader, collapsed } => match reader.next().await {
                    Event::Head(head) => {
                        let stored_ttl = head.arrival.stored_ttl;
                        let status = if *collapsed {
                            CacheStatus::Collapsed { stored_ttl }
                        } else {
                            CacheStatus::Miss { stored_ttl }
                        };
                        return Reply::Head {
                            age_secs: head.arrival.initial_age_secs,
                            head,
                            status,
                        };
                    }
                    Event::Chunk(chunk) => return Reply::Chunk(chunk),
                    Event::End => return Reply::End,
                    Event::Aborted => return Reply::Aborted,
                    Event::Failed(status) => return Reply::Failed(status),
                    Event::NotShared => {
                        let reader = self.shard.fetch_private(&self.request);
                        self.source = Source::Flight {
                            reader,
                            collapsed: false,
                        };
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
        assert_eq!(
            value(CacheStatus::Hit { ttl: 27 }),
            "livecache; hit; ttl=27"
        );
        assert_eq!(
            value(CacheStatus::Hit { ttl: -3 }),
            "livecache; hit; ttl=-3"
        );
        assert_eq!(
            value(CacheStatus::Miss {
                stored_ttl: Some(60)
            }),
            "livecache; fwd=miss; stored; ttl=60"
        );
        assert_eq!(
            value(CacheStatus::Miss { stored_ttl: None }),
            "livecache; fwd=miss"
        );
        assert_eq!(
            value(CacheStatus::Collapsed {
                stored_ttl: Some(5)
            }),
            "livecache; fwd=miss; collapsed; stored; ttl=5"
        );
        assert_eq!(
            value(CacheStatus::Collapsed { stored_ttl: None }),
            "livecache; fwd=miss; collapsed"
        );
        assert_eq!(value(CacheStatus::Pass), "livecache; fwd=request");
    }
}
