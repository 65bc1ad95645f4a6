//! A shard's doorbell (`remote_release`): how many held answers the other shards released
//! for this shard's viewers and sent it, which its release gate waits for as for its own, and
//! the bell they ring so that a busy shard takes them up at once. Shared between threads
//! (atomics, a waker set once); rung at most once until the shard has taken every answer
//! counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Poll, Waker};
use std::time::Duration;

use glommio::{Latency, Shares};

/// One shard's doorbell, rung by the others.
#[derive(Default)]
pub struct Doorbell {
    /// Held answers other shards released for this shard's viewers and sent (or are sending).
    released: AtomicU64,
    /// Rung since the shard last had every counted answer taken (`ring`, `rearm`).
    rung: AtomicBool,
    /// The bell's task on the shard (`answer`), set once: a task's waker does not change.
    waker: OnceLock<Waker>,
}

/// Every shard's doorbell, by shard id.
pub type Doorbells = Arc<[Arc<Doorbell>]>;

/// A doorbell for each of `shards`.
pub fn doorbells(shards: usize) -> Doorbells {
    (0..shards).map(|_| Arc::default()).collect()
}

impl Doorbell {
    /// Held answers released for this shard's viewers so far (see `ReleaseGate::woken`).
    pub(super) fn released(&self) -> u64 {
        self.released.load(Ordering::Acquire)
    }

    /// Counts a held answer about to be sent to this shard: before it is sent, so the shard
    /// never takes one it has not counted.
    pub(super) fn count(&self) {
        self.released.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes a count back: its viewer hung up before it could be sent.
    pub(super) fn uncount(&self) {
        self.released.fetch_sub(1, Ordering::AcqRel);
    }

    /// Wakes the shard's bell task (a foreign wake of a latency-sensitive task: glommio
    /// interrupts the shard's run for it), once until the shard has taken every answer
    /// counted (`rearm`): once it is interrupted its gate holds its other work back, so it
    /// comes back for the rest of the burst by itself.
    pub(super) fn ring(&self) {
        // Before its task first ran there is nobody to wake: the bell stays unrung.
        if let Some(waker) = self.waker.get() {
            if !self.rung.swap(true, Ordering::AcqRel) {
                waker.wake_by_ref();
            }
        }
    }

    /// Sets the bell task's waker (tests: no executor).
    #[cfg(test)]
    pub(super) fn set_waker(&self, waker: Waker) {
        assert!(self.waker.set(waker).is_ok());
    }

    /// The shard has taken every answer counted: the next one rings again.
    pub(super) fn rearm(&self) {
        self.rung.store(false, Ordering::Release);
    }
}

/// The longest this shard's run goes on after its bell rang, as glommio's preemption timer
/// while the bell's task is runnable.
const BELL_LATENCY: Duration = Duration::from_millis(1);

/// Starts the task that answers `bell` on this shard, in a task queue of its own whose
/// latency matters: a wake-up from another thread of such a task makes glommio stop the run
/// in progress (it writes the shard's eventfd, watched on the latency ring) and take up the
/// other shards' wakes, the answers rung for among them. The task does nothing itself.
pub(crate) fn answer(bell: Arc<Doorbell>) {
    let queue = glommio::executor().create_task_queue(
        Shares::default(),
        Latency::Matters(BELL_LATENCY),
        "doorbell",
    );
    let task = glommio::spawn_local_into(
        std::future::poll_fn(move |cx| {
            bell.waker.get_or_init(|| cx.waker().clone());
            Poll::<()>::Pending
        }),
        queue,
    );
    match task {
        Ok(task) => {
            task.detach();
        }
        Err(e) => tracing::warn!("no doorbell task queue ({e}): remote answers wait their turn"),
    };
}
