//! One object being fetched from upstream, read by every request that collapsed onto it. The
//! leader publishes the head the moment it arrives and each body chunk the moment it is read;
//! every reader gets each event as soon as it exists, woken through its own waker (no polling,
//! no waiting for the whole object). Nothing truncated is ever presented as complete: a fetch
//! that fails mid-body ends every reader with `Aborted`. Pure: std wakers and `Rc`, no runtime.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::entry::CachedHead;

/// What a reader sees, in order: `Head`, then `Chunk`s, then `End` or `Aborted`; or, before
/// any head, `Failed` (upstream error status to answer with) or `NotShared`.
#[derive(Clone, Debug)]
pub enum Event {
    /// An informational (1xx) head that came before the final one.
    Interim(Arc<CachedHead>),
    Head(Arc<CachedHead>),
    Chunk(Bytes),
    End,
    /// Upstream failed mid-body: the response must be cut, never completed.
    Aborted,
    /// Upstream failed before a head: answer with this status (502, 504).
    Failed(u16),
    /// The response may not be shared (`no-store`, `private`, ...): fetch for yourself.
    NotShared,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Receiving,
    Complete,
    Aborted,
    Failed(u16),
}

/// A reader's place: the next event index (0 = head, i + 1 = chunk i) and its waker.
struct Slot {
    next: usize,
    /// Informational heads already handed to this reader.
    interim_seen: usize,
    waker: Option<Waker>,
}

struct State {
    head: Option<Arc<CachedHead>>,
    /// The head the leader's reader gets when it differs (fields withheld from others).
    leader_head: Option<Arc<CachedHead>>,
    /// Informational (1xx) heads, in arrival order, for readers still before the head.
    interim: Vec<Arc<CachedHead>>,
    shared: bool,
    /// Chunk `i` is at `chunks[i - first_chunk]`; chunks before `first_chunk` were released.
    chunks: VecDeque<Bytes>,
    first_chunk: usize,
    /// While the object may be stored (or joined by new readers), every chunk is kept.
    retain_all: bool,
    phase: Phase,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<usize>,
    /// The leader task, parked in `wait_for_room` until readers catch up.
    leader_waker: Option<Waker>,
    leader_taken: bool,
    received: u64,
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
                leader_head: None,
                interim: Vec::new(),
                shared: true,
                chunks: VecDeque::new(),
                first_chunk: 0,
                retain_all: true,
                phase: Phase::Receiving,
                slots: Vec::new(),
                free_slots: Vec::new(),
                leader_waker: None,
                leader_taken: false,
                received: 0,
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

    /// Readers currently attached.
    pub fn readers(&self) -> usize {
        self.state
            .borrow()
            .slots
            .iter()
            .filter(|s| s.is_some())
            .count()
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

    pub fn publish_chunk(&self, chunk: Bytes) {
        let mut state = self.state.borrow_mut();
        debug_assert!(state.head.is_some() && state.phase == Phase::Receiving);
        state.received += chunk.len() as u64;
        state.chunks.push_back(chunk);
        if !state.retain_all {
            release_consumed(&mut state);
        }
        wake_all(&mut state);
    }

    /// The body is complete. Returns every chunk when all were retained, for storing.
    pub fn complete(&self) -> Option<Vec<Bytes>> {
        let mut state = self.state.borrow_mut();
        state.phase = Phase::Complete;
        wake_all(&mut state);
        state
            .retain_all
            .then(|| state.chunks.iter().cloned().collect())
    }

    /// Upstream failed. Before the head, readers answer `status`; after it, they are cut.
    pub fn fail(&self, status: u16) {
        let mut state = self.state.borrow_mut();
        if state.phase != Phase::Receiving {
            return;
        }
        state.phase = if state.head.is_some() {
            Phase::Aborted
        } else {
            Phase::Failed(status)
        };
        state.chunks.clear();
        wake_all(&mut state);
    }

    /// The object will not be stored and no new reader will join: from now on a chunk is
    /// released once every reader has passed it, so a large pass-through object holds only
    /// what its slowest reader has yet to send.
    pub fn stop_retaining(&self) {
        let mut state = self.state.borrow_mut();
        state.retain_all = false;
        release_consumed(&mut state);
    }

    /// For a fetch that no longer retains every chunk: resolves `true` once the bytes held
    /// for lagging readers are at most `window`, or `false` once no reader is left.
    pub async fn wait_for_room(&self, window: u64) -> bool {
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            if state.slots.iter().all(Option::is_none) {
                return Poll::Ready(false);
            }
            let held: u64 = state.chunks.iter().map(|c| c.len() as u64).sum();
            if held <= window {
                return Poll::Ready(true);
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
        let (next, interim_seen) = state.slots[slot]
            .as_ref()
            .map_or((0, 0), |s| (s.next, s.interim_seen));
        let event = if let Phase::Failed(status) = state.phase {
            Some(Event::Failed(status))
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
            let index = next - 1;
            match state.chunks.get(index - state.first_chunk) {
                Some(chunk) => Some(Event::Chunk(chunk.clone())),
                None if state.phase == Phase::Complete => Some(Event::End),
                None => None,
            }
        };
        let slot = state.slots[slot].as_mut().expect("reader slot");
        match event {
            Some(event) => {
                if matches!(event, Event::Head(_) | Event::Chunk(_)) {
                    slot.next += 1;
                    if !state.retain_all {
                        release_consumed(&mut state);
                    }
                }
                Poll::Ready(event)
            }
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
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

/// Drops the chunks every reader has passed and lets a leader waiting for room go on.
fn release_consumed(state: &mut State) {
    if let Some(waker) = state.leader_waker.take() {
        waker.wake();
    }
    let slowest = state
        .slots
        .iter()
        .flatten()
        .map(|s| s.next.saturating_sub(1))
        .min();
    let keep_from = slowest.unwrap_or(state.first_chunk + state.chunks.len());
    while state.first_chunk < keep_from && !state.chunks.is_empty() {
        state.chunks.pop_front();
        state.first_chunk += 1;
    }
}

/// One request's view of an in-flight object.
pub struct Reader {
    flight: Rc<InFlight>,
    slot: usize,
    leader: bool,
}

impl Reader {
    /// The next event; waits until it exists.
    pub async fn next(&mut self) -> Event {
        poll_fn(|cx| self.flight.poll_event(self.slot, self.leader, cx)).await
    }

    /// Whether this reader belongs to the request that started the fetch.
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut state = self.flight.state.borrow_mut();
        state.slots[self.slot] = None;
        state.free_slots.push(self.slot);
        if !state.retain_all {
            release_consumed(&mut state);
        } else if let Some(waker) = state.leader_waker.take() {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Waker;

    fn head() -> Arc<CachedHead> {
        Arc::new(CachedHead::plain(200, Bytes::new(), vec![], None))
    }

    /// Polls once with a no-op waker: Some(event) if ready now.
    fn try_next(reader: &mut Reader) -> Option<Event> {
        let mut cx = Context::from_waker(Waker::noop());
        match pin!(reader.next()).poll(&mut cx) {
            Poll::Ready(e) => Some(e),
            Poll::Pending => None,
        }
    }

    #[test]
    fn followers_see_each_chunk_as_it_is_published() {
        let flight = InFlight::new();
        let mut leader = flight.reader();
        let mut follower = flight.reader();
        assert!(leader.is_leader() && !follower.is_leader());
        assert!(try_next(&mut follower).is_none(), "nothing yet");
        flight.publish_head(head(), true);
        assert!(matches!(try_next(&mut follower), Some(Event::Head(_))));
        flight.publish_chunk(Bytes::from_static(b"ab"));
        assert!(matches!(try_next(&mut follower), Some(Event::Chunk(c)) if c == "ab"));
        assert!(
            try_next(&mut follower).is_none(),
            "waits for the next chunk"
        );
        flight.publish_chunk(Bytes::from_static(b"cd"));
        assert!(matches!(try_next(&mut follower), Some(Event::Chunk(c)) if c == "cd"));
        let stored = flight.complete().unwrap();
        assert_eq!(stored.len(), 2);
        assert!(matches!(try_next(&mut follower), Some(Event::End)));
        // The leader, slower, still reads everything in order.
        assert!(matches!(try_next(&mut leader), Some(Event::Head(_))));
        assert!(matches!(try_next(&mut leader), Some(Event::Chunk(c)) if c == "ab"));
        assert!(matches!(try_next(&mut leader), Some(Event::Chunk(c)) if c == "cd"));
        assert!(matches!(try_next(&mut leader), Some(Event::End)));
    }

    #[test]
    fn publishing_wakes_waiting_readers() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let flight = InFlight::new();
        let mut reader = flight.reader();
        let mut cx = Context::from_waker(&waker);
        assert!(pin!(reader.next()).poll(&mut cx).is_pending());
        flight.publish_head(head(), true);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failure_mid_body_aborts_every_reader() {
        let flight = InFlight::new();
        let mut a = flight.reader();
        let mut b = flight.reader();
        flight.publish_head(head(), true);
        flight.publish_chunk(Bytes::from_static(b"x"));
        assert!(matches!(try_next(&mut a), Some(Event::Head(_))));
        flight.fail(502);
        assert!(matches!(try_next(&mut a), Some(Event::Aborted)));
        assert!(matches!(try_next(&mut b), Some(Event::Head(_))));
        assert!(matches!(try_next(&mut b), Some(Event::Aborted)));
    }

    #[test]
    fn failure_before_head_gives_the_status() {
        let flight = InFlight::new();
        let mut a = flight.reader();
        flight.fail(504);
        assert!(matches!(try_next(&mut a), Some(Event::Failed(504))));
    }

    #[test]
    fn a_fetch_without_leader_shares_nothing_private() {
        let flight = InFlight::new();
        flight.without_leader();
        let mut joiner = flight.reader();
        assert!(!joiner.is_leader());
        flight.publish_head(head(), false);
        assert!(matches!(try_next(&mut joiner), Some(Event::NotShared)));
    }

    #[test]
    fn unshareable_responses_reach_only_the_leader() {
        let flight = InFlight::new();
        let mut leader = flight.reader();
        let mut follower = flight.reader();
        flight.publish_head(head(), false);
        assert!(matches!(try_next(&mut follower), Some(Event::NotShared)));
        assert!(matches!(try_next(&mut leader), Some(Event::Head(_))));
    }

    #[test]
    fn a_detached_leader_waits_for_its_slowest_reader() {
        let flight = InFlight::new();
        let mut reader = flight.reader();
        flight.publish_head(head(), true);
        flight.stop_retaining();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pin!(flight.wait_for_room(15)).poll(&mut cx).is_ready());
        flight.publish_chunk(Bytes::from(vec![0; 10]));
        flight.publish_chunk(Bytes::from(vec![0; 10]));
        assert!(
            pin!(flight.wait_for_room(15)).poll(&mut cx).is_pending(),
            "20 bytes held"
        );
        try_next(&mut reader);
        try_next(&mut reader);
        assert_eq!(
            pin!(flight.wait_for_room(15)).poll(&mut cx),
            Poll::Ready(true)
        );
        drop(reader);
        assert_eq!(
            pin!(flight.wait_for_room(0)).poll(&mut cx),
            Poll::Ready(false),
            "no reader left"
        );
    }

    #[test]
    fn pass_through_releases_what_every_reader_has_sent() {
        let flight = InFlight::new();
        let mut a = flight.reader();
        let mut b = flight.reader();
        flight.publish_head(head(), true);
        flight.stop_retaining();
        for i in 0..4u8 {
            flight.publish_chunk(Bytes::from(vec![i; 10]));
        }
        for _ in 0..4 {
            try_next(&mut a);
        }
        assert_eq!(
            flight.state.borrow().chunks.len(),
            4,
            "b has read nothing yet"
        );
        for _ in 0..3 {
            try_next(&mut b);
        }
        flight.publish_chunk(Bytes::from_static(b"z"));
        assert!(
            flight.state.borrow().chunks.len() <= 3,
            "chunks both passed are released"
        );
        drop(b);
        assert!(flight.state.borrow().chunks.len() <= 2);
        assert!(
            flight.complete().is_none(),
            "nothing to store after release"
        );
        assert!(matches!(try_next(&mut a), Some(Event::Chunk(_))));
        assert!(matches!(try_next(&mut a), Some(Event::Chunk(_))));
        assert!(matches!(try_next(&mut a), Some(Event::End)));
    }
}
