//! Identical blocking reloads on a shard that does not own their rendition share one request
//! to the owner (LIVE.md F1, F8). A shard's viewers of one rendition ask for the same next
//! part at the same moment; each used to cross the mesh as a request of its own, so the owner
//! ran a forward task, an answer and three mesh messages per remote viewer at every part
//! instant: with many shards most of a release's work landed on the one core that owns the
//! stream. Here the first such request goes to the owner and the identical ones that come
//! while it is held join it; the owner's released answer (head and body, immutable) is
//! handed to each of them on this shard, with its own hold time. Identical means the same
//! key (the exact target), upstream fields, request directives and CMCD hints: whatever the
//! owner would answer or prefetch for one it does for all (a shared fetch's upstream fields
//! are an allowlist and livecache's own, `server::forward`, so viewers of one player share). A
//! HEAD, a conditional or an HTTP/1.0 request shares it too: the connection side renders
//! those from the same reply.
//!
//! Only a released held answer is shared, and a hold that expired (the origin published
//! nothing for three target durations: the ones that joined later get their 503 as early,
//! never later than their own limit). Any other first reply (an answer at once, a 400, a
//! plain response) goes to the request that asked, and the ones that joined go to the owner
//! on their own, so none gets a decision made for another. A joined request is counted held
//! here (the owner counts the one it holds) and counted by how it ended; the release gate
//! counts each one a released answer wakes until it takes it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Instant;

use bytes::Bytes;

use super::remote_release::{OnItsOwn, RemoteReplies};
use super::{FetchRequest, Reply, Shard};
use crate::cache::{CacheKey, CacheStatus, CachedHead, Release, StreamKey};
use crate::http::Failure;
use crate::live::{self, SkipRequest};
use crate::metrics::{HoldResult, ShardStats};

/// A released answer as every request that shared its request gets it.
struct Shared {
    /// When its head reached this shard: each request was held until then.
    received: Instant,
    /// The playlist it brings has ended (`EXT-X-ENDLIST`): counted as the owner counts it.
    ended: bool,
    head: Arc<CachedHead>,
    age_secs: u64,
    status: CacheStatus,
    body_len: Option<u64>,
    in_hand: bool,
    body: Vec<Bytes>,
}

/// How a shared request ended.
enum Outcome {
    Released(Rc<Shared>),
    Expired,
    /// Another reply: the first request takes it (`Pending::own`), the others ask on their
    /// own.
    Alone,
}

/// One request to the owner and the requests of this shard waiting for it.
struct Pending {
    request: Arc<FetchRequest>,
    /// The shard that owns its rendition.
    owner: usize,
    outcome: RefCell<Option<Outcome>>,
    /// Each joined request's waker, by its slot.
    wakers: RefCell<Vec<Option<Waker>>>,
    /// Joined requests still waiting for the outcome.
    waiting: Cell<u64>,
    /// The owner's replies for the first request when they are not shared.
    own: RefCell<Option<(Reply, RemoteReplies)>>,
    /// The first request went before the outcome: replies of its own are dropped at once.
    first_gone: Cell<bool>,
}

impl Pending {
    /// Counts one more request waiting; its slot among the wakers.
    fn add_waiting(&self) -> usize {
        self.waiting.set(self.waiting.get() + 1);
        let mut wakers = self.wakers.borrow_mut();
        wakers.push(None);
        wakers.len() - 1
    }
}

/// This shard's shared requests to owners, by key (few per key: one per set of fields).
#[derive(Default)]
pub(super) struct RemoteHolds {
    pending: RefCell<HashMap<CacheKey, Vec<Rc<Pending>>>>,
}

/// Whether `request` is a blocking reload the owner would hold, so that an identical one may
/// share its answer: `_HLS_msn` given, no `v2` delta, no credentials, no range, no request
/// directives.
fn is_shareable_hold(shard: &Shard, request: &FetchRequest) -> bool {
    let plain = !request.authorized
        && request.range_end.is_none()
        && request.directives == Default::default();
    if !plain
        || !live::is_playlist_path_bytes(request.key.path())
        || !shard.config().live.hold_blocking_reloads
    {
        return false;
    }
    let Ok(target) = std::str::from_utf8(request.key.target()) else {
        return false;
    };
    matches!(live::parse_directives(target), Ok(Some(d))
        if d.msn.is_some() && d.skip != Some(SkipRequest::V2))
}

/// Whether a chunk of a playlist holds its `EXT-X-ENDLIST` tag (a tag begins its line).
fn lists_end(chunk: &[u8]) -> bool {
    const TAG: &[u8] = b"#EXT-X-ENDLIST";
    chunk
        .windows(TAG.len())
        .enumerate()
        .any(|(i, w)| w == TAG && (i == 0 || chunk[i - 1] == b'\n'))
}

impl Shard {
    /// Joins `request` to an identical one held on its `owner`, or sends it there for others
    /// to join. `None` when it is not a blocking reload this shard shares; `Some(None)` when
    /// the owner's queue is full or this shard holds its share of `max_holds` already
    /// (overload).
    pub(super) fn join_remote_hold(
        self: &Rc<Self>,
        owner: usize,
        request: &Arc<FetchRequest>,
    ) -> Option<Option<JoinedReplies>> {
        // A draining shard shares nothing: the owner answers each request (503).
        if self.holds.draining.get() || !is_shareable_hold(self, request) {
            return None;
        }
        let found = self
            .remote_holds
            .pending
            .borrow()
            .get(&request.key)
            .and_then(|list| {
                let same = |p: &&Rc<Pending>| {
                    p.request.upstream_headers == request.upstream_headers
                        && p.request.hinted == request.hinted
                        && p.outcome.borrow().is_none()
                };
                list.iter().find(same).cloned()
            });
        let first = found.is_none();
        let pending = match found {
            // Held here: within this shard's share of `max_holds`, as on the owner.
            Some(_) if self.holds.waiting.get() >= self.config().shard_max_holds() => {
                return Some(None);
            }
            Some(pending) => {
                self.count_joined(&request.key, 1, 0);
                // The owner does not see it: its stream's rate still counts it.
                self.count_for_owner(&request.key);
                ShardStats::incr(&self.my_stats().live.remote_holds_joined);
                pending
            }
            None => {
                let Some(replies) = self.ask_owner(owner, Arc::clone(request)) else {
                    return Some(None);
                };
                let pending = Rc::new(Pending {
                    request: Arc::clone(request),
                    owner,
                    outcome: RefCell::new(None),
                    wakers: RefCell::new(Vec::new()),
                    waiting: Cell::new(0),
                    own: RefCell::new(None),
                    first_gone: Cell::new(false),
                });
                self.remote_holds
                    .pending
                    .borrow_mut()
                    .entry(request.key.clone())
                    .or_default()
                    .push(Rc::clone(&pending));
                // Counted waiting before the driver runs (glommio polls a task once as it
                // spawns it, and the owner may have answered by then): the outcome counts the
                // requests waiting as released answers of this shard's gate.
                let slot = pending.add_waiting();
                let driving = drive(Rc::clone(self), Rc::clone(&pending), replies);
                glommio::spawn_local(driving).detach();
                return Some(Some(self.joined_replies(pending, slot, true)));
            }
        };
        let slot = pending.add_waiting();
        Some(Some(self.joined_replies(pending, slot, first)))
    }

    fn joined_replies(
        self: &Rc<Self>,
        pending: Rc<Pending>,
        slot: usize,
        first: bool,
    ) -> JoinedReplies {
        JoinedReplies {
            shard: Rc::clone(self),
            pending,
            slot,
            first,
            since: Instant::now(),
            state: Joined::Waiting,
        }
    }

    /// `added` requests joined a shared remote hold of `key`'s stream, `removed` left it:
    /// counted held here (the first is counted by the owner).
    fn count_joined(&self, key: &CacheKey, added: u64, removed: u64) {
        let stream = StreamKey::of(key, self.config().stream_key);
        self.count_holds(&stream, added, removed);
    }
}

/// Waits for the owner's first reply to a shared request, then hands it to every request
/// joined by then (or tells them to go on their own).
async fn drive(shard: Rc<Shard>, pending: Rc<Pending>, mut replies: RemoteReplies) {
    let first = replies.next().await;
    let received = Instant::now();
    let outcome = match first {
        Reply::Head {
            head,
            age_secs,
            status,
            body_len,
            in_hand,
            written: None,
            ..
        } if status.release.is_some() => {
            let mut body = Vec::new();
            let mut whole = true;
            loop {
                match replies.next().await {
                    Reply::Chunk(chunk) => body.push(chunk),
                    Reply::End => break,
                    _ => {
                        whole = false;
                        break;
                    }
                }
            }
            let length: u64 = body.iter().map(|chunk| chunk.len() as u64).sum();
            match whole && body_len.is_none_or(|len| len == length) {
                true => Outcome::Released(Rc::new(Shared {
                    received,
                    ended: body.iter().any(|chunk| lists_end(chunk)),
                    head,
                    age_secs,
                    status,
                    body_len,
                    in_hand,
                    body,
                })),
                // Cut on the way: each asks again.
                false => Outcome::Alone,
            }
        }
        Reply::Failed(Failure::HoldExpired) => Outcome::Expired,
        other => {
            // Nobody left to take them: the owner's request ends now.
            if !pending.first_gone.get() {
                *pending.own.borrow_mut() = Some((other, replies));
            }
            Outcome::Alone
        }
    };
    // No one joins from now on.
    {
        let mut map = shard.remote_holds.pending.borrow_mut();
        if let Some(list) = map.get_mut(&pending.request.key) {
            list.retain(|p| !Rc::ptr_eq(p, &pending));
            if list.is_empty() {
                map.remove(&pending.request.key);
            }
        }
    }
    // Each request still waiting is a release of this shard's gate until it takes its answer.
    if matches!(outcome, Outcome::Released(_)) {
        for _ in 0..pending.waiting.get() {
            shard.holds.gate.woke_release();
        }
    }
    *pending.outcome.borrow_mut() = Some(outcome);
    for waker in pending.wakers.take().into_iter().flatten() {
        waker.wake();
    }
}

enum Joined {
    Waiting,
    /// The shared answer, and the index of the next reply to give (0: the head).
    Answer(Rc<Shared>, usize),
    /// Not shared: its own replies.
    Alone(OnItsOwn),
    Failed(Failure),
}

/// One request's end of a shared remote hold.
pub struct JoinedReplies {
    shard: Rc<Shard>,
    pending: Rc<Pending>,
    /// Its place in the pending request's wakers.
    slot: usize,
    /// The request that sent the shared one (counted held by the owner, not here).
    first: bool,
    since: Instant,
    state: Joined,
}

impl JoinedReplies {
    pub(super) async fn next(&mut self) -> Reply {
        if matches!(self.state, Joined::Waiting) {
            self.wait().await;
        }
        match &mut self.state {
            Joined::Waiting => Reply::Aborted,
            Joined::Answer(..) => self.answer_reply(),
            Joined::Alone(own) => own.next().await,
            Joined::Failed(failure) => Reply::Failed(*failure),
        }
    }

    /// A reply already here, if any.
    pub(super) fn ready(&mut self) -> Option<Reply> {
        match &mut self.state {
            Joined::Answer(_, next) if *next > 0 => Some(self.answer_reply()),
            Joined::Alone(own) => own.ready(),
            _ => None,
        }
    }

    /// The shared answer's next reply: its head (with this request's own hold time), a chunk
    /// of its body, its end.
    fn answer_reply(&mut self) -> Reply {
        let Joined::Answer(shared, next) = &mut self.state else {
            return Reply::Aborted;
        };
        let index = *next;
        *next += 1;
        if index > 0 {
            return match shared.body.get(index - 1) {
                Some(chunk) => Reply::Chunk(chunk.clone()),
                None => Reply::End,
            };
        }
        let mut status = shared.status;
        if let Some(release) = status.release {
            // Held from its own arrival until the answer reached this shard.
            status.release = Some(Release {
                held: shared.received.saturating_duration_since(self.since),
                ..release
            });
        }
        Reply::Head {
            head: Arc::clone(&shared.head),
            age_secs: shared.age_secs,
            status,
            body_len: shared.body_len,
            in_hand: shared.in_hand,
            written: None,
            shared: false,
        }
    }

    /// Waits for the shared request's outcome and takes its part of it.
    async fn wait(&mut self) {
        let pending = Rc::clone(&self.pending);
        let slot = self.slot;
        std::future::poll_fn(|cx| {
            if pending.outcome.borrow().is_some() {
                return Poll::Ready(());
            }
            if let Some(waker) = pending.wakers.borrow_mut().get_mut(slot) {
                *waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        pending.waiting.set(pending.waiting.get() - 1);
        let key = &pending.request.key;
        let stream = StreamKey::of(key, self.shard.config().stream_key);
        let result = match &*pending.outcome.borrow() {
            Some(Outcome::Released(shared)) => {
                self.shard.released_one();
                self.state = Joined::Answer(Rc::clone(shared), 0);
                Some(match shared.ended {
                    true => HoldResult::Ended,
                    false => HoldResult::Satisfied,
                })
            }
            Some(Outcome::Expired) => {
                self.state = Joined::Failed(Failure::HoldExpired);
                Some(HoldResult::Expired)
            }
            _ => None,
        };
        if matches!(self.state, Joined::Waiting) {
            let own = self
                .first
                .then(|| pending.own.borrow_mut().take())
                .flatten();
            let (shard, owner) = (&self.shard, pending.owner);
            self.state = Joined::Alone(OnItsOwn::go(shard, own, owner, &pending.request));
        }
        // The first request's hold is the owner's to count; the others are this shard's (a
        // released answer's hold time is recorded once it is written, from its status).
        if !self.first {
            self.shard.count_joined(key, 0, 1);
            if let Some(result) = result {
                self.shard.hold_results(&stream, result, 1);
            }
            if result == Some(HoldResult::Expired) {
                let mut latency = self.shard.latency.borrow_mut();
                latency.record_hold(Some(stream.as_bytes()), self.since.elapsed());
            }
        }
    }
}

impl Drop for JoinedReplies {
    /// A request that goes before it took its part: its hold ends here, and a release woken
    /// for it is taken back, so the gate's count stays exact.
    fn drop(&mut self) {
        if !matches!(self.state, Joined::Waiting) {
            return;
        }
        let pending = &self.pending;
        pending.waiting.set(pending.waiting.get().saturating_sub(1));
        if self.first {
            pending.first_gone.set(true);
            drop(pending.own.take());
        }
        if let Some(waker) = pending.wakers.borrow_mut().get_mut(self.slot) {
            *waker = None;
        }
        if !self.first {
            self.shard.count_joined(&pending.request.key, 0, 1);
        }
        if matches!(*pending.outcome.borrow(), Some(Outcome::Released(_))) {
            self.shard.released_one();
        }
    }
}
