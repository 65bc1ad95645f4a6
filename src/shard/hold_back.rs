//! Holding a new playlist version back from plain requests (no `_HLS_msn`) while the media it
//! newly lists is prefetched (`prefetch_wait`, half a target duration at most), so the viewers
//! who see it find that media cached. Blocking reloads get the new version at once.
//!
//! A hold begins as the version is installed (`begin`), before its held answers go out, and
//! is settled once the prefetches are started (`Begun::settle`): the answers are not kept
//! waiting for the prefetch's work, and no plain request sees the version in between.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::prefetch::Started;
use super::rendition::{Rendition, Version};
use super::Shard;

/// A hold begun for the version just installed: plain requests get `previous` meanwhile.
pub(super) struct Begun {
    installed: Rc<Version>,
    wait: Duration,
}

/// While the prefetches for the version just installed run, requests without `_HLS_msn` keep
/// getting the version before it (`prefetch_wait`, and half a target duration at most), so
/// the viewers who see the new version find its media cached; it is no older for it than a
/// classic poll's interval makes it anyway. Blocking reloads get the new version at once:
/// their viewers ask for the hinted part while they wait. Holds may overlap (a version per
/// part): one that ends while others run shows its own version (if newer than the one shown),
/// not the newest; the last to end lets plain requests see the latest.
///
/// `None` when nothing is held: prefetching off, no wait, or no version before it.
pub(super) fn begin(
    shard: &Shard,
    rendition: &Rendition,
    previous: Option<Rc<Version>>,
    target_duration: Duration,
) -> Option<Begun> {
    let config = shard.config();
    let wait = config.live.prefetch_wait.min(target_duration / 2);
    if !config.live.prefetch || wait.is_zero() {
        return None;
    }
    let previous = previous?;
    let installed = rendition.latest.borrow().clone()?;
    rendition
        .holds_running
        .set(rendition.holds_running.get() + 1);
    // An older hold still running keeps its own version (its media is not ready either).
    if rendition.held_back.borrow().is_none() {
        *rendition.held_back.borrow_mut() = Some(previous);
    }
    Some(Begun { installed, wait })
}

impl Begun {
    /// Holds on until `started` (the prefetches of the new version's media) ended, or the wait
    /// is over. A hold with nothing to prefetch ends at once and protects nothing: older holds
    /// still running keep the version they show.
    pub(super) fn settle(self, shard: &Rc<Shard>, rendition: &Rc<Rendition>, started: Started) {
        if started.is_empty() {
            self.end(shard, rendition, false);
            return;
        }
        let rendition = Rc::clone(rendition);
        let shard = Rc::clone(shard);
        glommio::spawn_local(async move {
            let deadline = Instant::now() + self.wait;
            for ended in started {
                let left = deadline.saturating_duration_since(Instant::now());
                let ended = async {
                    let _ = ended.await;
                };
                futures_lite::future::or(ended, glommio::timer::sleep(left)).await;
            }
            self.end(&shard, &rendition, true);
        })
        .detach();
    }

    /// The last hold to end lets plain requests see the latest version; one that ends while
    /// others run shows its own version when `cached` (its media is) and that is newer.
    fn end(self, shard: &Shard, rendition: &Rendition, cached: bool) {
        let running = rendition.holds_running.get().saturating_sub(1);
        rendition.holds_running.set(running);
        let mut held = rendition.held_back.borrow_mut();
        if running == 0 {
            *held = None;
        } else if cached
            && held
                .as_ref()
                .is_some_and(|shown| shown.received_at < self.installed.received_at)
        {
            *held = Some(self.installed);
        }
        drop(held);
        shard.publish_plain(rendition);
    }
}
