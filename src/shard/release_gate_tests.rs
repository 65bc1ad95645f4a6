//! The release gate's waits, driven by hand: releases woken and taken, long-poll answers
//! completed (through a real in-flight fetch's reader) and installed, and the watchdog.

use super::super::doorbell::Doorbell;
use super::*;
use crate::cache::{CachedHead, InFlight, Reader};
use bytes::Bytes;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Context;

use super::super::held_slot::tests::{task, woken, Count};

fn poll(wait: Pin<&mut (impl Future<Output = ()> + ?Sized)>, waker: &Waker) -> bool {
    wait.poll(&mut Context::from_waker(waker)).is_ready()
}

/// A task that came to the shut gate and parked.
struct Came<'g> {
    count: Arc<Count>,
    waker: Waker,
    wait: Pin<Box<dyn Future<Output = ()> + 'g>>,
}

/// A task comes to the shut gate and parks there.
fn came(gate: &ReleaseGate) -> Came<'_> {
    let (count, waker) = task();
    let mut wait: Pin<Box<dyn Future<Output = ()>>> = Box::pin(pass(gate, || {}));
    assert!(!poll(wait.as_mut(), &waker), "the gate is shut: it parks");
    Came { count, waker, wait }
}

impl Came<'_> {
    /// How many times the gate woke it.
    fn woken(&self) -> usize {
        woken(&self.count)
    }

    /// Whether it goes on when polled now.
    fn passes(&mut self) -> bool {
        poll(self.wait.as_mut(), &self.waker)
    }
}

/// A long-poll answer the gate counts, completed: its reader goes when its task has had its
/// turn.
fn answer_in(gate: &ReleaseGate) -> Reader {
    let flight = InFlight::new();
    let mut reader = flight.reader();
    reader.signal_completion_to(gate.answers());
    flight.publish_head(
        Arc::new(CachedHead::plain(200, Bytes::new(), vec![], None)),
        false,
    );
    flight.complete();
    reader
}

#[test]
fn an_open_gate_lets_a_task_through_at_once() {
    let gate = ReleaseGate::default();
    let (_, w) = task();
    let mut wait = pin!(pass(&gate, || panic!("nothing parks")));
    assert!(poll(wait.as_mut(), &w));
}

#[test]
fn a_parked_task_is_woken_once_when_the_releases_before_it_are_taken() {
    let gate = ReleaseGate::default();
    gate.woke_release();
    gate.woke_release();
    let watches = Cell::new(0);
    let (count, w) = task();
    let mut wait = pin!(pass(&gate, || watches.set(watches.get() + 1)));
    assert!(!poll(wait.as_mut(), &w));
    assert!(
        !poll(wait.as_mut(), &w),
        "polled again while waiting (another wake-up)"
    );
    assert_eq!(watches.get(), 1);
    gate.released_one();
    assert_eq!(woken(&count), 0, "one release still to run");
    gate.released_one();
    assert_eq!(woken(&count), 1);
    assert!(poll(wait.as_mut(), &w));
}

#[test]
fn answers_other_shards_released_here_hold_a_task_as_this_shards_own_do() {
    let bell = Arc::new(Doorbell::default());
    let gate = ReleaseGate::with_peers(Arc::clone(&bell));
    gate.woke_release();
    bell.count();
    let mut task = came(&gate);
    gate.released_one();
    assert_eq!(
        task.woken(),
        0,
        "the other shard's answer is still to be taken"
    );
    gate.released_one();
    assert!(task.passes());
    assert!(!gate.is_shut());
    assert_eq!(gate.forgiven(), 0);
}

#[test]
fn releases_woken_after_a_task_came_do_not_keep_it_waiting() {
    let gate = ReleaseGate::default();
    gate.woke_release();
    let mut first = came(&gate);
    // Another version releases more before the first release ran, and a second task comes.
    gate.woke_release();
    gate.woke_release();
    let (later_count, later) = task();
    let mut second = pin!(pass(&gate, || panic!("one watchdog is set")));
    assert!(!poll(second.as_mut(), &later));
    gate.released_one();
    assert_eq!((first.woken(), woken(&later_count)), (1, 0));
    assert!(first.passes());
    assert!(gate.is_shut());
    gate.released_one();
    gate.released_one();
    assert_eq!(woken(&later_count), 1);
    assert!(!gate.is_shut());
}

#[test]
fn an_answer_in_keeps_a_task_waiting_for_the_releases_it_brings() {
    let gate = ReleaseGate::default();
    let reader = answer_in(&gate);
    assert!(gate.is_shut());
    let wait = came(&gate);
    // Its task installs a version that wakes two held requests; then its reader goes.
    gate.woke_release();
    gate.woke_release();
    drop(reader);
    gate.answer_installed();
    assert_eq!(wait.woken(), 0, "its releases are still to run");
    gate.released_one();
    gate.released_one();
    assert_eq!(wait.woken(), 1);
}

#[test]
fn an_answer_that_releases_nothing_frees_its_waiters() {
    let gate = ReleaseGate::default();
    let reader = answer_in(&gate);
    let wait = came(&gate);
    drop(reader);
    gate.answer_installed();
    assert_eq!(wait.woken(), 1);
    assert!(!gate.is_shut());
}

#[test]
fn a_task_waits_only_for_the_answers_in_when_it_came() {
    let gate = ReleaseGate::default();
    let first_answer = answer_in(&gate);
    let wait = came(&gate);
    let second_answer = answer_in(&gate);
    drop(first_answer);
    gate.answer_installed();
    assert_eq!(
        wait.woken(),
        1,
        "the answer that came later is not waited for"
    );
    drop(second_answer);
}

#[test]
fn taking_more_releases_than_were_woken_counts_none_ahead() {
    let gate = ReleaseGate::default();
    gate.woke_release();
    gate.released_one();
    gate.released_one(); // one too many (a mistake): never below what was woken
    gate.woke_release();
    assert!(gate.is_shut(), "the next release still counts");
}

#[test]
fn the_watchdog_frees_the_overdue_and_forgives_a_count_left_over_once_nothing_moves() {
    let gate = ReleaseGate::default();
    gate.woke_release(); // never taken back: a mistake
    let reader = answer_in(&gate);
    let first = came(&gate);
    drop(reader);
    gate.answer_installed(); // the first moves on to wait for the release left over
    let other = came(&gate);
    let late = Instant::now() + WAIT_LIMIT;
    assert_eq!(gate.expire(late), None);
    assert_eq!((first.woken(), other.woken()), (1, 1));
    assert!(
        gate.is_shut(),
        "an answer went in since the watchdog was set: no forgiving yet"
    );
    // The next task waits its limit out with nothing moving: the count is forgiven.
    let wait = came(&gate);
    assert!(gate.expire(late).is_some(), "not its time yet");
    assert_eq!(gate.expire(late + WAIT_LIMIT), None);
    assert_eq!(wait.woken(), 1);
    assert!(!gate.is_shut());
    assert!(!gate.watched.get(), "the next park sets a new watchdog");
    assert_eq!(gate.forgiven(), 1);
}

#[test]
fn the_watchdog_forgives_an_answer_count_left_over() {
    let gate = ReleaseGate::default();
    let answers = gate.answers();
    let reader = answer_in(&gate);
    std::mem::forget(reader); // its count never goes back: a mistake
    let wait = came(&gate);
    assert_eq!(gate.expire(Instant::now() + WAIT_LIMIT), None);
    assert_eq!(wait.woken(), 1);
    assert_eq!(answers.waiting(), 0);
    assert!(!gate.is_shut());
}

#[test]
fn a_burst_slower_than_the_limit_keeps_its_turn() {
    let gate = ReleaseGate::default();
    for _ in 0..3 {
        gate.woke_release();
    }
    let wait = came(&gate);
    gate.released_one(); // the burst goes on, slowly
    assert_eq!(gate.expire(Instant::now() + WAIT_LIMIT), None);
    assert_eq!(wait.woken(), 1, "the task waited its limit out");
    assert!(
        gate.is_shut(),
        "the two releases still to run keep their count"
    );
}

#[test]
fn the_watchdog_frees_no_task_before_its_time() {
    let gate = ReleaseGate::default();
    gate.woke_release();
    let wait = came(&gate);
    let parked = Instant::now();
    let again = gate
        .expire(parked)
        .expect("checks again while a task waits");
    assert!(again <= WAIT_LIMIT && again > Duration::ZERO);
    assert_eq!(wait.woken(), 0);
    assert!(gate.is_shut(), "a release in its burst keeps its turn");
    gate.released_one();
    assert_eq!(wait.woken(), 1);
    assert_eq!(gate.expire(parked + WAIT_LIMIT), None, "nobody waits");
}

#[test]
fn the_watchdog_keeps_counts_when_nobody_waits() {
    let gate = ReleaseGate::default();
    gate.woke_release();
    assert_eq!(gate.expire(Instant::now() + WAIT_LIMIT), None);
    assert!(gate.is_shut(), "releases mid-burst keep their turn");
}
