//! One shard's live-video counters (LIVE.md F1, F4, F9): blocking reloads held and how each
//! hold ended, upstream long-polls, playlist versions taken, refused or unusable, the
//! renditions tracked and stale right now, and prefetches by outcome. Plain atomics, written only by the owning shard;
//! the admin listener sums them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::live::Rejection;

/// How a blocking playlist reload was answered, as labelled in
/// `livecache_hls_hold_results_total{result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldResult {
    /// Answered at once from the rendition's latest playlist.
    Immediate = 0,
    /// Held, then answered by a later playlist.
    Satisfied = 1,
    /// Held three target durations without an answer: 503.
    Expired = 2,
    /// 400: malformed directives.
    BadDirective = 3,
    /// 400: too far ahead of a current playlist.
    TooFar = 4,
    /// Answered with an ended playlist (directives ignored).
    Ended = 5,
    /// The origin's answer was not a usable playlist: the request went to the origin as is.
    Passed = 6,
}

impl HoldResult {
    pub const ALL: [HoldResult; 7] = [
        HoldResult::Immediate,
        HoldResult::Satisfied,
        HoldResult::Expired,
        HoldResult::BadDirective,
        HoldResult::TooFar,
        HoldResult::Ended,
        HoldResult::Passed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            HoldResult::Immediate => "immediate",
            HoldResult::Satisfied => "satisfied",
            HoldResult::Expired => "timeout_503",
            HoldResult::BadDirective => "bad_400",
            HoldResult::TooFar => "too_far_400",
            HoldResult::Ended => "ended",
            HoldResult::Passed => "passed",
        }
    }
}

/// One shard's live counters and gauges.
#[derive(Debug, Default)]
pub struct LiveStats {
    results: [AtomicU64; HoldResult::ALL.len()],
    rejected: [AtomicU64; Rejection::ALL.len()],
    /// Blocking reloads waiting right now.
    pub holds_active: AtomicU64,
    /// Renditions whose state this shard keeps.
    pub renditions: AtomicU64,
    /// Estimated bytes of the renditions' playlist versions.
    pub state_bytes: AtomicU64,
    /// Tracked renditions that stopped advancing (F9).
    pub stale_renditions: AtomicU64,
    /// Upstream requests made for rendition state (long-polls and first fetches).
    pub upstream_polls: AtomicU64,
    /// Playlist versions that became a rendition's state.
    pub versions: AtomicU64,
    /// Upstream playlists taken after three target durations of refusals (a restarted
    /// packager that began its sequence again).
    pub restarts: AtomicU64,
    /// Renditions whose first version was the cache's copy (a classic-HLS viewer's request).
    pub seeded: AtomicU64,
    /// Upstream answers that could not become state (not 200, not a media playlist, too
    /// large, malformed): passed to their requesters unchanged.
    pub unusable: AtomicU64,
    /// Fetches a new playlist version started before any viewer asked (F4).
    pub prefetch_started: AtomicU64,
    /// Prefetched objects a viewer asked for (stored, or still in flight).
    pub prefetch_used: AtomicU64,
    /// Prefetched objects nobody asked for within three target durations.
    pub prefetch_wasted: AtomicU64,
    /// Prefetches that brought no complete 2xx response.
    pub prefetch_failed: AtomicU64,
    /// Newly listed media not prefetched: the stream's in-flight limit, memory, a recent
    /// failure, or another shard's stream.
    pub prefetch_skipped: AtomicU64,
    /// Streams this shard (their owner) replicates on every shard now (F8).
    pub replicated_streams: AtomicU64,
    /// Replicas this shard sent out (each to every other shard), and requests it answered
    /// from another shard's replica.
    pub replicas_sent: AtomicU64,
    pub replica_hits: AtomicU64,
    /// Responses written ahead of others because the player said it was starting up or
    /// starved (CMCD `su`, `bs`; F5).
    pub cmcd_urgent: AtomicU64,
    /// Streams moved to the next origin because their playlist stopped advancing (F9).
    pub origin_failovers: AtomicU64,
    /// Live DASH representations whose segment schedule this shard knows (F12).
    pub dash_schedules: AtomicU64,
    /// Requests for a live DASH segment held until its availability (F12).
    pub dash_early_holds: AtomicU64,
    /// Held playlist answers written by the release that satisfied them, before their
    /// connection's task ran (`shard::release_write`).
    pub written_at_release: AtomicU64,
    /// Times the release gate's watchdog found its counts stuck and let them go: a release
    /// counted and never taken (a bug), after which a task had waited out the gate's limit.
    pub release_counts_forgiven: AtomicU64,
    /// Blocking reloads that joined an identical one's request to their rendition's owner
    /// instead of sending their own (`shard::remote_holds`).
    pub remote_holds_joined: AtomicU64,
}

impl LiveStats {
    pub fn result(&self, result: HoldResult, n: u64) {
        self.results[result as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub fn results(&self, result: HoldResult) -> u64 {
        self.results[result as usize].load(Ordering::Relaxed)
    }

    pub fn reject(&self, why: Rejection) {
        self.rejected[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, why: Rejection) -> u64 {
        self.rejected[why as usize].load(Ordering::Relaxed)
    }

    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }
}
