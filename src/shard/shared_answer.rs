//! The answer a shard's identical media requests share (`remote_flights`): the owner's head,
//! the body's chunks as they come, how it ended, and each request's place in it. A body is
//! kept whole while it is one the owner stores and within `max_object_size`; any other is kept
//! as the owner's `InFlight` keeps a pass-through body: the body is read no further than a
//! window ahead of the fastest request (the slowest one alone only slows it, as it would the
//! owner's fetch), what every request took is let go, and a request more than a window behind
//! the fastest is cut.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;

use super::leader::PASS_THROUGH_WINDOW;
use super::remote_release::RemoteReplies;
use super::{FetchRequest, Reply};
use crate::cache::{CacheStatus, CachedHead};

/// The owner's head as every request sharing it gets it.
pub(super) struct SharedHead {
    pub head: Arc<CachedHead>,
    pub age_secs: u64,
    pub status: CacheStatus,
    pub body_len: Option<u64>,
    /// When it reached this shard (the shard's clock): a request that joins later gets an
    /// `Age` older by the seconds since.
    pub received: Instant,
}

/// How the body ended: whole, or cut on the way.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    End,
    Aborted,
}

#[derive(Default)]
pub(super) struct State {
    pub head: Option<SharedHead>,
    /// The body's chunks from `base` on, each with where it starts in the body.
    pub chunks: VecDeque<(u64, Bytes)>,
    pub base: usize,
    /// The body's bytes received so far, and how many of them are kept.
    pub received: u64,
    pub buffered: u64,
    /// The body is let go as the requests take it (an object the owner does not store).
    pub windowed: bool,
    pub ending: Option<Ending>,
    /// The first reply was not one to share: the first request takes it (`own`), the others
    /// ask on their own.
    pub alone: bool,
    pub own: Option<(Reply, RemoteReplies)>,
    pub first_gone: bool,
    /// Requests reading it now, the first included.
    pub readers: usize,
    /// The owner holds the first request until its live DASH segment is available
    /// (`Reply::HeldEarly`): so are the ones that join before the head.
    pub held_early: bool,
    /// Each reader's waker, by its slot.
    pub wakers: Vec<Option<Waker>>,
    /// Each reader's next chunk, by its slot (`None`: gone or cut).
    pub positions: Vec<Option<usize>>,
    /// Readers cut for lagging, by slot.
    pub cut: Vec<bool>,
    /// The driver, waiting for the fastest reader to come within the window.
    pub driver: Option<Waker>,
}

impl State {
    /// The body's bytes from chunk `from` to the newest.
    fn bytes_from(&self, from: usize) -> u64 {
        match self.chunks.get(from.saturating_sub(self.base)) {
            Some((start, _)) => self.received - start,
            None => 0,
        }
    }

    /// Keeps the body's next chunk.
    pub fn push(&mut self, chunk: Bytes) {
        let len = chunk.len() as u64;
        self.chunks.push_back((self.received, chunk));
        self.received += len;
        self.buffered += len;
    }

    /// Whether a request still reads the body. One cut for lagging still counts among the
    /// readers until its writer gets round to finding out, but the body is not for it.
    pub fn anyone_reading(&self) -> bool {
        self.positions.iter().flatten().next().is_some()
    }

    /// Whether the driver may read on: the fastest reader is within the window of the newest
    /// chunk (or nobody reads).
    pub fn room_to_read(&self) -> bool {
        match self.positions.iter().flatten().max() {
            Some(&fastest) => self.bytes_from(fastest) < PASS_THROUGH_WINDOW,
            None => true,
        }
    }

    /// Cuts the readers more than the window behind the fastest, then lets go of the chunks
    /// every reader left took. Returns how many it cut.
    pub fn trim(&mut self) -> usize {
        let mut cut = 0;
        if let Some(&fastest) = self.positions.iter().flatten().max() {
            let ahead = self.bytes_from(fastest);
            for slot in 0..self.positions.len() {
                let Some(position) = self.positions[slot] else {
                    continue;
                };
                if self.bytes_from(position) - ahead > PASS_THROUGH_WINDOW {
                    self.positions[slot] = None;
                    self.cut[slot] = true;
                    cut += 1;
                }
            }
        }
        let end = self.base + self.chunks.len();
        let slowest = self.positions.iter().flatten().min().copied();
        while self.base < slowest.unwrap_or(end) {
            let Some((_, chunk)) = self.chunks.pop_front() else {
                break;
            };
            self.buffered -= chunk.len() as u64;
            self.base += 1;
        }
        cut
    }

    /// A reader moved or went: the driver may have room to read on.
    pub fn wake_driver(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.wake();
        }
    }
}

/// One request to the owner and the requests of this shard reading its answer.
pub(super) struct Flight {
    pub request: Arc<FetchRequest>,
    pub owner: usize,
    pub state: RefCell<State>,
}

/// What a reader at `next` (0: the head, then the body's chunks) takes now.
pub(super) enum Step {
    Head,
    Reply(Reply),
    Alone,
}

impl Flight {
    /// Changes the state and wakes every reader.
    pub fn update(&self, change: impl FnOnce(&mut State)) {
        let wakers: Vec<Waker> = {
            let mut state = self.state.borrow_mut();
            change(&mut state);
            state.wakers.iter_mut().filter_map(Option::take).collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Counts one more reader; its slot among the wakers.
    pub fn add_reader(&self) -> usize {
        let mut state = self.state.borrow_mut();
        state.readers += 1;
        state.wakers.push(None);
        state.positions.push(Some(0));
        state.cut.push(false);
        state.wakers.len() - 1
    }

    /// What the reader in `slot`, at `next`, takes now.
    pub fn step(&self, slot: usize, next: usize) -> Option<Step> {
        let state = self.state.borrow();
        if state.alone {
            return Some(Step::Alone);
        }
        state.head.as_ref()?;
        if next == 0 {
            // Cut before it took anything: it asks the owner itself.
            return Some(match state.cut[slot] {
                true => Step::Alone,
                false => Step::Head,
            });
        }
        if state.cut[slot] || next - 1 < state.base {
            return Some(Step::Reply(Reply::Aborted));
        }
        if let Some((_, chunk)) = state.chunks.get(next - 1 - state.base) {
            return Some(Step::Reply(Reply::Chunk(chunk.clone())));
        }
        state.ending.map(|ending| {
            Step::Reply(match ending {
                Ending::End => Reply::End,
                Ending::Aborted => Reply::Aborted,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF: usize = PASS_THROUGH_WINDOW as usize / 2;

    fn with_readers(positions: &[usize]) -> State {
        State {
            positions: positions.iter().map(|&p| Some(p)).collect(),
            cut: vec![false; positions.len()],
            windowed: true,
            ..State::default()
        }
    }

    fn push(state: &mut State, len: usize) -> usize {
        state.push(Bytes::from(vec![0; len]));
        state.trim()
    }

    #[test]
    fn what_every_reader_took_is_let_go() {
        let mut state = with_readers(&[0, 0]);
        assert_eq!(push(&mut state, 10), 0);
        assert_eq!(push(&mut state, 10), 0);
        assert_eq!((state.base, state.chunks.len()), (0, 2));
        // One reader took both, the other one: the first chunk goes.
        state.positions = vec![Some(2), Some(1)];
        assert_eq!(state.trim(), 0);
        assert_eq!((state.base, state.chunks.len(), state.buffered), (1, 1, 10));
        // The slower one leaves: nothing is kept for anyone.
        state.positions[1] = None;
        assert_eq!(state.trim(), 0);
        assert_eq!((state.base, state.chunks.len(), state.buffered), (2, 0, 0));
    }

    #[test]
    fn a_slow_reader_alone_slows_the_body_and_is_never_cut() {
        let mut state = with_readers(&[0]);
        assert_eq!(push(&mut state, HALF), 0);
        assert!(state.room_to_read());
        assert_eq!(push(&mut state, HALF), 0);
        // A window ahead of its only reader: the driver waits instead of cutting it.
        assert!(!state.room_to_read());
        state.positions[0] = Some(1);
        assert_eq!(state.trim(), 0);
        assert!(state.room_to_read());
        assert_eq!((state.base, state.buffered), (1, HALF as u64));
    }

    #[test]
    fn readers_more_than_a_window_behind_the_fastest_are_cut() {
        let mut state = with_readers(&[0, 0]);
        assert_eq!(push(&mut state, HALF), 0);
        assert_eq!(push(&mut state, HALF), 0);
        state.positions[0] = Some(2);
        // Exactly a window behind: kept.
        assert_eq!(state.trim(), 0);
        state.positions[0] = Some(3);
        assert_eq!(push(&mut state, HALF), 1);
        assert_eq!(state.cut, [false, true]);
        assert_eq!(state.positions, [Some(3), None]);
        assert_eq!((state.base, state.buffered), (3, 0));
    }
}
