//! Unit tests of `inflight`: fan-out order, wake-ups, failures, private responses, and the
//! pass-through window (pacing by the fastest reader, cutting the laggards, the held-bytes
//! ledger), and the completion signal a long-poll asks for.

use super::*;
use crate::cache::pass_through::{PassThroughBudget, RESERVATION_STEP};
use std::future::Future;
use std::pin::pin;
use std::task::Waker;

/// Passes `flight` through with a window of `window` bytes (chunks of at most 10 bytes);
/// returns the budget it reserved from and how many readers that cut.
fn windowed(flight: &InFlight, window: u64) -> (Rc<PassThroughBudget>, usize) {
    let budget = Rc::new(PassThroughBudget::new(1 << 20));
    let room = Rc::clone(&budget);
    let cut = flight
        .pass_through(window, |held| {
            Reservation::new(room, held, None, window, 10)
        })
        .expect("room in the budget");
    (budget, cut)
}

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
    flight.fail(Failure::UpstreamBroken);
    assert!(matches!(try_next(&mut a), Some(Event::Aborted)));
    assert!(matches!(try_next(&mut b), Some(Event::Head(_))));
    assert!(matches!(try_next(&mut b), Some(Event::Aborted)));
}

#[test]
fn failure_before_head_gives_the_status() {
    let flight = InFlight::new();
    let mut a = flight.reader();
    flight.fail(Failure::UpstreamTimeout);
    assert!(matches!(
        try_next(&mut a),
        Some(Event::Failed(Failure::UpstreamTimeout))
    ));
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
fn a_pass_through_leader_paces_to_its_fastest_reader() {
    let flight = InFlight::new();
    let mut reader = flight.reader();
    flight.publish_head(head(), true);
    windowed(&flight, 15);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(pin!(flight.wait_for_room()).poll(&mut cx).is_ready());
    flight.publish_chunk(Bytes::from(vec![0; 10]));
    flight.publish_chunk(Bytes::from(vec![0; 10]));
    assert!(
        pin!(flight.wait_for_room()).poll(&mut cx).is_pending(),
        "20 bytes ahead of the only reader"
    );
    try_next(&mut reader);
    try_next(&mut reader);
    assert_eq!(
        pin!(flight.wait_for_room()).poll(&mut cx),
        Poll::Ready(true)
    );
    drop(reader);
    assert_eq!(
        pin!(flight.wait_for_room()).poll(&mut cx),
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
    let (budget, _) = windowed(&flight, 1000);
    let reserved = budget.used();
    for i in 0..4u8 {
        flight.publish_chunk(Bytes::from(vec![i; 10]));
    }
    assert_eq!(flight.held(), 40);
    for _ in 0..5 {
        try_next(&mut a);
    }
    assert_eq!(
        flight.state.borrow().chunks.len(),
        4,
        "b has read nothing yet"
    );
    for _ in 0..4 {
        try_next(&mut b);
    }
    flight.publish_chunk(Bytes::from_static(b"z"));
    assert!(
        flight.state.borrow().chunks.len() <= 2,
        "chunks both passed are released"
    );
    assert_eq!(
        budget.used(),
        reserved,
        "the reservation, not the bytes, is counted"
    );
    drop(b);
    assert!(
        flight.complete().is_none(),
        "nothing to store after release"
    );
    assert!(matches!(try_next(&mut a), Some(Event::Chunk(_))));
    assert!(matches!(try_next(&mut a), Some(Event::End)));
    drop(a);
    drop(flight);
    assert_eq!(budget.used(), 0, "a finished object gives its room back");
}

#[test]
fn a_reader_more_than_a_window_behind_the_fastest_is_cut() {
    let flight = InFlight::new();
    let mut fast = flight.reader();
    let mut stalled = flight.reader();
    flight.publish_head(head(), true);
    assert_eq!(windowed(&flight, 15).1, 0);
    assert!(matches!(try_next(&mut stalled), Some(Event::Head(_))));
    assert!(matches!(try_next(&mut fast), Some(Event::Head(_))));
    assert_eq!(flight.publish_chunk(Bytes::from(vec![1; 10])), 0);
    try_next(&mut fast);
    assert_eq!(flight.publish_chunk(Bytes::from(vec![2; 10])), 0);
    try_next(&mut fast);
    assert_eq!(
        flight.publish_chunk(Bytes::from(vec![3; 10])),
        1,
        "20 bytes behind the fastest, with a window of 15"
    );
    assert!(matches!(try_next(&mut stalled), Some(Event::Aborted)));
    assert!(
        flight.held() <= 10,
        "nothing is kept for a cut reader: {}",
        flight.held()
    );
    let mut cx = Context::from_waker(Waker::noop());
    try_next(&mut fast);
    assert_eq!(
        pin!(flight.wait_for_room()).poll(&mut cx),
        Poll::Ready(true),
        "the fast reader is never held up by the stalled one"
    );
    flight.complete();
    assert!(matches!(try_next(&mut fast), Some(Event::End)));
}

#[test]
fn a_pass_through_object_that_finds_no_room_is_refused() {
    let budget = Rc::new(PassThroughBudget::new(100));
    let flight = InFlight::new();
    flight.publish_head(head(), true);
    flight.publish_chunk(Bytes::from(vec![0; 90]));
    assert!(
        Reservation::new(Rc::clone(&budget), flight.held(), Some(20), 1 << 20, 10).is_none(),
        "90 held and 20 to come do not fit 100"
    );
    let room = Rc::clone(&budget);
    let fits = flight.pass_through(1 << 20, |held| {
        Reservation::new(room, held, Some(10), 1 << 20, 10)
    });
    assert_eq!(fits, Ok(0));
    assert_eq!(
        budget.used(),
        10,
        "with no reader, nothing retained is kept: only the rest takes room"
    );
    flight.fail(Failure::UpstreamBroken);
    drop(flight);
    assert_eq!(budget.used(), 0);
}

#[test]
fn under_memory_pressure_the_window_shrinks_and_readers_stay_apart() {
    // Room for one step only: the window is what the step allows, far below the 1 MiB one.
    let budget = Rc::new(PassThroughBudget::new(RESERVATION_STEP));
    let flight = InFlight::new();
    let mut fast = flight.reader();
    let mut stalled = flight.reader();
    flight.publish_head(head(), true);
    let window = (RESERVATION_STEP - 1000) / 2;
    let room = Rc::clone(&budget);
    let reserve = |held| Reservation::new(room, held, None, 1 << 20, 1000);
    assert_eq!(flight.pass_through(1 << 20, reserve), Ok(0));
    try_next(&mut fast);
    try_next(&mut stalled);
    let mut cut = 0;
    let mut published = 0;
    while published < 3 * window {
        cut += flight.publish_chunk(Bytes::from(vec![0; 1000]));
        published += 1000;
        try_next(&mut fast);
    }
    assert_eq!(
        cut, 1,
        "the stalled reader is cut, the fast one never waits"
    );
    assert!(flight.held() <= window + 1000, "{} held", flight.held());
}

#[test]
fn a_late_switch_reserves_only_what_its_remaining_readers_hold() {
    // Retained while it might be stored: 30 bytes in, one reader near the end, one far behind.
    let flight = InFlight::new();
    let mut fast = flight.reader();
    let _slow = flight.reader();
    flight.publish_head(head(), true);
    for _ in 0..3 {
        flight.publish_chunk(Bytes::from(vec![0; 10]));
    }
    for _ in 0..3 {
        try_next(&mut fast);
    }
    let budget = Rc::new(PassThroughBudget::new(1 << 20));
    let room = Rc::clone(&budget);
    let mut asked = None;
    let cut = flight.pass_through(15, |held| {
        asked = Some(held);
        Reservation::new(room, held, None, 15, 10)
    });
    assert_eq!(cut, Ok(1), "the reader 20 bytes behind is cut first");
    assert_eq!(
        asked,
        Some(10),
        "room is asked for what the fast reader still needs"
    );
}

#[test]
fn a_stored_object_says_so_once_complete() {
    let flight = InFlight::new();
    let reader = flight.reader();
    flight.publish_head(head(), true);
    assert!(!reader.is_stored());
    flight.complete();
    flight.mark_stored();
    assert!(reader.is_stored());
}

/// A private fetch whose reader asked to be signalled on completion, and the count.
fn signalled() -> (Rc<Completions>, Rc<InFlight>, Reader) {
    let count = Rc::new(Completions::default());
    let flight = InFlight::new();
    let mut reader = flight.reader();
    reader.signal_completion_to(Rc::clone(&count));
    (count, flight, reader)
}

#[test]
fn a_completion_is_signalled_once_until_its_reader_goes() {
    let (count, flight, reader) = signalled();
    flight.publish_head(head(), true);
    flight.publish_chunk(Bytes::from_static(b"x"));
    assert_eq!(count.waiting(), 0, "nothing until the response is whole");
    flight.complete();
    assert_eq!((count.waiting(), count.total()), (1, 1));
    assert!(reader.completed_at().is_some());
    drop(reader);
    assert_eq!(count.waiting(), 0, "the reader's going takes it back");
    assert_eq!(count.total(), 1, "what came stays counted");
}

#[test]
fn a_reader_gone_before_the_completion_leaves_no_count() {
    let (count, flight, reader) = signalled();
    flight.publish_head(head(), true);
    drop(reader);
    flight.complete();
    assert_eq!(count.waiting(), 0);
}

#[test]
fn a_failed_fetch_signals_nothing() {
    let (count, flight, reader) = signalled();
    flight.fail(Failure::UpstreamBroken);
    assert_eq!(count.waiting(), 0);
    assert!(reader.completed_at().is_none());
    drop(reader);
    assert_eq!(count.waiting(), 0);
}
