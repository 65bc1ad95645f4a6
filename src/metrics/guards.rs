//! The protections livecache applies against a bad client or a bad origin, each counted when
//! it fires, and the memory held on behalf of clients outside the cache (pass-through objects
//! and request bodies in transit). One enum names every protection once; the metrics label
//! and the counter slot come from it. Plain atomics, written only by the owning shard.

use std::sync::atomic::{AtomicU64, Ordering};

/// A protection that fired, as labelled in `livecache_guards_total{kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// An idle upstream connection had unread bytes or was closed: dropped, never reused.
    DirtyUpstream = 0,
    /// A reader of an unstored object fell more than a window behind the fastest: cut.
    LaggingReader = 1,
    /// A client read a response slower than `client_min_rate`: cut.
    SlowReader = 2,
    /// A client sent a request body slower than `client_min_rate`: closed.
    SlowBody = 3,
    /// A new pass-through object did not fit `pass_through_memory`: 503.
    PassThroughFull = 4,
    /// A request body did not fit `request_body_memory`: 503.
    BodyMemoryFull = 5,
}

impl Guard {
    pub const ALL: [Guard; 6] = [
        Guard::DirtyUpstream,
        Guard::LaggingReader,
        Guard::SlowReader,
        Guard::SlowBody,
        Guard::PassThroughFull,
        Guard::BodyMemoryFull,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Guard::DirtyUpstream => "dirty_upstream_connection",
            Guard::LaggingReader => "lagging_reader",
            Guard::SlowReader => "slow_reader",
            Guard::SlowBody => "slow_request_body",
            Guard::PassThroughFull => "pass_through_memory_full",
            Guard::BodyMemoryFull => "request_body_memory_full",
        }
    }
}

/// One shard's guard counters and the client memory it holds outside the store.
#[derive(Debug, Default)]
pub struct Guards {
    fired: [AtomicU64; Guard::ALL.len()],
    /// Bytes held for readers of objects that are not stored (pass-through fetches).
    pub pass_through_bytes: AtomicU64,
    /// Bytes of request bodies reserved while they are relayed to the origin.
    pub request_body_bytes: AtomicU64,
}

impl Guards {
    pub fn fire(&self, guard: Guard) {
        self.fired[guard as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn fired(&self, guard: Guard) -> u64 {
        self.fired[guard as usize].load(Ordering::Relaxed)
    }
}
