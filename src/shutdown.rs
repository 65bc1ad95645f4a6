//! The stop signal, broadcast to every shard. glommio has no executor-wide shutdown, so each
//! shard awaits this handle and then stops accepting and drains its own connections. Any
//! thread may trigger it (the signal thread, a test); it fires once and stays fired.
//! Control plane only: one lock taken per shard at start and once at stop, never per request.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

#[derive(Default)]
struct Inner {
    fired: AtomicBool,
    #[allow(clippy::disallowed_types)] // control plane: touched at start and at stop only
    wakers: std::sync::Mutex<Vec<Waker>>,
}

/// A cloneable, thread-safe, one-shot stop signal.
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Fires the signal and wakes every waiter, whichever thread it runs on.
    pub fn trigger(&self) {
        self.0.fired.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.0.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in wakers {
            waker.wake();
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.0.fired.load(Ordering::SeqCst)
    }

    /// Resolves once the signal has fired.
    pub async fn wait(&self) {
        poll_fn(|cx| {
            if self.is_triggered() {
                return Poll::Ready(());
            }
            self.0
                .wakers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(cx.waker().clone());
            // Re-check: a trigger between the first check and the push would be missed.
            if self.is_triggered() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_from_another_thread_wakes_the_waiter() {
        let shutdown = Shutdown::new();
        let remote = shutdown.clone();
        let t = std::thread::spawn(move || {
            #[allow(clippy::disallowed_methods)] // a test's own thread
            std::thread::sleep(std::time::Duration::from_millis(20));
            remote.trigger();
        });
        futures_lite::future::block_on(shutdown.wait());
        assert!(shutdown.is_triggered());
        t.join().unwrap();
    }
}
