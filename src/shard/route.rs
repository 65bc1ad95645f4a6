//! Which shard owns a request, and how its replies reach the connection that asked: called in
//! place when the owner is this shard, read from a replica here when its stream is hot
//! (`replicas`), or sent over the mesh with a per-request reply channel, so a remote follower
//! streams exactly like a local one; identical blocking reloads share one such request
//! (`remote_holds`), and so do identical media requests (`remote_flights`). A full queue is overload: the caller answers 503 and it is counted. One
//! URL's invalidation goes to its owner the same way.

use std::rc::Rc;
use std::sync::Arc;

use super::broadcast::ask_to_purge;
use super::mesh::Replica;
use super::release_write::WriteAtRelease;
use super::remote_flights::FlightReplies;
use super::remote_holds::JoinedReplies;
use super::remote_release::RemoteReplies;
use super::{FetchRequest, OwnerStream, Reply, Shard};
use crate::cache::{CacheKey, CacheStatus, PurgeScope, StreamKey};
use crate::config::Config;

/// The shard that owns `key`: its stream's fixed-seed hash, so every shard agrees. With
/// `cross_mesh_for_tests`, shard 0 alone accepts and streams are owned by the others, so every
/// request crosses the mesh.
pub fn owner(config: &Config, key: &CacheKey) -> usize {
    stream_owner(config, &StreamKey::of(key, config.stream_key))
}

/// The shard that owns `stream` (see [`owner`]).
pub fn stream_owner(config: &Config, stream: &StreamKey) -> usize {
    match config.shards {
        n if config.cross_mesh_for_tests && n > 1 => 1 + stream.owner(n - 1),
        n => stream.owner(n),
    }
}

/// Where a request's replies come from.
pub enum Route {
    Local(OwnerStream),
    Remote(RemoteReplies),
    /// A blocking reload sharing an identical one's request to the owner (`remote_holds`).
    Joined(JoinedReplies),
    /// A media request sharing an identical one's request to the owner (`remote_flights`).
    Flight(FlightReplies),
    /// A hot stream's replica on this shard (`replicas`).
    Replica(ReplicaReplies),
}

impl Route {
    pub async fn next(&mut self) -> Reply {
        match self {
            Route::Local(stream) => stream.next().await,
            Route::Remote(replies) => replies.next().await,
            Route::Joined(replies) => replies.next().await,
            Route::Flight(replies) => replies.next().await,
            Route::Replica(replies) => replies.next(),
        }
    }

    /// The next reply when it is here already (a chunk a slow writer has not sent yet), so
    /// the writer can send several in one write; `None` when it would have to wait. A remote
    /// owner's queued replies are taken as queued: this shard's released playlist answers are
    /// not waited for there, as `next` never did between them.
    pub fn ready(&mut self) -> Option<Reply> {
        match self {
            Route::Local(stream) => stream.ready(),
            Route::Remote(replies) => replies.ready(),
            Route::Joined(replies) => replies.ready(),
            Route::Flight(replies) => replies.ready(),
            Route::Replica(_) => None,
        }
    }

    /// A held request's connection offers to have its answer written at its release: only
    /// where the request is held on this shard (`OwnerStream::offer_write_at_release`).
    pub fn offer_write_at_release(&mut self, make: impl FnOnce() -> Box<dyn WriteAtRelease>) {
        if let Route::Local(stream) = self {
            stream.offer_write_at_release(make);
        }
    }
}

/// The replies of a replica: its head (aged by the shared clock) with the body in hand, the
/// body's chunks, the end.
pub struct ReplicaReplies {
    replica: Arc<Replica>,
    age_secs: u64,
    ttl: i64,
    next: usize,
}

impl ReplicaReplies {
    pub fn new(replica: Arc<Replica>, now: std::time::Instant) -> ReplicaReplies {
        let age = replica.freshness.age(now);
        let ttl = replica.freshness.lifetime.as_secs() as i64 - age.as_secs() as i64;
        ReplicaReplies {
            age_secs: age.as_secs(),
            ttl,
            replica,
            next: 0,
        }
    }

    fn next(&mut self) -> Reply {
        let index = self.next;
        self.next += 1;
        if index > 0 {
            return match self.replica.body.get(index - 1) {
                Some(chunk) => Reply::Chunk(chunk.clone()),
                None => Reply::End,
            };
        }
        let detail = if self.replica.live_state {
            "live-state"
        } else {
            "replica"
        };
        Reply::Head {
            head: Arc::clone(&self.replica.head),
            age_secs: self.age_secs,
            status: CacheStatus {
                detail: Some(detail),
                ..CacheStatus::hit(self.ttl)
            },
            body_len: Some(self.replica.body_len),
            in_hand: true,
            written: None,
            shared: false,
        }
    }
}

/// Sends `request` to its owner (or serves it here). `None`: the owner's queue is full.
pub fn route(shard: &Rc<Shard>, owner: usize, request: Arc<FetchRequest>) -> Option<Route> {
    if owner == shard.id {
        return Some(Route::Local(OwnerStream::open(shard, request)));
    }
    if let Some(replica) = shard.replica_for(&request) {
        return Some(Route::Replica(ReplicaReplies::new(replica, shard.now())));
    }
    if let Some(joined) = shard.join_remote_hold(owner, &request) {
        return joined.map(Route::Joined);
    }
    if let Some(joined) = shard.join_remote_fetch(owner, &request) {
        return joined.map(Route::Flight);
    }
    shard.ask_owner(owner, request).map(Route::Remote)
}

/// Has the owner of `key` remove that URL (every variant, and its fetch in flight) and waits
/// for its count, so the client's answer goes out only once later requests miss: for a
/// `PURGE`, and for the invalidation after an unsafe method (RFC 9111 4.4). Waits for queue
/// space rather than dropping it; `None` only if the owner's queue is gone (its executor died).
pub async fn invalidate(shard: &Rc<Shard>, owner: usize, key: CacheKey) -> Option<u64> {
    if owner == shard.id {
        return Some(shard.invalidate(&key));
    }
    ask_to_purge(Rc::clone(shard), owner, PurgeScope::Url(key)).await
}
