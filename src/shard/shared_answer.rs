//! The answer a shard's identical media requests share (`remote_flights`): the owner's head,
//! the body's chunks as they come, how it ended, and each request's place in it. An object the
//! owner stores is kept whole (the store's own bytes); any other within
//! `PASS_THROUGH_WINDOW`, as the owner keeps a pass-through body for its followers: what
//! every request took is let go, and the requests furthest behind are cut while more than the
//! window would be kept.

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
    /// The body's chunks from `base` on.
    pub chunks: VecDeque<Bytes>,
    pub base: usize,
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
}

impl State {
    /// Lets go of the chunks every reader took; while more than the window is kept, cuts
    /// the readers furthest behind. Returns how many it cut.
    pub fn trim(&mut self) -> usize {
        let mut cut = 0;
        loop {
            let end = self.base + self.chunks.len();
            let slowest = self.positions.iter().flatten().min().copied();
            while self.base < slowest.unwrap_or(end) {
                let Some(chunk) = self.chunks.pop_front() else {
                    break;
                };
                self.buffered -= chunk.len() as u64;
                self.base += 1;
            }
            let Some(slowest) = slowest else {
                return cut;
            };
            if self.buffered <= PASS_THROUGH_WINDOW {
                return cut;
            }
            for (slot, position) in self.positions.iter_mut().enumerate() {
                if *position == Some(slowest) {
                    *position = None;
                    self.cut[slot] = true;
                    cut += 1;
                }
            }
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
            return Some(Step::Head);
        }
        if state.cut[slot] || next - 1 < state.base {
            return Some(Step::Reply(Reply::Aborted));
        }
        if let Some(chunk) = state.chunks.get(next - 1 - state.base) {
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
        state.buffered += len as u64;
        state.chunks.push_back(Bytes::from(vec![0; len]));
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
    fn readers_further_behind_than_the_window_are_cut() {
        let mut state = with_readers(&[0, 0]);
        assert_eq!(push(&mut state, HALF), 0);
        state.positions[0] = Some(1);
        assert_eq!(push(&mut state, HALF), 0);
        state.positions[0] = Some(2);
        // A third half: the reader that took nothing would keep more than the window.
        assert_eq!(push(&mut state, HALF), 1);
        assert_eq!(state.cut, [false, true]);
        assert_eq!(state.positions, [Some(2), None]);
        assert_eq!((state.base, state.buffered), (2, HALF as u64));
    }
}
