//! The owner shard's decision for one cacheable request (RFC 9111 section 4): serve what is
//! stored (fresh, or stale where the response and the request allow it), revalidate it, join
//! the fetch already in flight for the same variant, or start one. Every way to the origin
//! goes through one coalesced fetch per variant, revalidations and background refreshes
//! included, so client directives such as `no-cache` cannot multiply origin traffic. A hit on
//! a live manifest plans its refresh before it expires (`refresh_ahead`).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::fetch::{self, FetchPlan};
use super::partials::{self, Partial};
use super::{FetchRequest, FlightKey, Shard};
use crate::cache::directives::RequestDirectives;
use crate::cache::store::Found;
use crate::cache::{CacheStatus, Freshness, Fwd, InFlight, Reader, StoredObject, Vary};
use crate::http::Failure;
use crate::metrics::ShardStats;

/// Outcome of looking a request up on its owner.
pub enum Lookup {
    /// Served from the store without going upstream.
    Hit {
        object: Rc<StoredObject>,
        status: CacheStatus,
    },
    /// Served from an incomplete stored response, whose bytes hold the range asked (RFC
    /// 9111 3.3). Never replicated: it is not the object.
    Incomplete {
        object: Rc<StoredObject>,
        status: CacheStatus,
    },
    /// Read a fetch in flight; `status` says why it went upstream and whether it collapsed.
    Follow { reader: Reader, status: CacheStatus },
    /// Answer with this failure and no upstream request (`only-if-cached` with nothing
    /// usable).
    Refuse(Failure),
}

impl Shard {
    /// Decides how `request` is served.
    pub fn lookup(self: &Rc<Self>, request: &Arc<FetchRequest>) -> Lookup {
        let key = &request.key;
        let wants = request.directives;
        let now = self.now();
        self.note_prefetch_asked(key, now);
        let found = self.store.borrow_mut().get(key, &request.upstream_headers);
        if request.authorized {
            return self.lookup_with_credentials(request, found, now);
        }
        let (fwd, stale, vary) = match found {
            Found::Object(object) => {
                if let Some(detail) = reusable(&object.freshness, &wants, now) {
                    self.plan_refresh(request, &object, now);
                    return self.hit(object, now, detail);
                }
                // A client that limits the age it accepts wants no stale copy (RFC 9111
                // 5.2.1.1), not even while a refresh runs.
                let accepts_stale =
                    !wants.no_cache && wants.max_age.is_none() && wants.min_fresh.is_none();
                if accepts_stale && object.freshness.may_serve_while_revalidating(now) {
                    self.refresh_in_background(request, &object);
                    return self.hit(object, now, Some("stale-while-revalidate"));
                }
                let fwd = if object.freshness.is_fresh(now) {
                    Fwd::Request
                } else {
                    Fwd::Stale
                };
                let vary = object.head.vary.clone();
                (fwd, Some(object), vary)
            }
            Found::OtherVariants(vary) => (Fwd::VaryMiss, None, vary),
            Found::Nothing if let Some(lookup) = self.lookup_partial(request, now) => {
                return lookup;
            }
            Found::Nothing => (
                Fwd::UriMiss,
                None,
                Vary::None.with_key_fields(&self.config().forwarding.key),
            ),
        };
        if wants.only_if_cached {
            return Lookup::Refuse(Failure::NotCached);
        }
        ShardStats::incr(&self.my_stats().misses);
        let status = CacheStatus::forwarded(fwd);
        if self.unshareable.borrow_mut().is_held(key, now) {
            return self.follow_private(request, status);
        }
        let secondary = vary.secondary_key(&request.upstream_headers);
        // A fetch started while the URL's Vary was unknown may bring this very variant: join
        // it rather than ask the origin twice (a mismatch moves on to its own variant then).
        let unknown_vary = (key.clone(), Bytes::new());
        let flight_key =
            if !secondary.is_empty() && self.inflight.borrow().contains_key(&unknown_vary) {
                unknown_vary
            } else {
                (key.clone(), secondary)
            };
        self.follow(request, flight_key, stale, status)
    }

    /// For a follower whose request does not match the `Vary` fields of the response its
    /// fetch brought: the fetch of its own variant, joined or started.
    pub fn lookup_variant(self: &Rc<Self>, request: &Arc<FetchRequest>, vary: &Vary) -> Lookup {
        let secondary = vary.secondary_key(&request.upstream_headers);
        let status = CacheStatus::forwarded(Fwd::VaryMiss);
        self.follow(request, (request.key.clone(), secondary), None, status)
    }

    /// A fetch for this request alone: nobody joins it and nothing is stored.
    pub fn fetch_private(self: &Rc<Self>, request: &Arc<FetchRequest>) -> Reader {
        let flight = InFlight::new();
        let reader = flight.reader();
        let plan = FetchPlan {
            flight_key: (request.key.clone(), Bytes::new()),
            stale: None,
            registered: false,
            store: false,
            resume: None,
        };
        fetch::spawn_leader(Rc::clone(self), Arc::clone(request), flight, plan);
        reader
    }

    /// A request with `Authorization` (RFC 9111 3.5). What is stored was stored because a
    /// shared cache may hand it to anyone, so a fresh one serves it; but it starts no shared
    /// refresh or revalidation, whose answer its credentials would choose for everyone, and
    /// joins no fetch (another client's credentials may get another answer). Otherwise its
    /// own fetch carries its credentials, and the response is stored only where the origin
    /// allows it (`public`, `s-maxage`, `must-revalidate`).
    fn lookup_with_credentials(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        found: Found,
        now: Instant,
    ) -> Lookup {
        let fwd = match found {
            Found::Object(object) => match reusable(&object.freshness, &request.directives, now) {
                Some(detail) => return self.hit(object, now, detail),
                None if object.freshness.is_fresh(now) => Fwd::Request,
                None => Fwd::Stale,
            },
            Found::OtherVariants(_) => Fwd::VaryMiss,
            Found::Nothing => Fwd::UriMiss,
        };
        if request.directives.only_if_cached {
            return Lookup::Refuse(Failure::NotCached);
        }
        ShardStats::incr(&self.my_stats().misses);
        // Registered under a key no lookup makes (no field value holds a NUL, and the request
        // lives as long as its fetch): nobody joins, and a purge still reaches it.
        let marker = format!("\0credentials {:p}", Arc::as_ptr(request));
        let flight_key = (request.key.clone(), Bytes::from(marker));
        Lookup::Follow {
            reader: self
                .start_fetch(request, flight_key, None, true, None)
                .reader(),
            status: CacheStatus::forwarded(fwd),
        }
    }

    /// For a request of a URL with nothing stored: the answer from a kept incomplete response
    /// (its range lies inside it), or the fetch that completes it (joined by everyone else
    /// until it ends); `None` when nothing usable is kept.
    fn lookup_partial(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        now: Instant,
    ) -> Option<Lookup> {
        let partial = self.partial_for(&request.key)?;
        let inside = request.range_end.is_some_and(|end| end < partial.len);
        let reuse = reusable(&partial.freshness, &request.directives, now);
        if let (true, Some(detail)) = (inside, reuse) {
            ShardStats::incr(&self.my_stats().hits);
            ShardStats::incr(&self.my_stats().incomplete[partials::SERVED]);
            let object = Rc::new(StoredObject {
                head: Arc::clone(&partial.head),
                body: Arc::clone(&partial.chunks),
                body_len: partial.total,
                freshness: partial.freshness,
            });
            let status = CacheStatus {
                detail: detail.or(Some("incomplete")),
                ..CacheStatus::hit(partial.freshness.ttl_secs(now))
            };
            return Some(Lookup::Incomplete { object, status });
        }
        if request.directives.only_if_cached {
            return Some(Lookup::Refuse(Failure::NotCached));
        }
        if request.directives.no_store {
            return None; // its fetch may store nothing: the kept bytes wait for another
        }
        let flight_key = (request.key.clone(), Bytes::new());
        if self.inflight.borrow().contains_key(&flight_key) {
            return None; // the completion already runs: joined the usual way
        }
        let partial = self.take_partial(&request.key)?;
        ShardStats::incr(&self.my_stats().misses);
        let flight = self.start_resuming(request, flight_key, partial);
        Some(Lookup::Follow {
            reader: flight.reader(),
            status: CacheStatus::forwarded(Fwd::UriMiss),
        })
    }

    fn follow_private(self: &Rc<Self>, request: &Arc<FetchRequest>, status: CacheStatus) -> Lookup {
        Lookup::Follow {
            reader: self.fetch_private(request),
            status,
        }
    }

    /// Joins the fetch in flight for `flight_key`, or starts it (a revalidation when `stale`).
    fn follow(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        flight_key: FlightKey,
        stale: Option<Rc<StoredObject>>,
        status: CacheStatus,
    ) -> Lookup {
        let existing = self.inflight.borrow().get(&flight_key).cloned();
        if let Some(flight) = existing {
            ShardStats::incr(&self.my_stats().collapsed);
            return Lookup::Follow {
                reader: flight.reader(),
                status: CacheStatus {
                    collapsed: true,
                    ..status
                },
            };
        }
        let reader = self.start(request, flight_key, stale, true).reader();
        Lookup::Follow { reader, status }
    }

    /// Starts one revalidation of `object` that nobody waits for, unless a fetch of that
    /// variant is already in flight.
    pub(super) fn refresh_in_background(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        object: &Rc<StoredObject>,
    ) {
        let secondary = object.head.vary.secondary_key(&request.upstream_headers);
        let flight_key = (request.key.clone(), secondary);
        if !self.inflight.borrow().contains_key(&flight_key) {
            self.start(request, flight_key, Some(Rc::clone(object)), false);
        }
    }

    /// Registers a new fetch under `flight_key` and starts its leader task. `requested`: the
    /// first reader made is the requester's (it alone gets a response that may not be
    /// shared); a background refresh or a prefetch has none.
    pub(super) fn start(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        flight_key: FlightKey,
        stale: Option<Rc<StoredObject>>,
        requested: bool,
    ) -> Rc<InFlight> {
        self.start_fetch(request, flight_key, stale, requested, None)
    }

    /// Starts the fetch that completes `partial` (RFC 9111 3.4), registered like any other.
    pub(super) fn start_resuming(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        flight_key: FlightKey,
        partial: Rc<Partial>,
    ) -> Rc<InFlight> {
        self.start_fetch(request, flight_key, None, true, Some(partial))
    }

    fn start_fetch(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        flight_key: FlightKey,
        stale: Option<Rc<StoredObject>>,
        requested: bool,
        resume: Option<Rc<Partial>>,
    ) -> Rc<InFlight> {
        let flight = InFlight::new();
        if !requested {
            flight.without_leader();
        }
        self.inflight
            .borrow_mut()
            .insert(flight_key.clone(), Rc::clone(&flight));
        let plan = FetchPlan {
            flight_key,
            stale,
            registered: true,
            // `no-store` on the request: the fetch is still shared (one origin request per
            // variant) but nothing of this exchange is stored.
            store: !request.directives.no_store,
            resume,
        };
        fetch::spawn_leader(
            Rc::clone(self),
            Arc::clone(request),
            Rc::clone(&flight),
            plan,
        );
        flight
    }

    fn hit(&self, object: Rc<StoredObject>, now: Instant, detail: Option<&'static str>) -> Lookup {
        ShardStats::incr(&self.my_stats().hits);
        let status = CacheStatus {
            detail,
            ..CacheStatus::hit(object.freshness.ttl_secs(now))
        };
        Lookup::Hit { object, status }
    }
}

/// Whether a stored response may be served as it is to a request with these directives
/// (RFC 9111 4.2 and 5.2.1): `Some(detail)` when it may, with the detail for `Cache-Status`.
fn reusable(
    f: &Freshness,
    wants: &RequestDirectives,
    now: Instant,
) -> Option<Option<&'static str>> {
    if wants.no_cache || f.reuse.revalidate_always {
        return None;
    }
    // The age once: each reading is a clock subtraction, and this runs on every hit.
    let age = f.age(now);
    let fresh = f.fresh_at(age);
    // `immutable`: a reload's max-age=0 does not make a fresh response unusable (RFC 8246).
    let too_old =
        wants.max_age.is_some_and(|max| age.as_secs() > max) && !(fresh && f.reuse.immutable);
    let remaining = f.lifetime.saturating_sub(age).as_secs();
    let not_fresh_enough = wants.min_fresh.is_some_and(|min| remaining < min);
    if too_old || not_fresh_enough {
        return None;
    }
    if fresh {
        return Some(None);
    }
    let staleness = f.staleness_at(age);
    let stale_ok = !f.reuse.no_stale
        && wants
            .max_stale
            .is_some_and(|max| staleness.as_secs() <= max);
    stale_ok.then_some(Some("max-stale"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Reuse;
    use std::time::Duration;

    fn fresh_for(lifetime: u64, age: u64, reuse: Reuse) -> (Freshness, Instant) {
        let now = Instant::now();
        let f = Freshness {
            lifetime: Duration::from_secs(lifetime),
            initial_age: Duration::from_secs(age),
            stored_at: now,
            reuse,
        };
        (f, now)
    }

    #[test]
    fn request_directives_limit_reuse() {
        let (f, now) = fresh_for(60, 10, Reuse::default());
        let plain = RequestDirectives::default();
        assert_eq!(reusable(&f, &plain, now), Some(None));
        let no_cache = RequestDirectives {
            no_cache: true,
            ..plain
        };
        assert_eq!(reusable(&f, &no_cache, now), None);
        let max_age = |s| RequestDirectives {
            max_age: Some(s),
            ..plain
        };
        assert_eq!(reusable(&f, &max_age(5), now), None);
        assert_eq!(reusable(&f, &max_age(20), now), Some(None));
        let min_fresh = |s| RequestDirectives {
            min_fresh: Some(s),
            ..plain
        };
        assert_eq!(reusable(&f, &min_fresh(55), now), None);
        assert_eq!(reusable(&f, &min_fresh(40), now), Some(None));
    }

    #[test]
    fn max_stale_serves_stale_unless_the_response_forbids_it() {
        let (f, now) = fresh_for(10, 15, Reuse::default());
        let max_stale = |s| RequestDirectives {
            max_stale: Some(s),
            ..RequestDirectives::default()
        };
        assert_eq!(reusable(&f, &RequestDirectives::default(), now), None);
        assert_eq!(reusable(&f, &max_stale(10), now), Some(Some("max-stale")));
        assert_eq!(reusable(&f, &max_stale(2), now), None);
        let strict = Reuse {
            no_stale: true,
            ..Reuse::default()
        };
        let (f, now) = fresh_for(10, 15, strict);
        assert_eq!(reusable(&f, &max_stale(u64::MAX), now), None);
    }

    #[test]
    fn immutable_ignores_a_reload_but_not_a_forced_one() {
        let immutable = Reuse {
            immutable: true,
            ..Reuse::default()
        };
        let (f, now) = fresh_for(60, 10, immutable);
        let reload = RequestDirectives {
            max_age: Some(0),
            ..RequestDirectives::default()
        };
        assert_eq!(reusable(&f, &reload, now), Some(None));
        let force = RequestDirectives {
            no_cache: true,
            ..RequestDirectives::default()
        };
        assert_eq!(reusable(&f, &force, now), None);
        let revalidate = Reuse {
            revalidate_always: true,
            ..Reuse::default()
        };
        let (f, now) = fresh_for(60, 0, revalidate);
        assert_eq!(reusable(&f, &RequestDirectives::default(), now), None);
    }
}
