//! What one core owns: its slice of the cache (store, in-flight fetches, the short list of
//! URLs known not to be shareable), its origin connection pool and its counters. Requests
//! for streams this shard owns are looked up here; the connection side reaches a remote owner
//! through `mesh`. All state is `Rc`/`RefCell` inside the executor; no borrow is held across
//! an `.await`.

pub mod broadcast;
mod dash;
pub mod doorbell;
mod fetch;
mod fetch_body;
mod held_slot;
mod hold_back;
mod hold_upkeep;
mod holds;
mod leader;
mod live_window;
mod long_poll;
mod lookup;
pub mod mesh;
mod partials;
mod prefetch;
pub mod probes;
mod quota;
mod refresh_ahead;
mod release_gate;
mod release_write;
mod remote_flights;
mod remote_holds;
mod remote_release;
mod rendition;
mod replicas;
pub mod reply;
mod revalidate;
pub mod route;
mod seed;
mod shared_answer;
mod stored;
mod upstreams;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cache::directives::RequestDirectives;
use crate::cache::lending::SharedBudget;
use crate::cache::unshareable::Unshareable;
use crate::cache::{
    CacheKey, InFlight, PassThroughBudget, PurgeScope, Store, StoreUsage, StoredObject,
};
use crate::clock::Clock;
use crate::config::{Config, REQUEST_BODY_RESERVATION};
use crate::http::headers::Header;
use crate::log::access::{Reopen, ShardLog};
use crate::log::{RateLimit, UPSTREAM_WARN_EVERY};
use crate::metrics::{Latency, Meter, ShardStats, Stats};
use crate::origin::{Timeouts, UpstreamError};
use crate::reload::ConfigSource;

pub use lookup::Lookup;
pub use mesh::{Mesh, MeshMessage};
pub use prefetch::next_in_stream;
pub use route::{owner, Route};
pub use stored::interim_head;
pub use upstreams::{Candidate, Upstreams};

/// URLs remembered as not shareable per shard; beyond this the oldest are forgotten.
const MAX_UNSHAREABLE: usize = 100_000;
pub use release_write::{Answer, WriteAtRelease, Written};
pub use reply::{OwnerStream, Reply};

/// A cacheable read (GET or HEAD) as the owner shard needs it. `Send`: it crosses shards.
#[derive(Debug)]
pub struct FetchRequest {
    pub key: CacheKey,
    /// Fields to send upstream: end-to-end, with `Host` and `Via` set by the connection side.
    /// Also what `Vary` secondary keys are computed from.
    pub upstream_headers: Vec<Header>,
    /// The client's cache directives (all off when the configuration ignores them).
    pub directives: RequestDirectives,
    /// Objects of the same stream the client says it will ask for next (CMCD `nor`, at most
    /// two): the owner prefetches them.
    pub hinted: Vec<CacheKey>,
    /// The client sent `Authorization`, which `upstream_headers` carries (RFC 9111 3.5).
    pub authorized: bool,
    /// The last byte of the one closed range the client asks (`Range: bytes=a-b`, no
    /// `If-Range`): an incomplete stored response that holds it can answer.
    pub range_end: Option<u64>,
}

/// A fetch in flight is found by URL and by the secondary key of the variant it is expected
/// to bring (empty while the URL's `Vary` fields are unknown).
type FlightKey = (CacheKey, Bytes);

pub struct Shard {
    pub id: usize,
    /// This shard's copy of the configuration in force; swapped at a reload.
    config: RefCell<Rc<Config>>,
    /// Where reloads are published, and the version this shard runs.
    source: ConfigSource,
    version: Cell<u64>,
    pub stats: Arc<Stats>,
    store: RefCell<Store>,
    /// The cache budget all shards share; the store's budget is this shard's quota of it.
    lending: Arc<SharedBudget>,
    inflight: RefCell<HashMap<FlightKey, Rc<InFlight>>>,
    /// URLs whose last response could not be shared: requests for them skip the wait.
    unshareable: RefCell<Unshareable>,
    /// Incomplete responses kept for completion (RFC 9111 3.3).
    partials: RefCell<partials::Partials>,
    /// Room for this shard's pass-through fetches (`pass_through_memory`).
    pass_through: Rc<PassThroughBudget>,
    /// Bytes reserved for request bodies this shard's connections are relaying.
    request_bodies: Cell<u64>,
    /// The origin and the parent shields, under the configuration in force.
    upstreams: RefCell<Rc<upstreams::Upstreams>>,
    pub mesh: Mesh,
    /// This shard's access log buffer and file descriptor.
    pub access_log: ShardLog,
    /// What "now" is for every decision this shard makes by the clock.
    clock: Clock,
    /// The last latency histograms each peer sent this shard's scrapes: merged in for a peer
    /// that does not answer in time, so exported histograms never go backwards.
    last_latency: RefCell<HashMap<usize, Latency>>,
    /// This shard's own latency histograms (recording is a plain add, no atomic, no lock).
    latency: RefCell<Latency>,
    /// At most one upstream-failure warning per `UPSTREAM_WARN_EVERY` from this shard.
    upstream_warnings: RefCell<RateLimit>,
    /// LL-HLS renditions and the blocking reloads held for them.
    holds: hold_upkeep::Holds,
    /// Blocking reloads of this shard sharing one request to their owner.
    remote_holds: remote_holds::RemoteHolds,
    remote_flights: remote_flights::RemoteFlights,
    /// Live manifests' refreshes planned ahead of expiry.
    refresh_plan: refresh_ahead::RefreshPlan,
    /// Media fetched because a new playlist version listed it, followed until used.
    prefetches: prefetch::Prefetches,
    /// Media let go of by the playlists, dropped once its availability has passed.
    window: live_window::LiveWindow,
    /// Hot streams: their heat (as owner), and the replicas other owners sent here.
    replicas: replicas::Replicas,
    /// When the live DASH segments of this shard's streams appear (and, as an MPD's owner,
    /// what it told the other shards).
    dash: dash::DashSchedules,
}

impl Shard {
    pub fn new(
        id: usize,
        source: ConfigSource,
        stats: Arc<Stats>,
        mesh: Mesh,
        reopen: Reopen,
        clock: Clock,
        lending: Arc<SharedBudget>,
    ) -> Rc<Shard> {
        let config = Rc::new((*source.current()).clone());
        let peers = mesh.senders().and_then(|_| mesh.doorbell(id)).cloned();
        let shard = Rc::new(Shard {
            id,
            access_log: ShardLog::new(id, &config, reopen),
            store: RefCell::new(Store::new(config.shard_cache_size())),
            lending,
            inflight: RefCell::new(HashMap::new()),
            unshareable: RefCell::new(Unshareable::new(config.uncacheable_hold, MAX_UNSHAREABLE)),
            partials: RefCell::default(),
            pass_through: Rc::new(PassThroughBudget::new(config.shard_pass_through_memory())),
            request_bodies: Cell::new(0),
            upstreams: RefCell::new(Rc::new(upstreams::Upstreams::new(&config, &stats, id))),
            mesh,
            version: Cell::new(source.version()),
            source,
            config: RefCell::new(config),
            stats,
            clock,
            last_latency: RefCell::new(HashMap::new()),
            latency: RefCell::new(Latency::default()),
            upstream_warnings: RefCell::new(RateLimit::new(UPSTREAM_WARN_EVERY)),
            holds: hold_upkeep::Holds::new(peers),
            remote_holds: remote_holds::RemoteHolds::default(),
            remote_flights: remote_flights::RemoteFlights::default(),
            refresh_plan: refresh_ahead::RefreshPlan::default(),
            prefetches: prefetch::Prefetches::default(),
            window: live_window::LiveWindow::default(),
            replicas: replicas::Replicas::default(),
            dash: dash::DashSchedules::default(),
        });
        shard.publish_store();
        shard
    }

    /// Now, by the clock the cache decides by (see `clock`).
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Wall time by the shard's clock (what token expiry is judged by).
    pub fn wall(&self) -> std::time::SystemTime {
        self.clock.wall()
    }

    /// The configuration this shard runs now.
    pub fn config(&self) -> Rc<Config> {
        Rc::clone(&self.config.borrow())
    }

    /// The configuration version this shard runs.
    pub fn config_version(&self) -> u64 {
        self.version.get()
    }

    /// The origin and parents for the configuration in force.
    pub fn upstreams(&self) -> Rc<upstreams::Upstreams> {
        Rc::clone(&self.upstreams.borrow())
    }

    /// Adopts a reloaded configuration if one was published: limits, timeouts and the cache
    /// budget apply from the next request; a new origin gets a new pool (connections to the
    /// old one finish what they are doing); a new access log path is opened at once. Cached
    /// objects and open connections stay.
    pub fn adopt_reload(&self) {
        let version = self.source.version();
        if version == self.version.get() {
            return;
        }
        let next = Rc::new((*self.source.current()).clone());
        let current = self.config();
        if next.origin != current.origin
            || next.backup_origins != current.backup_origins
            || next.parents != current.parents
            || next.go_direct != current.go_direct
            || next.access.origin_credential != current.access.origin_credential
            || next.upstream_connect_timeout != current.upstream_connect_timeout
            || next.upstream_max_idle != current.upstream_max_idle
        {
            *self.upstreams.borrow_mut() =
                Rc::new(upstreams::Upstreams::new(&next, &self.stats, self.id));
        }
        if next.cache_size != self.config().cache_size {
            self.adopt_budget(&next);
        }
        self.pass_through
            .set_limit(next.shard_pass_through_memory());
        self.unshareable
            .borrow_mut()
            .set_hold(next.uncacheable_hold);
        self.access_log.configure(&next);
        *self.config.borrow_mut() = next;
        self.version.set(version);
        tracing::debug!(
            shard = self.id,
            version,
            "shard adopted the reloaded configuration"
        );
        self.publish_store();
    }

    /// This shard's counters.
    pub fn my_stats(&self) -> &ShardStats {
        &self.stats.shards[self.id]
    }

    /// Records a finished response: its counters and its latencies.
    pub fn record_response(&self, meter: Meter, method: usize) {
        meter.finish(self.my_stats(), &mut self.latency.borrow_mut(), method);
    }

    /// Counts one origin request for the stream of `key` (per-stream figures).
    pub fn count_stream_origin_request(&self, key: &CacheKey) {
        let stream = crate::cache::StreamKey::of(key, self.config().stream_key);
        self.latency
            .borrow_mut()
            .streams
            .origin_request(stream.as_bytes());
    }

    /// One of the stream's renditions became stale (or advanced again), per stream.
    fn count_stream_staleness(&self, stream: &crate::cache::StreamKey, stale: bool) {
        self.latency
            .borrow_mut()
            .streams
            .stale(stream.as_bytes(), stale);
    }

    /// Records how long the origin took to send a response head.
    pub fn record_origin(&self, elapsed: Duration) {
        self.latency.borrow_mut().origin.record(elapsed);
    }

    /// A copy of this shard's latency histograms, for a scrape, with the streams it moved off
    /// the primary origin.
    pub fn latency(&self) -> Latency {
        let mut latency = self.latency.borrow().clone();
        latency.active_origins = self.upstreams().active_origins(self.now());
        latency
    }

    /// An upstream exchange failed: counted by kind, and logged (at most one warning per
    /// interval from this shard; the rest at debug).
    pub fn upstream_failed(&self, target: &[u8], error: &UpstreamError) {
        self.my_stats().origin_error(error.kind());
        let mut warnings = self.upstream_warnings.borrow_mut();
        crate::log::upstream_failure(self.id, &mut warnings, target, error);
    }

    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            first_byte: self.config().upstream_first_byte_timeout,
            between_bytes: self.config().upstream_between_bytes_timeout,
        }
    }

    /// The timeouts of a fetch of `key`: a live DASH segment's body may pause less long.
    fn timeouts_for(&self, key: &CacheKey) -> Timeouts {
        Timeouts {
            between_bytes: self.between_bytes_limit(key),
            ..self.timeouts()
        }
    }

    /// Drops every stored variant of `key` and detaches its fetches in flight (which then
    /// finish for their readers but are not stored): a purge, or the invalidation after an
    /// unsafe method. Returns how many stored objects went.
    pub fn invalidate(&self, key: &CacheKey) -> u64 {
        self.void_replicas();
        let removed = self.store.borrow_mut().remove(key);
        self.inflight.borrow_mut().retain(|(k, _), _| k != key);
        self.take_partial(key);
        self.publish_store();
        removed
    }

    /// Applies `scope` to this shard's own slice of the cache; returns how many stored
    /// objects went.
    pub fn purge(&self, scope: &PurgeScope) -> u64 {
        match scope {
            PurgeScope::Url(key) => self.invalidate(key),
            scope => self.purge_where(&|key| scope.matches(key)),
        }
    }

    /// Removes every stored object whose key `matches` (a stream or path-prefix purge) and
    /// detaches matching fetches in flight; returns how many stored objects went.
    pub fn purge_where(&self, matches: &dyn Fn(&CacheKey) -> bool) -> u64 {
        self.void_replicas();
        let removed = self.store.borrow_mut().remove_where(matches);
        self.inflight.borrow_mut().retain(|(k, _), _| !matches(k));
        self.drop_partials(matches);
        self.publish_store();
        removed
    }

    /// Whether `flight` is still the registered fetch for `key` (not invalidated).
    fn is_registered(&self, key: &FlightKey, flight: &Rc<InFlight>) -> bool {
        self.inflight
            .borrow()
            .get(key)
            .is_some_and(|f| Rc::ptr_eq(f, flight))
    }

    fn unregister(&self, key: &FlightKey, flight: &Rc<InFlight>) {
        if self.is_registered(key, flight) {
            self.inflight.borrow_mut().remove(key);
        }
    }

    /// Stores `object` as the variant `secondary` of `key`; `false` when the store refused it
    /// (too large, or no room that eviction could make).
    fn store_object(&self, key: &CacheKey, secondary: Bytes, object: Rc<StoredObject>) -> bool {
        let vary = object.head.vary.clone();
        let max_variants = self.config().caching.max_variants;
        // The whole object makes bytes kept to complete it useless.
        self.take_partial(key);
        self.make_quota_room(object.cost());
        let stored = self
            .store
            .borrow_mut()
            .insert(
                key.clone(),
                vary,
                secondary,
                Rc::clone(&object),
                max_variants,
            )
            .is_ok();
        if stored {
            self.replicate_object(key, &object);
        }
        self.publish_store();
        stored
    }

    /// Drops `object` from the store if it is still stored for `key`.
    fn forget(&self, key: &CacheKey, object: &Rc<StoredObject>) {
        self.store.borrow_mut().remove_object(key, object);
        self.publish_store();
    }

    fn hold_unshareable(&self, key: &CacheKey) {
        // What the URL answers now is not to be shared: nor are bytes kept from before.
        self.take_partial(key);
        self.unshareable.borrow_mut().hold(key, self.now());
    }

    fn pass_through_budget(&self) -> Rc<PassThroughBudget> {
        Rc::clone(&self.pass_through)
    }

    /// Reserves room for one request body in transit; `false` when this shard's share of
    /// `request_body_memory` is spent. Give it back with `release_request_body`.
    pub fn reserve_request_body(&self) -> bool {
        let reserved = self.request_bodies.get() + REQUEST_BODY_RESERVATION;
        if reserved > self.config().shard_request_body_memory() {
            return false;
        }
        self.request_bodies.set(reserved);
        self.publish_guards();
        true
    }

    pub fn release_request_body(&self) {
        let reserved = self.request_bodies.get();
        self.request_bodies
            .set(reserved.saturating_sub(REQUEST_BODY_RESERVATION));
        self.publish_guards();
    }

    /// Publishes the client memory held outside the store (the heartbeat calls it too, since
    /// pass-through objects give their room back when their last reader goes).
    pub fn publish_guards(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let guards = &self.my_stats().guards;
        guards
            .pass_through_bytes
            .store(self.pass_through.used(), Relaxed);
        guards
            .request_body_bytes
            .store(self.request_bodies.get(), Relaxed);
    }

    /// The store's accounting, for tests and metrics.
    pub fn store_usage(&self) -> StoreUsage {
        self.store.borrow().usage()
    }

    fn publish_store(&self) {
        let usage = self.store.borrow().usage();
        self.my_stats().set_store(usage);
    }
}
