//! Identical media requests on a shard that does not own their stream share one request to
//! the owner (LIVE.md F3, F8). A live stream's viewers ask for the same part at the same
//! moment, most of them before it exists (its preload hint), and replicas (`replicas`) carry
//! only complete objects: each of those requests used to cross the mesh on its own, one
//! forward task on the owner and one reply stream per viewer per part. Here the first goes to
//! the owner and the identical ones that come while its answer streams join it: each gets the
//! head, the chunks that came before it joined, then every chunk as it comes (refcounted
//! `Bytes`, no copy). Identical means the same key (the exact target), upstream fields (what
//! `Vary` is computed from) and CMCD hints, with no credentials, range or request directives,
//! for a media segment, part or init section by name.
//!
//! Only a head the owner marks shared is handed on (`Reply::Head::shared`: the head every
//! identical request gets there). Any other first reply goes to the request that asked, and
//! the ones that joined ask the owner on their own, so none gets what was meant for another.
//! The body of an object the owner stores is kept whole for the requests here while within
//! `max_object_size`; any other is kept as the owner keeps a pass-through body for its
//! followers (`shared_answer`): read no further than `PASS_THROUGH_WINDOW` ahead of the
//! fastest request, what every request took let go, and one more than that behind the fastest
//! cut (`lagging_reader`), so a stalled viewer neither holds up the others nor holds memory,
//! and a slow one alone slows the fetch instead. Nobody joins once the body is complete, cut,
//! or its start let go.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use super::remote_release::{OnItsOwn, RemoteReplies};
use super::shared_answer::{Ending, Flight, SharedHead, State, Step};
use super::{FetchRequest, Reply, Shard};
use crate::cache::CacheKey;
use crate::metrics::streams::ObjectKind;
use crate::metrics::{Guard, ShardStats};

/// This shard's shared requests to owners whose answers are still coming, by key (few per
/// key: one per set of fields).
#[derive(Default)]
pub(super) struct RemoteFlights {
    open: RefCell<HashMap<CacheKey, Vec<Rc<Flight>>>>,
}

impl RemoteFlights {
    /// No request joins `flight` from now on.
    fn close(&self, flight: &Rc<Flight>) {
        let mut open = self.open.borrow_mut();
        if let Some(list) = open.get_mut(&flight.request.key) {
            list.retain(|f| !Rc::ptr_eq(f, flight));
            if list.is_empty() {
                open.remove(&flight.request.key);
            }
        }
    }
}

/// Whether `request` is one whose answer identical requests may share: a plain request for
/// a media object or init section.
fn is_shareable_fetch(request: &FetchRequest) -> bool {
    !request.authorized
        && request.range_end.is_none()
        && request.directives == Default::default()
        && matches!(
            ObjectKind::of(request.key.target()),
            ObjectKind::Media | ObjectKind::Init
        )
}

impl Shard {
    /// `cut` requests were cut for lagging a shared answer's fastest one by over the window.
    fn count_lagging(&self, cut: usize) {
        for _ in 0..cut {
            self.my_stats().guards.fire(Guard::LaggingReader);
        }
    }

    /// Joins `request` to an identical one whose answer is coming from its `owner`, or sends
    /// it there for others to join. `None` when it is not a request this shard shares;
    /// `Some(None)` when the owner's queue is full (overload).
    pub(super) fn join_remote_fetch(
        self: &Rc<Self>,
        owner: usize,
        request: &Arc<FetchRequest>,
    ) -> Option<Option<FlightReplies>> {
        if self.holds.draining.get() || !is_shareable_fetch(request) {
            return None;
        }
        let found = self
            .remote_flights
            .open
            .borrow()
            .get(&request.key)
            .and_then(|list| {
                list.iter()
                    .find(|f| {
                        let state = f.state.borrow();
                        // Only while the body's start is still there for it.
                        let joinable = state.base == 0 && state.ending.is_none() && !state.alone;
                        joinable
                            && f.request.upstream_headers == request.upstream_headers
                            && f.request.hinted == request.hinted
                    })
                    .cloned()
            });
        let first = found.is_none();
        let flight = match found {
            Some(flight) => flight,
            None => {
                let Some(replies) = self.ask_owner(owner, Arc::clone(request)) else {
                    return Some(None);
                };
                let flight = Rc::new(Flight {
                    request: Arc::clone(request),
                    owner,
                    state: RefCell::new(State::default()),
                });
                self.remote_flights
                    .open
                    .borrow_mut()
                    .entry(request.key.clone())
                    .or_default()
                    .push(Rc::clone(&flight));
                // The first reader counts before the driver runs: glommio polls a task once as
                // it spawns it (`spawn_and_run`), the owner may have answered by then, and a
                // driver that finds nobody reading stops.
                let slot = flight.add_reader();
                glommio::spawn_local(drive(Rc::clone(self), Rc::clone(&flight), replies)).detach();
                return Some(Some(FlightReplies::new(self, flight, slot, true)));
            }
        };
        let slot = flight.add_reader();
        let held = {
            let state = flight.state.borrow();
            state.held_early && state.head.is_none()
        };
        if held {
            ShardStats::incr(&self.my_stats().live.dash_early_holds);
        }
        Some(Some(FlightReplies::new(self, flight, slot, first)))
    }
}

/// Takes the owner's replies to a shared request and hands them to its readers: the head,
/// each chunk as it comes, the end; or, for a first reply not to share, hands it to the
/// first request and sends the others on their own.
async fn drive(shard: Rc<Shard>, flight: Rc<Flight>, mut replies: RemoteReplies) {
    let mut first = replies.next().await;
    if let Reply::HeldEarly = first {
        // The owner counted the first request; the others here are held as long.
        let joined = {
            let mut state = flight.state.borrow_mut();
            state.held_early = true;
            state.readers.saturating_sub(usize::from(!state.first_gone))
        };
        for _ in 0..joined {
            ShardStats::incr(&shard.my_stats().live.dash_early_holds);
        }
        first = replies.next().await;
    }
    match first {
        Reply::Head {
            head,
            age_secs,
            status,
            body_len,
            written: None,
            shared: true,
            ..
        } if status.release.is_none() => {
            let received = shard.now();
            // Kept whole only as the owner keeps it: an object it stores, within the limit.
            let max_object = shard.config().max_object_size;
            let whole =
                head.arrival.stored_ttl.is_some() && body_len.is_some_and(|len| len <= max_object);
            flight.update(|state| {
                state.windowed = !whole;
                state.head = Some(SharedHead {
                    head,
                    age_secs,
                    status,
                    body_len,
                    received,
                })
            });
            // Until the end, or until nobody reads it any more (the owner's request then
            // ends with `replies`).
            let mut received = 0;
            loop {
                // A body not kept whole is read no further ahead of its fastest request
                // than the window: a slow client paces the owner's fetch, as it would there.
                let room = Rc::clone(&flight);
                poll_fn(|cx| {
                    let mut state = room.state.borrow_mut();
                    if !state.windowed || !state.anyone_reading() || state.room_to_read() {
                        return Poll::Ready(());
                    }
                    state.driver = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                if !flight.state.borrow().anyone_reading() {
                    break;
                }
                let ending = match replies.next().await {
                    Reply::Chunk(chunk) => {
                        received += chunk.len() as u64;
                        // Every byte is here: a request from now on is the owner's to answer
                        // (a hit there), not one that joined a fetch.
                        if body_len == Some(received) {
                            shard.remote_flights.close(&flight);
                        }
                        flight.update(|state| {
                            state.push(chunk);
                        });
                        continue;
                    }
                    Reply::End => Ending::End,
                    _ => Ending::Aborted,
                };
                shard.remote_flights.close(&flight);
                flight.update(|state| state.ending = Some(ending));
                return;
            }
        }
        other => {
            shard.remote_flights.close(&flight);
            flight.update(|state| {
                state.alone = true;
                if !state.first_gone {
                    state.own = Some((other, replies));
                }
            });
            return;
        }
    }
    shard.remote_flights.close(&flight);
}

enum Mode {
    Shared,
    /// Not shared: its own replies.
    Alone(OnItsOwn),
}

/// One request's end of a shared remote fetch.
pub struct FlightReplies {
    shard: Rc<Shard>,
    flight: Rc<Flight>,
    /// Its place in the flight's wakers.
    slot: usize,
    /// The request that sent the shared one.
    first: bool,
    /// The next of the shared answer's replies to give: 0 the head, then the body's chunks.
    next: usize,
    /// Still counted among the flight's readers.
    reading: bool,
    mode: Mode,
}

impl FlightReplies {
    fn new(shard: &Rc<Shard>, flight: Rc<Flight>, slot: usize, first: bool) -> FlightReplies {
        FlightReplies {
            shard: Rc::clone(shard),
            flight,
            slot,
            first,
            next: 0,
            reading: true,
            mode: Mode::Shared,
        }
    }

    pub(super) async fn next(&mut self) -> Reply {
        if matches!(self.mode, Mode::Shared) {
            let flight = Rc::clone(&self.flight);
            let (slot, next) = (self.slot, self.next);
            let step = poll_fn(|cx| match flight.step(slot, next) {
                Some(step) => Poll::Ready(step),
                None => {
                    flight.state.borrow_mut().wakers[slot] = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            match step {
                Step::Alone => self.go_alone(),
                step => {
                    // As a local follower's: playlist answers just released go first.
                    self.shard.let_releases_pass().await;
                    // Looked at again: it may have been cut while it waited, and a head
                    // followed by nothing is worse than asking alone.
                    match self.flight.step(self.slot, self.next).unwrap_or(step) {
                        Step::Alone => self.go_alone(),
                        step => return self.take(step),
                    }
                }
            }
        }
        match &mut self.mode {
            Mode::Shared => Reply::Aborted,
            Mode::Alone(own) => own.next().await,
        }
    }

    /// A reply already here, if any (a chunk a slow writer has not sent yet).
    pub(super) fn ready(&mut self) -> Option<Reply> {
        match &mut self.mode {
            Mode::Shared if self.next > 0 => match self.flight.step(self.slot, self.next)? {
                Step::Reply(reply) => Some(self.take(Step::Reply(reply))),
                _ => None,
            },
            Mode::Alone(own) => own.ready(),
            _ => None,
        }
    }

    /// Gives `step` and moves on. The head is this request's own: its `Age` counts the
    /// seconds since the head reached this shard, and a request that joined is marked as
    /// collapsed into the first one's fetch.
    fn take(&mut self, step: Step) -> Reply {
        self.next += 1;
        if let Some(Some(position)) = self.flight.state.borrow_mut().positions.get_mut(self.slot) {
            *position = self.next - 1;
        }
        self.moved();
        let Step::Head = step else {
            return match step {
                Step::Reply(reply) => reply,
                _ => Reply::Aborted,
            };
        };
        let state = self.flight.state.borrow();
        let Some(shared) = &state.head else {
            return Reply::Aborted;
        };
        let since = self.shard.now().saturating_duration_since(shared.received);
        let mut status = shared.status;
        status.ttl = status.ttl.map(|ttl| ttl - since.as_secs() as i64);
        if !self.first {
            status.collapsed = true;
            ShardStats::incr(&self.shard.my_stats().remote_fetches_joined);
            // The owner does not see it: its stream's rate still counts it.
            self.shard.count_for_owner(&self.flight.request.key);
        }
        Reply::Head {
            head: Arc::clone(&shared.head),
            age_secs: shared.age_secs + since.as_secs(),
            status,
            body_len: shared.body_len,
            in_hand: state.ending == Some(Ending::End),
            written: None,
            shared: false,
        }
    }

    /// The first reply was not shared: the first request takes it, the others ask the owner
    /// themselves.
    fn go_alone(&mut self) {
        let own = match self.first {
            true => self.flight.state.borrow_mut().own.take(),
            false => None,
        };
        let (owner, request) = (self.flight.owner, &self.flight.request);
        self.mode = Mode::Alone(OnItsOwn::go(&self.shard, own, owner, request));
        self.leave();
    }

    /// This reader moved on or went: in a windowed flight, what every reader took is let go
    /// and the readers now more than a window behind the fastest are cut (and woken to find
    /// out); the driver may read on; nobody joins once the body's start is gone.
    fn moved(&self) {
        let flight = &self.flight;
        let cut = {
            let mut state = flight.state.borrow_mut();
            let cut = match state.windowed {
                true => state.trim(),
                false => 0,
            };
            state.wake_driver();
            cut
        };
        if cut > 0 {
            flight.update(|_| {});
            self.shard.count_lagging(cut);
        }
        if flight.state.borrow().base > 0 {
            self.shard.remote_flights.close(flight);
        }
    }

    /// No longer one of the flight's readers.
    fn leave(&mut self) {
        if !std::mem::take(&mut self.reading) {
            return;
        }
        {
            let mut state = self.flight.state.borrow_mut();
            state.readers -= 1;
            if let Some(waker) = state.wakers.get_mut(self.slot) {
                *waker = None;
            }
            state.positions[self.slot] = None;
        }
        self.moved();
        let mut state = self.flight.state.borrow_mut();
        if self.first && matches!(self.mode, Mode::Shared) {
            state.first_gone = true;
            let own = state.own.take();
            drop(state);
            drop(own);
        }
    }
}

impl Drop for FlightReplies {
    fn drop(&mut self) {
        self.leave();
    }
}
