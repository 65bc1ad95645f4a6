//! Hot streams on every core (LIVE.md F8; issue "Live video II", item 3). A stream lives on
//! its owner shard, so the biggest event of the day is served by one core while the others
//! idle and every request from their connections crosses the mesh. Here the owner counts its
//! streams' requests; one that passes `hot_stream_requests` a second becomes replicated: the
//! owner still fetches everything once, but sends each immutable object of it (a stored
//! segment, part or map, and each playlist version its plain requests get) to every other
//! shard, as refcounted `Bytes` (no copy). A shard with a replica answers from it, so a
//! request for a replicated stream no longer crosses cores. Only complete objects are ever
//! replicated: an aborted fetch never reaches a replica, and what is in flight is still
//! joined on the owner.
//!
//! A purge or invalidation anywhere voids every replica made before it (one process-wide
//! count, read before a replica is served), so none outlives what it copied.
//!
//! Replicas are kept briefly (`REPLICA_TTL`, and never past their freshness): a live edge
//! is read within seconds, and an object the owner evicted stays alive only that long. Each
//! shard tells owners once a second how often their replicas were read (and which playlists),
//! so a stream is judged by all its requests and its renditions keep being polled. Below half
//! the threshold for `COOL_DOWN`, the stream is demoted and the replicas go.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::mesh::{MeshMessage, Replica};
use super::rendition::{Form, Rendition};
use super::{FetchRequest, Shard};
use crate::cache::{CacheKey, Freshness, StoredObject, StreamKey, Vary};
use crate::metrics::ShardStats;

/// Longest a replica is read before it is asked of the owner again.
const REPLICA_TTL: Duration = Duration::from_secs(10);
/// How long a stream stays under half the threshold before its replicas go.
const COOL_DOWN: Duration = Duration::from_secs(30);
/// The window over which an owner measures a stream's request rate.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// Replicas one shard holds at most; past it, new ones are not kept.
const MAX_REPLICAS: usize = 16_384;
/// A stream that is not hot and had no request for this long is no longer measured.
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Streams an owner measures at most; past it, new streams are not measured.
const MAX_MEASURED: usize = 65_536;

/// What one owner is told: its streams' replica reads, and the playlists read.
type Report = (Vec<(StreamKey, u64)>, Vec<CacheKey>);

/// One stream's request rate on its owner.
struct Heat {
    window_start: Instant,
    count: u64,
    hot: bool,
    cool_since: Option<Instant>,
}

/// One shard's side of replication: the replicas it holds, the reads to report to owners,
/// and, as an owner, the heat of its streams and which objects it sent out.
#[derive(Default)]
pub struct Replicas {
    table: RefCell<HashMap<CacheKey, Arc<Replica>>>,
    /// Replica reads since the last report, per stream, and the playlists read.
    reads: RefCell<HashMap<StreamKey, u64>>,
    playlists_read: RefCell<HashSet<CacheKey>>,
    heat: RefCell<HashMap<StreamKey, Heat>>,
    /// Objects sent out while their stream is hot (sent once per `REPLICA_TTL`), and for a
    /// playlist the arrival of the version sent (each version once).
    sent: RefCell<HashMap<CacheKey, Instant>>,
    versions_sent: RefCell<HashMap<CacheKey, Instant>>,
    heartbeats: Cell<u32>,
    /// How many of this shard's streams are hot: while none is, nothing is looked up.
    hot_streams: Cell<usize>,
}

impl Shard {
    /// A request the owner serves for `key`.
    pub(super) fn note_request_heat(&self, key: &CacheKey) {
        if self.mesh.senders().is_none() || self.config().live.hot_stream_requests == 0 {
            return;
        }
        self.note_heat(&StreamKey::of(key, self.config().stream_key), 1);
    }

    /// `n` requests for `stream`, served here or (reported) from replicas elsewhere.
    fn note_heat(&self, stream: &StreamKey, n: u64) {
        let threshold = self.config().live.hot_stream_requests;
        if threshold == 0 || self.mesh.senders().is_none() {
            return;
        }
        let now = self.now();
        let mut heat = self.replicas.heat.borrow_mut();
        if !heat.contains_key(stream) && heat.len() >= MAX_MEASURED {
            return;
        }
        let entry = heat.entry(stream.clone()).or_insert(Heat {
            window_start: now,
            count: 0,
            hot: false,
            cool_since: None,
        });
        entry.count += n;
        let elapsed = now.saturating_duration_since(entry.window_start);
        if elapsed < RATE_WINDOW {
            return;
        }
        let rate = entry.count as f64 / elapsed.as_secs_f64();
        entry.window_start = now;
        entry.count = 0;
        if rate >= threshold as f64 {
            entry.cool_since = None;
            if !entry.hot {
                entry.hot = true;
                self.replicas
                    .hot_streams
                    .set(self.replicas.hot_streams.get() + 1);
                tracing::info!(shard = self.id, stream = %String::from_utf8_lossy(stream.as_bytes()), rate, "stream replicated");
            }
        } else if rate >= threshold as f64 / 2.0 {
            // Back above half: a later dip starts its cool-down afresh.
            entry.cool_since = None;
        } else if entry.hot {
            let since = *entry.cool_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= COOL_DOWN {
                drop(heat);
                self.cool(stream);
            }
        }
    }

    fn is_hot(&self, stream: &StreamKey) -> bool {
        self.replicas
            .heat
            .borrow()
            .get(stream)
            .is_some_and(|h| h.hot)
    }

    /// The owner stored `object` for `key`, or served it: if its stream is hot and it was not
    /// sent lately, every other shard gets a replica. Varying objects stay with the owner.
    pub(super) fn replicate_object(&self, key: &CacheKey, object: &StoredObject) {
        if self.replicas.hot_streams.get() == 0 {
            return;
        }
        if object.head.vary != Vary::None || object.head.status != 200 {
            return;
        }
        let replica = Replica {
            head: Arc::clone(&object.head),
            body: Arc::clone(&object.body),
            body_len: object.body_len,
            freshness: object.freshness,
            sent_at: self.now(),
            live_state: false,
            epoch: self.invalidation_epoch(),
        };
        self.replicate(key, replica);
    }

    /// The version `rendition`'s plain requests get now, replicated (once) when its stream
    /// is hot: called whenever that version may have changed. Replicas keep it for one target
    /// duration from its arrival; a newer version replaces it well before.
    pub(super) fn publish_plain(&self, rendition: &Rendition) {
        if self.replicas.hot_streams.get() == 0 || !self.is_hot(&rendition.stream) {
            return;
        }
        // Renditions keyed by request fields too stay with the owner: a replica is found by
        // URL alone.
        if !self.config().forwarding.key.is_empty() {
            return;
        }
        let Some(version) = rendition.version_for(false) else {
            return;
        };
        let key = &rendition.upstream.key;
        let mut versions_sent = self.replicas.versions_sent.borrow_mut();
        if versions_sent.get(key) == Some(&version.received_at) {
            return;
        }
        if versions_sent.len() >= MAX_REPLICAS {
            versions_sent.clear();
        }
        versions_sent.insert(key.clone(), version.received_at);
        drop(versions_sent);
        let form = Form {
            delta: false,
            blocking: false,
        };
        let (head, body) = version.answer(form);
        let upstream_age = Duration::from_secs(version.upstream_age);
        let replica = Replica {
            head,
            body_len: body.len() as u64,
            body: Arc::from(vec![body]),
            freshness: Freshness {
                lifetime: upstream_age + version.playlist.target_duration,
                initial_age: upstream_age,
                stored_at: version.received_at,
                reuse: Default::default(),
            },
            sent_at: self.now(),
            live_state: true,
            epoch: self.invalidation_epoch(),
        };
        self.replicate(key, replica);
    }

    /// Sends `replica` of `key` to every other shard when its stream is hot.
    pub(super) fn replicate(&self, key: &CacheKey, replica: Replica) {
        let stream = StreamKey::of(key, self.config().stream_key);
        if !self.is_hot(&stream) {
            return;
        }
        let now = self.now();
        let mut sent = self.replicas.sent.borrow_mut();
        let recent = sent
            .get(key)
            .is_some_and(|at| now.saturating_duration_since(*at) < REPLICA_TTL / 2);
        // A playlist version always goes (`publish_plain` sends each once): it replaces the
        // one before.
        if recent && !replica.live_state {
            return;
        }
        if sent.len() >= MAX_REPLICAS {
            sent.retain(|_, at| now.saturating_duration_since(*at) < REPLICA_TTL);
            if sent.len() >= MAX_REPLICAS {
                sent.clear();
            }
        }
        sent.insert(key.clone(), now);
        drop(sent);
        let replica = Arc::new(replica);
        self.to_every_peer(|| MeshMessage::Replicate {
            key: key.clone(),
            replica: Arc::clone(&replica),
        });
        ShardStats::incr(&self.my_stats().live.replicas_sent);
    }

    /// `stream` is no longer hot: counted, and its replicas go everywhere.
    fn cool(&self, stream: &StreamKey) {
        let mut heat = self.replicas.heat.borrow_mut();
        let Some(entry) = heat.get_mut(stream).filter(|h| h.hot) else {
            return;
        };
        entry.hot = false;
        entry.cool_since = None;
        drop(heat);
        let hot = self.replicas.hot_streams.get();
        self.replicas.hot_streams.set(hot.saturating_sub(1));
        self.demote(stream);
    }

    fn demote(&self, stream: &StreamKey) {
        tracing::info!(shard = self.id, stream = %String::from_utf8_lossy(stream.as_bytes()), "stream no longer replicated");
        let config = self.config();
        let other = |key: &CacheKey| StreamKey::of(key, config.stream_key) != *stream;
        self.replicas.sent.borrow_mut().retain(|key, _| other(key));
        self.replicas
            .versions_sent
            .borrow_mut()
            .retain(|key, _| other(key));
        self.to_every_peer(|| MeshMessage::Unreplicate {
            stream: stream.clone(),
        });
    }

    /// Sends `message()` to every other shard; a full queue drops it (a replica is a
    /// shortcut, never needed for a correct answer).
    fn to_every_peer(&self, message: impl Fn() -> MeshMessage) {
        let Some(senders) = self.mesh.senders() else {
            return;
        };
        for peer in (0..senders.nr_consumers()).filter(|&p| p != self.id) {
            if senders.try_send_to(peer, message()).is_ok() {
                ShardStats::incr(&self.my_stats().mesh_messages);
            }
        }
    }

    /// A replica from an owner.
    pub(super) fn keep_replica(&self, key: CacheKey, replica: Arc<Replica>) {
        let mut table = self.replicas.table.borrow_mut();
        if table.len() < MAX_REPLICAS || table.contains_key(&key) {
            table.insert(key, replica);
        }
    }

    /// An owner demoted `stream`.
    pub(super) fn drop_replicas(&self, stream: &StreamKey) {
        let config = self.config();
        let mut table = self.replicas.table.borrow_mut();
        table.retain(|key, _| StreamKey::of(key, config.stream_key) != *stream);
    }

    /// The replica that may answer `request` here, if any: fresh, read within `REPLICA_TTL`,
    /// and asked without cache directives (those go to the owner, which decides by them).
    pub fn replica_for(&self, request: &FetchRequest) -> Option<Arc<Replica>> {
        let mut table = self.replicas.table.borrow_mut();
        if table.is_empty() || request.directives != Default::default() {
            return None;
        }
        let replica = table.get(&request.key)?;
        let now = self.now();
        let usable = now.saturating_duration_since(replica.sent_at) < REPLICA_TTL
            && replica.epoch == self.invalidation_epoch()
            && replica.freshness.is_fresh(now)
            && !replica.freshness.reuse.revalidate_always;
        if !usable {
            table.remove(&request.key);
            return None;
        }
        let replica = Arc::clone(replica);
        drop(table);
        self.count_for_owner(&request.key);
        if replica.live_state {
            let mut playlists = self.replicas.playlists_read.borrow_mut();
            playlists.insert(request.key.clone());
        }
        ShardStats::incr(&self.my_stats().live.replica_hits);
        Some(replica)
    }

    /// A request for `key` answered on this shard without reaching its owner (from a replica,
    /// or sharing another request's hold: `remote_holds`): reported to the owner with the
    /// next replica reads, so the stream's rate counts every request.
    pub(super) fn count_for_owner(&self, key: &CacheKey) {
        let stream = StreamKey::of(key, self.config().stream_key);
        *self.replicas.reads.borrow_mut().entry(stream).or_default() += 1;
    }

    /// On the heartbeat, once a second: tells each owner how often its streams' replicas were
    /// read here (and which playlists), and forgets replicas past their time.
    pub fn report_replica_reads(&self) {
        let beats = self.replicas.heartbeats.get() + 1;
        self.replicas.heartbeats.set(beats % 10);
        if beats < 10 {
            return;
        }
        let now = self.now();
        self.replicas
            .table
            .borrow_mut()
            .retain(|_, r| now.saturating_duration_since(r.sent_at) < REPLICA_TTL);
        // Streams nobody asked for lately are measured afresh when they come back; a hot one
        // nobody asks for any more cools down like any other.
        self.replicas
            .heat
            .borrow_mut()
            .retain(|_, h| h.hot || now.saturating_duration_since(h.window_start) < FORGET_AFTER);
        let hot: Vec<StreamKey> = {
            let heat = self.replicas.heat.borrow();
            heat.iter()
                .filter(|(_, h)| h.hot)
                .map(|(s, _)| s.clone())
                .collect()
        };
        if self.config().live.hot_stream_requests == 0 {
            // Switched off by a reload: every hot stream is demoted now.
            for stream in &hot {
                self.cool(stream);
            }
        }
        for stream in &hot {
            self.note_heat(stream, 0);
        }
        let reads = std::mem::take(&mut *self.replicas.reads.borrow_mut());
        let playlists = std::mem::take(&mut *self.replicas.playlists_read.borrow_mut());
        let Some(senders) = self.mesh.senders() else {
            return;
        };
        let config = self.config();
        let mut by_owner: HashMap<usize, Report> = HashMap::new();
        for (stream, n) in reads {
            let owner = super::route::stream_owner(&config, &stream);
            by_owner.entry(owner).or_default().0.push((stream, n));
        }
        for key in playlists {
            let owner = super::route::owner(&config, &key);
            by_owner.entry(owner).or_default().1.push(key);
        }
        crate::metrics::LiveStats::set(
            &self.my_stats().live.replicated_streams,
            self.replicated_streams(),
        );
        for (owner, (streams, playlists)) in by_owner {
            let message = MeshMessage::Reads { streams, playlists };
            if senders.try_send_to(owner, message).is_ok() {
                ShardStats::incr(&self.my_stats().mesh_messages);
            }
        }
    }

    /// Another shard read replicas of this shard's streams: they count as requests here, and
    /// the playlists read keep their renditions polled.
    pub(super) fn note_reads(&self, streams: Vec<(StreamKey, u64)>, playlists: Vec<CacheKey>) {
        for (stream, n) in &streams {
            self.note_heat(stream, *n);
        }
        let now = self.now();
        let renditions = self.holds.renditions.borrow();
        for key in playlists {
            if let Some(rendition) = renditions.get(&(key, Bytes::new())) {
                rendition.asked(now, false);
            }
        }
    }

    /// An invalidation or purge is about to remove objects: every replica anywhere made
    /// before it is void from now on (before the client who asked is answered).
    pub(super) fn void_replicas(&self) {
        self.stats.invalidations.fetch_add(1, Ordering::AcqRel);
        self.replicas.table.borrow_mut().clear();
        self.replicas.versions_sent.borrow_mut().clear();
        self.replicas.sent.borrow_mut().clear();
    }

    fn invalidation_epoch(&self) -> u64 {
        self.stats.invalidations.load(Ordering::Acquire)
    }

    /// Streams this shard replicates now, for the metrics.
    pub fn replicated_streams(&self) -> u64 {
        self.replicas.hot_streams.get() as u64
    }
}
