//! Where one shard's fetches go (issue "Origin-shield tiers", item 2): the origin, or, with
//! parents configured, the parent shields in the order weighted rendezvous hashing of the
//! stream key gives (`origin::rendezvous`), so every edge sends one stream to the same shield
//! and a shield's death moves only its streams, each to its second choice. A request is tried
//! on at most two parents: it moves on only when the one before failed without a response
//! byte (connect error, connect or first-byte timeout). `go_direct` adds the origin after
//! them, so an edge whose parents are all down still answers.
//!
//! Health: a parent whose `/readyz` probes fail (`probes`, for every shard) is down; and,
//! passively and per shard, three failures before a response in a row eject a parent for
//! `EJECTED_FOR`, one success bringing it back. A parent down either way is tried only when
//! no healthy one is left; its streams go to their next choice meanwhile.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pool_for;
use crate::config::Config;
use crate::metrics::parents::ParentCounters;
use crate::metrics::Stats;
use crate::origin::{rendezvous, Pool};

/// Candidates a request is tried on at most.
const MAX_TRIES: usize = 2;
/// Failures before a response in a row that eject a parent.
const EJECT_AFTER: u32 = 3;
/// How long an ejected parent is passed over.
const EJECTED_FOR: Duration = Duration::from_secs(10);

/// One parent as this shard sees it.
struct ParentLink {
    id: String,
    weight: u32,
    pool: Rc<Pool>,
    counters: Arc<ParentCounters>,
    failures: Cell<u32>,
    ejected_until: Cell<Option<Instant>>,
}

/// One place a request may be sent.
pub struct Candidate {
    pub pool: Rc<Pool>,
    /// Which parent (index into the configured list); `None`: the origin.
    parent: Option<usize>,
}

/// The shard's upstreams under one configuration.
pub struct Upstreams {
    origin: Rc<Pool>,
    parents: Vec<ParentLink>,
    go_direct: bool,
}

impl Upstreams {
    pub fn new(config: &Config, stats: &Arc<Stats>, shard: usize) -> Upstreams {
        let parents = config
            .parents
            .iter()
            .map(|p| ParentLink {
                id: p.id.clone(),
                weight: p.weight,
                pool: Rc::new(Pool::new(
                    vec![p.address],
                    config.upstream_connect_timeout,
                    config.upstream_max_idle,
                    Arc::clone(stats),
                    shard,
                )),
                counters: stats.parents.counters(&p.id),
                failures: Cell::new(0),
                ejected_until: Cell::new(None),
            })
            .collect();
        Upstreams {
            origin: Rc::new(pool_for(config, stats, shard)),
            parents,
            go_direct: config.go_direct,
        }
    }

    /// The origin's pool (requests that never go through a parent: none today).
    pub fn origin(&self) -> Rc<Pool> {
        Rc::clone(&self.origin)
    }

    /// Where a request for `stream` is tried, in order: at most `MAX_TRIES` parents, then the
    /// origin with `go_direct` (or the origin alone without parents).
    pub fn candidates(&self, stream: &[u8], now: Instant) -> Vec<Candidate> {
        if self.parents.is_empty() {
            return vec![Candidate {
                pool: self.origin(),
                parent: None,
            }];
        }
        let order = rendezvous::ranked(
            stream,
            self.parents.iter().map(|p| (p.id.as_str(), p.weight)),
        );
        let healthy = |i: &usize| {
            let link = &self.parents[*i];
            let probed_down = link.counters.probed_down.load(Relaxed);
            !probed_down && link.ejected_until.get().is_none_or(|t| now >= t)
        };
        let parent = |i: usize| Candidate {
            pool: Rc::clone(&self.parents[i].pool),
            parent: Some(i),
        };
        // Healthy parents in rendezvous order, the ejected ones as a last resort; two tries
        // among them, then the origin with `go_direct`.
        let mut candidates: Vec<Candidate> =
            order.iter().copied().filter(healthy).map(parent).collect();
        candidates.extend(order.iter().copied().filter(|i| !healthy(i)).map(parent));
        candidates.truncate(MAX_TRIES);
        if self.go_direct {
            candidates.push(Candidate {
                pool: self.origin(),
                parent: None,
            });
        }
        candidates
    }

    /// A request is sent to `candidate`.
    pub fn sent(&self, candidate: &Candidate) {
        if let Some(link) = self.link(candidate) {
            ParentCounters::incr(&link.counters.requests);
        }
    }

    /// `candidate` answered (a response head arrived): its failure count starts again.
    pub fn answered(&self, candidate: &Candidate) {
        if let Some(link) = self.link(candidate) {
            link.failures.set(0);
            if link.ejected_until.take().is_some() {
                link.counters
                    .down_on
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// `candidate` failed; `before_response`: no response byte came (the request may move
    /// on), `moving_on`: it does.
    pub fn failed(
        &self,
        candidate: &Candidate,
        before_response: bool,
        moving_on: bool,
        now: Instant,
    ) {
        let Some(link) = self.link(candidate) else {
            return;
        };
        let counters = &link.counters;
        if !before_response {
            ParentCounters::incr(&counters.errors_during_response);
            return;
        }
        ParentCounters::incr(&counters.errors_before_response);
        if moving_on {
            ParentCounters::incr(&counters.failovers);
        }
        let failures = link.failures.get() + 1;
        link.failures.set(failures);
        if failures >= EJECT_AFTER {
            if link
                .ejected_until
                .replace(Some(now + EJECTED_FOR))
                .is_none()
            {
                ParentCounters::incr(&counters.down_on);
            }
            link.failures.set(0);
        }
    }

    fn link(&self, candidate: &Candidate) -> Option<&ParentLink> {
        candidate.parent.map(|i| &self.parents[i])
    }
}

impl Drop for Upstreams {
    /// A configuration that goes takes its ejections with it.
    fn drop(&mut self) {
        for link in &self.parents {
            if link.ejected_until.get().is_some() {
                link.counters
                    .down_on
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}
