//! The one upstream request a rendition has in flight (LIVE.md F1.6-F1.7, F9): a blocking
//! reload for the part right after the newest one known, in the canonical spelling, whatever
//! the held requests asked; the plain playlist first when nothing is known yet, or at a
//! polite interval when the origin cannot block. Each answer is read whole (up to
//! `max_playlist_size`), parsed once, checked against the version served (a successor that
//! goes back or rewrites history is refused and counted; the last good version stays), then
//! installed and every request it satisfies is woken with the same bytes.
//!
//! An upstream error or timeout is retried at most every 250 ms while anything waits (the
//! held requests meet their own deadline). A refused blocking reload (a 4xx: an origin that
//! went back may find the part too far ahead) is followed by one plain request, whose
//! playlist is checked like any other; an answer that cannot become state sends the waiters
//! the ordinary way. The task ends when nobody waits and nobody asked for two target
//! durations. A new version starts the prefetch of the media it newly lists (`prefetch`),
//! and is held back from plain requests until that is cached.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};

use super::hold_back;
use super::prefetch::Started;
use super::rendition::{Rendition, Version};
use super::stored::withhold;
use super::{FetchRequest, Shard};
use crate::cache::freshness::{self, Policy};
use crate::cache::{CacheKey, CachedHead, Event, Reader};
use crate::config::failover::FailoverMode;
use crate::http::headers::{find, Header};
use crate::live::{self, MediaPlaylist, Playlist};
use crate::metrics::ShardStats;

/// Least time between two upstream requests that brought nothing new (F1.6: at most one
/// retry per 250 ms).
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// How long requests go the ordinary way after an answer that could not become state.
const PASS_FOR: Duration = Duration::from_secs(2);

/// What one upstream request brought.
enum Polled {
    /// The head, the body, its playlist, and when the whole response was in.
    Playlist(Arc<CachedHead>, Bytes, Box<MediaPlaylist>, Instant),
    /// Try again (5xx, timeout, cut): the waiters keep waiting.
    Retry,
    /// Another status (a 4xx, a redirect): for a blocking reload, perhaps the origin is
    /// behind what it published before; the plain playlist tells.
    Refused,
    /// Not something to keep as state: pass it through.
    Unusable,
}

/// The rendition's long-poll loop (spawned by `holds`; `polling` is set while it runs).
pub(super) async fn run(shard: Rc<Shard>, rendition: Rc<Rendition>) {
    // A version that is still current (seeded from the cache, or left by an earlier poll) of
    // an origin that cannot block is not asked again before it is due.
    let latest = rendition.latest.borrow().clone();
    if let Some(latest) = latest {
        if let (_, Some(pace)) = next_target(&rendition, Some(&latest.playlist)) {
            let age = shard.now().saturating_duration_since(latest.received_at);
            glommio::timer::sleep(pace.saturating_sub(age)).await;
        }
    }
    // Ask for the plain playlist next (after a blocking reload was refused).
    let mut plain = false;
    loop {
        let latest = rendition.latest.borrow().clone();
        let now = shard.now();
        if !rendition.wanted(now) {
            shard.let_window_idle(&rendition);
            break;
        }
        let started = Instant::now();
        let known = latest.as_deref().map(|v| &v.playlist);
        let (target, pace) = next_target(&rendition, known.filter(|_| !plain));
        let polled = poll(&shard, &rendition, &target).await;
        // Its reader went: the release gate, shut while this answer waited for its task,
        // opens unless a version installed now wakes held requests (`release_gate`).
        if !matches!(polled, Polled::Playlist(..)) {
            shard.holds.gate.answer_installed();
        }
        let wait = match polled {
            Polled::Playlist(head, body, playlist, received) => {
                plain = false;
                let arrival = Arrival {
                    at: shard.now(),
                    upstream_age: head.arrival.initial_age_secs,
                    complete_at: received,
                };
                let target_duration = playlist.target_duration;
                let outcome = install(&shard, &rendition, head, body, *playlist, arrival);
                shard.holds.gate.answer_installed();
                let installed = outcome.installed;
                match (installed, &outcome.version) {
                    (Installed::News, Some(version)) => {
                        let hold =
                            hold_back::begin(&shard, &rendition, latest.clone(), target_duration);
                        // Its released answers go out before anything else this version calls
                        // for: its media's prefetch, the window, the next long-poll (sending
                        // that first took ~5% of a 500-viewer release burst). Plain requests
                        // keep the version before it meanwhile (`hold`).
                        shard.let_releases_pass().await;
                        outcome.follow_window(&shard, &rendition);
                        let previous = latest.as_deref();
                        let started =
                            start_prefetch(&shard, &rendition, previous, &version.playlist);
                        match hold {
                            Some(hold) => hold.settle(&shard, &rendition, started),
                            None => shard.publish_plain(&rendition),
                        }
                    }
                    _ => outcome.follow_window(&shard, &rendition),
                }
                match (installed, pace) {
                    (Installed::News, None) => Duration::ZERO,
                    (Installed::News, Some(pace)) => pace,
                    (Installed::Nothing, pace) => pace.unwrap_or(RETRY_EVERY).max(RETRY_EVERY),
                    (Installed::NoRoom, _) => {
                        ShardStats::incr(&shard.my_stats().live.unusable);
                        shard.pass_waiters(&rendition, PASS_FOR);
                        break;
                    }
                }
            }
            Polled::Retry => RETRY_EVERY,
            Polled::Refused if known.is_some() && !plain => {
                plain = true;
                RETRY_EVERY
            }
            Polled::Refused | Polled::Unusable => {
                ShardStats::incr(&shard.my_stats().live.unusable);
                shard.pass_waiters(&rendition, PASS_FOR);
                break;
            }
        };
        // A stalled origin answers nothing new (or only errors): noted after every answer. A
        // stream just moved to the backup origin is asked again at once, there.
        if note_staleness(&shard, &rendition, shard.now()) {
            continue;
        }
        let left = wait.saturating_sub(started.elapsed());
        if !left.is_zero() {
            glommio::timer::sleep(left).await;
        }
    }
    rendition.polling.set(false);
}

/// The next upstream target, and the least time the request should take when the origin
/// answers at once (`None`: it blocks until there is news). Without `latest`, the plain
/// playlist.
fn next_target(
    rendition: &Rendition,
    latest: Option<&MediaPlaylist>,
) -> (String, Option<Duration>) {
    let base = String::from_utf8_lossy(rendition.upstream.key.target()).into_owned();
    let Some(playlist) = latest else {
        return (base, None);
    };
    if !playlist.server_control.can_block_reload || !playlist.is_live() {
        return (base, Some(live::current_for(playlist)));
    }
    let target = match playlist.next_part() {
        Some(next) => live::blocking_target(&base, next.msn, Some(next.part)),
        None => live::blocking_target(&base, playlist.next_msn(), None),
    };
    (target, None)
}

/// One upstream request for `target`, read whole.
async fn poll(shard: &Rc<Shard>, rendition: &Rendition, target: &str) -> Polled {
    let request = Arc::new(FetchRequest {
        key: CacheKey::new(rendition.upstream.key.host(), target.as_bytes(), &[]),
        upstream_headers: rendition.upstream.upstream_headers.clone(),
        directives: Default::default(),
        hinted: Vec::new(),
        authorized: false,
        range_end: None,
    });
    ShardStats::incr(&shard.my_stats().live.upstream_polls);
    let max = shard.config().live.max_playlist_size;
    let mut reader = shard.fetch_private(&request);
    // Media work waits from the moment the answer is in (`let_releases_pass`), not only once
    // this task has had its turn and installed it. The reader takes its count back when it
    // goes, at this function's end: in the same turn as the install that follows.
    reader.signal_completion_to(shard.holds.gate.answers());
    read_answer(shard, &mut reader, max).await
}

/// The answer `reader` brings: its head checked, its body read whole (up to `max` bytes)
/// and parsed.
async fn read_answer(shard: &Rc<Shard>, reader: &mut Reader, max: u64) -> Polled {
    let head = loop {
        match reader.next().await {
            Event::Head(head) => break head,
            Event::Interim(_) => continue,
            _ => return Polled::Retry,
        }
    };
    if head.status >= 500 {
        return Polled::Retry;
    }
    if head.status != 200 {
        return Polled::Refused;
    }
    // A response for one client alone (`private`, a `Set-Cookie` kept private) is never
    // shared; fields a qualified `private`/`no-cache` withholds leave the shared head.
    let now = SystemTime::now();
    let rules = &shard.config().caching.response;
    let decision = freshness::evaluate(head.status, &head.headers, now, now, rules);
    if matches!(decision.policy, Policy::Private { .. }) {
        return Polled::Unusable;
    }
    let head = if decision.withheld_fields.is_empty() {
        head
    } else {
        let headers = withhold(&head.headers, &decision.withheld_fields);
        Arc::new(CachedHead {
            headers,
            ..(*head).clone()
        })
    };
    // One version answers every viewer of the rendition.
    let len = head.content_length.unwrap_or(0);
    if !shard.shareable_playlist(&head, len) {
        return Polled::Unusable;
    }
    let mut body = BytesMut::with_capacity(len as usize);
    loop {
        match reader.next().await {
            Event::Chunk(chunk) if (body.len() + chunk.len()) as u64 > max => {
                return Polled::Unusable
            }
            Event::Chunk(chunk) => body.extend_from_slice(&chunk),
            Event::End => break,
            _ => return Polled::Retry,
        }
    }
    // `End` comes only once the fetch completed, which stamps it.
    debug_assert!(reader.completed_at().is_some());
    let received = reader.completed_at().unwrap_or_else(Instant::now);
    match Playlist::from_bytes(&body) {
        Ok(Playlist::Media(playlist)) => {
            Polled::Playlist(head, body.freeze(), Box::new(playlist), received)
        }
        _ => Polled::Unusable,
    }
}

/// Starts the prefetches a successor of `latest` calls for (`prefetch`); none for a first
/// version (its viewer fetches what it needs) or one that will be refused.
fn start_prefetch(
    shard: &Rc<Shard>,
    rendition: &Rendition,
    latest: Option<&Version>,
    next: &MediaPlaylist,
) -> Started {
    match latest {
        Some(latest) if live::check_successor(&latest.playlist, next).is_ok() => {
            shard.prefetch(rendition, &latest.playlist, next)
        }
        _ => Started::new(),
    }
}

/// What became of an upstream (or stored) playlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Installed {
    /// It is the state now, with a new segment or part (or the end of the stream).
    News,
    /// Refused, or nothing new in it.
    Nothing,
    /// No room in the shard's state memory: passed through instead.
    NoRoom,
}

/// When a version arrived (by the shard's clock) and how old it was then, in seconds; and
/// when the fetch had read its whole response (by the real clock), which its held requests'
/// release is timed from: the long-poll's turn to run, parsing and checking it are part of
/// their wait, an origin slow to send the rest of the body is not. (A version seeded from the
/// cache is stamped when seeded: its rendition is new and has nobody to release.)
pub(super) struct Arrival {
    pub at: Instant,
    pub upstream_age: u64,
    pub complete_at: Instant,
}

/// What `install` did, and the bookkeeping it leaves to its caller, which a long-poll does only
/// once the answers it released went out.
pub(super) struct Outcome {
    pub installed: Installed,
    /// The version installed (whether news or not).
    pub version: Option<Rc<Version>>,
    /// The version it followed: the live window moves from that one's to the new one's.
    followed: Option<Rc<Version>>,
}

impl Outcome {
    fn nothing(installed: Installed) -> Outcome {
        Outcome {
            installed,
            version: None,
            followed: None,
        }
    }

    /// Lets go of what the new version no longer lists (`live_window`).
    pub(super) fn follow_window(&self, shard: &Shard, rendition: &Rendition) {
        if let (Some(followed), Some(version)) = (&self.followed, &self.version) {
            shard.follow_window(
                rendition,
                &followed.playlist,
                &version.playlist,
                shard.now(),
            );
        }
    }
}

/// Makes `playlist` the rendition's state unless it may not follow the one served; wakes
/// what it satisfies. The caller then moves the live window (`Outcome::follow_window`).
pub(super) fn install(
    shard: &Shard,
    rendition: &Rendition,
    head: Arc<CachedHead>,
    body: Bytes,
    playlist: MediaPlaylist,
    arrival: Arrival,
) -> Outcome {
    let now = shard.now();
    let mode = shard.config().origin_failover;
    let mut served = rendition.latest.borrow().clone();
    // From another origin than the version served (LIVE.md F9).
    let switched = served.as_ref().and_then(|served| {
        let (old, new) = (served.head.arrival.from_origin, head.arrival.from_origin);
        old.zip(new).filter(|(old, new)| old != new)
    });
    let refusal = served.as_ref().and_then(|served| {
        let check = match (switched, mode) {
            (Some(_), FailoverMode::Independent) => live::check_switch,
            _ => live::check_successor,
        };
        check(&served.playlist, &playlist).err()
    });
    if let (Some(_), Some((served_from, 0))) = (refusal, switched) {
        // Back at the primary after its rest, which would take the viewers backwards: they
        // stay where they are.
        let stream = rendition.stream.as_bytes();
        shard.upstreams().keep_stream_on(stream, served_from, now);
    }
    // An origin that has sent nothing acceptable for three target durations restarted (a
    // packager that began its sequence again): its new timeline is the only one there is,
    // so it becomes the state, rather than freeze the viewers at the last good version. Not
    // so for another origin's (a backup behind the one served is only behind).
    let restarted = refusal.is_some()
        && switched.is_none()
        && rendition.refused_since.get().is_some_and(|since| {
            now.saturating_duration_since(since) >= playlist.target_duration.saturating_mul(3)
        });
    if restarted {
        ShardStats::incr(&shard.my_stats().live.restarts);
        tracing::warn!(
            shard = shard.id,
            playlist = %String::from_utf8_lossy(rendition.upstream.key.target()),
            "upstream playlist went back for three target durations; taken as a restart"
        );
        served = None;
    }
    if let (Some(why), false) = (refusal, restarted) {
        // LIVE.md F9: the first refusal moves the stream to the backup origin, if there is
        // one (its version must still not take a viewer backwards to be taken). Independent
        // packagers wait for the staleness rule instead.
        if rendition.refused_since.get().is_none() && mode == FailoverMode::Aligned {
            move_to_backup(shard, rendition, now);
        }
        rendition
            .refused_since
            .set(rendition.refused_since.get().or(Some(now)));
        shard.my_stats().live.reject(why);
        let target = rendition.upstream.key.target();
        if let Some(held_back) = shard.holds.warnings.borrow_mut().check(Instant::now()) {
            tracing::warn!(
                shard = shard.id,
                playlist = %String::from_utf8_lossy(target),
                reason = why.label(),
                held_back,
                "upstream playlist refused; the last good version is served"
            );
        }
        return Outcome::nothing(Installed::Nothing);
    }
    rendition.refused_since.set(None);
    let old_cost = rendition.state_cost();
    if !shard.reserve_state(old_cost, Version::cost_of(&body)) {
        return Outcome::nothing(Installed::NoRoom);
    }
    let news = match &served {
        Some(served) => {
            let progress = live::progress(&served.playlist, &playlist);
            if progress.segment {
                rendition.segment_seen.set(now);
            }
            if progress.part || progress.segment {
                rendition.part_seen.set(now);
            }
            progress.segment || progress.part || (playlist.ended && !served.playlist.ended)
        }
        None => {
            rendition.segment_seen.set(now);
            rendition.part_seen.set(now);
            true
        }
    };
    let version = Rc::new(Version {
        upstream_age: arrival.upstream_age,
        head: with_default_lifetime(head, &playlist),
        body,
        playlist,
        received_at: arrival.at,
        arrived: arrival.complete_at,
        delta: Default::default(),
        plain_heads: Default::default(),
    });
    *rendition.latest.borrow_mut() = Some(Rc::clone(&version));
    ShardStats::incr(&shard.my_stats().live.versions);
    shard.wake_satisfied(rendition, &version);
    note_staleness(shard, rendition, now);
    Outcome {
        installed: match news {
            true => Installed::News,
            false => Installed::Nothing,
        },
        version: Some(version),
        followed: served,
    }
}

/// A blocking answer's head with the lifetime HLS Appendix B.1 recommends (six target
/// durations: the URL names one playlist version for good) when the origin stated none, so a
/// cache or player downstream does not guess one from `Last-Modified`.
fn with_default_lifetime(head: Arc<CachedHead>, playlist: &MediaPlaylist) -> Arc<CachedHead> {
    let stated =
        find(&head.headers, "cache-control").is_some() || find(&head.headers, "expires").is_some();
    if stated {
        return head;
    }
    let mut head = (*head).clone();
    let lifetime = playlist.target_duration.saturating_mul(6).as_secs();
    head.headers
        .push(Header::new("Cache-Control", format!("max-age={lifetime}")));
    Arc::new(head)
}

/// Moves `rendition`'s stream to the next origin (see `Upstreams::move_stream`), counted.
fn move_to_backup(shard: &Shard, rendition: &Rendition, now: Instant) -> bool {
    let moved = shard
        .upstreams()
        .move_stream(rendition.stream.as_bytes(), now);
    if moved {
        ShardStats::incr(&shard.my_stats().live.origin_failovers);
    }
    moved
}

/// Flags the rendition stale (or no longer) by how long its playlist has not advanced, and
/// moves a stream that just went stale to the next origin; `true` when it moved.
pub(super) fn note_staleness(shard: &Shard, rendition: &Rendition, now: Instant) -> bool {
    let Some(latest) = rendition.latest.borrow().clone() else {
        return false;
    };
    let since_segment = now.saturating_duration_since(rendition.segment_seen.get());
    let since_part = now.saturating_duration_since(rendition.part_seen.get());
    let stale = live::is_stale(&latest.playlist, since_segment, since_part);
    // LIVE.md F9: a stale stream's next requests go to the next origin, if there is one (at
    // most every `MIN_STAY`, so one still stale there moves on again later); to independent
    // packagers only after three target durations without progress.
    let due = match shard.config().origin_failover {
        FailoverMode::Aligned => stale,
        FailoverMode::Independent => {
            live::switch_due(&latest.playlist, since_segment.min(since_part))
        }
    };
    let moved = due && move_to_backup(shard, rendition, now);
    if stale == rendition.stale.replace(stale) {
        return moved;
    }
    shard.count_stream_staleness(&rendition.stream, stale);
    if stale {
        tracing::warn!(
            shard = shard.id,
            playlist = %String::from_utf8_lossy(rendition.upstream.key.target()),
            since_segment_ms = since_segment.as_millis() as u64,
            moved_to_backup = moved,
            "playlist stopped advancing"
        );
    }
    shard.publish_stale();
    moved
}
