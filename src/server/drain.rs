//! A shard-local "we are stopping" signal. Idle connections and the accept loop wait on it
//! next to their socket reads, so a stop closes them at a request boundary. Waiters
//! deregister when dropped, so a long-lived connection that waits once per request never
//! grows the waiter list. Single-threaded by construction (`Rc`, `Cell`, `RefCell`).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Drain {
    fired: Cell<bool>,
    waiters: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl Drain {
    pub fn new() -> Rc<Drain> {
        Rc::new(Drain::default())
    }

    pub fn is_draining(&self) -> bool {
        self.fired.get()
    }

    /// Fires the signal and wakes every waiter.
    pub fn start(&self) {
        self.fired.set(true);
        let wakers: Vec<Waker> = self
            .waiters
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Resolves once the drain has started.
    pub fn wait(self: &Rc<Self>) -> DrainWait {
        DrainWait {
            drain: Rc::clone(self),
            slot: None,
        }
    }
}

pub struct DrainWait {
    drain: Rc<Drain>,
    slot: Option<usize>,
}

impl Future for DrainWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.drain.fired.get() {
            return Poll::Ready(());
        }
        let waker = Some(cx.waker().clone());
        match self.slot {
            Some(slot) => self.drain.waiters.borrow_mut()[slot] = waker,
            None => {
                let slot = match self.drain.free.borrow_mut().pop() {
                    Some(slot) => {
                        self.drain.waiters.borrow_mut()[slot] = waker;
                        slot
                    }
                    None => {
                        let mut waiters = self.drain.waiters.borrow_mut();
                        waiters.push(waker);
                        waiters.len() - 1
                    }
                };
                self.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

impl Drop for DrainWait {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.drain.waiters.borrow_mut()[slot] = None;
            self.drain.free.borrow_mut().push(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;

    #[test]
    fn waiters_are_woken_and_slots_reused() {
        let drain = Drain::new();
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..100 {
            let mut wait = pin!(drain.wait());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(
            drain.waiters.borrow().len(),
            1,
            "dropped waiters give their slot back"
        );
        let mut wait = pin!(drain.wait());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        drain.start();
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        assert!(drain.is_draining());
    }
}
