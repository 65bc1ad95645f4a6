//! Rendition state for classic HLS too (issue "Live video I", item 1; LIVE.md F9): a live
//! media playlist served from the cache to a request without delivery directives becomes a
//! tracked rendition, seeded from that stored copy (parsed once, no upstream request). From
//! then on its long-poll keeps it current (a plain poll per half target duration when the
//! origin cannot block), every upstream version is checked before it is served (a regressed
//! one is refused, the last good one stays), and viewers are answered from the state
//! (`holds`), so their requests no longer reach the cache. Multivariant, VOD and ended
//! playlists, DASH MPDs, compressed or varying copies are left to the cache.
//!
//! Seeding runs where a hit has its stored object in hand (`plan_refresh`, on manifest hits
//! only). A copy found untrackable is remembered, so a multivariant playlist's later hits
//! cost one look-up, not a parse.

use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::long_poll;
use super::{FetchRequest, Shard};
use crate::cache::{CachedHead, StoredObject, Vary};
use crate::http::headers::find;
use crate::live::{self, MediaPlaylist, Playlist};
use crate::metrics::ShardStats;

/// Stored copies remembered as untrackable per shard; past it the memory starts over (an
/// object forgotten is looked at once more).
const MAX_UNTRACKABLE: usize = 4096;

impl Shard {
    /// A viewer was served the stored manifest `object` for `request`. When it is a fresh
    /// copy of a live media playlist asked without directives, its rendition is tracked from
    /// it (the first version, and the poll starts). `true` when the rendition has state (now
    /// or before): its poll keeps it current.
    pub(super) fn track_stored(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        object: &Rc<StoredObject>,
        now: Instant,
    ) -> bool {
        let config = self.config();
        if !config.live.hold_blocking_reloads || !config.live.track_playlists {
            return false;
        }
        // The address names the object while the memo holds a `Weak` to it (the allocation
        // cannot be reused meanwhile).
        let id = Rc::as_ptr(object) as usize;
        if self.holds.untrackable.borrow().contains_key(&id) {
            return false;
        }
        let target = std::str::from_utf8(request.key.target()).unwrap_or_default();
        let plain = matches!(live::parse_directives(target), Ok(None));
        let key = self.rendition_key(request, target);
        if let Some(rendition) = self.holds.renditions.borrow().get(&key) {
            return rendition.latest.borrow().is_some();
        }
        let found = plain.then(|| self.live_media_playlist(object)).flatten();
        let Some((body, playlist)) = found else {
            let mut untrackable = self.holds.untrackable.borrow_mut();
            if untrackable.len() >= MAX_UNTRACKABLE {
                untrackable.clear();
            }
            untrackable.insert(id, Rc::downgrade(object));
            return false;
        };
        if !object.freshness.is_fresh(now) {
            return false;
        }
        let Some(rendition) = self.rendition(request, target, now) else {
            return false;
        };
        rendition.asked(now, false);
        // It arrived when it was stored, as old as the origin said then: `Age` goes on
        // counting from there.
        let arrival = long_poll::Arrival {
            at: object.freshness.stored_at,
            upstream_age: object.freshness.initial_age.as_secs(),
            complete_at: Instant::now(),
        };
        let head = Arc::clone(&object.head);
        let outcome = long_poll::install(self, &rendition, head, body, playlist, arrival);
        outcome.follow_window(self, &rendition);
        if outcome.installed != long_poll::Installed::News {
            return false;
        }
        ShardStats::incr(&self.my_stats().live.seeded);
        self.start_polling(&rendition);
        true
    }

    /// The stored copy's bytes and playlist when it is a live media playlist that may answer
    /// every viewer of its rendition.
    fn live_media_playlist(&self, object: &StoredObject) -> Option<(Bytes, MediaPlaylist)> {
        if object.head.status != 200 || !self.shareable_playlist(&object.head, object.body_len) {
            return None;
        }
        // Stored bodies are one contiguous chunk (`stored::contiguous`).
        let body = object.body.first().cloned().unwrap_or_default();
        match Playlist::from_bytes(&body) {
            Ok(Playlist::Media(playlist)) if playlist.is_live() => Some((body, playlist)),
            _ => None,
        }
    }

    /// Whether one copy of a playlist with `head` and `len` bytes may answer every viewer of
    /// its rendition: in identity coding (the rendition's own requests ask for it), within
    /// `max_playlist_size`, varying on nothing but the key fields.
    pub(super) fn shareable_playlist(&self, head: &CachedHead, len: u64) -> bool {
        let encoded = find(&head.headers, "content-encoding")
            .is_some_and(|v| !v.eq_ignore_ascii_case(b"identity"));
        !encoded && len <= self.config().live.max_playlist_size && self.shares_variants(&head.vary)
    }

    /// Whether a playlist that varies on `vary` varies only on the key fields (part of the
    /// rendition's key) and the encoding (fixed to identity upstream).
    fn shares_variants(&self, vary: &Vary) -> bool {
        match vary {
            Vary::None => true,
            Vary::Star => false,
            Vary::Fields(names) => {
                let config = self.config();
                let keyed = |name: &Bytes| {
                    config
                        .forwarding
                        .key
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(name))
                };
                names
                    .iter()
                    .all(|name| name.eq_ignore_ascii_case(b"accept-encoding") || keyed(name))
            }
        }
    }
}

/// The stored copies found untrackable, by address (see `track_stored`).
pub(super) type Untrackable = std::collections::HashMap<usize, Weak<StoredObject>>;
