//! Rendition state for classic HLS too (issue "Live video I", item 1; LIVE.md F9): a live
//! media playlist viewers ask for without delivery directives becomes a tracked rendition the
//! moment the cache holds a fresh copy of it, seeded from that copy (parsed once, no upstream
//! request). From then on its long-poll keeps it current (a plain poll per half target
//! duration when the origin cannot block), every upstream version is checked before it is
//! served (a regressed one is refused, the last good one stays), and viewers are answered
//! from the state. Multivariant playlists, VOD and ended playlists, compressed or varying
//! copies are left to the cache.
//!
//! The check that a stored copy is a media playlist is a search for `#EXT-X-TARGETDURATION`
//! (which RFC 8216bis 4.4.3.1 requires of every media playlist and no multivariant playlist
//! has) before any parse, and a copy found untrackable (multivariant, VOD, malformed) is
//! remembered by address, so its later hits cost one set look-up, not a scan or a parse.

use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::long_poll;
use super::{FetchRequest, Shard};
use crate::cache::store::Found;
use crate::cache::{StoredObject, Vary};
use crate::http::headers::find;
use crate::live::{MediaPlaylist, Playlist};
use crate::metrics::LiveStats;

/// Every media playlist has this tag; no multivariant playlist does.
const MEDIA_TAG: &[u8] = b"#EXT-X-TARGETDURATION";
/// Stored copies remembered as untrackable per shard; past it the memory starts over (an
/// object forgotten is looked at once more).
const MAX_UNTRACKABLE: usize = 4096;

impl Shard {
    /// A plain request for the untracked playlist `target`: when the cache holds a fresh,
    /// shareable copy of a live media playlist, it becomes the rendition's first version and
    /// the rendition's poll starts. The request itself is answered the ordinary way.
    pub(super) fn track_stored(self: &Rc<Self>, request: &Arc<FetchRequest>, target: &str) {
        let now = self.now();
        let found = self
            .store
            .borrow_mut()
            .get(&request.key, &request.upstream_headers);
        let Found::Object(object) = found else {
            return;
        };
        // Every hit of a multivariant or VOD playlist comes here: it is looked at once.
        let id = Rc::as_ptr(&object) as usize;
        if !object.freshness.is_fresh(now) || self.holds.untrackable.borrow().contains(&id) {
            return;
        }
        let Some((body, playlist)) = self.live_media_playlist(&object) else {
            let mut untrackable = self.holds.untrackable.borrow_mut();
            if untrackable.len() >= MAX_UNTRACKABLE {
                untrackable.clear();
            }
            untrackable.insert(id);
            return;
        };
        let Some(rendition) = self.rendition(request, target, now) else {
            return;
        };
        rendition.last_asked.set(now);
        // It arrived when it was stored, as old as the origin said then: `Age` goes on
        // counting from there.
        let arrival = long_poll::Arrival {
            at: object.freshness.stored_at,
            upstream_age: object.freshness.initial_age.as_secs(),
        };
        let head = Arc::clone(&object.head);
        let installed = long_poll::install(self, &rendition, head, body, playlist, arrival);
        if installed == long_poll::Installed::News {
            LiveStats::incr(&self.my_stats().live.seeded);
            self.start_polling(&rendition);
        }
    }

    /// Whether `request` (a playlist without directives) names a tracked rendition.
    pub(super) fn tracks_playlist(&self, request: &FetchRequest) -> bool {
        let Ok(target) = std::str::from_utf8(request.key.target()) else {
            return false;
        };
        let key = self.rendition_key(request, target);
        self.holds.renditions.borrow().contains_key(&key)
    }

    /// The stored copy's bytes and playlist when it is a live media playlist that may answer
    /// every viewer of its rendition.
    fn live_media_playlist(&self, object: &StoredObject) -> Option<(Bytes, MediaPlaylist)> {
        if !self.seedable(object) {
            return None;
        }
        let body = whole_body(object);
        if !body.windows(MEDIA_TAG.len()).any(|w| w == MEDIA_TAG) {
            return None;
        }
        match Playlist::from_bytes(&body) {
            Ok(Playlist::Media(playlist)) if playlist.is_live() => Some((body, playlist)),
            _ => None,
        }
    }

    /// Whether a stored copy may answer every viewer of the rendition: a `200` in identity
    /// coding, within `max_playlist_size`, varying on nothing but the key fields.
    fn seedable(&self, object: &StoredObject) -> bool {
        let head = &object.head;
        let encoded = find(&head.headers, "content-encoding")
            .is_some_and(|v| !v.eq_ignore_ascii_case(b"identity"));
        head.status == 200
            && !encoded
            && object.body_len <= self.config().live.max_playlist_size
            && self.shares_variants(&head.vary)
    }

    /// Whether one version may answer every viewer of a rendition that varies on `vary`:
    /// only on the key fields (part of the rendition's key) and the encoding (fixed to
    /// identity upstream).
    pub(super) fn shares_variants(&self, vary: &Vary) -> bool {
        match vary {
            Vary::None => true,
            Vary::Star => false,
            Vary::Fields(names) => names.iter().all(|name| {
                name.eq_ignore_ascii_case(b"accept-encoding")
                    || self
                        .config()
                        .forwarding
                        .key
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(name))
            }),
        }
    }
}

/// The stored body as one `Bytes` (a refcount when it is one chunk, as playlists are).
fn whole_body(object: &StoredObject) -> Bytes {
    match &object.body[..] {
        [one] => one.clone(),
        chunks => {
            let mut body = BytesMut::with_capacity(object.body_len as usize);
            chunks.iter().for_each(|c| body.extend_from_slice(c));
            body.freeze()
        }
    }
}
