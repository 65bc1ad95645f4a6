//! One object being fetched from upstream, read by every request that collapsed onto it. The
//! leader publishes the head the moment it arrives and each body chunk the moment it is read;
//! every reader gets each event as soon as it exists, woken through its own waker (no polling,
//! no waiting for the whole object). Nothing truncated is ever presented as complete: a fetch
//! that fails mid-body ends every reader with `Aborted`. Pure: std wakers and `Rc`, no runtime.
//!
//! An object that will not be stored (too large, private, over budget) is *passed through*:
//! nobody new joins, and a chunk is dropped once every reader has passed it. Its readers are
//! kept apart within its memory `Reservation` (see `pass_through`): the leader reads ahead of
//! the *fastest* reader by at most a window, and a reader that falls more than a window behind
//! the fastest is cut, so one client that stops reading never holds up another.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;

use super::entry::CachedHead;
use super::pass_through::Reservation;
use crate::http::Failure;

#[path = "inflight_reader.rs"]
mod reader;
pub use reader::{Completions, Reader};

/// What a reader sees, in order: `Head`, then `Chunk`s, then `End` or `Aborted`; or, before
/// any head, `Failed` (the failure to answer with) or `NotShared`.
#[derive(Clone, Debug)]
pub enum Event {
    /// An informational (1xx) head that came before the final one.
    Interim(Arc<CachedHead>),
    Head(Arc<CachedHead>),
    Chunk(Bytes),
    End,
    /// Upstream failed mid-body: the response must be cut, never completed.
    Aborted,
    /// No head could be had: answer with this failure.
    Failed(Failure),
    /// The response may not be shared (`no-store`, `private`, ...): fetch for yourself.
    NotShared,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Receiving,
    Complete,
    Aborted,
    Failed(Failure),
}

/// A reader's place: the next event index (0 = head, i + 1 = chunk i), the body bytes it has
/// taken, and its waker.
struct Slot {
    next: usize,
    /// Informational heads already handed to this reader.
    interim_seen: usize,
    consumed: u64,
    /// Fell too far behind the fastest reader of a pass-through object: its response is cut.
    cut: bool,
    waker: Option<Waker>,
}

struct State {
    head: Option<Arc<CachedHead>>,
    /// When the whole response was in, by the real clock.
    complete_at: Option<Instant>,
    /// Counted once when the response completes, and taken back when the reader that asked
    /// for it goes (`Reader::signal_completion_to`); whether it is counted now.
    completion_signal: Option<Rc<Completions>>,
    signalled: bool,
    /// The head the leader's reader gets when it differs (fields withheld from others).
    leader_head: Option<Arc<CachedHead>>,
    /// Informational (1xx) heads, in arrival order, for readers still before the head.
    interim: Vec<Arc<CachedHead>>,
    shared: bool,
    /// Chunk `i` is at `chunks[i - first_chunk]`; chunks before `first_chunk` were released.
    chunks: VecDeque<Bytes>,
    first_chunk: usize,
    /// Bytes in `chunks`.
    held: u64,
    /// `None` while the object may be stored (or joined by new readers): every chunk is kept.
    pass_through: Option<Reservation>,
    phase: Phase,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<usize>,
    /// The leader task, parked in `wait_for_room` until the fastest reader catches up.
    leader_waker: Option<Waker>,
    leader_taken: bool,
    received: u64,
    /// The leader stored the complete object.
    stored: bool,
}

/// The in-flight object. Owned by the shard's in-flight map, the leader task and its readers.
pub struct InFlight {
    state: RefCell<State>,
}

impl InFlight {
    pub fn new() -> Rc<InFlight> {
        Rc::new(InFlight {
            state: RefCell::new(State {
                head: None,
                complete_at: None,
                completion_signal: None,
                signalled: false,
                leader_head: None,
                interim: Vec::new(),
                shared: true,
                chunks: VecDeque::new(),
                first_chunk: 0,
                held: 0,
                pass_through: None,
                phase: Phase::Receiving,
                slots: Vec::new(),
                free_slots: Vec::new(),
                leader_waker: None,
                leader_taken: false,
                received: 0,
                stored: false,
            }),
        })
    }

    /// A new reader, starting at the head. The first reader ever made is the leader's: it is
    /// the one that still gets a response that may not be shared.
    pub fn reader(self: &Rc<Self>) -> Reader {
        let mut state = self.state.borrow_mut();
        assert!(
            state.first_chunk == 0,
            "a reader joined after chunks were released"
        );
        let slot = Slot {
            next: 0,
            interim_seen: 0,
            consumed: 0,
            cut: false,
            waker: None,
        };
        // Free slots are reused through a list: joining stays O(1) however large the herd.
        let index = match state.free_slots.pop() {
            Some(free) => {
                state.slots[free] = Some(slot);
                free
            }
            None => {
                state.slots.push(Some(slot));
                state.slots.len() - 1
            }
        };
        let leader = !state.leader_taken;
        state.leader_taken = true;
        Reader {
            flight: Rc::clone(self),
            slot: index,
            leader,
        }
    }

    /// A fetch nobody asked for (a background refresh): no reader that joins it later is its
    /// leader, so none gets what only the requester may see (`private`, withheld fields).
    pub fn without_leader(&self) {
        self.state.borrow_mut().leader_taken = true;
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.state.borrow().received
    }

    /// An informational head arrived: readers that have not had the final head get it first.
    pub fn publish_interim(&self, head: Arc<CachedHead>) {
        let mut state = self.state.borrow_mut();
        if state.head.is_none() && state.interim.len() < 8 {
            state.interim.push(head);
            wake_all(&mut state);
        }
    }

    /// Gives the leader's reader its own head (before `publish_head`): the full response,
    /// when other readers get one without the fields a qualified `no-cache` withholds.
    pub fn set_leader_head(&self, head: Arc<CachedHead>) {
        self.state.borrow_mut().leader_head = Some(head);
    }

    pub fn publish_head(&self, head: Arc<CachedHead>, shared: bool) {
        let mut state = self.state.borrow_mut();
        debug_assert!(state.head.is_none() && state.phase == Phase::Receiving);
        state.head = Some(head);
        state.shared = shared;
        wake_all(&mut state);
    }

    /// Publishes the next body chunk. For a pass-through object, returns how many readers
    /// this cut for falling more than a window behind the fastest one.
    pub fn publish_chunk(&self, chunk: Bytes) -> usize {
        let mut state = self.state.borrow_mut();
        debug_assert!(state.head.is_some() && state.phase == Phase::Receiving);
        let len = chunk.len() as u64;
        state.received += len;
        state.held += len;
        state.chunks.push_back(chunk);
        let mut cut = 0;
        if state.pass_through.is_some() {
            cut = cut_laggards(&mut state);
            release_consumed(&mut state);
        }
        wake_all(&mut state);
        cut
    }

    /// The body is complete. Returns every chunk when all were retained, for storing.
    pub fn complete(&self) -> Option<Vec<Bytes>> {
        let mut state = self.state.borrow_mut();
        state.phase = Phase::Complete;
        state.complete_at = Some(Instant::now());
        if let Some(count) = state.completion_signal.clone() {
            count.arrived();
            state.signalled = true;
        }
        wake_all(&mut state);
        state
            .pass_through
            .is_none()
            .then(|| state.chunks.iter().cloned().collect())
    }

    /// Every chunk received so far, when all were retained (what an incomplete response that
    /// may be kept holds, RFC 9111 3.3).
    pub fn retained(&self) -> Option<Vec<Bytes>> {
        let state = self.state.borrow();
        (state.pass_through.is_none()).then(|| state.chunks.iter().cloned().collect())
    }

    /// The leader stored the complete object: readers that get the head from now on may say so.
    pub fn mark_stored(&self) {
        self.state.borrow_mut().stored = true;
    }

    /// Whether the object is complete and stored (as its readers' `Cache-Status` may say).
    pub fn is_stored(&self) -> bool {
        let state = self.state.borrow();
        state.stored && state.phase == Phase::Complete
    }

    /// The fetch failed. Before the head, readers answer with `failure`; after it, they are
    /// cut.
    pub fn fail(&self, failure: Failure) {
        let mut state = self.state.borrow_mut();
        if state.phase != Phase::Receiving {
            return;
        }
        state.phase = if state.head.is_some() {
            Phase::Aborted
        } else {
            Phase::Failed(failure)
        };
        drop_chunks(&mut state);
        wake_all(&mut state);
    }

    /// The object will not be stored and no new reader will join: from now on a chunk is
    /// released once every reader has passed it, and the readers are kept apart within a
    /// reservation (see `pass_through`). First the readers more than `max_window` behind the
    /// fastest are cut and what the others passed is dropped; `reserve` is then asked for room
    /// for what is still held. Returns how many readers were cut, or `Err` with that count
    /// when `reserve` found no room (the caller fails the object).
    pub fn pass_through(
        &self,
        max_window: u64,
        reserve: impl FnOnce(u64) -> Option<Reservation>,
    ) -> Result<usize, usize> {
        let mut state = self.state.borrow_mut();
        if state.pass_through.is_some() {
            return Ok(0);
        }
        let cut = cut_behind(&mut state, max_window);
        release_consumed(&mut state);
        match reserve(state.held) {
            Some(reservation) => {
                state.pass_through = Some(reservation);
                Ok(cut)
            }
            None => Err(cut),
        }
    }

    /// Bytes the object holds now (what a pass-through reservation must cover).
    pub fn held(&self) -> u64 {
        self.state.borrow().held
    }

    /// For a pass-through object: resolves `true` once the fastest reader is within the
    /// window of what was received (growing the reservation while the budget allows), or
    /// `false` once no reader is left to send to.
    pub async fn wait_for_room(&self) -> bool {
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            let Some(fastest) = fastest(&state) else {
                return Poll::Ready(false);
            };
            let ahead = state.received - fastest;
            let Some(reservation) = state.pass_through.as_mut() else {
                return Poll::Ready(true);
            };
            loop {
                if ahead <= reservation.window() {
                    return Poll::Ready(true);
                }
                if !reservation.grow() {
                    break;
                }
            }
            state.leader_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Whether the fetch ended (completed, aborted or failed).
    pub fn is_finished(&self) -> bool {
        self.state.borrow().phase != Phase::Receiving
    }

    fn poll_event(&self, slot: usize, leader: bool, cx: &mut Context<'_>) -> Poll<Event> {
        let mut state = self.state.borrow_mut();
        let (next, interim_seen, cut) = state.slots[slot]
            .as_ref()
            .map_or((0, 0, false), |s| (s.next, s.interim_seen, s.cut));
        let event = if cut {
            Some(Event::Aborted)
        } else if let Phase::Failed(failure) = state.phase {
            Some(Event::Failed(failure))
        } else if next == 0 && interim_seen < state.interim.len() {
            let head = Arc::clone(&state.interim[interim_seen]);
            if let Some(slot) = state.slots[slot].as_mut() {
                slot.interim_seen += 1;
            }
            return Poll::Ready(Event::Interim(head));
        } else if next == 0 {
            match &state.head {
                Some(_) if !state.shared && !leader => Some(Event::NotShared),
                Some(_) if leader && state.leader_head.is_some() => {
                    state.leader_head.clone().map(Event::Head)
                }
                Some(head) => Some(Event::Head(Arc::clone(head))),
                None => None,
            }
        } else if state.phase == Phase::Aborted {
            Some(Event::Aborted)
        } else {
            body_event(&state, next)
        };
        match event {
            Some(event) => {
                take(&mut state, slot, &event);
                Poll::Ready(event)
            }
            None => {
                state.slots[slot].as_mut().expect("reader slot").waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The reader's next body chunk, or the body's end, when it is here already; `None` when
    /// it would have to wait or what comes next is not body (a head, a failure, a cut), which
    /// `poll_event` answers.
    fn ready_body(&self, slot: usize) -> Option<Event> {
        let mut state = self.state.borrow_mut();
        let next = state.slots[slot].as_ref().filter(|s| !s.cut)?.next;
        if next == 0 || !matches!(state.phase, Phase::Receiving | Phase::Complete) {
            return None;
        }
        let event = body_event(&state, next)?;
        take(&mut state, slot, &event);
        Some(event)
    }
}

/// The body event at reader position `next` (1 is the first chunk): its chunk, the end once
/// the body is complete, or `None` while it is yet to arrive.
fn body_event(state: &State, next: usize) -> Option<Event> {
    match state.chunks.get(next - 1 - state.first_chunk) {
        Some(chunk) => Some(Event::Chunk(chunk.clone())),
        None if state.phase == Phase::Complete => Some(Event::End),
        None => None,
    }
}

/// Moves `slot` past `event` when it is a head or a chunk, releasing what every reader passed.
fn take(state: &mut State, slot: usize, event: &Event) {
    if let Event::Head(_) | Event::Chunk(_) = event {
        let slot = state.slots[slot].as_mut().expect("reader slot");
        slot.next += 1;
        if let Event::Chunk(chunk) = event {
            slot.consumed += chunk.len() as u64;
        }
        if state.pass_through.is_some() {
            release_consumed(state);
        }
    }
}

fn wake_all(state: &mut State) {
    for slot in state.slots.iter_mut().flatten() {
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
    }
}

/// Readers still being sent to: attached and not cut.
fn live(state: &State) -> impl Iterator<Item = &Slot> {
    state.slots.iter().flatten().filter(|s| !s.cut)
}

/// The body bytes the fastest live reader has taken; `None` when no reader is live.
fn fastest(state: &State) -> Option<u64> {
    live(state).map(|s| s.consumed).max()
}

/// Cuts the live readers more than the reservation's window behind the fastest one; returns
/// how many.
fn cut_laggards(state: &mut State) -> usize {
    match state.pass_through.as_ref().map(Reservation::window) {
        Some(window) => cut_behind(state, window),
        None => 0,
    }
}

/// Cuts the live readers more than `window` behind the fastest one; returns how many.
fn cut_behind(state: &mut State, window: u64) -> usize {
    let Some(fastest) = fastest(state) else {
        return 0;
    };
    let mut cut = 0;
    for slot in state.slots.iter_mut().flatten() {
        if !slot.cut && fastest - slot.consumed > window {
            slot.cut = true;
            cut += 1;
            if let Some(waker) = slot.waker.take() {
                waker.wake();
            }
        }
    }
    cut
}

/// Drops the chunks every live reader has passed and lets a leader waiting for room go on.
fn release_consumed(state: &mut State) {
    if let Some(waker) = state.leader_waker.take() {
        waker.wake();
    }
    let slowest = live(state).map(|s| s.next.saturating_sub(1)).min();
    let keep_from = slowest.unwrap_or(state.first_chunk + state.chunks.len());
    while state.first_chunk < keep_from {
        let Some(chunk) = state.chunks.pop_front() else {
            break;
        };
        state.held -= chunk.len() as u64;
        state.first_chunk += 1;
    }
}

/// Drops every chunk held (a failed object).
fn drop_chunks(state: &mut State) {
    state.chunks.clear();
    state.held = 0;
}

#[cfg(test)]
#[path = "inflight_tests.rs"]
mod tests;
