//! Routing between shards. A request whose stream another shard owns travels there over the
//! glommio channel mesh (bounded queues, built before the executors start); its replies come
//! back on a per-request channel as they are produced, so a remote follower streams exactly
//! like a local one. A full queue is overload: the caller answers 503 and it is counted.
//! Purges and invalidations travel here too: one URL to its owner (`invalidate`), or a scope
//! to every shard at once (`purge_everywhere`), each acknowledged with the number of stored
//! objects removed.

use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;

use futures_channel::mpsc::{channel, Receiver, Sender};
use futures_channel::oneshot;
use futures_lite::StreamExt;
use glommio::channels::channel_mesh::{Receivers, Senders};

use super::{FetchRequest, OwnerStream, Reply, Shard};
use crate::cache::{CacheKey, StreamKey};
use crate::config::StreamKeyRule;
use crate::metrics::{self, Latency, ShardStats};

/// Replies queued per remote request before the owner waits for the requesting shard.
const REPLY_QUEUE: usize = 8;

/// A message from one shard to the owner of a key.
pub enum MeshMessage {
    /// Look up (and if needed fetch) an object; send the replies back.
    Fetch {
        request: Arc<FetchRequest>,
        reply: Sender<Reply>,
    },
    /// The admin listener asks for this shard's latency histograms: answered at once with a
    /// clone (off the data path; see `collect_latency`).
    Latency { reply: oneshot::Sender<Latency> },
    /// Remove what `scope` names from this shard's slice, then acknowledge with how many
    /// stored objects went.
    Purge {
        scope: PurgeScope,
        done: oneshot::Sender<u64>,
    },
}

/// What a purge removes. Plain data rather than a closure, so it is `Send` and every shard
/// evaluates the same rule against its own keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeScope {
    /// One URL, every stored variant of it: lives only on its owner shard.
    Url(CacheKey),
    /// Every object whose path starts with `prefix` (raw bytes, as keys hold them), on any
    /// host or only on `host` (normalised like a key's host).
    PathPrefix {
        host: Option<bytes::Bytes>,
        prefix: bytes::Bytes,
    },
    /// Every object whose stream key, by `rule`, equals `stream` (`host/path/to/stream`).
    Stream {
        stream: bytes::Bytes,
        rule: StreamKeyRule,
    },
}

impl PurgeScope {
    /// Whether the object stored under `key` falls in this scope.
    pub fn matches(&self, key: &CacheKey) -> bool {
        match self {
            PurgeScope::Url(url) => key == url,
            PurgeScope::PathPrefix { host, prefix } => {
                key.path().starts_with(prefix) && host.as_ref().is_none_or(|h| key.host() == h)
            }
            PurgeScope::Stream { stream, rule } => StreamKey::of(key, *rule).as_bytes() == stream,
        }
    }
}

/// Applies `scope` to this shard's own slice of the cache.
fn purge_here(shard: &Shard, scope: &PurgeScope) -> u64 {
    match scope {
        PurgeScope::Url(key) => shard.invalidate(key),
        scope => shard.purge_where(&|key| scope.matches(key)),
    }
}

/// This shard's end of the mesh. `None` when running with one shard.
pub struct Mesh {
    senders: Option<Senders<MeshMessage>>,
}

impl Mesh {
    pub fn new(senders: Option<Senders<MeshMessage>>) -> Mesh {
        Mesh { senders }
    }

    /// Shard ids follow the mesh's peer order, so every shard agrees on who owns what.
    pub fn shard_id(&self) -> usize {
        self.senders.as_ref().map_or(0, |s| s.peer_id())
    }
}

/// Where a request's replies come from.
pub enum Route {
    Local(OwnerStream),
    Remote(Receiver<Reply>),
}

impl Route {
    pub async fn next(&mut self) -> Reply {
        match self {
            Route::Local(stream) => stream.next().await,
            // The owner dropped the channel early only if its task died: treat as a cut.
            Route::Remote(rx) => rx.next().await.unwrap_or(Reply::Aborted),
        }
    }
}

/// Sends `request` to its owner (or serves it here). `None`: the owner's queue is full.
pub fn route(shard: &Rc<Shard>, owner: usize, request: Arc<FetchRequest>) -> Option<Route> {
    if owner == shard.id {
        return Some(Route::Local(OwnerStream::open(shard, request)));
    }
    let senders = shard
        .mesh
        .senders
        .as_ref()
        .expect("several shards have a mesh");
    let (tx, rx) = channel(REPLY_QUEUE);
    ShardStats::incr(&shard.my_stats().remote_requests);
    match senders.try_send_to(owner, MeshMessage::Fetch { request, reply: tx }) {
        Ok(()) => {
            ShardStats::incr(&shard.my_stats().mesh_messages);
            Some(Route::Remote(rx))
        }
        Err(_) => {
            ShardStats::incr(&shard.my_stats().overload_refusals);
            None
        }
    }
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

/// Applies `scope` on every shard at once: this one in place, the others over the mesh, all
/// asked before any answer is awaited and all answers awaited under one deadline. Returns the
/// stored objects removed and how many shards answered within `patience`. A shard that did
/// not answer in time may still purge later; its count is simply missing from the total.
pub async fn purge_everywhere(
    shard: &Rc<Shard>,
    scope: PurgeScope,
    patience: std::time::Duration,
) -> (u64, usize) {
    let mut purged = purge_here(shard, &scope);
    let mut answered = 1;
    let Some(senders) = shard.mesh.senders.as_ref() else {
        return (purged, answered);
    };
    // One task per peer, so a peer whose queue is full delays only its own answer.
    let asks: Vec<_> = (0..senders.nr_consumers())
        .filter(|&peer| peer != shard.id)
        .map(|peer| glommio::spawn_local(ask_to_purge(Rc::clone(shard), peer, scope.clone())))
        .collect();
    let deadline = std::time::Instant::now() + patience;
    for ask in asks {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        // Dropping an unfinished ask cancels it: a purge not yet queued is not sent late.
        let count = futures_lite::future::or(ask, async {
            glommio::timer::sleep(left).await;
            None
        })
        .await;
        if let Some(count) = count {
            purged += count;
            answered += 1;
        }
    }
    (purged, answered)
}

/// Sends one purge to `peer` (waiting for room in its queue) and awaits its count.
async fn ask_to_purge(shard: Rc<Shard>, peer: usize, scope: PurgeScope) -> Option<u64> {
    let senders = shard.mesh.senders.as_ref()?;
    let (done, count) = oneshot::channel();
    senders
        .send_to(peer, MeshMessage::Purge { scope, done })
        .await
        .ok()?;
    ShardStats::incr(&shard.my_stats().mesh_messages);
    count.await.ok()
}

/// Serves what other shards send to this one, one task per peer queue.
pub fn serve_peers(shard: &Rc<Shard>, mut receivers: Receivers<MeshMessage>) {
    for (_, receiver) in receivers.streams() {
        let shard = Rc::clone(shard);
        glommio::spawn_local(async move {
            while let Some(message) = receiver.recv().await {
                match message {
                    MeshMessage::Fetch { request, reply } => {
                        glommio::spawn_local(forward(Rc::clone(&shard), request, reply)).detach();
                    }
                    MeshMessage::Latency { reply } => {
                        let _ = reply.send(metrics::local_latency());
                    }
                    MeshMessage::Purge { scope, done } => {
                        let _ = done.send(purge_here(&shard, &scope));
                    }
                }
            }
        })
        .detach();
    }
}

/// Produces one remote request's replies on the owner and sends each as soon as it exists.
/// Stops early if the requesting side hung up; the fetch itself goes on for the cache.
async fn forward(shard: Rc<Shard>, request: Arc<FetchRequest>, mut reply: Sender<Reply>) {
    let mut stream = OwnerStream::open(&shard, request);
    loop {
        let next = stream.next().await;
        let last = matches!(next, Reply::End | Reply::Aborted | Reply::Failed(_));
        // Waiting for room passes a slow client's pace back to the fetch (see `wait_for_room`).
        if poll_fn(|cx| reply.poll_ready(cx)).await.is_err()
            || reply.start_send(next).is_err()
            || last
        {
            return;
        }
    }
}

thread_local! {
    /// The last histograms each peer sent to this shard's scrapes: merged in for a peer that
    /// does not answer in time, so exported histograms never go backwards.
    static LAST_ANSWERS: std::cell::RefCell<std::collections::HashMap<usize, Latency>> = Default::default();
}

/// Every shard's latency histograms, merged: this shard's own read in place, the others' asked
/// for over the mesh all at once, under one deadline. A shard that does not answer within
/// `patience` (stuck, or its queue full) contributes its last answer instead of holding the
/// scrape; returns how many shards answered afresh.
pub async fn collect_latency(shard: &Rc<Shard>, patience: std::time::Duration) -> (Latency, usize) {
    let mut merged = metrics::local_latency();
    let mut answered = 1;
    let Some(senders) = shard.mesh.senders.as_ref() else {
        return (merged, answered);
    };
    let mut pending = Vec::new();
    for peer in (0..senders.nr_consumers()).filter(|&peer| peer != shard.id) {
        let (reply, answer) = oneshot::channel();
        if senders
            .try_send_to(peer, MeshMessage::Latency { reply })
            .is_ok()
        {
            pending.push((peer, answer));
        }
    }
    let deadline = std::time::Instant::now() + patience;
    for (peer, answer) in pending {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let latency = futures_lite::future::or(async { answer.await.ok() }, async {
            glommio::timer::sleep(left).await;
            None
        })
        .await;
        if let Some(latency) = latency {
            LAST_ANSWERS.with(|last| last.borrow_mut().insert(peer, latency));
            answered += 1;
        }
    }
    LAST_ANSWERS.with(|last| {
        for latency in last.borrow().values() {
            merged.merge(latency);
        }
    });
    (merged, answered)
}
