//! LL-HLS blocking playlist reloads held at the edge (LIVE.md F1): the owner shard keeps one
//! [`Rendition`] per media playlist asked with `_HLS_msn`, holding its latest playlist
//! version, the requests waiting for a later one, and one upstream long-poll (`long_poll`)
//! however many requests wait and whatever each asks. A request the latest version satisfies
//! is answered from it at once; one malformed, or too far ahead of a current version, gets
//! 400 without the origin; the rest wait until a version satisfies them or three target
//! durations pass (503). Every spelling of one reload (parameter order, name case,
//! `_HLS_skip`) is one rendition, so they share a hold. `_HLS_skip=YES` is answered with a
//! delta update made here from the full playlist (F2), with or without `_HLS_msn`, so the
//! origin never sees one; `v2` goes upstream as it came.
//!
//! A plain request of a tracked rendition is answered from its latest version while a
//! long-poll keeps that current. An upstream answer that cannot become state (an error
//! status, not a media playlist, too large, malformed, for one client alone) is never served
//! from here: its waiters go the ordinary way, with their own URL, for a while. Deadlines,
//! memory, counts and drain are the books in `hold_upkeep`. A held request whose connection
//! offered a writer is answered by the release itself (`release_write`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::held_slot;

use super::hold_upkeep::{directory_of, RenditionKey};
use super::release_write::{released_status, Answer, HEAD_ROOM};
use super::rendition::{Form, Held, HeldWaiting, Offer, Rendition, Version, Waiter};
use super::{long_poll, FetchRequest, Shard};
use crate::cache::{CacheKey, StreamKey, Vary};
use crate::http::Failure;
use crate::live::{self, HoldDecision, SkipRequest};
use crate::metrics::{HoldResult, LiveStats, ShardStats};

/// How the owner answers a playlist request with delivery directives.
pub enum Blocking {
    /// Not the live layer's: look it up as any other request.
    Ordinary,
    Refuse(Failure),
    /// Answer now, in `form`.
    Answer {
        version: Rc<Version>,
        form: Form,
    },
    Wait {
        waiting: HeldWaiting,
        form: Form,
    },
}

impl Shard {
    /// Decides a playlist request that may carry delivery directives.
    pub(super) fn blocking_reload(self: &Rc<Self>, request: &Arc<FetchRequest>) -> Blocking {
        // Most requests are for media: leave before any other work (this runs on every hit).
        if !live::is_playlist_path_bytes(request.key.path()) {
            return Blocking::Ordinary;
        }
        let config = self.config();
        if !config.live.hold_blocking_reloads {
            return Blocking::Ordinary;
        }
        let Ok(target) = std::str::from_utf8(request.key.target()) else {
            return Blocking::Ordinary;
        };
        let directives = match live::parse_directives(target) {
            Ok(Some(d)) => d,
            Ok(None) => return self.plain_playlist(request, target),
            Err(_) => {
                self.hold_result(&request.key, HoldResult::BadDirective);
                return Blocking::Refuse(Failure::BadDirective);
            }
        };
        // A `v2` delta needs date-range history the edge does not keep: it goes upstream.
        let delta = match directives.skip {
            None => false,
            Some(SkipRequest::Yes) => true,
            Some(SkipRequest::V2) => return Blocking::Ordinary,
        };
        let form = Form {
            delta,
            blocking: directives.msn.is_some(),
        };
        let now = self.now();
        let Some(rendition) = self.rendition(request, &directives.rendition, now) else {
            return Blocking::Ordinary;
        };
        rendition.asked(now, form.blocking);
        if rendition.is_passing(now) {
            self.hold_results(&rendition.stream, HoldResult::Passed, 1);
            return Blocking::Ordinary;
        }
        let latest = rendition.version_for(form.blocking);
        if let Some(version) = latest {
            let age = now.saturating_duration_since(version.received_at);
            let polling = rendition.polling.get();
            // A live version nobody kept current (no long-poll, older than a part target)
            // answers nothing: it may be far behind the origin, so the request waits for the
            // next version, which the long-poll brings within a part.
            let current = polling
                || age <= live::current_for(&version.playlist)
                || !version.playlist.is_live();
            let decision = match directives.msn {
                Some(msn) => live::decide(&version.playlist, msn, directives.part, age, polling),
                None => HoldDecision::Answer,
            };
            let decision = match decision {
                HoldDecision::Answer if !current => HoldDecision::Hold,
                decision => decision,
            };
            match decision {
                HoldDecision::Answer => {
                    self.start_polling(&rendition);
                    let ended = version.playlist.ended;
                    let result = if ended {
                        HoldResult::Ended
                    } else {
                        HoldResult::Immediate
                    };
                    self.hold_results(&rendition.stream, result, 1);
                    return Blocking::Answer { version, form };
                }
                HoldDecision::TooFar => {
                    self.hold_results(&rendition.stream, HoldResult::TooFar, 1);
                    return Blocking::Refuse(Failure::TooFarAhead);
                }
                HoldDecision::Hold => {}
            }
        }
        if self.holds.waiting.get() >= config.shard_max_holds() {
            return Blocking::Refuse(Failure::Overloaded);
        }
        if self.holds.draining.get() {
            self.hold_results(&rendition.stream, HoldResult::Expired, 1);
            return Blocking::Refuse(Failure::HoldExpired);
        }
        let (wake, waiting) = held_slot::slot();
        rendition.waiters.borrow_mut().push(Waiter {
            msn: directives.msn,
            part: directives.part,
            since: now,
            wake,
        });
        self.count_holds(&rendition.stream, 1, 0);
        self.start_polling(&rendition);
        self.start_sweeping();
        Blocking::Wait { waiting, form }
    }

    /// A playlist request without directives: answered from its rendition's latest version
    /// while a long-poll keeps that current, or it is younger than half a target duration
    /// (F1.9), so a viewer never waits for the origin; otherwise the ordinary way.
    /// `blocking_reload` checked already that the path names a playlist.
    fn plain_playlist(self: &Rc<Self>, request: &Arc<FetchRequest>, target: &str) -> Blocking {
        let key = self.rendition_key(request, target);
        let Some(rendition) = self.holds.renditions.borrow().get(&key).cloned() else {
            // Tracked from its stored copy when that is a hit (`seed`).
            return Blocking::Ordinary;
        };
        let now = self.now();
        let Some(version) = rendition.version_for(false) else {
            return Blocking::Ordinary;
        };
        if rendition.is_passing(now) {
            return Blocking::Ordinary;
        }
        rendition.asked(now, false);
        let age = now.saturating_duration_since(version.received_at);
        let current = rendition.polling.get()
            || age <= version.playlist.target_duration / 2
            || !version.playlist.is_live();
        // Viewers are back after a pause: the poll resumes, and this one request goes the
        // ordinary way rather than get a version that may be far behind.
        self.start_polling(&rendition);
        if !current {
            return Blocking::Ordinary;
        }
        let form = Form {
            delta: false,
            blocking: false,
        };
        Blocking::Answer { version, form }
    }

    /// The key of the rendition `target` (without directives) names for `request`.
    pub(super) fn rendition_key(&self, request: &FetchRequest, target: &str) -> RenditionKey {
        let config = self.config();
        let key_fields = Vary::None.with_key_fields(&config.forwarding.key);
        let secondary = key_fields.secondary_key(&request.upstream_headers);
        (
            CacheKey::new(request.key.host(), target.as_bytes(), &[]),
            secondary,
        )
    }

    /// The rendition for `target` (without directives) as `request` asks it, made if new;
    /// `None` when the shard tracks all it may.
    pub(super) fn rendition(
        &self,
        request: &Arc<FetchRequest>,
        target: &str,
        now: Instant,
    ) -> Option<Rc<Rendition>> {
        let key = self.rendition_key(request, target);
        let mut renditions = self.holds.renditions.borrow_mut();
        if let Some(rendition) = renditions.get(&key) {
            return Some(Rc::clone(rendition));
        }
        let max = self.config().shard_max_renditions();
        if renditions.len() >= max {
            drop(renditions);
            self.forget_idle(now);
            renditions = self.holds.renditions.borrow_mut();
        }
        if renditions.len() >= max {
            return None;
        }
        // Identity bodies only: the playlist must be read to become state.
        let upstream_headers = request
            .upstream_headers
            .iter()
            .filter(|h| !h.name.eq_ignore_ascii_case(b"accept-encoding"))
            .cloned()
            .collect();
        let rendition = Rc::new(Rendition {
            stream: StreamKey::of(&key.0, self.config().stream_key),
            upstream: Arc::new(FetchRequest {
                key: key.0.clone(),
                upstream_headers,
                directives: Default::default(),
                hinted: Vec::new(),
                authorized: false,
                range_end: None,
            }),
            latest: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
            polling: Cell::new(false),
            last_asked: Cell::new(now),
            passing_until: Cell::new(None),
            segment_seen: Cell::new(now),
            part_seen: Cell::new(now),
            stale: Cell::new(false),
            refused_since: Cell::new(None),
            plain_asked: Cell::new(None),
            blocking_asked: Cell::new(None),
            held_back: RefCell::new(None),
            holds_running: Cell::new(0),
        });
        *self
            .holds
            .dirs
            .borrow_mut()
            .entry(directory_of(&key.0))
            .or_default() += 1;
        renditions.insert(key, Rc::clone(&rendition));
        LiveStats::set(&self.my_stats().live.renditions, renditions.len() as u64);
        Some(rendition)
    }

    pub(super) fn start_polling(self: &Rc<Self>, rendition: &Rc<Rendition>) {
        if !rendition.polling.replace(true) {
            glommio::spawn_local(long_poll::run(Rc::clone(self), Rc::clone(rendition))).detach();
        }
    }

    /// Wakes the waiters `version` answers (or, being current, finds too far ahead), writing
    /// the answers of those that offered (`release_write`) first. They are counted out of the
    /// holds before any answer leaves: a client that has its answer is no longer held.
    pub(super) fn wake_satisfied(&self, rendition: &Rendition, version: &Rc<Version>) {
        let mut results = [0u64; HoldResult::ALL.len()];
        let waiters = std::mem::take(&mut *rendition.waiters.borrow_mut());
        let mut keep = Vec::with_capacity(waiters.len());
        let mut leaving = Vec::with_capacity(waiters.len());
        for w in waiters {
            let decision = match w.msn {
                Some(msn) => live::decide(&version.playlist, msn, w.part, Duration::ZERO, true),
                None => HoldDecision::Answer,
            };
            let result = match decision {
                HoldDecision::Hold => {
                    keep.push(w);
                    continue;
                }
                HoldDecision::Answer if version.playlist.ended => HoldResult::Ended,
                HoldDecision::Answer => HoldResult::Satisfied,
                HoldDecision::TooFar => HoldResult::TooFar,
            };
            results[result as usize] += 1;
            leaving.push((w, result != HoldResult::TooFar));
        }
        *rendition.waiters.borrow_mut() = keep;
        // Counted once per result, not per waiter: a part instant wakes thousands.
        for result in HoldResult::ALL {
            self.hold_results(&rendition.stream, result, results[result as usize]);
        }
        self.count_holds(&rendition.stream, 0, leaving.len() as u64);
        // The release's instant, by both clocks, once for every answer it writes; its heads'
        // buffer (made on the first answer written in place).
        let released = (Instant::now(), self.now());
        let mut heads = BytesMut::new();
        let answers = leaving.len();
        for (i, (w, answered)) in leaving.into_iter().enumerate() {
            let held = match (answered, w.wake.take_offer()) {
                (false, _) => Held::TooFar,
                (true, Some(offer)) => {
                    // Room for the answers still to come (again when heads larger than
                    // `HEAD_ROOM` used it up).
                    if heads.capacity() == 0 {
                        heads.reserve((answers - i) * HEAD_ROOM);
                    }
                    self.answer_in_place(version, offer, released, &mut heads)
                }
                (true, None) => Held::Ready(Rc::clone(version)),
            };
            let ready = matches!(held, Held::Ready(_));
            // Counted only when the request is still there to answer (see `released_one`).
            if w.wake.send(held).is_ok() && ready {
                self.holds.gate.woke_release();
            }
        }
        if answers > 0 {
            let mut latency = self.latency.borrow_mut();
            let started = released.0;
            latency
                .release_wait
                .record(started.saturating_duration_since(version.arrived));
            latency.release_burst.record(started.elapsed());
        }
    }

    /// Writes a held request's answer from `version` to its client now, as it offered
    /// (`release_write`); `Ready` for its task to write when the writer declines. `released`:
    /// when, by the real clock (the hold's end) and the shard's (the answer's `Age`); `heads`:
    /// the release's buffer its head is rendered into.
    fn answer_in_place(
        &self,
        version: &Rc<Version>,
        offer: Offer,
        (released, now): (Instant, Instant),
        heads: &mut BytesMut,
    ) -> Held {
        let (head, body) = version.answer(offer.form);
        let held = released.saturating_duration_since(offer.since);
        let status = released_status(version.arrived, held);
        let answer = Answer {
            head: &head,
            body: &body,
            age_secs: version.age_secs(now),
            status: &status,
            heads,
        };
        // Counted before the answer leaves, as the holds are: a client that has its answer
        // finds it counted. Taken back when the writer declines.
        let counted = &self.my_stats().live.written_at_release;
        ShardStats::incr(counted);
        match offer.writer.write_now(answer) {
            Some(written) => Held::Written {
                version: Rc::clone(version),
                status,
                written,
            },
            None => {
                counted.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                Held::Ready(Rc::clone(version))
            }
        }
    }

    /// The upstream answer could not become state: every waiter goes the ordinary way, and
    /// so do new requests for `for_a_while`.
    pub(super) fn pass_waiters(&self, rendition: &Rendition, for_a_while: Duration) {
        rendition.passing_until.set(Some(self.now() + for_a_while));
        self.release_waiters(rendition, HoldResult::Passed, || Held::Pass);
    }
}
