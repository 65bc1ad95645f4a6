//! Unit tests of `inflight`: fan-out order, wake-ups, failures, private responses, and the
//! pass-through window (pacing by the fastest reader, cutting the laggards, the held-bytes
//! ledger).

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
fn a_pass_through_leader_paces_to_its_fastest_reader() {
    let flight = InFlight::new();
    let mut reader = flight.reader();
    flight.publish_head(head(), true);
    flight.pass_through(15, Rc::default());
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
    let ledger = Rc::new(HeldBytes::default());
    let mut a = flight.reader();
    let mut b = flight.reader();
    flight.publish_head(head(), true);
    flight.pass_through(1000, Rc::clone(&ledger));
    for i in 0..4u8 {
        flight.publish_chunk(Bytes::from(vec![i; 10]));
    }
    assert_eq!(ledger.get(), 40);
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
    assert_eq!(ledger.get(), flight.state.borrow().held);
    drop(b);
    assert!(
        flight.complete().is_none(),
        "nothing to store after release"
    );
    assert!(matches!(try_next(&mut a), Some(Event::Chunk(_))));
    assert!(matches!(try_next(&mut a), Some(Event::End)));
    drop(a);
    drop(flight);
    assert_eq!(ledger.get(), 0, "a finished object holds nothing");
}

#[test]
fn a_reader_more_than_a_window_behind_the_fastest_is_cut() {
    let flight = InFlight::new();
    let ledger = Rc::new(HeldBytes::default());
    let mut fast = flight.reader();
    let mut stalled = flight.reader();
    flight.publish_head(head(), true);
    assert_eq!(flight.pass_through(15, Rc::clone(&ledger)), 0);
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
        ledger.get() <= 10,
        "nothing is kept for a cut reader: {}",
        ledger.get()
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
fn a_failed_pass_through_object_leaves_the_ledger() {
    let flight = InFlight::new();
    let ledger = Rc::new(HeldBytes::default());
    let _reader = flight.reader();
    flight.publish_head(head(), true);
    flight.publish_chunk(Bytes::from(vec![0; 10]));
    flight.pass_through(100, Rc::clone(&ledger));
    assert_eq!(ledger.get(), 10, "what was retained joins the ledger");
    flight.fail(502);
    assert_eq!(ledger.get(), 0);
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
