//! A released playlist answer written by the release itself. A held request whose client is
//! on the rendition's own shard (a plain GET: no conditions, no renewed token) leaves in its
//! slot a writer for its answer (`WriteAtRelease`, made by the connection that holds it), and
//! the long-poll that installs a version satisfying it writes the answer to the client's
//! socket there and then, before waking the request's task, which only does the bookkeeping
//! (and sends what the socket did not take at once). A part instant wakes every held request
//! of every rendition together: this way the answers leave one after another in one task's
//! loop, not each after a wake-up, a turn of the executor and a walk down its task's futures.
//!
//! The writer is the connection's (`server`), the decision and the bytes the shard's; the
//! trait keeps the module graph pointing from the server to the shard.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::cache::{CacheStatus, CachedHead, Fwd, Release};

/// A held request's answer, as the rendition's version gives it.
pub struct Answer<'a> {
    pub head: &'a CachedHead,
    pub body: &'a Bytes,
    pub age_secs: u64,
    pub status: &'a CacheStatus,
    /// The release's buffer for the heads it writes: each is rendered onto its end and
    /// split off, so a release allocates once for many heads, not once per answer (glibc's
    /// malloc functions took ~9% of the answers' stretch of a burst, `PROFILE=1
    /// benches/hold_release.sh` then `release_profile.py --start-ms 0.6 --window-ms 3.5
    /// --leaves`; what it saved: README, sitting 12).
    pub heads: &'a mut BytesMut,
}

/// Room reserved in a release's head buffer per answer it may write.
pub const HEAD_ROOM: usize = 512;

/// What a held request's connection left to have its answer written at its release.
pub trait WriteAtRelease {
    /// Writes `answer` to the client's socket now, never waiting: what went and when; `None`
    /// when the answer is not one it writes this way (its task then writes it).
    fn write_now(self: Box<Self>, answer: Answer<'_>) -> Option<Written>;
}

/// An answer written (perhaps in part) at its release: the head as it went out, the body,
/// how many bytes of the two the socket took, and when.
#[derive(Debug)]
pub struct Written {
    pub head: Bytes,
    pub body: Bytes,
    pub sent: usize,
    pub at: Instant,
}

impl Written {
    /// `sent` bytes of `head` and `body` went, now. An answer the socket did not take whole
    /// waits for a client that reads slowly (or not at all): its head gets its own copy then,
    /// so that it does not keep the release's whole buffer of heads (`Answer::heads`) alive
    /// for as long.
    pub fn new(head: Bytes, body: Bytes, sent: usize) -> Written {
        let head = match sent < head.len() + body.len() {
            true => Bytes::copy_from_slice(&head),
            false => head,
        };
        Written {
            head,
            body,
            sent,
            at: Instant::now(),
        }
    }

    /// What the socket did not take at once: the rest of the head, then of the body.
    pub fn rest(&self) -> [&[u8]; 2] {
        let head = self.sent.min(self.head.len());
        let body = (self.sent - head).min(self.body.len());
        [&self.head[head..], &self.body[body..]]
    }
}

/// The cache status of an answer released by a version that arrived at `arrived`, to a
/// request held for `held`: forwarded, collapsed into the rendition's long-poll.
pub fn released_status(arrived: Instant, held: Duration) -> CacheStatus {
    CacheStatus {
        collapsed: true,
        detail: Some("held"),
        release: Some(Release {
            version_arrived: arrived,
            held,
        }),
        ..CacheStatus::forwarded(Fwd::Miss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(head: &'static [u8], body: &'static [u8], sent: usize) -> Written {
        Written {
            head: Bytes::from_static(head),
            body: Bytes::from_static(body),
            sent,
            at: Instant::now(),
        }
    }

    #[test]
    fn the_rest_starts_where_the_socket_stopped() {
        let all: [&[u8]; 2] = [b"HEAD", b"body"];
        assert_eq!(written(b"HEAD", b"body", 0).rest(), all);
        assert_eq!(written(b"HEAD", b"body", 2).rest(), [&b"AD"[..], b"body"]);
        assert_eq!(written(b"HEAD", b"body", 4).rest(), [&b""[..], b"body"]);
        assert_eq!(written(b"HEAD", b"body", 7).rest(), [&b""[..], b"y"]);
        assert_eq!(written(b"HEAD", b"body", 8).rest(), [&b""[..], b""]);
    }

    #[test]
    fn only_an_answer_left_in_part_copies_its_head_out_of_the_release_buffer() {
        let mut heads = BytesMut::with_capacity(64);
        heads.extend_from_slice(b"HEAD");
        let head = heads.split().freeze();
        let in_buffer = |written: &Written| written.head.as_ptr() == head.as_ptr();
        let whole = Written::new(head.clone(), Bytes::from_static(b"body"), 8);
        assert!(in_buffer(&whole));
        for sent in [0, 3, 4, 7] {
            let part = Written::new(head.clone(), Bytes::from_static(b"body"), sent);
            assert!(!in_buffer(&part), "{sent}");
            assert_eq!(part.head, head);
            assert_eq!(part.sent, sent);
        }
    }

    #[test]
    fn a_released_answer_is_a_collapsed_miss_timed_from_its_version() {
        let arrived = Instant::now();
        let status = released_status(arrived, Duration::from_millis(300));
        assert!(status.collapsed);
        assert_eq!(status.detail, Some("held"));
        assert_eq!(status.fwd, Some(Fwd::Miss));
        let release = status.release.expect("a release");
        assert_eq!(release.version_arrived, arrived);
        assert_eq!(release.held, Duration::from_millis(300));
    }
}
