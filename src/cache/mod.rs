//! The cache proper, free of sockets and runtime: keys and stream ownership, freshness, the
//! byte-bounded store and the in-flight objects that coalesce fetches. The shard module wires
//! these to the network; everything here is unit-tested in isolation.

pub mod directives;
pub mod encoded;
pub mod entry;
pub mod freshness;
pub mod inflight;
pub mod key;
pub mod lending;
pub mod pass_through;
pub mod purge;
pub mod rules;
pub mod status;
pub mod store;
pub mod unshareable;
pub mod vary;

pub use entry::{Arrival, CachedHead, StoredObject};
pub use freshness::{Decision, Freshness, Policy, Reuse};
pub use inflight::{Completions, Event, InFlight, Reader};
pub use key::{CacheKey, StreamKey};
pub use pass_through::{PassThroughBudget, Reservation};
pub use purge::PurgeScope;
pub use status::{CacheStatus, Fwd, Release};
pub use store::{Store, StoreUsage};
pub use vary::Vary;
