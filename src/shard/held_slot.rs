//! The slot a held playlist request is answered through: the rendition keeps one end
//! (`Wake`, in its `Waiter`), the request's reply the other (`Waiting`, a future). Both live on
//! the rendition's owner shard, so the slot is a plain `Rc` cell. A part instant wakes every
//! held request of every rendition at once, and `futures_channel`'s thread-safe oneshot took
//! a sixth of the first 4 ms of a 500-viewer burst on one core (its locks and the separate
//! wake on the sender's drop, `PROFILE=1 benches/hold_release.sh`).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::rendition::Held;

/// The request went (or its end was dropped) before an answer came.
#[derive(Debug, PartialEq, Eq)]
pub struct Gone;

#[derive(Default)]
struct Slot {
    held: Option<Held>,
    waker: Option<Waker>,
    /// The `Wake` end was used or dropped: nothing more will come.
    closed: bool,
    /// The `Waiting` end was dropped: nobody reads what comes.
    gone: bool,
}

/// The rendition's end: answers the request once.
pub struct Wake(Rc<RefCell<Slot>>);

/// The request's end: resolves to what the rendition sent, or `Gone` when it dropped its end
/// without sending.
pub struct Waiting(Rc<RefCell<Slot>>);

/// A new slot's two ends.
pub fn slot() -> (Wake, Waiting) {
    let slot = Rc::new(RefCell::new(Slot::default()));
    (Wake(Rc::clone(&slot)), Waiting(slot))
}

impl Wake {
    /// Answers the request and wakes its task; `Err` with the answer when the request went.
    pub fn send(self, held: Held) -> Result<(), Held> {
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
}

impl Drop for Wake {
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

impl Waiting {
    /// What was sent, if anything was and it was not taken yet.
    pub fn try_take(&mut self) -> Option<Held> {
        self.0.borrow_mut().held.take()
    }
}

impl Future for Waiting {
    type Output = Result<Held, Gone>;

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

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.borrow_mut().gone = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;

    fn poll(waiting: &mut Waiting) -> Poll<Result<Held, Gone>> {
        pin!(waiting).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn an_answer_reaches_the_request_once() {
        let (wake, mut waiting) = slot();
        assert!(poll(&mut waiting).is_pending());
        assert!(wake.send(Held::TooFar).is_ok());
        assert!(matches!(poll(&mut waiting), Poll::Ready(Ok(Held::TooFar))));
        assert!(matches!(poll(&mut waiting), Poll::Ready(Err(Gone))));
    }

    #[test]
    fn a_dropped_rendition_end_says_gone() {
        let (wake, mut waiting) = slot();
        assert!(poll(&mut waiting).is_pending());
        drop(wake);
        assert!(matches!(poll(&mut waiting), Poll::Ready(Err(Gone))));
    }

    #[test]
    fn a_request_gone_is_seen_and_refuses_the_answer() {
        let (wake, waiting) = slot();
        assert!(!wake.is_canceled());
        drop(waiting);
        assert!(wake.is_canceled());
        assert!(matches!(wake.send(Held::Expired), Err(Held::Expired)));
    }

    #[test]
    fn an_answer_not_taken_can_be_taken_back() {
        let (wake, mut waiting) = slot();
        assert!(waiting.try_take().is_none());
        assert!(wake.send(Held::Pass).is_ok());
        assert!(matches!(waiting.try_take(), Some(Held::Pass)));
        assert!(waiting.try_take().is_none());
    }
}
