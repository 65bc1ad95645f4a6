//! The slot a held playlist request is answered through: the rendition keeps one end
//! (`Wake`, in its `Waiter`), the request's reply the other (`Waiting`, a future resolving to
//! a `rendition::Held`). Both live on the rendition's owner shard, so the slot is a plain `Rc`
//! cell. A part instant wakes every held request of every rendition at once, and
//! `futures_channel`'s thread-safe oneshot took
//! a fifth of the samples in the first 4 ms of 500-viewer bursts on one core (its locks and
//! the separate wake on the sender's drop; `PROFILE=1 benches/hold_release.sh`, README
//! sitting 10).
//!
//! The request's end may also leave an offer in the slot (`Waiting::offer`): what it needs to
//! be answered in place, by the release itself (`release_write`). The offer lives only as long
//! as the request's end, so a `Wake` that takes one knows the request is still there.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// The request went (or its end was dropped) before an answer came.
#[derive(Debug, PartialEq, Eq)]
pub struct Gone;

struct Slot<T, O> {
    held: Option<T>,
    /// What the request offered to be answered in place with.
    offer: Option<O>,
    waker: Option<Waker>,
    /// The `Wake` end was used or dropped: nothing more will come.
    closed: bool,
    /// The `Waiting` end was dropped: nobody reads what comes.
    gone: bool,
}

/// The rendition's end: answers the request once.
pub struct Wake<T, O>(Rc<RefCell<Slot<T, O>>>);

/// The request's end: resolves to what the rendition sent, or `Gone` when it dropped its end
/// without sending.
pub struct Waiting<T, O>(Rc<RefCell<Slot<T, O>>>);

/// A new slot's two ends.
pub fn slot<T, O>() -> (Wake<T, O>, Waiting<T, O>) {
    let slot = Rc::new(RefCell::new(Slot {
        held: None,
        offer: None,
        waker: None,
        closed: false,
        gone: false,
    }));
    (Wake(Rc::clone(&slot)), Waiting(slot))
}

impl<T, O> Wake<T, O> {
    /// Answers the request and wakes its task; `Err` with the answer when the request went.
    pub fn send(self, held: T) -> Result<(), T> {
        let waker = {
            let mut slot = self.0.borrow_mut();
            if slot.gone {
                return Err(held);
            }
            slot.held = Some(held);
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Whether the request went (its client, or the reply that held it).
    pub fn is_canceled(&self) -> bool {
        self.0.borrow().gone
    }

    /// The request's offer, taken; `None` when it made none or went (its offer went with it).
    pub fn take_offer(&self) -> Option<O> {
        self.0.borrow_mut().offer.take()
    }
}

impl<T, O> Drop for Wake<T, O> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.borrow_mut();
            if slot.closed {
                return;
            }
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, O> Waiting<T, O> {
    /// What was sent, if anything was and it was not taken yet.
    pub fn try_take(&mut self) -> Option<T> {
        self.0.borrow_mut().held.take()
    }

    /// Leaves `offer` for the rendition's end (replacing an earlier one); it is dropped with
    /// this end.
    pub fn offer(&mut self, offer: O) {
        self.0.borrow_mut().offer = Some(offer);
    }
}

impl<T, O> Future for Waiting<T, O> {
    type Output = Result<T, Gone>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.0.borrow_mut();
        if let Some(held) = slot.held.take() {
            return Poll::Ready(Ok(held));
        }
        if slot.closed {
            return Poll::Ready(Err(Gone));
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            slot.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl<T, O> Drop for Waiting<T, O> {
    /// The request went: what it held (an unread answer, its task's waker, its offer) goes
    /// now, not when the sweep drops the rendition's end.
    fn drop(&mut self) {
        let mut slot = self.0.borrow_mut();
        slot.gone = true;
        slot.held = None;
        slot.offer = None;
        slot.waker = None;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake as WakeTask;

    pub(in crate::shard) struct Count(AtomicUsize);
    impl WakeTask for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A task's waker and how many times it was woken (the release gate's tests use it too).
    pub(in crate::shard) fn task() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    pub(in crate::shard) fn woken(count: &Count) -> usize {
        count.0.load(Ordering::SeqCst)
    }

    /// A slot whose request offers nothing (most tests).
    fn slot<T>() -> (Wake<T, ()>, Waiting<T, ()>) {
        super::slot()
    }

    fn poll(waiting: &mut Waiting<u32, ()>, waker: &Waker) -> Poll<Result<u32, Gone>> {
        pin!(waiting).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn an_answer_wakes_the_request_once_and_reaches_it_once() {
        let (wake, mut waiting) = slot();
        let (count, w) = task();
        assert!(poll(&mut waiting, &w).is_pending());
        assert!(
            poll(&mut waiting, &w).is_pending(),
            "polled again: the same waker kept"
        );
        assert!(wake.send(7).is_ok());
        assert_eq!(woken(&count), 1, "sent, and the end dropped: one wake");
        assert_eq!(poll(&mut waiting, &w), Poll::Ready(Ok(7)));
        assert_eq!(poll(&mut waiting, &w), Poll::Ready(Err(Gone)));
    }

    #[test]
    fn the_latest_waker_is_the_one_woken() {
        let (wake, mut waiting) = slot();
        let (first, w1) = task();
        let (second, w2) = task();
        assert!(poll(&mut waiting, &w1).is_pending());
        assert!(poll(&mut waiting, &w2).is_pending());
        assert!(wake.send(1).is_ok());
        assert_eq!((woken(&first), woken(&second)), (0, 1));
    }

    #[test]
    fn a_dropped_rendition_end_wakes_the_request_with_gone() {
        let (wake, mut waiting) = slot::<u32>();
        let (count, w) = task();
        assert!(poll(&mut waiting, &w).is_pending());
        drop(wake);
        assert_eq!(woken(&count), 1);
        assert_eq!(poll(&mut waiting, &w), Poll::Ready(Err(Gone)));
    }

    #[test]
    fn a_request_gone_is_seen_and_refuses_the_answer() {
        let (wake, waiting) = slot();
        assert!(!wake.is_canceled());
        drop(waiting);
        assert!(wake.is_canceled());
        assert_eq!(wake.send(3), Err(3));
    }

    #[test]
    fn an_answer_not_taken_can_be_taken_back() {
        let (wake, mut waiting) = slot();
        assert!(waiting.try_take().is_none());
        assert!(wake.send(5).is_ok());
        assert_eq!(waiting.try_take(), Some(5));
        assert!(waiting.try_take().is_none());
    }

    #[test]
    fn a_request_gone_lets_go_of_an_unread_answer() {
        let (wake, waiting) = slot();
        let answer = Rc::new(());
        assert!(wake.send(Rc::clone(&answer)).is_ok());
        drop(waiting);
        assert_eq!(Rc::strong_count(&answer), 1);
    }

    #[test]
    fn an_offer_reaches_the_rendition_end_once() {
        let (wake, mut waiting) = super::slot::<u32, &str>();
        assert_eq!(wake.take_offer(), None, "nothing offered yet");
        waiting.offer("first");
        waiting.offer("second");
        assert_eq!(wake.take_offer(), Some("second"), "the latest offer stands");
        assert_eq!(wake.take_offer(), None);
    }

    #[test]
    fn a_request_gone_takes_its_offer_with_it() {
        let (wake, mut waiting) = super::slot::<u32, Rc<()>>();
        let offer = Rc::new(());
        waiting.offer(Rc::clone(&offer));
        drop(waiting);
        assert_eq!(
            Rc::strong_count(&offer),
            1,
            "dropped with the request's end"
        );
        assert!(wake.take_offer().is_none());
    }
}
