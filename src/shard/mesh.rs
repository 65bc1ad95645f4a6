//! The channel mesh between shards (bounded queues, built before the executors start): the
//! messages one shard sends another, and the owner's side that serves them. A fetch's replies
//! go back on a per-request channel as they are produced, at the requesting shard's pace.
//! Who sends what lives with the senders: `route` (a request, one URL's invalidation),
//! `broadcast` (purges by scope, the latency scrape), `replicas` (a hot stream's objects,
//! and reads of them reported to their owner) and `dash` (when live DASH segments appear).

use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;

use futures_channel::mpsc::{channel, Sender};
use futures_channel::oneshot;
use glommio::channels::channel_mesh::{Receivers, Senders};

use bytes::Bytes;

use super::doorbell::{self, Doorbell, Doorbells};
use super::remote_release::{send_counted, RemoteReplies};
use super::{FetchRequest, OwnerStream, Reply, Shard};
use crate::cache::{CacheKey, CachedHead, Freshness, PurgeScope, StreamKey};
use crate::metrics::{Latency, ShardStats};

/// Replies queued per remote request before the owner waits for the requesting shard.
pub(super) const REPLY_QUEUE: usize = 8;

/// An immutable object of a hot stream as every shard may serve it (`replicas`): `Send`,
/// sharing its bytes with the owner's copy.
#[derive(Debug)]
pub struct Replica {
    pub head: Arc<CachedHead>,
    pub body: Arc<[Bytes]>,
    pub body_len: u64,
    pub freshness: Freshness,
    /// When the owner sent it (by the shared clock): read for a short while only.
    pub sent_at: std::time::Instant,
    /// A playlist version answered from rendition state.
    pub live_state: bool,
    /// The process's invalidation count when the owner made it: any invalidation since (a
    /// purge, an unsafe method) voids it.
    pub epoch: u64,
}

/// One live DASH representation's schedule, with the stream its segments belong to (`dash`).
pub type Scheduled = (StreamKey, Arc<crate::live::SegmentSchedule>);

/// A message from one shard to another.
pub enum MeshMessage {
    /// Look up (and if needed fetch) an object; send the replies back.
    Fetch {
        request: Arc<FetchRequest>,
        reply: Sender<Reply>,
    },
    /// The admin listener asks for this shard's latency histograms: answered at once with a
    /// clone (off the data path; see `broadcast::collect_latency`).
    Latency { reply: oneshot::Sender<Latency> },
    /// Remove what `scope` names from this shard's slice, then acknowledge with how many
    /// stored objects went.
    Purge {
        scope: PurgeScope,
        done: oneshot::Sender<u64>,
    },
    /// An owner's hot stream: keep this object and answer its requests here.
    Replicate {
        key: CacheKey,
        replica: Arc<Replica>,
    },
    /// The owner's stream cooled down: drop its replicas.
    Unreplicate { stream: StreamKey },
    /// From an MPD's owner to the owner of its segments' streams: when they appear
    /// (`dash`), replacing what that MPD said before.
    DashSchedules {
        mpd: CacheKey,
        schedules: Vec<Scheduled>,
    },
    /// To an owner: how often its streams' replicas were read on the sender, and which
    /// playlists.
    Reads {
        streams: Vec<(StreamKey, u64)>,
        playlists: Vec<CacheKey>,
    },
}

/// This shard's end of the mesh. `None` when running with one shard.
pub struct Mesh {
    senders: Option<Senders<MeshMessage>>,
    /// Every shard's doorbell, rung when a held answer is sent to it (`remote_release`).
    doorbells: Doorbells,
}

impl Mesh {
    pub fn new(senders: Option<Senders<MeshMessage>>, doorbells: Doorbells) -> Mesh {
        Mesh { senders, doorbells }
    }

    /// Shard `id`'s doorbell (`None` for an id out of range: one shard has no peers).
    pub(super) fn doorbell(&self, id: usize) -> Option<&Arc<Doorbell>> {
        self.doorbells.get(id)
    }

    /// Shard ids follow the mesh's peer order, so every shard agrees on who owns what.
    pub fn shard_id(&self) -> usize {
        self.senders.as_ref().map_or(0, |s| s.peer_id())
    }

    /// This shard's senders to every other; `None` with one shard.
    pub(super) fn senders(&self) -> Option<&Senders<MeshMessage>> {
        self.senders.as_ref()
    }
}

impl Shard {
    /// Sends `request` to its `owner`, another shard; its replies come back on a channel of
    /// its own. `None`: the owner's queue is full (counted as an overload refusal).
    pub(super) fn ask_owner(
        &self,
        owner: usize,
        request: Arc<FetchRequest>,
    ) -> Option<RemoteReplies> {
        let senders = self.mesh.senders().expect("several shards have a mesh");
        let (tx, rx) = channel(REPLY_QUEUE);
        ShardStats::incr(&self.my_stats().remote_requests);
        match senders.try_send_to(owner, MeshMessage::Fetch { request, reply: tx }) {
            Ok(()) => {
                ShardStats::incr(&self.my_stats().mesh_messages);
                Some(RemoteReplies::new(Rc::clone(&self.holds.gate), rx))
            }
            Err(_) => {
                ShardStats::incr(&self.my_stats().overload_refusals);
                None
            }
        }
    }
}

/// Serves what other shards send to this one, one task per peer queue, and answers its
/// doorbell (`remote_release`).
pub fn serve_peers(shard: &Rc<Shard>, mut receivers: Receivers<MeshMessage>) {
    if let Some(bell) = shard.mesh.doorbell(shard.id) {
        doorbell::answer(Arc::clone(bell));
    }
    for (peer, receiver) in receivers.streams() {
        let shard = Rc::clone(shard);
        glommio::spawn_local(async move {
            while let Some(message) = receiver.recv().await {
                match message {
                    MeshMessage::Fetch { request, reply } => {
                        let forwarding = forward(Rc::clone(&shard), request, reply, peer);
                        glommio::spawn_local(forwarding).detach();
                    }
                    MeshMessage::Latency { reply } => {
                        let _ = reply.send(shard.latency());
                    }
                    MeshMessage::Purge { scope, done } => {
                        let _ = done.send(shard.purge(&scope));
                    }
                    MeshMessage::Replicate { key, replica } => shard.keep_replica(key, replica),
                    MeshMessage::Unreplicate { stream } => shard.drop_replicas(&stream),
                    MeshMessage::DashSchedules { mpd, schedules } => {
                        shard.keep_schedules(mpd, schedules)
                    }
                    MeshMessage::Reads { streams, playlists } => {
                        shard.note_reads(streams, playlists)
                    }
                }
            }
        })
        .detach();
    }
}

/// Produces one remote request's replies on the owner and sends each as soon as it exists
/// (a held answer counted on `peer`'s doorbell and rung: `remote_release`). Stops early if
/// the requesting side hung up; the fetch itself goes on for the cache.
async fn forward(
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    mut reply: Sender<Reply>,
    peer: usize,
) {
    let mut stream = OwnerStream::open(&shard, request);
    // The channel is new and empty: the marker always fits.
    if stream.is_held_early() && reply.try_send(Reply::HeldEarly).is_err() {
        return;
    }
    loop {
        let next = stream.next().await;
        let last = matches!(next, Reply::End | Reply::Aborted | Reply::Failed(_));
        // Waiting for room passes a slow client's pace back to the fetch (see `wait_for_room`).
        if poll_fn(|cx| reply.poll_ready(cx)).await.is_err() {
            return;
        }
        let bell = shard.mesh.doorbell(peer).map(|bell| &**bell);
        if !send_counted(bell, next, |next| reply.start_send(next).is_ok()) || last {
            return;
        }
    }
}
