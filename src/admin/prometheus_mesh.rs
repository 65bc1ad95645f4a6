//! The families of work that crosses shards: messages on the mesh, requests refused because
//! the owner's queue was full, and requests that took another request's answer from the
//! owner instead of asking it themselves (`shard::remote_flights`).

use super::{counter, Family};
use crate::metrics::Stats;

pub(super) fn families(stats: &Stats) -> Vec<Family> {
    vec![
        counter(
            "livecache_mesh_messages",
            "Messages sent between shards on the data path (requests for another shard's objects, invalidations)",
            stats.sum(|s| &s.mesh_messages),
        ),
        counter(
            "livecache_overload_refusals",
            "Requests answered 503 because the owner shard's queue was full",
            stats.sum(|s| &s.overload_refusals),
        ),
        counter(
            "livecache_remote_fetches_joined",
            "Media requests on a shard that does not own their stream that took an identical request's answer from the owner instead of asking it themselves",
            stats.sum(|s| &s.remote_fetches_joined),
        ),
    ]
}
