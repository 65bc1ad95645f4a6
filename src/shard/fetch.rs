//! The leader of a coalesced fetch: a task of its own on the owner shard, so the fetch
//! belongs to the cache and not to the client that happened to ask first (if that client
//! goes away, the readers still get the whole object and it is still stored). It publishes
//! the head and every chunk to the in-flight object as they arrive, keeps the budget's books
//! for the bytes it holds, and stores the object only if it completed intact and nobody
//! invalidated it meanwhile. A fetch that revalidates a stored response sends its validators;
//! a 304 refreshes the stored response (`revalidate`), and an origin failure may be answered
//! with the stale response where `stale-if-error` or `max_stale_on_error` allow.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};

use super::revalidate;
use super::{FetchRequest, FlightKey, Shard};
use crate::cache::freshness::{self, Freshness, Policy};
use crate::cache::{Arrival, CachedHead, InFlight, StoredObject};
use crate::config::SetCookie;
use crate::http::headers::{end_to_end, find, Header};
use crate::http::response::{ResponseBody, ResponseHead};
use crate::metrics::{self, ShardStats};
use crate::origin::{self, UpstreamRequest};

/// How far ahead of its slowest reader a fetch that is not being stored may read.
const PASS_THROUGH_WINDOW: u64 = 4 << 20;

/// What a fetch is for.
pub(super) struct FetchPlan {
    /// Where it is registered for followers to find (if `registered`).
    pub flight_key: FlightKey,
    /// The stored response this fetch revalidates, and may fall back on.
    pub stale: Option<Rc<StoredObject>>,
    /// Joinable and storable; false for a fetch private to one request.
    pub registered: bool,
    /// Whether the response may be stored (false for a request with `no-store`).
    pub store: bool,
}

pub(super) fn spawn_leader(
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    flight: Rc<InFlight>,
    plan: FetchPlan,
) {
    glommio::spawn_local(lead(shard, request, flight, plan)).detach();
}

/// Ends the fetch however the task stops: a leader dropped mid-way (the executor shutting
/// down) fails its readers instead of leaving them waiting, and its bytes leave the books.
pub(super) struct Leader {
    pub shard: Rc<Shard>,
    pub request: Arc<FetchRequest>,
    pub flight: Rc<InFlight>,
    pub flight_key: FlightKey,
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
        self.shard.unregister(&self.flight_key, &self.flight);
        self.release();
    }

    /// Whether this fetch is still the one registered for its key (not invalidated).
    pub fn still_wanted(&self) -> bool {
        self.shard.is_registered(&self.flight_key, &self.flight)
    }

    /// Publishes a complete stored body and ends the fetch.
    pub fn publish_stored_body(&mut self, body: &[Bytes]) {
        for chunk in body {
            self.flight.publish_chunk(chunk.clone());
        }
        self.flight.complete();
        self.release();
        self.shard.unregister(&self.flight_key, &self.flight);
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.shard
            .my_stats()
            .inflight_fetches
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.flight.fail(502);
        self.shard.unregister(&self.flight_key, &self.flight);
        self.release();
    }
}

async fn lead(shard: Rc<Shard>, request: Arc<FetchRequest>, flight: Rc<InFlight>, plan: FetchPlan) {
    let FetchPlan {
        flight_key,
        stale,
        registered,
        store,
    } = plan;
    let mut leader = Leader {
        shard,
        request,
        flight,
        flight_key,
        reserved: 0,
    };
    let shard = Rc::clone(&leader.shard);
    let config = shard.config();
    let stats = shard.my_stats();
    ShardStats::incr(&stats.inflight_fetches); // the Leader's drop takes it back
    ShardStats::incr(&stats.origin_requests);
    let mut stale = stale;
    let (mut response, request_time) = loop {
        let mut headers = leader.request.upstream_headers.clone();
        if let Some(stale) = &stale {
            revalidate::add_validators(&mut headers, &stale.head);
        }
        let upstream = UpstreamRequest {
            method: Bytes::from_static(b"GET"),
            target: leader.request.key.target().clone(),
            headers,
            body: Bytes::new(),
            idempotent: true,
            is_head: false,
        };
        let request_time = SystemTime::now();
        let sent = Instant::now();
        let flight = Rc::clone(&leader.flight);
        let mut forward_interim = |head: &ResponseHead| {
            if let Some(head) = interim_head(head) {
                flight.publish_interim(head);
            }
        };
        let pool = shard.pool();
        let fetched = origin::fetch(&pool, &upstream, shard.timeouts(), &mut forward_interim);
        let response = match fetched.await {
            Ok(response) => {
                metrics::record_origin(sent.elapsed());
                response
            }
            Err(e) => {
                stats.origin_error(metrics::origin_error_kind(&e));
                crate::log::upstream_failure(shard.id, leader.request.key.target(), &e);
                match stale.filter(|s| revalidate::usable_on_error(s, &config)) {
                    Some(stale) => revalidate::serve_stale(&mut leader, &stale, None),
                    None => leader.flight.fail(e.status()),
                }
                return;
            }
        };
        let status = response.head.status;
        if let Some(old) = stale.as_ref() {
            if status >= 500 && revalidate::usable_on_error(old, &config) {
                revalidate::serve_stale(&mut leader, old, Some(status));
                return;
            }
            if status == 304 {
                if revalidate::selects(&old.head.headers, &response.head.headers) {
                    revalidate::refresh(&mut leader, old, &response.head.headers, request_time);
                    return;
                }
                // The 304 validates another representation than the stored one (RFC 9111
                // 4.3.4): that copy may not be updated. Drop it and ask again, unconditionally.
                shard.forget(&leader.request.key, old);
                stale = None;
                ShardStats::incr(&stats.origin_requests);
                continue;
            }
        }
        break (response, request_time);
    };
    let status = response.head.status;
    let response_time = SystemTime::now();
    let arrived = Instant::now();
    let decision = freshness::evaluate(
        status,
        &response.head.headers,
        request_time,
        response_time,
        &config.caching,
    );
    let policy = decision.policy;
    let vary = decision.vary.with_key_fields(&config.forwarding.key);
    let max_object = config.max_object_size;
    let content_length = match response.framing {
        ResponseBody::Length(n) => Some(n),
        _ => None,
    };
    let shared = !matches!(policy, Policy::Private { .. });
    let mut retain = shared && registered && content_length.is_none_or(|n| n <= max_object);
    let mut storable = retain && store && matches!(policy, Policy::Store { .. });
    let initial_age = policy.initial_age();
    let stored_ttl = match policy {
        Policy::Store { lifetime, .. } if storable => {
            Some(lifetime.as_secs() as i64 - initial_age.as_secs() as i64)
        }
        _ => None,
    };
    if let (Some(stale), false) = (&stale, storable) {
        // The stored response is outdated by this one, which cannot replace it.
        shard.forget(&leader.request.key, stale);
    }
    let full_fields = stored_fields(
        &response.head.headers,
        response_time,
        config.caching.set_cookie,
    );
    let shared_fields = withhold(&full_fields, &decision.withheld_fields);
    let variant = vary.secondary_key(&leader.request.upstream_headers);
    let make_head = |headers| {
        Arc::new(CachedHead {
            status,
            reason: Bytes::copy_from_slice(&response.head.reason),
            headers,
            content_length,
            arrival: Arrival {
                initial_age_secs: initial_age.as_secs(),
                stored_ttl,
                detail: if storable { None } else { policy.reason() },
                ..Arrival::default()
            },
            vary: vary.clone(),
            variant: variant.clone(),
        })
    };
    let head = make_head(shared_fields.clone());
    if shared_fields.len() != full_fields.len() {
        // Withheld fields still reach the request whose fetch brought them.
        leader.flight.set_leader_head(make_head(full_fields));
    }
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
    let still_wanted = leader.still_wanted();
    leader.release();
    shard.unregister(&leader.flight_key, &leader.flight);
    if let (
        true,
        true,
        Some(chunks),
        Policy::Store {
            lifetime,
            initial_age,
            reuse,
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
                reuse,
            },
        };
        shard.store_object(&leader.request.key, variant, Rc::new(object));
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
    let dropped =
        |h: &Header| h.is("content-length") || h.is("age") || (strip_cookies && h.is("set-cookie"));
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
