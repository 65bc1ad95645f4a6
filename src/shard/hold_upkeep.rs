//! The books of the shard's LL-HLS holds (see `holds`): the table of renditions and the
//! directories they live in, the count of held requests and its cap, the memory their
//! versions take and the forgetting of idle ones, the sweeper that answers expired holds on
//! the shard's clock, the per-stream and global counts, the release of every hold when the
//! node drains, and the turn given to playlist answers just released (or about to be) before
//! media bodies, fetch heads, new requests and what a written answer's exchange does next.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::doorbell::Doorbell;
use super::release_gate::{self, ReleaseGate, WAIT_LIMIT};
use super::rendition::{Held, Rendition, Waiter};
use super::{long_poll, Shard};
use crate::cache::{CacheKey, StreamKey};
use crate::config::StreamKeyRule;
use crate::live;
use crate::log::{RateLimit, UPSTREAM_WARN_EVERY};
use crate::metrics::{HoldResult, LiveStats};

/// How often held requests are checked against their deadlines.
const SWEEP_EVERY: Duration = Duration::from_millis(50);
/// The hold limit before any playlist of the rendition is known (its target duration is not).
const UNKNOWN_HOLD_LIMIT: Duration = Duration::from_secs(30);

/// A rendition is found by host, target without directives, and the key fields' values.
pub(super) type RenditionKey = (CacheKey, Bytes);

/// The shard's renditions and its count of held requests.
pub struct Holds {
    pub(super) renditions: RefCell<HashMap<RenditionKey, Rc<Rendition>>>,
    pub(super) waiting: Cell<u64>,
    /// Estimated bytes of the renditions' versions: each version's bytes, its parse and its
    /// delta, three times its size (bounded by `live_state_memory`).
    pub(super) state_bytes: Cell<u64>,
    pub(super) sweeping: Cell<bool>,
    /// At most one refused-playlist warning per interval from this shard.
    pub(super) warnings: RefCell<RateLimit>,
    /// The shard is draining: nothing new is held.
    pub(super) draining: Cell<bool>,
    /// Where media, new requests and written answers wait for playlist answers released.
    pub(super) gate: Rc<ReleaseGate>,
    /// The directories (host and path up to the last `/`) of the tracked renditions, with how
    /// many renditions each holds: where a part or segment belongs to a live stream.
    pub(super) dirs: RefCell<HashMap<StreamKey, usize>>,
    /// Stored playlist copies (by address) already found not to be live media playlists:
    /// their hits are not scanned or parsed again (`seed`).
    pub(super) untrackable: RefCell<super::seed::Untrackable>,
}

/// The host and directory of `key` (path up to its last `/`), as `dirs` counts them: the
/// `dirname` stream rule.
pub(super) fn directory_of(key: &CacheKey) -> StreamKey {
    StreamKey::of(key, StreamKeyRule::Dirname)
}

impl Holds {
    /// `peers`: this shard's doorbell when it has peers, whose released answers its gate
    /// waits for too.
    pub(super) fn new(peers: Option<Arc<Doorbell>>) -> Self {
        Holds {
            renditions: RefCell::default(),
            waiting: Cell::new(0),
            state_bytes: Cell::new(0),
            sweeping: Cell::new(false),
            warnings: RefCell::new(RateLimit::new(UPSTREAM_WARN_EVERY)),
            dirs: RefCell::default(),
            draining: Cell::new(false),
            untrackable: RefCell::default(),
            gate: Rc::new(peers.map_or_else(ReleaseGate::default, ReleaseGate::with_peers)),
        }
    }
}

impl Shard {
    pub(super) fn start_sweeping(self: &Rc<Self>) {
        if self.holds.sweeping.replace(true) {
            return;
        }
        let shard = Rc::clone(self);
        glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(SWEEP_EVERY).await;
                if !shard.sweep() {
                    break;
                }
            }
            shard.holds.sweeping.set(false);
        })
        .detach();
    }

    /// Answers the held requests past their deadline and forgets the ones whose client went
    /// away; `true` while any request still waits.
    pub(super) fn sweep(&self) -> bool {
        let now = self.now();
        let max_hold = self.config().live.max_hold;
        // Only the renditions something waits for (the others' staleness is noted as their
        // versions arrive).
        let renditions: Vec<_> = self
            .holds
            .renditions
            .borrow()
            .values()
            .filter(|r| !r.waiters.borrow().is_empty())
            .cloned()
            .collect();
        for rendition in renditions {
            let limit = rendition
                .latest
                .borrow()
                .as_ref()
                .map_or(UNKNOWN_HOLD_LIMIT, |v| {
                    live::hold_limit(&v.playlist, max_hold)
                });
            let (mut expired, mut gone) = (0, 0);
            // In place: a sweep that finds nothing to answer (the usual one) moves nothing.
            let leaving: Vec<_> = {
                let mut waiters = rendition.waiters.borrow_mut();
                let done = |w: &mut Waiter| {
                    w.wake.is_canceled() || now.saturating_duration_since(w.since) >= limit
                };
                waiters.extract_if(.., done).collect()
            };
            for w in leaving {
                if w.wake.is_canceled() {
                    gone += 1;
                } else {
                    expired += 1;
                    let _ = w.wake.send(Held::Expired);
                }
            }
            self.hold_results(&rendition.stream, HoldResult::Expired, expired);
            self.count_holds(&rendition.stream, 0, expired + gone);
            long_poll::note_staleness(self, &rendition, now);
        }
        self.holds.waiting.get() > 0
    }

    /// The shard is draining (SIGTERM): every held request is answered 503 with `Retry-After`
    /// now, rather than keep its connection open for up to three target durations, and no new
    /// one is held.
    pub fn release_holds(&self) {
        self.holds.draining.set(true);
        let renditions: Vec<_> = self.holds.renditions.borrow().values().cloned().collect();
        for rendition in renditions {
            self.release_waiters(&rendition, HoldResult::Expired, || Held::Expired);
        }
    }

    /// Answers every request `rendition` holds with `held()`, counted as `result`.
    pub(super) fn release_waiters(
        &self,
        rendition: &Rendition,
        result: HoldResult,
        held: impl Fn() -> Held,
    ) {
        let waiters = std::mem::take(&mut *rendition.waiters.borrow_mut());
        let n = waiters.len() as u64;
        for w in waiters {
            let _ = w.wake.send(held());
        }
        self.hold_results(&rendition.stream, result, n);
        self.count_holds(&rendition.stream, 0, n);
    }

    /// Forgets the renditions nobody waits for, polls or asked for in a while, and the
    /// memory their versions held.
    pub(super) fn forget_idle(&self, now: Instant) {
        let mut freed = 0;
        let mut forgotten_stale = Vec::new();
        let mut dirs = self.holds.dirs.borrow_mut();
        self.holds.renditions.borrow_mut().retain(|(key, _), r| {
            let idle = r.is_idle(now);
            if idle {
                freed += r.state_cost();
                if r.stale.get() {
                    forgotten_stale.push(r.stream.clone());
                }
                let dir = directory_of(key);
                if let Some(count) = dirs.get_mut(&dir) {
                    *count -= 1;
                    if *count == 0 {
                        dirs.remove(&dir);
                    }
                }
            }
            !idle
        });
        drop(dirs);
        for stream in &forgotten_stale {
            self.count_stream_staleness(stream, false);
        }
        if !forgotten_stale.is_empty() {
            self.publish_stale();
        }
        let renditions = self.holds.renditions.borrow().len() as u64;
        LiveStats::set(&self.my_stats().live.renditions, renditions);
        self.account_state(0, freed);
    }

    /// Makes room for a version costing `new` that replaces one costing `old`; `false` when
    /// even after forgetting idle renditions it does not fit this shard's share of
    /// `live_state_memory`.
    pub(super) fn reserve_state(&self, old: u64, new: u64) -> bool {
        let budget = self.config().shard_live_state_memory();
        let fits = |holds: &Holds| {
            holds.state_bytes.get() - old.min(holds.state_bytes.get()) + new <= budget
        };
        if !fits(&self.holds) {
            self.forget_idle(self.now());
        }
        if !fits(&self.holds) {
            return false;
        }
        self.account_state(new, old);
        true
    }

    pub(super) fn account_state(&self, added: u64, removed: u64) {
        let bytes = (self.holds.state_bytes.get() + added).saturating_sub(removed);
        self.holds.state_bytes.set(bytes);
        LiveStats::set(&self.my_stats().live.state_bytes, bytes);
    }

    /// A woken held request started its answer (or went without one).
    pub(super) fn released_one(&self) {
        self.holds.gate.released_one();
    }

    /// Whether held requests woken by a new version have yet to start their answers, or a
    /// long-poll answer is in and its task has yet to install it.
    pub(super) fn releases_pending(&self) -> bool {
        self.holds.gate.is_shut()
    }

    /// Lets the held requests woken by a new version answer before a media body or a fetch's
    /// head goes on, a new request is worked on, or a written answer's exchange goes on to its
    /// bookkeeping and next read: waits at the gate (`release_gate`) for the releases woken
    /// before it came and for those the long-poll answers in by then bring, and no longer than
    /// `WAIT_LIMIT`. Measured (`benches/hold_release.sh`) on one core, with up to four yields
    /// then rather than the gate, with 1,000 answers per part instant: 87 to 98% of held
    /// answers left within 10 ms of their version, against 42% without; letting new requests
    /// wait too took the share within 5 ms from 20-29% to 27-35%. Yielding from the moment the
    /// answer is in, and before heads too: 81-99% within 5 ms against 32-50%, timed from the
    /// answer's completion (`TWO_HOSTS=1`, 500 viewers, 3 interleaved pairs). The gate, with
    /// media fetches waiting at it before their head and each read: README, sitting 10.
    pub async fn let_releases_pass(&self) {
        let gate = &self.holds.gate;
        release_gate::pass(gate, || {
            let gate = Rc::clone(gate);
            let (stats, id) = (Arc::clone(&self.stats), self.id);
            glommio::spawn_local(async move {
                let mut wait = WAIT_LIMIT;
                loop {
                    glommio::timer::sleep(wait).await;
                    let next = gate.expire(Instant::now());
                    let forgiven = &stats.shards[id].live.release_counts_forgiven;
                    LiveStats::set(forgiven, gate.forgiven());
                    match next {
                        Some(next) => wait = next,
                        None => break,
                    }
                }
            })
            .detach();
        })
        .await
    }

    /// Counts how a blocking reload for `key` was answered, overall and for its stream.
    pub(super) fn hold_result(&self, key: &CacheKey, result: HoldResult) {
        self.hold_results(&StreamKey::of(key, self.config().stream_key), result, 1);
    }

    /// Counts `n` blocking reloads of `stream` answered with `result`.
    pub(super) fn hold_results(&self, stream: &StreamKey, result: HoldResult, n: u64) {
        if n == 0 {
            return;
        }
        self.my_stats().live.result(result, n);
        let mut latency = self.latency.borrow_mut();
        latency.streams.hold(stream.as_bytes(), result, n);
    }

    /// `added` requests for `stream` began to wait, `removed` stopped: the shard's count (and
    /// its cap) and the stream's.
    pub(super) fn count_holds(&self, stream: &StreamKey, added: u64, removed: u64) {
        if added == 0 && removed == 0 {
            return;
        }
        let waiting = (self.holds.waiting.get() + added).saturating_sub(removed);
        self.holds.waiting.set(waiting);
        LiveStats::set(&self.my_stats().live.holds_active, waiting);
        let mut latency = self.latency.borrow_mut();
        latency
            .streams
            .holds_active(stream.as_bytes(), added, removed);
    }

    /// Whether `key` lies in the directory of a rendition this shard tracks (same host, same
    /// path up to the last `/`): a part or segment of a live stream, which a 404 must not be
    /// cached for, since it may be published a moment later.
    pub(super) fn in_live_rendition(&self, key: &CacheKey) -> bool {
        // One map look-up, no scan: a flood of 404s must not cost a pass over every rendition;
        // none, nor the key's directory made, on a shard that tracks no rendition.
        let dirs = self.holds.dirs.borrow();
        !dirs.is_empty() && dirs.contains_key(&directory_of(key))
    }

    /// Renditions whose playlist stopped advancing, for the gauge.
    pub(super) fn publish_stale(&self) {
        let stale = self
            .holds
            .renditions
            .borrow()
            .values()
            .filter(|r| r.stale.get())
            .count();
        LiveStats::set(&self.my_stats().live.stale_renditions, stale as u64);
    }
}
