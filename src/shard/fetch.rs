//! The leader of a coalesced fetch: a task of its own on the owner shard, so the fetch
//! belongs to the cache and not to the client that happened to ask first (if that client
//! goes away, the readers still get the whole object and it is still stored). It publishes
//! the head and every chunk to the in-flight object as they arrive, keeps the budget's books
//! for the bytes it holds, and stores the object only if it completed intact and nobody
//! invalidated it meanwhile.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};

use super::{FetchRequest, Shard};
use crate::cache::freshness::{self, Freshness, Policy};
use crate::cache::{Arrival, CachedHead, InFlight, StoredObject};
use crate::http::headers::{end_to_end, Header};
use crate::http::response::ResponseBody;
use crate::metrics::{self, ShardStats};
use crate::origin::{self, UpstreamRequest};

/// How far ahead of its slowest reader a fetch that is not being stored may read.
const PASS_THROUGH_WINDOW: u64 = 4 << 20;

pub(super) fn spawn_leader(
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    flight: Rc<InFlight>,
    registered: bool,
) {
    glommio::spawn_local(lead(shard, request, flight, registered)).detach();
}

/// Ends the fetch however the task stops: a leader dropped mid-way (the executor shutting
/// down) fails its readers instead of leaving them waiting, and its bytes leave the books.
struct Leader {
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    flight: Rc<InFlight>,
    reserved: u64,
}

impl Leader {
    fn reserve(&mut self, bytes: u64) -> bool {
        self.reserved += bytes;
        let fits = self.shard.store.borrow_mut().reserve_inflight(bytes);
        self.shard.publish_store();
        fits
    }

    fn release(&mut self) {
        self.shard
            .store
            .borrow_mut()
            .release_inflight(self.reserved);
        self.reserved = 0;
        self.shard.publish_store();
    }

    /// From now on nobody joins and nothing is stored; chunks go as readers pass them.
    fn detach(&mut self) {
        self.flight.stop_retaining();
        self.shard.unregister(&self.request.key, &self.flight);
        self.release();
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.shard
            .my_stats()
            .inflight_fetches
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.flight.fail(502);
        self.shard.unregister(&self.request.key, &self.flight);
        self.release();
    }
}

async fn lead(
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    flight: Rc<InFlight>,
    registered: bool,
) {
    let mut leader = Leader {
        shard,
        request,
        flight,
        reserved: 0,
    };
    let shard = Rc::clone(&leader.shard);
    let stats = shard.my_stats();
    ShardStats::incr(&stats.inflight_fetches); // the Leader's drop takes it back
    ShardStats::incr(&stats.origin_requests);
    let upstream = UpstreamRequest {
        method: Bytes::from_static(b"GET"),
        target: leader.request.key.target().clone(),
        headers: leader.request.upstream_headers.clone(),
        body: Bytes::new(),
        idempotent: true,
        is_head: false,
    };
    let request_time = SystemTime::now();
    let sent = Instant::now();
    let mut response = match origin::fetch(&shard.pool(), &upstream, shard.timeouts()).await {
        Ok(response) => {
            metrics::record_origin(sent.elapsed());
            response
        }
        Err(e) => {
            stats.origin_error(metrics::origin_error_kind(&e));
            crate::log::upstream_failure(shard.id, leader.request.key.target(), &e);
            leader.flight.fail(e.status());
            return;
        }
    };
    let arrived = Instant::now();
    let policy = freshness::evaluate(
        response.head.status,
        &response.head.headers,
        request_time,
        SystemTime::now(),
    );
    let max_object = shard.config().max_object_size;
    let content_length = match response.framing {
        ResponseBody::Length(n) => Some(n),
        _ => None,
    };
    let shared = !matches!(policy, Policy::Private { .. });
    let mut retain = shared && registered && content_length.is_none_or(|n| n <= max_object);
    let mut storable = retain && matches!(policy, Policy::Store { .. });
    let initial_age = policy.initial_age();
    let stored_ttl = match policy {
        Policy::Store { lifetime, .. } if storable => {
            Some(lifetime.as_secs() as i64 - initial_age.as_secs() as i64)
        }
        _ => None,
    };
    let head = Arc::new(CachedHead {
        status: response.head.status,
        reason: Bytes::copy_from_slice(&response.head.reason),
        headers: stored_fields(&response.head.headers),
        content_length,
        arrival: Arrival {
            initial_age_secs: initial_age.as_secs(),
            stored_ttl,
        },
    });
    if !shared {
        shard.hold_unshareable(&leader.request.key);
    }
    if retain && !leader.reserve(head.cost()) {
        retain = false;
    }
    if !retain {
        storable = false;
        leader.detach();
    }
    leader.flight.publish_head(Arc::clone(&head), shared);

    let mut body_len = 0u64;
    loop {
        // Nobody new can join a detached fetch: its slowest reader sets the pace, so a large
        // object is never pulled in whole, and it ends when its last reader has gone.
        if !retain && !leader.flight.wait_for_room(PASS_THROUGH_WINDOW).await {
            return;
        }
        match response.next_chunk().await {
            Ok(Some(chunk)) => {
                body_len += chunk.len() as u64;
                if retain && (body_len > max_object || !leader.reserve(chunk.len() as u64)) {
                    retain = false;
                    storable = false;
                    leader.detach();
                }
                leader.flight.publish_chunk(chunk);
            }
            Ok(None) => break,
            Err(e) => {
                stats.origin_error(metrics::origin_error_kind(&e));
                crate::log::upstream_failure(shard.id, leader.request.key.target(), &e);
                return; // the Leader guard cuts every reader and cleans up
            }
        }
    }

    let chunks = leader.flight.complete();
    let still_wanted = shard.is_registered(&leader.request.key, &leader.flight);
    leader.release();
    shard.unregister(&leader.request.key, &leader.flight);
    if let (
        true,
        true,
        Some(chunks),
        Policy::Store {
            lifetime,
            initial_age,
        },
    ) = (storable, still_wanted, chunks, policy)
    {
        let object = StoredObject {
            head,
            body: contiguous(chunks, body_len),
            body_len,
            freshness: Freshness {
                lifetime,
                initial_age,
                stored_at: arrived,
            },
        };
        let _ = shard
            .store
            .borrow_mut()
            .insert(leader.request.key.clone(), Rc::new(object));
        shard.publish_store();
    }
}

/// The body as one exact-size buffer, copied once when stored: every hit is then one write
/// instead of one per upstream read, and the store's accounting is the memory really held
/// (chunks sliced from read buffers would keep those whole buffers alive).
fn contiguous(chunks: Vec<Bytes>, body_len: u64) -> Arc<[Bytes]> {
    let mut body = BytesMut::with_capacity(body_len as usize);
    for chunk in &chunks {
        body.extend_from_slice(chunk);
    }
    vec![body.freeze()].into()
}

/// The origin's fields as the cache keeps them: end-to-end only, without the framing and
/// `Age`, which every response gets afresh; copied into one exact-size buffer so a stored head
/// does not pin the read buffer it was parsed from.
fn stored_fields(headers: &[Header]) -> Vec<Header> {
    let mut fields = end_to_end(headers);
    fields.retain(|h| !h.is("content-length") && !h.is("age"));
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
