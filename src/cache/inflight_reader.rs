//! A request's view of an in-flight object (`InFlight`): its reader slot, the events it
//! takes in order (waiting for each, or taking what is already there), and giving the slot
//! back when the request goes, which may let the leader read on; and the count a complete
//! response stays in until its reader goes, when the reader asks for one (`Completions`).

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::time::Instant;

use super::{release_consumed, Event, InFlight};

/// One request's view of an in-flight object.
pub struct Reader {
    pub(super) flight: Rc<InFlight>,
    pub(super) slot: usize,
    pub(super) leader: bool,
}

impl Reader {
    /// The next event; waits until it exists.
    pub async fn next(&mut self) -> Event {
        poll_fn(|cx| self.flight.poll_event(self.slot, self.leader, cx)).await
    }

    /// The next chunk or the end of the body when it is here already, without waiting: a
    /// writer that fell behind sends what it missed in one write.
    pub fn ready_body(&mut self) -> Option<Event> {
        self.flight.ready_body(self.slot)
    }

    /// When the leader had the whole response (it had just read its last byte), if it has.
    pub fn completed_at(&self) -> Option<Instant> {
        self.flight.state.borrow().complete_at
    }

    /// Has the response's completion count `count` up by one until this reader goes: the
    /// shard learns that a complete answer waits for this reader's task before the task gets
    /// its turn. For a fetch with this one reader (a private fetch).
    pub fn signal_completion_to(&mut self, count: Rc<Completions>) {
        self.flight.state.borrow_mut().completion_signal = Some(count);
    }

    /// Whether this reader belongs to the request that started the fetch.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// Whether the object this reader follows is complete and stored.
    pub fn is_stored(&self) -> bool {
        self.flight.is_stored()
    }

    /// Whether the head this reader gets is the one every request for the object gets: the
    /// response is shared, and this is not the leader's own head (with fields withheld from
    /// the others, `InFlight::set_leader_head`).
    pub fn head_is_shared(&self) -> bool {
        let state = self.flight.state.borrow();
        state.shared && !(self.leader && state.leader_head.is_some())
    }
}

/// Complete responses whose reader asked to be counted (`Reader::signal_completion_to`): how
/// many wait for their reader's task now, and how many came in all.
#[derive(Debug, Default)]
pub struct Completions {
    waiting: Cell<u64>,
    total: Cell<u64>,
}

impl Completions {
    /// Complete responses whose reader has not gone yet.
    pub fn waiting(&self) -> u64 {
        self.waiting.get()
    }

    /// Every response counted so far.
    pub fn total(&self) -> u64 {
        self.total.get()
    }

    /// Counts none as waiting any more (a count left over by a mistake must not be waited on
    /// for good); a reader that goes later takes nothing back.
    pub fn forgive(&self) {
        self.waiting.set(0);
    }

    pub(super) fn arrived(&self) {
        self.waiting.set(self.waiting.get() + 1);
        self.total.set(self.total.get() + 1);
    }

    fn taken(&self) {
        self.waiting.set(self.waiting.get().saturating_sub(1));
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut state = self.flight.state.borrow_mut();
        // The answer this reader was signalled for has had its turn: the count goes back, and
        // a completion after this counts nothing.
        if let Some(count) = state.completion_signal.take() {
            if std::mem::take(&mut state.signalled) {
                count.taken();
            }
        }
        state.slots[self.slot] = None;
        state.free_slots.push(self.slot);
        if state.pass_through.is_some() {
            release_consumed(&mut state);
        } else if let Some(waker) = state.leader_waker.take() {
            waker.wake();
        }
    }
}
