//! A rendition's state on its owner shard (LIVE.md F1): its latest upstream playlist version
//! (head, bytes and the parsed playlist, parsed once), the requests held for a later one,
//! whether its long-poll runs, when it was last asked for, and what staleness needs. `holds`
//! decides requests against it; `long_poll` feeds it.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::held_slot;
use bytes::Bytes;

use super::release_write::{WriteAtRelease, Written};
use super::FetchRequest;
use crate::cache::directives::ResponseDirectives;
use crate::cache::{CacheStatus, CachedHead, StreamKey};
use crate::http::headers::Header;
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
    /// When its whole response was in, by the real clock: held requests measure their release
    /// from it.
    pub arrived: std::time::Instant,
    /// Its age when it arrived (the upstream `Age`, corrected).
    pub upstream_age: u64,
    /// Its `_HLS_skip=YES` delta update, made on first demand (`None` inside: the full
    /// playlist is the answer).
    pub delta: OnceCell<Option<(Arc<CachedHead>, Bytes)>>,
    /// The heads for non-blocking requests (of the full playlist and of the delta), made on
    /// first demand.
    pub plain_heads: [OnceCell<Arc<CachedHead>>; 2],
}

/// Which form of a version a request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Form {
    /// The `_HLS_skip=YES` delta update, where the playlist allows one.
    pub delta: bool,
    /// A blocking reload (`_HLS_msn`); otherwise a plain or delta request of the playlist
    /// URL, whose caching lifetime is the short one of a changing playlist.
    pub blocking: bool,
}

impl Version {
    /// Estimated memory: its bytes, its parse and its delta update, three times its size.
    pub fn cost(&self) -> u64 {
        Self::cost_of(&self.body)
    }

    /// What a version of `body` costs (see [`Version::cost`]).
    pub fn cost_of(body: &[u8]) -> u64 {
        3 * body.len() as u64
    }

    /// The head and body a request gets: the delta update when it asked for one and the
    /// playlist allows it (made once per version), else the full playlist; with the head of
    /// a non-blocking answer when it is one.
    pub fn answer(&self, form: Form) -> (Arc<CachedHead>, Bytes) {
        let delta = form
            .delta
            .then(|| self.delta.get_or_init(|| self.make_delta()).as_ref())
            .flatten();
        let (head, body) = match delta {
            Some((head, body)) => (head, body),
            None => (&self.head, &self.body),
        };
        if form.blocking {
            return (Arc::clone(head), body.clone());
        }
        let plain = &self.plain_heads[usize::from(delta.is_some())];
        let plain = plain.get_or_init(|| non_blocking_head(head, &self.playlist));
        (Arc::clone(plain), body.clone())
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

/// The head of a version answering a non-blocking request. A blocking answer is unique to its
/// URL and may be kept long (the origin says how long); the same bytes at the playlist's own
/// URL are outdated by the next part, so they get half a target duration (HLS Appendix B.1),
/// unless the origin forbade keeping them at all.
fn non_blocking_head(head: &Arc<CachedHead>, playlist: &MediaPlaylist) -> Arc<CachedHead> {
    let cc = ResponseDirectives::parse(&head.headers);
    let strict = cc.no_store || cc.no_cache || cc.private;
    if !playlist.is_live() || strict {
        return Arc::clone(head);
    }
    let mut head = (**head).clone();
    head.headers.retain(|h| {
        !h.name.eq_ignore_ascii_case(b"cache-control") && !h.name.eq_ignore_ascii_case(b"expires")
    });
    let lifetime = (playlist.target_duration / 2).as_secs();
    head.headers
        .push(Header::new("Cache-Control", format!("max-age={lifetime}")));
    Arc::new(head)
}

/// What a held request is woken with.
pub enum Held {
    Ready(Rc<Version>),
    /// Answered from the version already, in place (`release_write`), with this status.
    /// Not boxed: the release makes no allocation per answer for it (its task boxes it).
    Written {
        version: Rc<Version>,
        status: CacheStatus,
        written: Written,
    },
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
    pub wake: HeldWake,
}

/// What a held request offers to be answered in place with (`release_write`): the form it
/// asked for, since when it waits, and its connection's writer.
pub struct Offer {
    pub form: Form,
    pub since: Instant,
    pub writer: Box<dyn WriteAtRelease>,
}

/// The rendition's end of a held request's slot.
pub type HeldWake = held_slot::Wake<Held, Offer>;
/// The request's end of its slot.
pub type HeldWaiting = held_slot::Waiting<Held, Offer>;

/// One rendition's state on its owner shard.
pub struct Rendition {
    /// Its stream, for the per-stream figures.
    pub(super) stream: StreamKey,
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
    /// Since when every upstream version has been refused (F9); three target durations of
    /// that and the origin is taken to have restarted.
    pub(super) refused_since: Cell<Option<Instant>>,
    /// When viewers last asked without `_HLS_msn` (classic viewers: they load whole
    /// segments) and with it (low-latency viewers: they load parts), for what to prefetch.
    pub(super) plain_asked: Cell<Option<Instant>>,
    pub(super) blocking_asked: Cell<Option<Instant>>,
    /// While the media the latest version newly lists is prefetched, the version before it:
    /// what requests without `_HLS_msn` get meanwhile, so a viewer who reads a playlist finds
    /// its media ready. Blocking reloads always get the latest.
    pub(super) held_back: RefCell<Option<Rc<Version>>>,
    /// The holds running (`hold_back`); the last one's end lets plain requests see the latest.
    pub(super) holds_running: Cell<u64>,
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

    /// The version a request gets: the latest, unless it is held back from requests without
    /// `_HLS_msn` (`held_back`).
    pub(super) fn version_for(&self, blocking: bool) -> Option<Rc<Version>> {
        let held_back = (!blocking).then(|| self.held_back.borrow().clone());
        held_back.flatten().or_else(|| self.latest.borrow().clone())
    }

    /// Notes a viewer's request of the playlist, with `_HLS_msn` (`blocking`) or without.
    pub(super) fn asked(&self, now: Instant, blocking: bool) {
        self.last_asked.set(now);
        match blocking {
            true => self.blocking_asked.set(Some(now)),
            false => self.plain_asked.set(Some(now)),
        }
    }

    /// Which media its viewers load, by the requests of the last two target durations.
    pub(super) fn wanted_media(&self, now: Instant, target_duration: Duration) -> live::Wanted {
        let recent = |asked: Option<Instant>| {
            asked.is_some_and(|at| {
                now.saturating_duration_since(at) <= target_duration.saturating_mul(2)
            })
        };
        live::Wanted {
            parts: recent(self.blocking_asked.get()),
            segments: recent(self.plain_asked.get()),
        }
    }

    /// What its latest version costs in the shard's state memory.
    pub(super) fn state_cost(&self) -> u64 {
        self.latest.borrow().as_ref().map_or(0, |v| v.cost())
    }

    /// Whether its requests go the ordinary way for now (the last upstream answer could not
    /// become state).
    pub(super) fn is_passing(&self, now: Instant) -> bool {
        self.passing_until.get().is_some_and(|until| now < until)
    }

    pub(super) fn is_idle(&self, now: Instant) -> bool {
        self.waiters.borrow().is_empty()
            && !self.polling.get()
            && now.saturating_duration_since(self.last_asked.get()) > IDLE_RENDITION
    }
}
