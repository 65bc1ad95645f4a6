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

use bytes::Bytes;

use super::fetch_body::{stream_body, Body, Cut, Keeping};
use super::leader::Leader;
use super::partials::{self, Answer, Partial};
use super::revalidate;
use super::stored::{contiguous, interim_head, stored_fields, withhold};
use super::{FetchRequest, FlightKey, Shard};
use crate::cache::freshness::{self, Policy};
use crate::cache::{Arrival, CachedHead, InFlight, StoredObject, StreamKey};
use crate::config::failover::FailoverMode;
use crate::config::SetCookie;
use crate::http::response::{ResponseBody, ResponseHead};
use crate::http::Failure;
use crate::metrics::ShardStats;
use crate::origin::{self, BodyFraming, NoBody, UpstreamError, UpstreamRequest, UpstreamResponse};

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
    /// The incomplete response this fetch completes (RFC 9111 3.4).
    pub resume: Option<Rc<Partial>>,
}

pub(super) fn spawn_leader(
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    flight: Rc<InFlight>,
    plan: FetchPlan,
) {
    glommio::spawn_local(lead(shard, request, flight, plan)).detach();
}

async fn lead(shard: Rc<Shard>, request: Arc<FetchRequest>, flight: Rc<InFlight>, plan: FetchPlan) {
    let FetchPlan {
        flight_key,
        stale,
        registered,
        store,
        resume,
    } = plan;
    // Sent with a client's `Authorization`: registered only so that a purge still reaches it,
    // never joined, stored only where the response allows it (RFC 9111 3.5).
    let credentials = request.authorized;
    let mut leader = Leader::new(shard, request, flight, flight_key);
    // `None`: the readers were answered already (a 304 refresh, a stale fallback, a failure).
    let Some(fetched) = ask(&mut leader, stale, resume).await else {
        return;
    };
    let keep = Keep {
        store: registered && store,
        joinable: registered && !credentials,
        credentials,
    };
    deliver(&mut leader, fetched, keep).await;
}

/// What `deliver` may do with a response.
struct Keep {
    /// Store it, if it may be stored and comes complete.
    store: bool,
    /// Others may join the fetch: its chunks are kept while it may still be stored.
    joinable: bool,
    /// The request carried `Authorization`.
    credentials: bool,
}

/// A response from upstream to deliver, with the stored one it replaces (if any).
struct Fetched {
    response: UpstreamResponse,
    request_time: SystemTime,
    stale: Option<Rc<StoredObject>>,
    /// Which configured origin answered (`None`: a parent).
    from_origin: Option<usize>,
    /// The incomplete response whose rest this is: `response` is its `206`, its head made the
    /// whole `200`'s.
    resumed: Option<Rc<Partial>>,
}

/// Sends the request (conditional when revalidating `stale`) and settles what needs no body
/// from upstream: a 304 that refreshes the stored response, an error answered stale, a
/// failure. A 304 that validates another representation is dropped and asked again whole,
/// and so is an answer to `resume` that is neither its rest nor a whole `200`.
async fn ask(
    leader: &mut Leader,
    mut stale: Option<Rc<StoredObject>>,
    mut resume: Option<Rc<Partial>>,
) -> Option<Fetched> {
    let shard = Rc::clone(&leader.shard);
    let config = shard.config();
    let stats = shard.my_stats();
    loop {
        ShardStats::incr(&stats.origin_requests);
        shard.count_stream_origin_request(&leader.request.key);
        let mut headers = leader.request.upstream_headers.clone();
        if let Some(stale) = &stale {
            revalidate::add_validators(&mut headers, &stale.head);
        }
        if let Some(partial) = &resume {
            headers.extend(partial.resume_fields());
        }
        let upstream = UpstreamRequest {
            method: Bytes::from_static(b"GET"),
            target: leader.request.key.target().clone(),
            headers,
            body: BodyFraming::None,
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
        let upstreams = shard.upstreams();
        let stream = StreamKey::of(&leader.request.key, config.stream_key);
        let candidates = upstreams.candidates(stream.as_bytes(), shard.now());
        let mut fetched = Err(UpstreamError::Connect("no upstream".into()));
        let mut from_origin = None;
        let aligned = config.origin_failover == FailoverMode::Aligned;
        for (i, candidate) in candidates.iter().enumerate() {
            upstreams.sent(candidate);
            let timeouts = shard.timeouts_for(&leader.request.key);
            let asked = Instant::now();
            fetched = origin::fetch(
                &candidate.pool,
                &upstream,
                &mut NoBody,
                timeouts,
                &mut forward_interim,
            )
            .await;
            let last = i + 1 == candidates.len();
            let e = match &fetched {
                // An origin's 5xx moves an idempotent request to the next origin.
                Ok(response) if response.head.status >= 500 && candidate.is_origin() && !last => {
                    upstreams.failed(candidate, true, true, shard.now());
                    continue;
                }
                // Aligned packagers publish the same objects: what one has not (yet), the
                // next may have (LIVE.md F9). The origin answered, so it is not a failure.
                Ok(response)
                    if response.head.status == 404 && aligned && candidate.is_origin() && !last =>
                {
                    upstreams.answered(candidate, asked.elapsed());
                    upstreams.passed_on(candidate);
                    continue;
                }
                Ok(_) => {
                    upstreams.answered(candidate, asked.elapsed());
                    from_origin = candidate.origin_index();
                    break;
                }
                Err(e) => e,
            };
            // A parent that failed before answering: the next candidate, if one is left.
            let moving_on = e.before_response() && !last;
            upstreams.failed(candidate, e.before_response(), moving_on, shard.now());
            if !moving_on {
                break;
            }
            shard.upstream_failed(leader.request.key.target(), e);
        }
        let response = match fetched {
            Ok(response) => {
                shard.record_origin(sent.elapsed());
                response
            }
            Err(e) => {
                shard.upstream_failed(leader.request.key.target(), &e);
                // Unless a purge came meanwhile: then the kept bytes are gone with the object.
                if let (Some(partial), true) = (resume, leader.still_wanted()) {
                    shard.restore_partial(&leader.request.key, partial);
                }
                match stale.filter(|s| revalidate::usable_on_error(s, shard.now(), &config)) {
                    Some(stale) => revalidate::serve_stale(leader, &stale, None),
                    None => leader.flight.fail(e.failure()),
                }
                return None;
            }
        };
        let mut response = response;
        let mut resumed = None;
        if let Some(partial) = resume.take() {
            match partial.judge(&mut response.head, response.framing) {
                Answer::Completes => {
                    ShardStats::incr(&stats.incomplete[partials::COMPLETED]);
                    resumed = Some(partial);
                }
                Answer::Replaces => {}
                Answer::AskAgain => continue,
            }
        }
        let status = response.head.status;
        if let Some(old) = stale.as_ref() {
            if status >= 500 && revalidate::usable_on_error(old, shard.now(), &config) {
                revalidate::serve_stale(leader, old, Some(status));
                return None;
            }
            if status == 304 {
                if revalidate::selects(&old.head.headers, &response.head.headers) {
                    revalidate::refresh(leader, old, &response.head.headers, request_time);
                    return None;
                }
                // The 304 validates another representation than the stored one (RFC 9111
                // 4.3.4): that copy may not be updated. Drop it and ask again, unconditionally.
                shard.forget(&leader.request.key, old);
                stale = None;
                continue;
            }
        }
        return Some(Fetched {
            response,
            request_time,
            stale,
            from_origin,
            resumed,
        });
    }
}

/// Publishes the response to every reader as it arrives and stores it if it may be
/// (`keep.store`) and came complete. A fetch that is neither joinable nor storing (and one
/// that outgrows the object limit or the budget) passes through.
async fn deliver(leader: &mut Leader, fetched: Fetched, keep: Keep) {
    let Fetched {
        mut response,
        request_time,
        stale,
        from_origin,
        resumed,
    } = fetched;
    let shard = Rc::clone(&leader.shard);
    let config = shard.config();
    let status = response.head.status;
    let response_time = SystemTime::now();
    let arrived = shard.now();
    let decision = freshness::evaluate(
        status,
        &response.head.headers,
        request_time,
        response_time,
        &config.caching.response,
    );
    let policy = decision.policy;
    let vary = decision.vary.with_key_fields(&config.forwarding.key);
    let max_object = config.max_object_size;
    let content_length = match (&resumed, response.framing) {
        (Some(partial), _) => Some(partial.total),
        (None, ResponseBody::Length(n)) => Some(n),
        _ => None,
    };
    let shared = !matches!(policy, Policy::Private { .. });
    // A live stream's part or segment that is "not found" may exist a moment later: its 404
    // reaches the requests that asked, and is never kept for the next ones (LIVE.md F3).
    let live_miss = matches!(status, 404 | 410)
        && (shard.in_live_rendition(&leader.request.key)
            || shard.is_scheduled_segment(&leader.request.key));
    // Another client's credentials may get another answer: stored only if the origin says
    // a shared cache may keep it (RFC 9111 3.5).
    let credentials_bar = keep.credentials && !decision.shared_despite_authorization;
    let storable =
        keep.store && matches!(policy, Policy::Store { .. }) && !live_miss && !credentials_bar;
    let mut keeping = if !shared || content_length.is_some_and(|n| n > max_object) {
        Keeping::PassingThrough
    } else if storable {
        Keeping::Storing
    } else if keep.joinable {
        Keeping::Sharing
    } else {
        Keeping::PassingThrough
    };
    let initial_age = policy.initial_age();
    let stored_ttl = match policy {
        Policy::Store { lifetime, .. } if keeping == Keeping::Storing => {
            Some(lifetime.as_secs() as i64 - initial_age.as_secs() as i64)
        }
        _ => None,
    };
    if let (Some(stale), false) = (&stale, keeping == Keeping::Storing) {
        // The stored response is outdated by this one, which cannot replace it.
        shard.forget(&leader.request.key, stale);
    }
    // A credentialed requester keeps its own `Set-Cookie` (a login's session) where
    // `set_cookie = strip` takes it from what is shared.
    let rule = config.caching.response.set_cookie;
    let mine = if keep.credentials {
        SetCookie::Private
    } else {
        rule
    };
    let full_fields = stored_fields(&response.head.headers, response_time, mine);
    let mut shared_fields = withhold(&full_fields, &decision.withheld_fields);
    if keep.credentials && rule == SetCookie::Strip {
        shared_fields.retain(|h| !h.is("set-cookie"));
    }
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
                detail: match keeping {
                    Keeping::Storing => None,
                    _ if live_miss => Some("live-edge"),
                    _ => policy
                        .reason()
                        .or(credentials_bar.then_some("authorization")),
                },
                from_origin,
                ..Arrival::default()
            },
            vary: vary.clone(),
            variant: variant.clone(),
            encoded: Default::default(),
        })
    };
    let head = make_head(shared_fields.clone());
    if shared_fields.len() != full_fields.len() {
        // Withheld fields still reach the request whose fetch brought them.
        leader.flight.set_leader_head(make_head(full_fields));
    }
    // A private answer to one client's credentials says nothing of anyone else's requests.
    if !shared && !keep.credentials {
        shard.hold_unshareable(&leader.request.key);
    }
    if keeping != Keeping::PassingThrough && !leader.reserve(head.cost()) {
        keeping = Keeping::PassingThrough;
    }
    // A response without a body needs no room at all; one of unknown length starts small.
    let rest = match response.framing {
        ResponseBody::None => Some(0),
        _ => content_length,
    };
    if keeping == Keeping::PassingThrough && leader.pass_through(rest).is_err() {
        leader.flight.fail(Failure::MemoryFull);
        return;
    }
    // A live stream's media waits while playlist answers are released: a part's head woke its
    // followers (50 per rendition at a part instant) only for each to wait at the gate in
    // turn, in the middle of the burst they waited for. Other objects (a VOD download, a
    // manifest known by its type) do not wait.
    let key = &leader.request.key;
    let after_playlists = !crate::live::is_manifest_path(key.path())
        && !head.facts().is_manifest_type()
        && shard.in_live_rendition(key);
    if after_playlists {
        shard.let_releases_pass().await;
    }
    leader.flight.publish_head(Arc::clone(&head), shared);
    if (200..300).contains(&status) {
        shard.prefetch_origin_hint(&leader.request, &response.head.headers);
    }
    let body = Body {
        prefix: resumed
            .as_deref()
            .map_or(&[], |partial| &partial.chunks[..]),
        content_length,
        max_object,
        after_playlists,
    };
    let (keeping, body_len) = match stream_body(leader, &mut response, keeping, body).await {
        Ok(done) => done,
        // (A cut revalidation leaves the stored copy in place, which its bytes cannot follow.)
        Err(Cut::Upstream(Keeping::Storing)) if stale.is_none() => {
            if let Some(freshness) = policy.freshness(arrived) {
                partials::keep_incomplete(leader, head, freshness);
            }
            return;
        }
        Err(_) => return, // the Leader guard cuts every reader and cleans up
    };

    let chunks = leader.flight.complete();
    if keeping == Keeping::Storing {
        // Its readers have the whole body; the copy into the store waits for playlist answers
        // just released (a part and its playlist arrive together). Still registered meanwhile:
        // a request for it joins this fetch rather than start another.
        shard.let_releases_pass().await;
    }
    let still_wanted = leader.still_wanted();
    leader.release();
    shard.unregister(&leader.flight_key, &leader.flight);
    let stored = (keeping, still_wanted, chunks, policy.freshness(arrived));
    if let (Keeping::Storing, true, Some(chunks), Some(mut freshness)) = stored {
        let body = contiguous(chunks, body_len);
        // A live MPD lives no longer than its update period (and 2 s): `dash`.
        if let Some(limit) = shard.learn_mpd(&leader.request.key, &head, &body[0]) {
            freshness.lifetime = freshness.lifetime.min(limit);
        }
        let object = StoredObject {
            head,
            body,
            body_len,
            freshness,
        };
        if shard.store_object(&leader.request.key, variant, Rc::new(object)) {
            leader.flight.mark_stored();
        }
    }
}
