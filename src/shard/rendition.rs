//! A rendition's state on its owner shard (LIVE.md F1): its latest upstream playlist version
//! (head, bytes and the parsed playlist, parsed once), the requests held for a later one,
//! whether its long-poll runs, when it was last asked for, and what staleness needs. `holds`
//! decides requests against it; `long_poll` feeds it.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::oneshot;

use super::FetchRequest;
use crate::cache::CachedHead;
use crate::live::{self, MediaPlaylist};

/// A rendition nobody asked for this long is forgotten when room is needed.
const IDLE_RENDITION: Duration = Duration::from_secs(60);

/// One upstream playlist version: what every request it satisfies is answered with.
#[derive(Debug)]
pub struct Version {
    pub head: Arc<CachedHead>,
    pub body: Bytes,
    pub playlist: MediaPlaylist,
    /// When it arrived, by the shard's clock.
    pub received_at: Instant,
    /// Its age when it arrived (the upstream `Age`, corrected).
    pub upstream_age: u64,
    /// Its `_HLS_skip=YES` delta update, made on first demand (`None` inside: the full
    /// playlist is the answer).
    pub delta: OnceCell<Option<(Arc<CachedHead>, Bytes)>>,
}

impl Version {
    /// Estimated memory: its bytes, its parse and its delta update, three times its size.
    pub fn cost(&self) -> u64 {
        3 * self.body.len() as u64
    }

    /// The head and body a request gets: the delta update when it asked for one and the
    /// playlist allows it (made once per version), else the full playlist.
    pub fn answer(&self, delta: bool) -> (Arc<CachedHead>, Bytes) {
        let made = delta
            .then(|| self.delta.get_or_init(|| self.make_delta()).as_ref())
            .flatten();
        match made {
            Some((head, body)) => (Arc::clone(head), body.clone()),
            None => (Arc::clone(&self.head), self.body.clone()),
        }
    }

    fn make_delta(&self) -> Option<(Arc<CachedHead>, Bytes)> {
        let text = std::str::from_utf8(&self.body).ok()?;
        let delta = Bytes::from(live::delta_update(text, &self.playlist)?);
        // Validators name the full playlist; the delta is another representation.
        let mut head = (*self.head).clone();
        head.headers.retain(|h| {
            !h.name.eq_ignore_ascii_case(b"etag")
                && !h.name.eq_ignore_ascii_case(b"last-modified")
                && !h.name.eq_ignore_ascii_case(b"content-md5")
        });
        head.content_length = Some(delta.len() as u64);
        Some((Arc::new(head), delta))
    }

    /// `Age` for a response sent `now`: time since it arrived plus its age then.
    pub fn age_secs(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.received_at)
            .as_secs()
            .saturating_add(self.upstream_age)
    }
}

/// What a held request is woken with.
pub enum Held {
    Ready(Rc<Version>),
    Expired,
    TooFar,
    /// No usable state: serve the request the ordinary way.
    Pass,
}

/// A held request: what it asked for, since when, and how to wake it. `msn` `None`: any
/// version newer than the request (a non-blocking delta request on old state).
pub struct Waiter {
    pub msn: Option<u64>,
    pub part: Option<u64>,
    pub since: Instant,
    pub wake: oneshot::Sender<Held>,
}

/// One rendition's state on its owner shard.
pub struct Rendition {
    /// The upstream request without directives: its key and the fields sent.
    pub(super) upstream: Arc<FetchRequest>,
    pub(super) latest: RefCell<Option<Rc<Version>>>,
    pub(super) waiters: RefCell<Vec<Waiter>>,
    pub(super) polling: Cell<bool>,
    pub(super) last_asked: Cell<Instant>,
    /// Until then requests go the ordinary way (the upstream answer was unusable).
    pub(super) passing_until: Cell<Option<Instant>>,
    /// When the newest segment and the newest part were first seen (staleness, F9).
    pub(super) segment_seen: Cell<Instant>,
    pub(super) part_seen: Cell<Instant>,
    pub(super) stale: Cell<bool>,
}

impl Rendition {
    /// Whether the long-poll should go on: someone waits, or asked within two target
    /// durations (so the next request is answered at once).
    pub(super) fn wanted(&self, now: Instant) -> bool {
        if !self.waiters.borrow().is_empty() {
            return true;
        }
        let Some(latest) = self.latest.borrow().clone() else {
            return false;
        };
        let recent = latest.playlist.target_duration.saturating_mul(2);
        latest.playlist.is_live() && now.saturating_duration_since(self.last_asked.get()) <= recent
    }

    /// What its latest version costs in the shard's state memory.
    pub(super) fn state_cost(&self) -> u64 {
        self.latest.borrow().as_ref().map_or(0, |v| v.cost())
    }

    pub(super) fn is_idle(&self, now: Instant) -> bool {
        self.waiters.borrow().is_empty()
            && !self.polling.get()
            && now.saturating_duration_since(self.last_asked.get()) > IDLE_RENDITION
    }
}
