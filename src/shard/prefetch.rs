//! Playlist-driven prefetch (LIVE.md F4; issue "Live video II", item 1): when a tracked
//! rendition takes a new playlist version, the owner starts one fetch for each segment, part
//! or map the version newly lists (`live::newly_listed`) that is neither stored nor in flight,
//! so the viewers who read the playlist next find it cached. A rendition is polled only while
//! viewers asked for it within two target durations, so an unwatched one prefetches nothing.
//!
//! A prefetch is the ordinary coalesced fetch with no requester (`Shard::start`): a viewer
//! who asks while it runs joins it, and what it brings is stored as any response would be.
//! Limits: `prefetch_per_stream` in flight per stream; only media of the rendition's own
//! stream, which this shard owns (media under another stream key may be owned elsewhere, and
//! would cost a message per object); none for a stream for a second after the origin failed
//! one of its prefetches (a 5xx, unreachable or cut: T4.2), nor while bytes in flight pass a quarter of the shard's
//! budget (what viewers are fetching comes first).
//!
//! A player's own word counts too: the objects a request's CMCD `nor` names (resolved and
//! kept to the request's stream by the connection) are prefetched the same way, and so are
//! those an origin's `CMSD-Static` `nor` names on a response.
//!
//! Each prefetch is followed until a viewer asks for it (used, with its lead time), nobody
//! did within three target durations (wasted), or it failed; the counts are what tells an
//! operator whether prefetch pays.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_channel::oneshot;

use super::rendition::Rendition;
use super::{FetchRequest, Shard};
use crate::cache::{CacheKey, Event, Reader, StreamKey, Vary};
use crate::config::Config;
use crate::http::headers::{find, Header};
use crate::live::{self, MediaPlaylist};
use crate::metrics::ShardStats;

/// After the origin failed a prefetch (5xx, unreachable, cut), none starts for its stream for
/// this long.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// A prefetch no viewer asked for within this many target durations of its start is wasted.
const WASTED_AFTER: u32 = 3;
/// A prefetch a player asked for (CMCD `nor`) that nobody requested within this long is
/// wasted.
const HINT_HORIZON: Duration = Duration::from_secs(10);
/// The per-stream outcome slots (`StreamTable::prefetch`).
const USED: usize = 0;
const WASTED: usize = 1;
const FAILED: usize = 2;
/// Prefetches followed at once per shard; past it new media waits for its viewers.
const MAX_FOLLOWED: usize = 16_384;

/// One prefetch not yet asked for.
struct Followed {
    /// Its stream, for the per-stream counts.
    stream: StreamKey,
    /// When it counts as wasted if nobody asked.
    deadline: Instant,
    /// When it completed (by the shard's clock); `None` while in flight.
    completed: Option<Instant>,
    /// A viewer joined it in flight.
    asked: bool,
}

/// One shard's prefetches: those followed for the used/wasted counts, in start order for the
/// sweep, and how many are in flight per stream.
#[derive(Default)]
pub struct Prefetches {
    followed: RefCell<HashMap<CacheKey, Followed>>,
    by_deadline: RefCell<VecDeque<(Instant, CacheKey)>>,
    in_flight: RefCell<HashMap<StreamKey, usize>>,
    /// Streams whose origin failed a prefetch lately, and until when they get none.
    paused: RefCell<HashMap<StreamKey, Instant>>,
}

/// The objects `references` name (what comes next, by a player's CMCD `nor` or an origin's
/// CMSD `nor`), resolved against `key` and kept to `key`'s stream: objects of another stream
/// may be another shard's, and neither a player nor an origin may steer the edge elsewhere.
pub fn next_in_stream(config: &Config, key: &CacheKey, references: &[String]) -> Vec<CacheKey> {
    let stream = StreamKey::of(key, config.stream_key);
    let strip = &config.strip_query_params;
    references
        .iter()
        .filter_map(|next| CacheKey::of_reference(key, next.as_bytes(), strip))
        .filter(|next| next != key && StreamKey::of(next, config.stream_key) == stream)
        .take(live::MAX_NEXT_OBJECTS)
        .collect()
}

/// Signals, one per prefetch started, that it ended (completed or not).
pub(super) type Started = Vec<oneshot::Receiver<()>>;

impl Shard {
    /// Starts the prefetches `next` calls for after `previous` (see the module). Returns one
    /// signal per prefetch started, for a caller that waits for them.
    pub(super) fn prefetch(
        self: &Rc<Self>,
        rendition: &Rendition,
        previous: &MediaPlaylist,
        next: &MediaPlaylist,
    ) -> Started {
        let config = self.config();
        if !config.live.prefetch {
            return Vec::new();
        }
        let now = self.now();
        self.sweep_prefetches(now);
        let wanted = rendition.wanted_media(now, next.target_duration);
        let listed = live::newly_listed(previous, next, wanted);
        if listed.is_empty() {
            return Vec::new();
        }
        if !self.may_prefetch(now, &rendition.stream) {
            let skipped = &self.my_stats().live.prefetch_skipped;
            ShardStats::add(skipped, listed.len() as u64);
            return Vec::new();
        }
        let base = &rendition.upstream;
        let strip = &config.strip_query_params;
        let deadline = now + next.target_duration.saturating_mul(WASTED_AFTER);
        listed
            .into_iter()
            .filter_map(|(uri, _)| CacheKey::of_reference(&base.key, uri.as_bytes(), strip))
            .filter_map(|key| {
                self.prefetch_one(key, &base.upstream_headers, &rendition.stream, deadline)
            })
            .collect()
    }

    /// What a player said it will ask for next (CMCD `nor`, resolved by the connection and
    /// kept to the request's stream), prefetched as a playlist's new media is, with the
    /// fields of the request that carried it.
    pub(super) fn prefetch_hinted(self: &Rc<Self>, request: &FetchRequest) {
        self.prefetch_next(request, &request.hinted);
    }

    /// What the origin said will be asked for next (`CMSD-Static` `nor`, CTA-5006) in the
    /// response `headers` it sent for `request`: prefetched as a player's hint is.
    pub(super) fn prefetch_origin_hint(
        self: &Rc<Self>,
        request: &FetchRequest,
        headers: &[Header],
    ) {
        // One hop only: a prefetch's own hint is not followed, or an origin that names the
        // next object on every one would be crawled end to end.
        if self.prefetches.followed.borrow().contains_key(&request.key) {
            return;
        }
        let Some(cmsd) = find(headers, "cmsd-static").and_then(|v| live::Cmcd::of_field(v)) else {
            return;
        };
        let next = next_in_stream(&self.config(), &request.key, &cmsd.next_objects());
        self.prefetch_next(request, &next);
    }

    fn prefetch_next(self: &Rc<Self>, request: &FetchRequest, next: &[CacheKey]) {
        let config = self.config();
        // A prefetch is everyone's fetch: never with one client's credentials.
        if next.is_empty() || !config.live.prefetch || request.authorized {
            return;
        }
        let now = self.now();
        self.sweep_prefetches(now);
        let stream = StreamKey::of(&request.key, config.stream_key);
        if !self.may_prefetch(now, &stream) {
            let skipped = &self.my_stats().live.prefetch_skipped;
            ShardStats::add(skipped, next.len() as u64);
            return;
        }
        for key in next {
            let deadline = now + HINT_HORIZON;
            self.prefetch_one(key.clone(), &request.upstream_headers, &stream, deadline);
        }
    }

    /// No origin failure of `stream`'s prefetches within the pause, and the bytes in flight
    /// leave room for what viewers fetch themselves.
    fn may_prefetch(&self, now: Instant, stream: &StreamKey) -> bool {
        let usage = self.store_usage();
        let mut paused = self.prefetches.paused.borrow_mut();
        if !paused.is_empty() {
            paused.retain(|_, until| now < *until);
        }
        !paused.contains_key(stream) && usage.inflight_bytes <= usage.budget / 4
    }

    /// Starts one prefetch of `key` (of `stream`, fetched with `fields`) unless it is stored,
    /// in flight, of another stream, or over the limits; its signal when it started.
    fn prefetch_one(
        self: &Rc<Self>,
        key: CacheKey,
        fields: &[Header],
        stream: &StreamKey,
        deadline: Instant,
    ) -> Option<oneshot::Receiver<()>> {
        let config = self.config();
        let key_fields = Vary::None.with_key_fields(&config.forwarding.key);
        let flight_key = (key.clone(), key_fields.secondary_key(fields));
        let busy = self.inflight.borrow().contains_key(&flight_key)
            || self.store.borrow().vary_of(&key).is_some();
        if busy {
            return None;
        }
        let room = self.stream_prefetches(stream) < config.live.prefetch_per_stream
            && self.prefetches.followed.borrow().len() < MAX_FOLLOWED;
        // Its own stream is owned here; another one may be owned elsewhere.
        if !room || StreamKey::of(&key, config.stream_key) != *stream {
            ShardStats::incr(&self.my_stats().live.prefetch_skipped);
            return None;
        }
        let request = Arc::new(FetchRequest {
            key: key.clone(),
            upstream_headers: fields.to_vec(),
            directives: Default::default(),
            hinted: Vec::new(),
            authorized: false,
            range_end: None,
        });
        // Its reader is the fetch's leader, so it sees the status of any answer, one that
        // may not be shared included (viewers who join get told to fetch for themselves).
        let reader = self.start(&request, flight_key, None, true).reader();
        ShardStats::incr(&self.my_stats().live.prefetch_started);
        *self
            .prefetches
            .in_flight
            .borrow_mut()
            .entry(stream.clone())
            .or_default() += 1;
        let followed = Followed {
            stream: stream.clone(),
            deadline,
            completed: None,
            asked: false,
        };
        self.prefetches
            .followed
            .borrow_mut()
            .insert(key.clone(), followed);
        self.prefetches
            .by_deadline
            .borrow_mut()
            .push_back((deadline, key.clone()));
        let (done, ended) = oneshot::channel();
        let shard = Rc::clone(self);
        let stream = stream.clone();
        glommio::spawn_local(async move {
            let outcome = settle(reader).await;
            shard.prefetch_ended(&stream, &key, outcome);
            let _ = done.send(());
        })
        .detach();
        Some(ended)
    }

    /// A viewer asked for `key`: if it was prefetched, that prefetch is used (counted once,
    /// with its lead time when it had completed).
    pub(super) fn note_prefetch_asked(&self, key: &CacheKey, now: Instant) {
        let mut followed = self.prefetches.followed.borrow_mut();
        if followed.is_empty() {
            return;
        }
        let Some(entry) = followed.get_mut(key) else {
            return;
        };
        match entry.completed {
            Some(completed) => {
                let entry = followed.remove(key).expect("just found");
                drop(followed);
                self.prefetch_used(&entry.stream, now.saturating_duration_since(completed));
            }
            None => entry.asked = true,
        }
    }

    fn prefetch_used(&self, stream: &StreamKey, lead: Duration) {
        ShardStats::incr(&self.my_stats().live.prefetch_used);
        let mut latency = self.latency.borrow_mut();
        latency.prefetch_lead.record(lead);
        latency.streams.prefetch(stream.as_bytes(), USED);
    }

    /// The prefetch of `key` ended with `outcome`: one not stored counts as failed, and one
    /// the origin failed pauses prefetch on this shard.
    fn prefetch_ended(&self, stream: &StreamKey, key: &CacheKey, outcome: Outcome) {
        let mut in_flight = self.prefetches.in_flight.borrow_mut();
        if let Some(n) = in_flight.get_mut(stream) {
            *n -= 1;
            if *n == 0 {
                in_flight.remove(stream);
            }
        }
        drop(in_flight);
        let now = self.now();
        let mut followed = self.prefetches.followed.borrow_mut();
        if outcome != Outcome::Stored {
            followed.remove(key);
            drop(followed);
            ShardStats::incr(&self.my_stats().live.prefetch_failed);
            let mut latency = self.latency.borrow_mut();
            latency.streams.prefetch(stream.as_bytes(), FAILED);
            drop(latency);
            if outcome == Outcome::OriginFailed {
                let until = now + PAUSE_AFTER_FAILURE;
                let mut paused = self.prefetches.paused.borrow_mut();
                paused.insert(stream.clone(), until);
            }
            return;
        }
        let Some(entry) = followed.get_mut(key) else {
            return;
        };
        if entry.asked {
            followed.remove(key);
            drop(followed);
            self.prefetch_used(stream, Duration::ZERO);
        } else {
            entry.completed = Some(now);
        }
    }

    fn stream_prefetches(&self, stream: &StreamKey) -> usize {
        let in_flight = self.prefetches.in_flight.borrow();
        in_flight.get(stream).copied().unwrap_or(0)
    }

    /// Counts as wasted the prefetches nobody asked for by their deadline.
    pub(super) fn sweep_prefetches(&self, now: Instant) {
        let mut by_deadline = self.prefetches.by_deadline.borrow_mut();
        let mut followed = self.prefetches.followed.borrow_mut();
        let mut wasted = 0;
        while let Some((deadline, _)) = by_deadline.front() {
            if *deadline > now {
                break;
            }
            let (deadline, key) = by_deadline.pop_front().expect("a front entry");
            // The key may have been used, or prefetched again later with another deadline.
            if followed.get(&key).is_some_and(|f| f.deadline == deadline) {
                let entry = followed.remove(&key).expect("just found");
                self.latency
                    .borrow_mut()
                    .streams
                    .prefetch(entry.stream.as_bytes(), WASTED);
                wasted += 1;
            }
        }
        ShardStats::add(&self.my_stats().live.prefetch_wasted, wasted);
    }
}

/// How a prefetch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Complete and stored: a viewer will find it.
    Stored,
    /// Answered, but nothing kept (not 2xx, not storable, too large).
    NotKept,
    /// The origin failed it (5xx, unreachable, cut): prefetch pauses.
    OriginFailed,
}

/// Reads a prefetch to its end.
async fn settle(mut reader: Reader) -> Outcome {
    loop {
        match reader.next().await {
            Event::Head(head) if head.status >= 500 => return Outcome::OriginFailed,
            Event::Head(head) if !(200..300).contains(&head.status) => return Outcome::NotKept,
            Event::Head(_) | Event::Interim(_) | Event::Chunk(_) => continue,
            // The leader stores the object before its readers run again.
            Event::End if reader.is_stored() => return Outcome::Stored,
            Event::End | Event::NotShared => return Outcome::NotKept,
            Event::Aborted | Event::Failed(_) => return Outcome::OriginFailed,
        }
    }
}
