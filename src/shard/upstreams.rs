//! Where one shard's fetches go (issue "Origin-shield tiers", items 2 and 4): the origins, or,
//! with parents configured, the parent shields in the order weighted rendezvous hashing of the
//! stream key gives (`origin::rendezvous`), so every edge sends one stream to the same shield
//! and a shield's death moves only its streams, each to its second choice.
//!
//! A request is tried on at most two parents: it moves on only when the one before failed
//! without a response byte (connect error, connect or first-byte timeout). `go_direct` adds
//! the origin after them, so an edge whose parents are all down still answers. Without
//! parents, the origins (`origin` as a list: primary first) are tried the same way, and a 5xx
//! from one also moves the request to the next.
//!
//! Health: a parent whose `/readyz` probes fail (`probes`, for every shard) is down; and,
//! passively and per shard, three failures before a response in a row eject a parent for
//! `EJECTED_FOR`, one success bringing it back. An origin that failed (before a response, or
//! with a 5xx) is passed over for `ORIGIN_RESTS_FOR`: the backups serve meanwhile, and the
//! primary is asked first again only after that long without a failure. Anything down is
//! still tried when nothing healthy is left. A stream whose playlist stops advancing (LIVE.md
//! F9) is moved to the next origin the same way, for itself alone (`move_stream`): its
//! playlist, segments and parts come from there for `ORIGIN_RESTS_FOR`, then from the
//! primary again; a version that would take any viewer backwards is refused on the way.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::metrics::upstreams::{ActiveOrigins, UpstreamCounters};
use crate::metrics::Stats;
use crate::origin::{rendezvous, Pool};

/// Parents (or origins) a request is tried on at most.
const MAX_TRIES: usize = 2;
/// Failures before a response in a row that eject a parent.
const EJECT_AFTER: u32 = 3;
/// How long an ejected parent is passed over.
const EJECTED_FOR: Duration = Duration::from_secs(10);
/// A stream moved to another origin is not moved again within this long.
const MIN_STAY: Duration = Duration::from_secs(10);
/// Streams moved to another origin at once per shard at most.
const MAX_MOVED: usize = 10_000;
/// How long an origin that failed is passed over (LIVE.md F9: back to the primary after it is
/// healthy for 60 s).
const ORIGIN_RESTS_FOR: Duration = Duration::from_secs(60);

/// One parent or origin as this shard sees it.
struct Link {
    /// What rendezvous hashing scores (a parent's id) and the metrics label.
    id: String,
    weight: u32,
    pool: Rc<Pool>,
    counters: Arc<UpstreamCounters>,
    failures: Cell<u32>,
    resting_until: Cell<Option<Instant>>,
}

impl Link {
    fn new(id: &str, weight: u32, pool: Pool, stats: &Stats) -> Link {
        Link {
            id: id.to_string(),
            weight,
            pool: Rc::new(pool),
            counters: stats.upstreams.counters(id),
            failures: Cell::new(0),
            resting_until: Cell::new(None),
        }
    }

    fn healthy(&self, now: Instant) -> bool {
        if self.resting_until.get().is_some_and(|t| now >= t) {
            // Rested long enough: counted up again.
            self.resting_until.set(None);
            self.counters.down_on.fetch_sub(1, Relaxed);
        }
        !self.counters.probed_down.load(Relaxed) && self.resting_until.get().is_none()
    }

    fn rest(&self, until: Instant) {
        if self.resting_until.replace(Some(until)).is_none() {
            UpstreamCounters::incr(&self.counters.down_on);
        }
    }
}

/// Which link a candidate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Parent(usize),
    Origin(usize),
}

/// One place a request may be sent.
pub struct Candidate {
    pub pool: Rc<Pool>,
    which: Which,
}

impl Candidate {
    /// An origin, whose 5xx may move a request on (a parent's 5xx is its origin's answer).
    pub fn is_origin(&self) -> bool {
        matches!(self.which, Which::Origin(_))
    }

    /// Which configured origin it is (0: the primary); `None` for a parent.
    pub fn origin_index(&self) -> Option<usize> {
        match self.which {
            Which::Origin(i) => Some(i),
            Which::Parent(_) => None,
        }
    }
}

/// The shard's upstreams under one configuration.
pub struct Upstreams {
    origins: Vec<Link>,
    parents: Vec<Link>,
    go_direct: bool,
    /// Streams moved to another origin because their playlist stopped advancing (LIVE.md F9):
    /// the origin they use first, and since when.
    moved: RefCell<HashMap<Vec<u8>, (usize, Instant)>>,
}

impl Upstreams {
    pub fn new(config: &Config, stats: &Arc<Stats>, shard: usize) -> Upstreams {
        let pool = |addrs| {
            Pool::new(
                addrs,
                config.upstream_connect_timeout,
                config.upstream_max_idle,
                Arc::clone(stats),
                shard,
            )
        };
        let origins = std::iter::once(&config.origin)
            .chain(&config.backup_origins)
            .map(|o| {
                let pool =
                    pool(o.addrs.clone()).with_credential(config.access.origin_credential.clone());
                Link::new(&format!("origin:{}", o.authority), 1, pool, stats)
            })
            .collect();
        let parents = config
            .parents
            .iter()
            .map(|p| Link::new(&p.id, p.weight, pool(vec![p.address]), stats))
            .collect();
        Upstreams {
            origins,
            parents,
            go_direct: config.go_direct,
            moved: RefCell::default(),
        }
    }

    /// `stream`'s playlist stopped advancing (or regressed) on the origin it uses: it moves to
    /// the next origin, for `ORIGIN_RESTS_FOR`. Not again within `MIN_STAY` (its other
    /// renditions, going stale at the same moment, must not move it on twice; one still stale
    /// there after that tries the next origin), and not with parents (the shields choose the
    /// origins). Returns whether it moved.
    pub fn move_stream(&self, stream: &[u8], now: Instant) -> bool {
        let count = self.origins.len();
        if count < 2 || !self.parents.is_empty() {
            return false;
        }
        let current = match self.moved.borrow().get(stream) {
            Some(&(_, since)) if now.saturating_duration_since(since) < MIN_STAY => return false,
            Some(&(i, since)) if now.saturating_duration_since(since) < ORIGIN_RESTS_FOR => i,
            _ => 0,
        };
        self.send_stream(stream, (current + 1) % count, now)
    }

    /// The primary's playlist for `stream`, asked again after `ORIGIN_RESTS_FOR`, would take
    /// its viewers backwards: the stream stays on `origin`, where they are, for another
    /// `ORIGIN_RESTS_FOR` (LIVE.md F9: back to the primary once its sequence is no lower).
    pub fn keep_stream_on(&self, stream: &[u8], origin: usize, now: Instant) -> bool {
        if origin == 0 || origin >= self.origins.len() || !self.parents.is_empty() {
            return false;
        }
        self.send_stream(stream, origin, now)
    }

    /// The streams that left the primary and the origin each uses now (at most
    /// `ACTIVE_ORIGIN_LABELS` by name, all of them counted).
    pub fn active_origins(&self, now: Instant) -> ActiveOrigins {
        let moved = self.moved.borrow();
        let streams: Vec<(String, String)> = moved
            .iter()
            .filter(|(_, &(i, since))| {
                i != 0 && now.saturating_duration_since(since) < ORIGIN_RESTS_FOR
            })
            .map(|(stream, &(i, _))| {
                let name = String::from_utf8_lossy(stream).into_owned();
                (name, self.origins[i].id.clone())
            })
            .collect();
        let total = streams.len() as u64;
        ActiveOrigins::new(streams, total)
    }

    fn send_stream(&self, stream: &[u8], origin: usize, now: Instant) -> bool {
        let mut moved = self.moved.borrow_mut();
        if moved.len() >= MAX_MOVED && !moved.contains_key(stream) {
            moved.retain(|_, (_, since)| now.saturating_duration_since(*since) < ORIGIN_RESTS_FOR);
            if moved.len() >= MAX_MOVED {
                return false;
            }
        }
        moved.insert(stream.to_vec(), (origin, now));
        true
    }

    /// The origin `stream` uses first now: the one it was moved to, for `ORIGIN_RESTS_FOR`;
    /// after that it is asked of the primary again.
    fn first_origin(&self, stream: &[u8], now: Instant) -> usize {
        let mut moved = self.moved.borrow_mut();
        match moved.get(stream) {
            Some(&(i, since)) if now.saturating_duration_since(since) < ORIGIN_RESTS_FOR => i,
            Some(_) => {
                moved.remove(stream);
                0
            }
            None => 0,
        }
    }

    /// Where a request for `stream` is tried, in order: at most `MAX_TRIES` parents, then an
    /// origin with `go_direct`; without parents, at most `MAX_TRIES` origins. Healthy ones
    /// first, in their order; the others as a last resort.
    pub fn candidates(&self, stream: &[u8], now: Instant) -> Vec<Candidate> {
        let first = self.first_origin(stream, now);
        let count = self.origins.len();
        let origins = by_health(&self.origins, (0..count).map(|i| (first + i) % count), now);
        let origin = |i: usize| Candidate {
            pool: Rc::clone(&self.origins[i].pool),
            which: Which::Origin(i),
        };
        if self.parents.is_empty() {
            return origins.into_iter().take(MAX_TRIES).map(origin).collect();
        }
        let order = rendezvous::ranked(
            stream,
            self.parents.iter().map(|p| (p.id.as_str(), p.weight)),
        );
        let mut candidates: Vec<Candidate> = by_health(&self.parents, order, now)
            .into_iter()
            .take(MAX_TRIES)
            .map(|i| Candidate {
                pool: Rc::clone(&self.parents[i].pool),
                which: Which::Parent(i),
            })
            .collect();
        if self.go_direct {
            candidates.extend(origins.into_iter().take(1).map(origin));
        }
        candidates
    }

    /// A request is sent to `candidate`.
    pub fn sent(&self, candidate: &Candidate) {
        UpstreamCounters::incr(&self.link(candidate).counters.requests);
    }

    /// `candidate` answered (a response head arrived `elapsed` after the request was sent):
    /// its failure count starts again.
    pub fn answered(&self, candidate: &Candidate, elapsed: Duration) {
        let link = self.link(candidate);
        link.counters.answered_in(elapsed);
        link.failures.set(0);
        // A parent comes back at once; an origin rests its full time (see the module).
        if !candidate.is_origin() && link.resting_until.take().is_some() {
            link.counters.down_on.fetch_sub(1, Relaxed);
        }
    }

    /// `candidate` answered, but the request goes on to the next one all the same (an aligned
    /// origin's 404): counted as a failover, not as a failure.
    pub fn passed_on(&self, candidate: &Candidate) {
        UpstreamCounters::incr(&self.link(candidate).counters.failovers);
    }

    /// `candidate` failed; `before_response`: no response byte came, or (an origin) it
    /// answered 5xx; `moving_on`: the request goes to the next candidate.
    pub fn failed(
        &self,
        candidate: &Candidate,
        before_response: bool,
        moving_on: bool,
        now: Instant,
    ) {
        let link = self.link(candidate);
        let counters = &link.counters;
        if !before_response {
            UpstreamCounters::incr(&counters.errors_during_response);
            return;
        }
        UpstreamCounters::incr(&counters.errors_before_response);
        if moving_on {
            UpstreamCounters::incr(&counters.failovers);
        }
        let failures = link.failures.get() + 1;
        link.failures.set(failures);
        if failures >= EJECT_AFTER {
            let rest = if candidate.is_origin() {
                ORIGIN_RESTS_FOR
            } else {
                EJECTED_FOR
            };
            link.rest(now + rest);
            link.failures.set(0);
        }
    }

    fn link(&self, candidate: &Candidate) -> &Link {
        match candidate.which {
            Which::Parent(i) => &self.parents[i],
            Which::Origin(i) => &self.origins[i],
        }
    }
}

/// `order` with the healthy links first, each group kept in order.
fn by_health(links: &[Link], order: impl IntoIterator<Item = usize>, now: Instant) -> Vec<usize> {
    let (mut healthy, resting): (Vec<usize>, Vec<usize>) =
        order.into_iter().partition(|&i| links[i].healthy(now));
    healthy.extend(resting);
    healthy
}

impl Drop for Upstreams {
    /// A configuration that goes takes its ejections with it.
    fn drop(&mut self) {
        for link in self.parents.iter().chain(&self.origins) {
            if link.resting_until.get().is_some() {
                link.counters.down_on.fetch_sub(1, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstreams() -> Upstreams {
        let origins = "http://127.0.0.1:9001, http://127.0.0.1:9002";
        let config = Config::from_pairs(&[("origin", origins)]).unwrap();
        Upstreams::new(&config, &Stats::new(1), 0)
    }

    fn first(upstreams: &Upstreams, now: Instant) -> Option<usize> {
        upstreams.candidates(b"s0", now)[0].origin_index()
    }

    #[test]
    fn a_moved_stream_returns_to_the_primary_unless_kept_where_its_viewers_are() {
        let upstreams = upstreams();
        let t0 = Instant::now();
        assert_eq!(first(&upstreams, t0), Some(0));
        assert!(upstreams.move_stream(b"s0", t0));
        assert_eq!(first(&upstreams, t0), Some(1));
        assert_eq!(upstreams.candidates(b"s1", t0)[0].origin_index(), Some(0));
        // Its other renditions going stale at once do not move it on again.
        assert!(!upstreams.move_stream(b"s0", t0 + Duration::from_secs(1)));
        let active = upstreams.active_origins(t0);
        assert_eq!(active.total, 1);
        assert_eq!(active.streams[0].1, "origin:127.0.0.1:9002");
        // After its rest the primary is asked again...
        let later = t0 + ORIGIN_RESTS_FOR;
        assert_eq!(first(&upstreams, later), Some(0));
        assert_eq!(upstreams.active_origins(later).total, 0);
        // ...and when its playlist would take the viewers back, the stream stays on the
        // backup for another rest.
        assert!(upstreams.keep_stream_on(b"s0", 1, later));
        assert_eq!(first(&upstreams, later + ORIGIN_RESTS_FOR / 2), Some(1));
        assert!(
            !upstreams.keep_stream_on(b"s0", 0, later),
            "the primary is no move"
        );
    }
}
