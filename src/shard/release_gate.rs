//! The turn playlist answers get over everything else on their shard (LIVE.md F1): media
//! reads and bodies, fetch heads, new requests and the bookkeeping of answers already written
//! wait at this gate for the playlist answers released before they came, and for those the
//! long-poll answers already in will release. A waiting task parks here and is woken once,
//! when that work is done; work released after it came does not keep it waiting, so a shard
//! whose renditions release one after another never starves its media. (Before, each task
//! yielded up to four times: a 500-viewer part instant's media followers and released
//! exchanges were polled again and again in the middle of the burst they waited for, and a
//! media fetch's head woke its 50 followers there only for each to yield in turn.)
//!
//! Releases are counted as they are woken and as their tasks take them (or drop them); long-
//! poll answers as they complete and as their readers go. A watchdog frees each task that has
//! waited `WAIT_LIMIT`, and only those (freeing every waiter whenever it fired let hundreds of
//! new requests go ahead of a release burst). The counts are meant to be exact, but one left
//! over by a mistake must not shut the gate for good: when neither count moved between two
//! of the watchdog's checks while a task had waited out its limit, the watchdog forgives
//! what is still counted. A burst merely slower than `WAIT_LIMIT` keeps moving its counts,
//! so its releases keep their turn.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::doorbell::Doorbell;
use crate::cache::Completions;

/// The longest a task waits at the gate: past a 500-viewer burst's p99 on one core of the
/// 2-vCPU VM (5-7.5 ms, README sitting 10).
pub(super) const WAIT_LIMIT: Duration = Duration::from_millis(10);

/// One parked task: freed by the gate, then woken.
struct Parked {
    since: Instant,
    free: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Parked {
    fn set_free(&self) {
        self.free.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

#[derive(Default)]
pub(super) struct ReleaseGate {
    /// Held requests woken with a version, ever.
    woken: Cell<u64>,
    /// This shard's doorbell: the held answers other shards released for its viewers count
    /// as woken too (`remote_release`); `None` with one shard.
    peers: Option<Arc<Doorbell>>,
    /// Of those, the ones whose task ran (or was dropped).
    taken: Cell<u64>,
    /// Long-poll answers read whole, and those of them whose task has had its turn.
    answers: Rc<Completions>,
    /// Tasks waiting for the long-poll answers in when they came (in arrival order, so by
    /// the count of answers each waits for), then for the releases those bring.
    for_answers: RefCell<VecDeque<(u64, Rc<Parked>)>>,
    /// Tasks waiting until `taken` reaches their count (non-decreasing, in queue order).
    for_releases: RefCell<VecDeque<(u64, Rc<Parked>)>>,
    /// Whether a watchdog timer is set.
    watched: Cell<bool>,
    /// Releases taken and answers installed when the watchdog last looked (or was set).
    progress_seen: Cell<(u64, u64)>,
    /// Times the watchdog forgave counts that no longer moved (each a count lost).
    forgiven: Cell<u64>,
}

impl ReleaseGate {
    /// A gate that also waits for the held answers other shards count on `peers`.
    pub(super) fn with_peers(peers: Arc<Doorbell>) -> ReleaseGate {
        ReleaseGate {
            peers: Some(peers),
            ..ReleaseGate::default()
        }
    }

    /// Releases woken here and those other shards sent this shard's viewers.
    fn woken(&self) -> u64 {
        self.woken.get() + self.peers.as_ref().map_or(0, |bell| bell.released())
    }

    /// Whether any release has yet to go: woken and not taken, or a long-poll answer not yet
    /// installed.
    pub(super) fn is_shut(&self) -> bool {
        self.taken.get() < self.woken() || self.answers.waiting() > 0
    }

    /// Times the watchdog found the counts stuck and forgave them.
    pub(super) fn forgiven(&self) -> u64 {
        self.forgiven.get()
    }

    /// The count a long-poll's reader adds to while its answer waits for its task.
    pub(super) fn answers(&self) -> Rc<Completions> {
        Rc::clone(&self.answers)
    }

    /// A held request was woken with a version.
    pub(super) fn woke_release(&self) {
        self.woken.set(self.woken.get() + 1);
    }

    /// A woken request's task ran (or was dropped): frees the tasks that waited for it.
    pub(super) fn released_one(&self) {
        let woken = self.woken();
        let taken = (self.taken.get() + 1).min(woken);
        self.taken.set(taken);
        if let Some(bell) = self.peers.as_ref().filter(|_| taken == woken) {
            bell.rearm();
        }
        let mut queue = self.for_releases.borrow_mut();
        while queue.front().is_some_and(|(until, _)| *until <= taken) {
            if let Some((_, waiting)) = queue.pop_front() {
                waiting.set_free();
            }
        }
    }

    /// A long-poll answer's task had its turn (installed what it brought, and woke the held
    /// requests it satisfies): the tasks that waited for it wait for those releases now.
    pub(super) fn answer_installed(&self) {
        let done = self.answers_done();
        let mut moved = Vec::new();
        {
            let mut queue = self.for_answers.borrow_mut();
            while queue.front().is_some_and(|(until, _)| *until <= done) {
                moved.extend(queue.pop_front().map(|(_, waiting)| waiting));
            }
        }
        for waiting in moved {
            self.wait_for_releases(waiting);
        }
    }

    /// Long-poll answers whose task has had its turn.
    fn answers_done(&self) -> u64 {
        self.answers.total() - self.answers.waiting()
    }

    /// The watchdog's check at `now`: every task that has waited `WAIT_LIMIT` goes on; when
    /// one did and nothing moved since the last check, the counts it waited on are forgiven.
    /// Returns when to check again, while any task waits.
    pub(super) fn expire(&self, now: Instant) -> Option<Duration> {
        let overdue = |waiting: &Parked| now.saturating_duration_since(waiting.since) >= WAIT_LIMIT;
        let progress = (self.taken.get(), self.answers_done());
        let stalled = progress == self.progress_seen.replace(progress);
        let mut freed = Vec::new();
        let mut forgive = self.taken.get();
        self.for_answers.borrow_mut().retain(|(_, waiting)| {
            let late = overdue(waiting);
            if late {
                freed.push(Rc::clone(waiting));
            }
            !late
        });
        self.for_releases.borrow_mut().retain(|(until, waiting)| {
            let late = overdue(waiting);
            if late {
                forgive = forgive.max(*until);
                freed.push(Rc::clone(waiting));
            }
            !late
        });
        let overdue_found = !freed.is_empty();
        for waiting in freed {
            waiting.set_free();
        }
        if overdue_found && stalled {
            // A count left over: as if those answers were in and those releases had run (the
            // tasks that waited for no more go too).
            self.forgiven.set(self.forgiven.get() + 1);
            if self.answers.waiting() > 0 {
                self.answers.forgive();
                self.answer_installed();
            }
            if forgive > self.taken.get() {
                self.taken.set(forgive - 1);
                self.released_one();
            }
            self.progress_seen
                .set((self.taken.get(), self.answers_done()));
        }
        let oldest = [&self.for_answers, &self.for_releases]
            .iter()
            .filter_map(|queue| queue.borrow().iter().map(|(_, w)| w.since).min())
            .min();
        match oldest {
            Some(since) => Some((since + WAIT_LIMIT).saturating_duration_since(now)),
            None => {
                self.watched.set(false);
                None
            }
        }
    }

    /// Queues `waiting` for the releases woken so far, or frees it when they all went.
    fn wait_for_releases(&self, waiting: Rc<Parked>) {
        let until = self.woken();
        if self.taken.get() >= until {
            waiting.set_free();
        } else {
            self.for_releases.borrow_mut().push_back((until, waiting));
        }
    }

    /// Queues a task that just came; `true` when a watchdog must be set.
    fn park(&self, waiting: &Rc<Parked>) -> bool {
        if self.answers.waiting() > 0 {
            let until = self.answers.total();
            self.for_answers
                .borrow_mut()
                .push_back((until, Rc::clone(waiting)));
        } else {
            self.wait_for_releases(Rc::clone(waiting));
        }
        let arm = !self.watched.replace(true);
        if arm {
            // The watchdog's first check compares the counts with these.
            let progress = (self.taken.get(), self.answers_done());
            self.progress_seen.set(progress);
        }
        arm
    }
}

/// Waits until the releases woken before this call have been taken, and the long-poll
/// answers in at this call installed and their releases taken. `watch` sets the watchdog
/// when a task parks and none is set (a timer that calls `expire` after `WAIT_LIMIT`, and
/// again as long as it says).
pub(super) async fn pass(gate: &ReleaseGate, watch: impl FnOnce()) {
    if !gate.is_shut() {
        return;
    }
    let waiting = Rc::new(Parked {
        since: Instant::now(),
        free: Cell::new(false),
        waker: RefCell::new(None),
    });
    if gate.park(&waiting) {
        watch();
    }
    poll_fn(|cx| {
        if waiting.free.get() {
            return Poll::Ready(());
        }
        *waiting.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

#[cfg(test)]
#[path = "release_gate_tests.rs"]
mod tests;
