//! Held answers released on one shard for viewers of another (LIVE.md F1 with several
//! shards). A blocking reload held on its rendition's owner for a connection of another shard
//! is answered over the mesh; on the requesting shard that answer used to wait for its wake-up
//! until the shard's run queue drained (glommio takes up another thread's wakes only then, or
//! at its 100 ms preemption), 5-25 ms behind the owner's own viewers (README, two shards on
//! two cores). Here the owner counts each such answer on the requesting shard's doorbell
//! before sending it, and rings it: the bell's task sits in a task queue whose latency
//! matters, so its wake-up interrupts the requesting shard's run at once, and the count
//! shuts that shard's release gate until the answers are taken. The released answers then go
//! ahead of its other work exactly as the owner's own do (`release_gate`). The count and the
//! bell are the shard's `doorbell`; here, what the owner sends and the requesting end.
//!
//! The count is exact but for one race: an answer counted while its viewer hangs up is taken
//! back by the owner, and a task that parked in between waits out the gate's watchdog. A
//! count the watchdog had to let go is counted (`livecache_hls_release_counts_forgiven`).

use std::rc::Rc;
use std::sync::Arc;

use futures_channel::mpsc::Receiver;
use futures_lite::StreamExt;

use super::doorbell::Doorbell;
use super::release_gate::ReleaseGate;
use super::{FetchRequest, Reply, Shard};
use crate::http::Failure;

/// Sends a remote request's `next` reply on its owner: a held answer's head is counted on the
/// requesting shard's `bell` and rung (`None` for a shard that sends no held answers). `send`
/// returns whether the reply went.
pub(super) fn send_counted(
    bell: Option<&Doorbell>,
    next: Reply,
    send: impl FnOnce(Reply) -> bool,
) -> bool {
    let bell = bell.filter(|_| is_released_answer(&next));
    // Counted and rung before it is sent: a bell rung after the send could find the answer
    // taken and the bell re-armed already, and stay rung with nothing to take.
    if let Some(bell) = bell {
        bell.count();
        bell.ring();
    }
    let sent = send(next);
    if let (Some(bell), false) = (bell, sent) {
        bell.uncount();
    }
    sent
}

/// Whether `reply` begins a held answer released by a new playlist version.
fn is_released_answer(reply: &Reply) -> bool {
    matches!(reply, Reply::Head { status, .. } if status.release.is_some())
}

/// The requesting shard's end of a remote request: what its owner sends, each held answer
/// taken off the gate's count once it is all here (its head, body and end; or dropped
/// unread): the gate holds this shard's other work until then, so the body's wake-up, which
/// does not interrupt the shard, is taken up promptly too.
pub struct RemoteReplies {
    /// The requesting shard's release gate.
    gate: Rc<ReleaseGate>,
    rx: Receiver<Reply>,
    /// A released answer's head came and its end not yet.
    answer_open: bool,
}

impl RemoteReplies {
    pub(super) fn new(gate: Rc<ReleaseGate>, rx: Receiver<Reply>) -> RemoteReplies {
        RemoteReplies {
            gate,
            rx,
            answer_open: false,
        }
    }

    /// The owner dropped the channel early only if its task died: a cut.
    pub(super) async fn next(&mut self) -> Reply {
        let reply = self.rx.next().await.unwrap_or(Reply::Aborted);
        self.taken(&reply);
        reply
    }

    /// A reply already queued, if any.
    pub(super) fn ready(&mut self) -> Option<Reply> {
        let reply = self.rx.try_recv().ok()?;
        self.taken(&reply);
        Some(reply)
    }

    fn taken(&mut self, reply: &Reply) {
        if is_released_answer(reply) {
            self.answer_open = true;
        } else if matches!(reply, Reply::Chunk(_)) {
            return;
        }
        // The end of the answer (or anything that is not its body) takes it.
        if !matches!(reply, Reply::Head { .. }) && std::mem::take(&mut self.answer_open) {
            self.gate.released_one();
        }
    }
}

impl Drop for RemoteReplies {
    /// Whatever the owner queued and nobody will read: its held answers count as taken (the
    /// channel is closed first, so nothing is counted after this).
    fn drop(&mut self) {
        self.rx.close();
        loop {
            match self.rx.try_recv() {
                Ok(reply) => self.taken(&reply),
                Err(e) if e.is_closed() => break,
                // A reply the owner has room for and is putting in: it comes in a moment
                // (futures' own `Receiver::drop` waits for it the same way), sooner if the
                // owner's thread shares this core and gets it.
                Err(_) => std::thread::yield_now(),
            }
        }
        if std::mem::take(&mut self.answer_open) {
            self.gate.released_one();
        }
    }
}

/// A request that shared another's request to the owner (`remote_holds`, `remote_flights`)
/// and goes on alone when the answer was not one to share: the first request with the reply
/// it already has and the rest of its stream; any other with a request of its own, or the
/// failure to give when the owner's queue is full.
pub(super) enum OnItsOwn {
    Replies(Option<Reply>, RemoteReplies),
    Failed(Failure),
}

impl OnItsOwn {
    /// `own`, the first request's reply and stream when it has them; else a request of its
    /// own for `request` to `owner`.
    pub(super) fn go(
        shard: &Shard,
        own: Option<(Reply, RemoteReplies)>,
        owner: usize,
        request: &Arc<FetchRequest>,
    ) -> OnItsOwn {
        if let Some((first, replies)) = own {
            return OnItsOwn::Replies(Some(first), replies);
        }
        match shard.ask_owner(owner, Arc::clone(request)) {
            Some(replies) => OnItsOwn::Replies(None, replies),
            None => OnItsOwn::Failed(Failure::Overloaded),
        }
    }

    pub(super) async fn next(&mut self) -> Reply {
        match self {
            OnItsOwn::Replies(first, replies) => match first.take() {
                Some(reply) => reply,
                None => replies.next().await,
            },
            OnItsOwn::Failed(failure) => Reply::Failed(*failure),
        }
    }

    pub(super) fn ready(&mut self) -> Option<Reply> {
        match self {
            OnItsOwn::Replies(first, replies) => first.take().or_else(|| replies.ready()),
            OnItsOwn::Failed(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use futures_channel::mpsc::{channel, Sender};

    use super::super::held_slot::tests::{task, woken};
    use super::super::release_write::released_status;
    use super::*;
    use crate::cache::{CacheStatus, CachedHead};

    fn head(status: CacheStatus) -> Reply {
        Reply::Head {
            head: Arc::new(CachedHead::plain(200, Bytes::new(), vec![], None)),
            age_secs: 0,
            status,
            body_len: Some(0),
            in_hand: true,
            written: None,
            shared: false,
        }
    }

    fn released() -> Reply {
        head(released_status(Instant::now(), Duration::from_millis(3)))
    }

    /// A requesting shard's gate and doorbell (its bell task's waker counted), and a remote
    /// request's channel.
    struct Requesting {
        bell: Arc<Doorbell>,
        gate: Rc<ReleaseGate>,
        rings: Arc<super::super::held_slot::tests::Count>,
        tx: Sender<Reply>,
        replies: RemoteReplies,
    }

    fn requesting() -> Requesting {
        let bell = Arc::new(Doorbell::default());
        let (rings, waker) = task();
        bell.set_waker(waker);
        let gate = Rc::new(ReleaseGate::with_peers(Arc::clone(&bell)));
        let (tx, rx) = channel(8);
        let replies = RemoteReplies::new(Rc::clone(&gate), rx);
        Requesting {
            bell,
            gate,
            rings,
            tx,
            replies,
        }
    }

    impl Requesting {
        /// The owner sends `reply`: whether it went.
        fn send(&mut self, reply: Reply) -> bool {
            let (bell, tx, gate) = (&self.bell, &mut self.tx, &self.gate);
            send_counted(Some(bell), reply, |reply| {
                // Counted before it is sent: the requesting shard can never take it first.
                assert!(gate.is_shut() || !is_released_answer(&reply));
                tx.try_send(reply).is_ok()
            })
        }
    }

    /// A released answer whole: head, body, end.
    fn send_answer(r: &mut Requesting) {
        assert!(r.send(released()));
        assert!(r.send(Reply::Chunk(Bytes::from_static(b"#EXTM3U\n"))));
        assert!(r.send(Reply::End));
    }

    #[test]
    fn a_released_answer_shuts_the_requesting_gate_until_it_is_all_taken() {
        let mut r = requesting();
        assert!(!r.gate.is_shut());
        send_answer(&mut r);
        send_answer(&mut r);
        assert_eq!(r.bell.released(), 2);
        assert!(r.gate.is_shut());
        // Rung once: the shard, once interrupted, comes back for the rest by itself.
        assert_eq!(woken(&r.rings), 1);
        assert!(r.replies.ready().is_some(), "the first head");
        assert!(r.replies.ready().is_some(), "its body");
        assert!(r.gate.is_shut(), "its end is still to come");
        assert!(r.replies.ready().is_some(), "its end");
        assert!(r.gate.is_shut(), "one answer is still to be taken");
        for _ in 0..3 {
            assert!(r.replies.ready().is_some());
        }
        assert!(!r.gate.is_shut());
        // Every answer taken: the next one rings again.
        send_answer(&mut r);
        assert_eq!(woken(&r.rings), 2);
    }

    #[test]
    fn other_replies_are_neither_counted_nor_rung() {
        let mut r = requesting();
        assert!(r.send(head(CacheStatus::hit(10))));
        assert!(r.send(Reply::Chunk(Bytes::from_static(b"#EXTM3U\n"))));
        assert!(r.send(Reply::End));
        assert_eq!((r.bell.released(), woken(&r.rings)), (0, 0));
        for _ in 0..3 {
            assert!(r.replies.ready().is_some());
        }
        assert!(!r.gate.is_shut());
    }

    #[test]
    fn an_answer_whose_viewer_went_is_taken_back_by_its_sender() {
        let mut r = requesting();
        r.tx.close_channel();
        assert!(!r.send(released()));
        assert_eq!(r.bell.released(), 0);
        assert!(!r.gate.is_shut());
    }

    #[test]
    fn answers_nobody_read_are_taken_when_the_requesting_end_goes() {
        let mut r = requesting();
        send_answer(&mut r);
        assert!(r.send(released()));
        assert!(r.replies.ready().is_some(), "a head read, its end not");
        assert!(r.gate.is_shut());
        let Requesting {
            replies,
            mut tx,
            gate,
            bell,
            ..
        } = r;
        drop(replies);
        assert!(!gate.is_shut(), "both counted answers taken");
        // Closed first: what comes after is not sent, so not counted.
        assert!(!send_counted(Some(&bell), released(), |reply| {
            tx.try_send(reply).is_ok()
        }));
        assert!(!gate.is_shut());
    }
}
