//! Memory that follows the live window (LIVE.md F7; issue "Live video II", item 2): when a
//! tracked rendition's new version lets go of media (`live::left_window`), the owner drops it
//! from the store once its availability has passed (a segment's duration plus the
//! playlist's, a part's three target durations: HLS 6.2.2), so a live stream holds about its
//! window however long it runs, and the room goes to what viewers can still ask for. When a
//! rendition loses its viewers (its poll stops), what its playlist lists moves to the
//! eviction end of the store: it goes first when room is needed, unless a viewer asks again.
//!
//! Due drops are kept in time order per shard and done whenever any rendition takes a new
//! version, by the shard's clock. An event or DVR playlist never lets go of a segment, so it
//! keeps its whole window; an ended one takes no new version.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

use super::rendition::Rendition;
use super::Shard;
use crate::cache::CacheKey;
use crate::live::{self, MediaPlaylist};

/// Drops waiting per shard at most; past it media let go of stays for the general policy.
const MAX_LEAVING: usize = 65_536;

/// One shard's media let go of by its playlists, by when it is due to go.
#[derive(Default)]
pub struct LiveWindow {
    leaving: RefCell<BTreeMap<(Instant, u64), CacheKey>>,
    /// Tells apart drops due at the same instant.
    sequence: Cell<u64>,
}

impl Shard {
    /// `rendition` moved on from `previous` to `next`: what `next` let go of is dropped once
    /// its availability has passed, and whatever is due by now goes.
    pub(super) fn follow_window(
        &self,
        rendition: &Rendition,
        previous: &MediaPlaylist,
        next: &MediaPlaylist,
        now: Instant,
    ) {
        let config = self.config();
        if !config.live.live_window_memory {
            return;
        }
        let base = &rendition.upstream.key;
        let mut leaving = self.window.leaving.borrow_mut();
        for (uri, grace) in live::left_window(previous, next) {
            if leaving.len() >= MAX_LEAVING {
                break;
            }
            let strip = &config.strip_query_params;
            if let Some(key) = CacheKey::of_reference(base, uri.as_bytes(), strip) {
                let sequence = self.window.sequence.get();
                self.window.sequence.set(sequence + 1);
                leaving.insert((now + grace, sequence), key);
            }
        }
        drop(leaving);
        self.drop_dead(now);
    }

    /// On the heartbeat: the live layer's bookkeeping that must not wait for a new version
    /// (drops that fell due, prefetches nobody asked for).
    pub fn live_upkeep(&self) {
        let now = self.now();
        self.drop_dead(now);
        self.sweep_prefetches(now);
        self.forget_old_schedules();
    }

    /// Drops the media whose availability has passed by `now`.
    fn drop_dead(&self, now: Instant) {
        let mut leaving = self.window.leaving.borrow_mut();
        let mut store = self.store.borrow_mut();
        let mut dropped = false;
        while let Some(entry) = leaving.first_entry() {
            if entry.key().0 > now {
                break;
            }
            store.remove_dead(&entry.remove());
            dropped = true;
        }
        drop(store);
        if dropped {
            self.publish_store();
        }
    }

    /// Nobody watches `rendition` any more: what its playlist lists goes to the eviction end.
    pub(super) fn let_window_idle(&self, rendition: &Rendition) {
        let config = self.config();
        if !config.live.live_window_memory {
            return;
        }
        let Some(latest) = rendition.latest.borrow().clone() else {
            return;
        };
        let base = &rendition.upstream.key;
        let strip = &config.strip_query_params;
        let mut store = self.store.borrow_mut();
        for uri in live::named_by(&latest.playlist) {
            if let Some(key) = CacheKey::of_reference(base, uri.as_bytes(), strip) {
                store.mark_idle(&key);
            }
        }
    }
}
