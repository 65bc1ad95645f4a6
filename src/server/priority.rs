//! Players that are starting up or starved go first (LIVE.md F5): a request whose CMCD says
//! `su` (start-up) or `bs` (buffer starved) is *urgent*, and while any urgent response is
//! being written on a core, every other response on that core lets it pass before each of
//! its writes (a few yields, bounded, so nothing else starves). A player with an empty buffer
//! stalls on every millisecond; one with a full buffer does not notice them.
//!
//! The count is per executor thread, which is per shard: responses only ever wait for the
//! urgent ones of their own core.

use std::cell::Cell;

/// Yields a normal write makes at most while urgent responses are open.
const URGENT_YIELDS: usize = 4;

thread_local! {
    /// Urgent responses being written on this thread's shard.
    static OPEN_URGENT: Cell<u64> = const { Cell::new(0) };
}

/// Marks one response urgent for as long as it lives.
pub struct UrgentTurn(());

impl UrgentTurn {
    /// The guard of an urgent response; `None` for a normal one.
    pub fn begin(urgent: bool) -> Option<UrgentTurn> {
        urgent.then(|| {
            OPEN_URGENT.with(|open| open.set(open.get() + 1));
            UrgentTurn(())
        })
    }
}

impl Drop for UrgentTurn {
    fn drop(&mut self) {
        OPEN_URGENT.with(|open| open.set(open.get().saturating_sub(1)));
    }
}

/// Lets this core's urgent responses write first: yields while any is open, a few times at
/// most.
pub async fn let_urgent_pass() {
    for _ in 0..URGENT_YIELDS {
        if OPEN_URGENT.with(Cell::get) == 0 {
            return;
        }
        futures_lite::future::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    fn polls_to_finish(future: impl Future<Output = ()>) -> usize {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        let mut polls = 1;
        while future.as_mut().poll(&mut cx) == Poll::Pending {
            polls += 1;
        }
        polls
    }

    #[test]
    fn normal_writes_give_way_while_an_urgent_response_is_open() {
        assert_eq!(polls_to_finish(let_urgent_pass()), 1);
        let urgent = UrgentTurn::begin(true);
        assert!(UrgentTurn::begin(false).is_none());
        assert_eq!(polls_to_finish(let_urgent_pass()), URGENT_YIELDS + 1);
        drop(urgent);
        assert_eq!(polls_to_finish(let_urgent_pass()), 1);
    }
}
