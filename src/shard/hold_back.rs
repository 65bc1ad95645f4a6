//! Holding a new playlist version back from plain requests (no `_HLS_msn`) while the media it
//! newly lists is prefetched (`prefetch_wait`, half a target duration at most), so the viewers
//! who see it find that media cached. Blocking reloads get the new version at once.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::prefetch::Started;
use super::rendition::{Rendition, Version};
use super::Shard;

/// A version just installed, and what its viewers without `_HLS_msn` wait for.
pub(super) struct Hold {
    /// The version before it: what they get meanwhile.
    pub previous: Option<Rc<Version>>,
    /// Its prefetches.
    pub started: Started,
    pub target_duration: Duration,
}

/// While the prefetches for the version just installed run, requests without `_HLS_msn` keep
/// getting the version before it (`prefetch_wait`, and half a target duration at most), so
/// the viewers who see the new version find its media cached; it is no older for it than a
/// classic poll's interval makes it anyway. Blocking reloads get the new version at once:
/// their viewers ask for the hinted part while they wait. Holds may overlap (a version per
/// part): the one that ends while a newer runs shows its own version, not the newest.
pub(super) fn hold_back(shard: &Rc<Shard>, rendition: &Rc<Rendition>, hold: Hold) {
    let Hold {
        previous,
        started,
        target_duration,
    } = hold;
    let wait = shard.config().live.prefetch_wait.min(target_duration / 2);
    let Some(previous) = previous.filter(|_| !started.is_empty() && !wait.is_zero()) else {
        return;
    };
    let Some(installed) = rendition.latest.borrow().clone() else {
        return;
    };
    let number = rendition.holds_started.get() + 1;
    rendition.holds_started.set(number);
    // An older hold still running keeps its own version (its media is not ready either).
    if rendition.held_back.borrow().is_none() {
        *rendition.held_back.borrow_mut() = Some(previous);
    }
    let rendition = Rc::clone(rendition);
    let shard = Rc::clone(shard);
    glommio::spawn_local(async move {
        let deadline = Instant::now() + wait;
        for ended in started {
            let left = deadline.saturating_duration_since(Instant::now());
            let ended = async {
                let _ = ended.await;
            };
            futures_lite::future::or(ended, glommio::timer::sleep(left)).await;
        }
        let mut held = rendition.held_back.borrow_mut();
        if rendition.holds_started.get() == number {
            *held = None;
        } else if held
            .as_ref()
            .is_some_and(|shown| shown.received_at < installed.received_at)
        {
            *held = Some(installed);
        }
        drop(held);
        shard.publish_plain(&rendition);
    })
    .detach();
}
