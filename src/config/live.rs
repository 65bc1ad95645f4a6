//! The keys of the live-video layer (LIVE.md F1, F4, F7, F9, refresh-ahead): whether blocking
//! playlist reloads are held at the edge, how many may wait at once, the largest playlist
//! that becomes rendition state, whether manifests with viewers are refreshed early, how
//! media newly listed is prefetched, how early a DASH segment request is held, and whether
//! memory follows the live window. Parsed from text like every other key, so errors
//! name the key and value.

use std::time::Duration;

use super::units;

/// The live-video keys, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    /// Blocking playlist reloads (`_HLS_msn`) answered and held by the edge, with one
    /// upstream long-poll per rendition; off: they go to the origin like any request.
    pub hold_blocking_reloads: bool,
    /// Blocking reloads waiting at once, all shards together; beyond it a request gets 503.
    pub max_holds: usize,
    /// Largest playlist that becomes rendition state (a larger one is passed through).
    pub max_playlist_size: u64,
    /// Renditions tracked at once, all shards together.
    pub max_renditions: usize,
    /// Memory for rendition state, all shards together.
    pub state_memory: u64,
    /// Longest hold, whatever the target duration.
    pub max_hold: Duration,
    /// A stored live manifest (HLS playlist, DASH MPD) that is asked for after half its
    /// lifetime is refreshed in the background, so viewers never wait for the origin.
    pub refresh_manifests_ahead: bool,
    /// Every live media playlist viewers ask for becomes rendition state (seeded from the
    /// cache, kept current by one poll), classic HLS included; off: only renditions asked
    /// with blocking reloads.
    pub track_playlists: bool,
    /// Each new version of a tracked rendition with viewers starts fetches for the media it
    /// newly lists (LIVE.md F4).
    pub prefetch: bool,
    /// Prefetches in flight per stream at once.
    pub prefetch_per_stream: usize,
    /// Longest a classic rendition's new version waits for its prefetches before viewers get
    /// it (never more than half a target duration).
    pub prefetch_wait: Duration,
    /// A live DASH segment asked for at most this long before its availability is held until
    /// then (LIVE.md F12); longer before, the request goes to the origin.
    pub dash_hold_early: Duration,
    /// Media no tracked playlist lists any more is dropped once its availability has passed,
    /// and an unwatched rendition's media is evicted first (LIVE.md F7); off: plain LRU.
    pub live_window_memory: bool,
    /// Requests a second past which a stream is replicated on every shard (LIVE.md F8); 0:
    /// never.
    pub hot_stream_requests: u64,
    /// CMSD on responses (LIVE.md F6): `CMSD-Static` where the origin sent none, and one
    /// `CMSD-Dynamic` member per response.
    pub cmsd: bool,
    /// Path prefixes of personalised objects (SSAI manifests per session): passed to the
    /// origin, never stored, never collapsed across requests (LIVE.md F14).
    pub pass_paths: Vec<String>,
    /// Path prefixes whose query is left out of the key and of upstream requests (ad and
    /// content segments that carry per-session tracking parameters).
    pub queryless_paths: Vec<String>,
}

impl Live {
    /// Whether `path` is of a personalised route class (`pass_paths`).
    pub fn is_pass_path(&self, path: &[u8]) -> bool {
        starts_with_any(path, &self.pass_paths)
    }

    /// Whether `path`'s query is left out of its key (`queryless_paths`).
    pub fn is_queryless_path(&self, path: &[u8]) -> bool {
        starts_with_any(path, &self.queryless_paths)
    }
}

fn starts_with_any(path: &[u8], prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| path.starts_with(p.as_bytes()))
}

/// A comma-separated list: its items, trimmed, empty ones dropped.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A list as a TOML array.
fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

impl Live {
    /// Each key as TOML text, for `--check-config`.
    pub fn toml_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("hold_blocking_reloads", on_off(self.hold_blocking_reloads)),
            ("max_holds", self.max_holds.to_string()),
            ("max_renditions", self.max_renditions.to_string()),
            (
                "live_state_memory",
                format!("{:?}", units::format_size(self.state_memory)),
            ),
            (
                "max_hold",
                format!("{:?}", units::format_duration(self.max_hold)),
            ),
            (
                "refresh_manifests_ahead",
                on_off(self.refresh_manifests_ahead),
            ),
            ("track_playlists", on_off(self.track_playlists)),
            ("prefetch", on_off(self.prefetch)),
            ("prefetch_per_stream", self.prefetch_per_stream.to_string()),
            (
                "prefetch_wait",
                format!("{:?}", units::format_duration(self.prefetch_wait)),
            ),
            (
                "dash_hold_early",
                format!("{:?}", units::format_duration(self.dash_hold_early)),
            ),
            ("live_window_memory", on_off(self.live_window_memory)),
            ("hot_stream_requests", self.hot_stream_requests.to_string()),
            ("cmsd", on_off(self.cmsd)),
            ("pass_paths", toml_list(&self.pass_paths)),
            ("queryless_paths", toml_list(&self.queryless_paths)),
            (
                "max_playlist_size",
                format!("{:?}", units::format_size(self.max_playlist_size)),
            ),
        ]
    }
}

/// A switch as TOML text: `"on"` or `"off"`.
fn on_off(on: bool) -> String {
    format!("{:?}", if on { "on" } else { "off" })
}

/// `on` or `off` (also `true`/`false`, `yes`/`no`).
pub fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err("expected `on` or `off`".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches() {
        assert_eq!(parse_switch(" On "), Ok(true));
        assert_eq!(parse_switch("no"), Ok(false));
        assert!(parse_switch("maybe").is_err());
    }
}
