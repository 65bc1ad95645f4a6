//! Operations on every shard at once, off the data path: a purge by scope (a stream, a path
//! prefix) and the admin listener's latency scrape. Each asks all peers over the mesh before
//! awaiting any answer, and all answers under one deadline, so one slow shard delays only its
//! own share.

use std::rc::Rc;

use futures_channel::oneshot;

use super::mesh::MeshMessage;
use super::Shard;
use crate::cache::PurgeScope;
use crate::metrics::{Latency, ShardStats};

/// Applies `scope` on every shard at once: this one in place, the others over the mesh, all
/// asked before any answer is awaited and all answers awaited under one deadline. Returns the
/// stored objects removed and how many shards answered within `patience`. A shard that did
/// not answer in time may still purge later; its count is simply missing from the total.
pub async fn purge_everywhere(
    shard: &Rc<Shard>,
    scope: PurgeScope,
    patience: std::time::Duration,
) -> (u64, usize) {
    let mut purged = shard.purge(&scope);
    let mut answered = 1;
    let Some(senders) = shard.mesh.senders() else {
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
pub(super) async fn ask_to_purge(shard: Rc<Shard>, peer: usize, scope: PurgeScope) -> Option<u64> {
    let senders = shard.mesh.senders()?;
    let (done, count) = oneshot::channel();
    senders
        .send_to(peer, MeshMessage::Purge { scope, done })
        .await
        .ok()?;
    ShardStats::incr(&shard.my_stats().mesh_messages);
    count.await.ok()
}

/// Every shard's latency histograms, merged: this shard's own read in place, the others' asked
/// for over the mesh all at once, under one deadline. A shard that does not answer within
/// `patience` (stuck, or its queue full) contributes its last answer instead of holding the
/// scrape; returns how many shards answered afresh.
pub async fn collect_latency(shard: &Rc<Shard>, patience: std::time::Duration) -> (Latency, usize) {
    let mut merged = shard.latency();
    let mut answered = 1;
    let Some(senders) = shard.mesh.senders() else {
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
            shard.last_latency.borrow_mut().insert(peer, latency);
            answered += 1;
        }
    }
    for latency in shard.last_latency.borrow().values() {
        merged.merge(latency);
    }
    (merged, answered)
}
