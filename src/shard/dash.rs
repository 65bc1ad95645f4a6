//! Live DASH at the edge (LIVE.md F12; issue "Live video II", item 6). When a dynamic MPD is
//! stored, its owner works out when each representation's numbered segments appear
//! (`live::segment_schedules`) and hands each schedule to the shard that owns those
//! segments' stream (over the mesh when that is another shard). With the schedule, the
//! segments' owner:
//! - holds a request that comes at most `dash_hold_early` before the segment's availability
//!   and lets it look up at that time, so every early viewer shares one fetch instead of each
//!   getting (and the cache keeping) the origin's 404;
//! - never stores a 404 or 410 for such a segment: it may exist a moment later;
//! - bounds the silence inside the segment's body by two chunk durations (at least 2 s): a
//!   longer gap aborts every reader and stores nothing, as an origin abort does.
//!
//! The stored MPD itself lives at most min(origin TTL, `minimumUpdatePeriod`, 2 s). A
//! schedule not refreshed for `FORGET_AFTER` (no viewer asked for its MPD) is forgotten.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::mesh::{MeshMessage, Scheduled};
use super::route::stream_owner;
use super::Shard;
use crate::cache::{CacheKey, CachedHead, StreamKey};
use crate::http::headers::find;
use crate::live::{self, Mpd, SegmentSchedule};
use crate::metrics::ShardStats;

/// The longest a live MPD is stored, whatever its origin says (LIVE.md F12).
const MAX_MPD_LIFETIME: Duration = Duration::from_secs(2);
/// Representations scheduled from one MPD at most.
const MAX_PER_MPD: usize = 64;
/// Distinct schedules kept per stream at most.
const MAX_PER_STREAM: usize = 16;
/// Schedules kept per shard at most.
const MAX_SCHEDULES: usize = 4096;
/// An unchanged schedule is sent again this often (keeping it from being forgotten).
const RESEND_EVERY: Duration = Duration::from_secs(60);
/// A schedule nobody refreshed for this long is dropped.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// One shard's DASH schedules: those it received for the streams it owns, by MPD and by
/// stream, and (as an MPD's owner) what it sent last for each MPD.
#[derive(Default)]
pub struct DashSchedules {
    by_mpd: RefCell<HashMap<CacheKey, (Instant, Vec<Scheduled>)>>,
    by_stream: RefCell<HashMap<StreamKey, Vec<Arc<SegmentSchedule>>>>,
    sent: RefCell<HashMap<CacheKey, (Instant, Vec<Scheduled>)>>,
}

impl Shard {
    /// A response stored at `key`: if it is a live MPD, its segments' schedules go to their
    /// owners, and the lifetime it may be stored for is returned (`None`: not a live MPD,
    /// keep the origin's).
    pub(super) fn learn_mpd(
        &self,
        key: &CacheKey,
        head: &CachedHead,
        body: &[u8],
    ) -> Option<Duration> {
        let config = self.config();
        let content_type = find(&head.headers, "content-type").map(|v| &v[..]);
        let too_large = body.len() as u64 > config.live.max_playlist_size;
        if too_large || !live::is_mpd(key.path(), content_type) {
            return None;
        }
        let mpd = Mpd::from_bytes(body).ok().filter(Mpd::is_dynamic)?;
        let lifetime = mpd
            .minimum_update_period
            .map_or(MAX_MPD_LIFETIME, |p| p.min(MAX_MPD_LIFETIME));
        let host = std::str::from_utf8(key.host()).ok()?;
        let target = std::str::from_utf8(key.target()).ok()?;
        let schedules: Vec<Scheduled> = live::segment_schedules(&mpd, host, target, MAX_PER_MPD)
            .into_iter()
            .map(|schedule| {
                let sample = schedule.target_of(1);
                let strip = &config.strip_query_params;
                let segment = CacheKey::new(key.host(), sample.as_bytes(), strip);
                (
                    StreamKey::of(&segment, config.stream_key),
                    Arc::new(schedule),
                )
            })
            .collect();
        self.send_schedules(key, schedules);
        Some(lifetime)
    }

    /// Sends `schedules` of the MPD at `key` to the shards owning their streams (and to
    /// those that had some before), unless the same were sent a short while ago.
    fn send_schedules(&self, key: &CacheKey, schedules: Vec<Scheduled>) {
        let now = self.now();
        let config = self.config();
        let previous = self.dash.sent.borrow().get(key).cloned();
        if previous.is_none() && self.dash.sent.borrow().len() >= MAX_SCHEDULES {
            // As many MPDs as schedules kept anywhere: the rest go unscheduled until some
            // are forgotten (their segments are forwarded as any request).
            return;
        }
        if let Some((at, sent)) = &previous {
            if same(sent, &schedules) && now.saturating_duration_since(*at) < RESEND_EVERY {
                return;
            }
        }
        let owner = |stream: &StreamKey| stream_owner(&config, stream);
        let mut shards: Vec<usize> = schedules.iter().map(|(s, _)| owner(s)).collect();
        if let Some((_, sent)) = &previous {
            shards.extend(sent.iter().map(|(s, _)| owner(s)));
        }
        shards.sort_unstable();
        shards.dedup();
        let mut all_sent = true;
        for shard in shards {
            let mine: Vec<Scheduled> = schedules
                .iter()
                .filter(|(s, _)| owner(s) == shard)
                .cloned()
                .collect();
            if shard == self.id {
                self.keep_schedules(key.clone(), mine);
            } else if let Some(senders) = self.mesh.senders() {
                let message = MeshMessage::DashSchedules {
                    mpd: key.clone(),
                    schedules: mine,
                };
                // A full queue loses this copy; the next MPD refresh sends it again.
                if senders.try_send_to(shard, message).is_ok() {
                    ShardStats::incr(&self.my_stats().mesh_messages);
                } else {
                    all_sent = false;
                }
            }
        }
        let mut sent = self.dash.sent.borrow_mut();
        if all_sent {
            sent.insert(key.clone(), (now, schedules));
        } else {
            sent.remove(key);
        }
    }

    /// Keeps the schedules the MPD at `mpd` gives this shard's streams, replacing what it
    /// gave before.
    pub fn keep_schedules(&self, mpd: CacheKey, schedules: Vec<Scheduled>) {
        let mut by_mpd = self.dash.by_mpd.borrow_mut();
        if let Some((_, old)) = by_mpd.remove(&mpd) {
            self.unindex(&old);
        }
        let kept: usize = by_mpd.values().map(|(_, s)| s.len()).sum();
        if schedules.is_empty() || kept + schedules.len() > MAX_SCHEDULES {
            self.publish_schedule_count(kept);
            return;
        }
        let mut by_stream = self.dash.by_stream.borrow_mut();
        for (stream, schedule) in &schedules {
            let list = by_stream.entry(stream.clone()).or_default();
            // The same representation named by several MPD URLs (query variants) is one
            // schedule; a stream keeps a bounded number.
            if list.len() < MAX_PER_STREAM && !list.iter().any(|s| **s == **schedule) {
                list.push(Arc::clone(schedule));
            }
        }
        self.publish_schedule_count(kept + schedules.len());
        by_mpd.insert(mpd, (self.now(), schedules));
    }

    fn unindex(&self, schedules: &[Scheduled]) {
        let mut by_stream = self.dash.by_stream.borrow_mut();
        for (stream, schedule) in schedules {
            if let Some(list) = by_stream.get_mut(stream) {
                list.retain(|s| !Arc::ptr_eq(s, schedule));
                if list.is_empty() {
                    by_stream.remove(stream);
                }
            }
        }
    }

    fn publish_schedule_count(&self, count: usize) {
        let gauge = &self.my_stats().live.dash_schedules;
        crate::metrics::LiveStats::set(gauge, count as u64);
    }

    /// Forgets the schedules of MPDs nobody asked for lately (heartbeat).
    pub(super) fn forget_old_schedules(&self) {
        let now = self.now();
        let old = |at: &Instant| now.saturating_duration_since(*at) >= FORGET_AFTER;
        self.dash.sent.borrow_mut().retain(|_, (at, _)| !old(at));
        let gone: Vec<CacheKey> = self
            .dash
            .by_mpd
            .borrow()
            .iter()
            .filter(|(_, (at, _))| old(at))
            .map(|(k, _)| k.clone())
            .collect();
        for mpd in gone {
            self.keep_schedules(mpd, Vec::new());
        }
    }

    /// The schedule of the live DASH segment `key` names, with its number.
    fn scheduled(&self, key: &CacheKey) -> Option<(Arc<SegmentSchedule>, u64)> {
        let by_stream = self.dash.by_stream.borrow();
        if by_stream.is_empty() {
            return None;
        }
        let stream = StreamKey::of(key, self.config().stream_key);
        by_stream.get(&stream)?.iter().find_map(|schedule| {
            let number = schedule.number_of(key.target())?;
            Some((Arc::clone(schedule), number))
        })
    }

    /// Whether `key` is a segment of a live DASH presentation this shard knows.
    pub(super) fn is_scheduled_segment(&self, key: &CacheKey) -> bool {
        self.scheduled(key).is_some()
    }

    /// When a request for `key` that comes early should look up (by the shard's clock): the
    /// segment's availability, if that is at most `dash_hold_early` away (and nothing of it
    /// is stored yet).
    pub(super) fn dash_hold_until(&self, key: &CacheKey) -> Option<Instant> {
        let early = self.config().live.dash_hold_early;
        if early.is_zero() {
            return None;
        }
        let (schedule, number) = self.scheduled(key)?;
        let available = schedule.available_at(number)?;
        let wait = available.duration_since(self.clock.wall()).ok()?;
        if wait.is_zero() || wait > early || self.store.borrow().vary_of(key).is_some() {
            return None;
        }
        ShardStats::incr(&self.my_stats().live.dash_early_holds);
        // A deadline on the monotonic clock: a wall-clock step cannot stretch the hold.
        Some(self.now() + wait)
    }

    /// Waits until the shard's clock reaches `deadline`.
    pub(super) async fn wait_until(&self, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(self.now());
            if left.is_zero() {
                break;
            }
            // Naps of at most 50 ms, so a test that moves the clock is seen promptly.
            glommio::timer::sleep(left.min(Duration::from_millis(50))).await;
        }
    }

    /// The longest silence accepted inside the body of `key`'s response: the configured
    /// one, or less for a live DASH segment (two chunk durations, at least 2 s).
    pub(super) fn between_bytes_limit(&self, key: &CacheKey) -> Duration {
        let configured = self.config().upstream_between_bytes_timeout;
        match self
            .scheduled(key)
            .and_then(|(schedule, _)| schedule.gap_limit())
        {
            Some(gap) => configured.min(gap),
            None => configured,
        }
    }
}

/// Whether two lists schedule the same streams the same way.
fn same(a: &[Scheduled], b: &[Scheduled]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((s, x), (t, y))| s == t && x == y)
}
