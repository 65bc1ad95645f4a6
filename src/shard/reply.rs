//! What a request receives from the shard that owns its object, wherever it runs: a `Reply`
//! sequence (head, chunks, end) that is `Send`, so the same values travel over the mesh to
//! another shard or are consumed in place. `OwnerStream` produces that sequence on the owner
//! from a stored object or an in-flight fetch, and turns "not shareable" into a private fetch
//! transparently, so the connection side never sees coalescing details. A blocking playlist
//! reload is answered from its rendition's latest version, or waits for one (`holds`); a
//! live DASH segment asked for just before it appears waits for it (`dash`).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::holds::Blocking;
use super::release_write::{released_status, WriteAtRelease, Written};
use super::rendition::{Form, Held, HeldWaiting, Offer, Version};
use super::{FetchRequest, Lookup, Shard};
use crate::cache::{CacheStatus, CachedHead, Event, Fwd, Reader, StoredObject, StreamKey};
use crate::http::Failure;

/// One step of a response, `Send` so it can cross shards.
#[derive(Debug)]
pub enum Reply {
    /// An informational (1xx) head from upstream, before the final one.
    Interim(Arc<CachedHead>),
    Head {
        head: Arc<CachedHead>,
        age_secs: u64,
        status: CacheStatus,
        /// The body's length when known: always for a stored object, for a fetch when the
        /// origin declared it.
        body_len: Option<u64>,
        /// The whole body is in hand (a stored object, a playlist version): it goes out with
        /// the head in one write. A fetch's head instead goes out alone, as soon as released
        /// playlist answers have had their turn.
        in_hand: bool,
        /// Written already, at its release (`release_write`): only the rest is left to send.
        written: Option<Box<Written>>,
        /// The head any identical request gets here: not one with fields withheld from other
        /// requests, nor a response one client gets alone. Another shard may hand it, with the
        /// body, to its own identical requests (`remote_flights`).
        shared: bool,
    },
    Chunk(Bytes),
    /// Sent to another shard before anything else when its request is held until its live
    /// DASH segment is available (`dash_hold_early`): the requests there that share it
    /// (`remote_flights`) are held as long, and counted so. A connection skips it.
    HeldEarly,
    End,
    /// Upstream failed mid-body: cut the response.
    Aborted,
    /// No response head could be had: answer with this failure.
    Failed(Failure),
}

enum Source {
    Stored {
        object: Rc<StoredObject>,
        status: CacheStatus,
        next: usize,
    },
    Flight {
        reader: Reader,
        /// Why it went upstream and whether it collapsed; the rest comes with the head.
        status: CacheStatus,
    },
    Refused(Failure),
    /// A live DASH segment asked for a little before it appears: looked up at that time
    /// (`dash`).
    Early {
        until: Instant,
    },
    /// A blocking playlist reload waiting for a later version (`holds`), to be answered in
    /// `form`.
    Held {
        waiting: HeldWaiting,
        form: Form,
        since: Instant,
    },
    /// A rendition's playlist version (or its delta update): head, its one chunk, end.
    Version {
        version: Rc<Version>,
        /// The head and body this request gets of it (see `Version::answer`).
        head: Arc<CachedHead>,
        body: Bytes,
        status: CacheStatus,
        next: usize,
        written: Option<Box<Written>>,
    },
}

impl Source {
    /// `written`: the answer went out at its release already (`release_write`).
    fn version(
        version: Rc<Version>,
        form: Form,
        status: CacheStatus,
        written: Option<Box<Written>>,
    ) -> Source {
        let (head, body) = version.answer(form);
        Source::Version {
            version,
            head,
            body,
            status,
            next: 0,
            written,
        }
    }
}

/// The owner-side producer of one request's replies.
pub struct OwnerStream {
    shard: Rc<Shard>,
    request: Arc<FetchRequest>,
    source: Source,
    /// Already moved to its own variant's fetch once.
    vary_retried: bool,
}

impl OwnerStream {
    /// Held until its live DASH segment is available, and not answered yet.
    pub(super) fn is_held_early(&self) -> bool {
        matches!(self.source, Source::Early { .. })
    }
}

impl Drop for OwnerStream {
    /// A held request woken with a version but dropped before its turn (its client went, a
    /// remote viewer's forward stopped) takes its release back: the gate's count stays exact.
    fn drop(&mut self) {
        if let Source::Held { waiting, .. } = &mut self.source {
            if let Some(Held::Ready(_)) = waiting.try_take() {
                self.shard.released_one();
            }
        }
    }
}

impl OwnerStream {
    /// Looks the request up on its owner shard (which must be the current one).
    pub fn open(shard: &Rc<Shard>, request: Arc<FetchRequest>) -> OwnerStream {
        shard.note_request_heat(&request.key);
        // Live state is built from and shared by everyone's requests: one client's credentials
        // neither hold nor steer it, they only read what is stored (RFC 9111 3.5).
        let blocking = match request.authorized {
            true => Blocking::Ordinary,
            false => shard.blocking_reload(&request),
        };
        let source = match blocking {
            Blocking::Ordinary if let Some(until) = shard.dash_hold_until(&request.key) => {
                Source::Early { until }
            }
            Blocking::Ordinary => {
                let lookup = shard.lookup(&request);
                if let Lookup::Hit { object, .. } = &lookup {
                    shard.replicate_object(&request.key, object);
                }
                Self::source(lookup)
            }
            Blocking::Refuse(failure) => Source::Refused(failure),
            Blocking::Answer { version, form } => {
                let status = CacheStatus {
                    ttl: None,
                    detail: Some("live-state"),
                    ..CacheStatus::hit(0)
                };
                Source::version(version, form, status, None)
            }
            Blocking::Wait { waiting, form } => Source::Held {
                waiting,
                form,
                since: Instant::now(),
            },
        };
        shard.prefetch_hinted(&request);
        OwnerStream {
            shard: Rc::clone(shard),
            request,
            source,
            vary_retried: false,
        }
    }

    /// A held request's connection offers to have its answer written at its release
    /// (`release_write`); `make` is called only for a request held here.
    pub fn offer_write_at_release(&mut self, make: impl FnOnce() -> Box<dyn WriteAtRelease>) {
        if let Source::Held {
            waiting,
            form,
            since,
        } = &mut self.source
        {
            waiting.offer(Offer {
                form: *form,
                since: *since,
                writer: make(),
            });
        }
    }

    fn source(lookup: Lookup) -> Source {
        match lookup {
            Lookup::Hit { object, status } | Lookup::Incomplete { object, status } => {
                Source::Stored {
                    object,
                    status,
                    next: 0,
                }
            }
            Lookup::Follow { reader, status } => Source::Flight { reader, status },
            Lookup::Refuse(failure) => Source::Refused(failure),
        }
    }

    /// A fetch's next chunk, or its end, when it is here already and no playlist answer is
    /// waiting to go first, released or about to be (`next` waits for those at the release
    /// gate); `None` otherwise.
    pub fn ready(&mut self) -> Option<Reply> {
        let Source::Flight { reader, .. } = &mut self.source else {
            return None;
        };
        if self.shard.releases_pending() {
            return None;
        }
        match reader.ready_body()? {
            Event::Chunk(chunk) => Some(Reply::Chunk(chunk)),
            Event::End => Some(Reply::End),
            _ => None,
        }
    }

    /// The next reply. Not cancel-safe: a head or chunk taken from the fetch is returned after
    /// waiting for released playlist answers, so the future must be awaited to the end.
    pub async fn next(&mut self) -> Reply {
        loop {
            match &mut self.source {
                Source::Refused(failure) => return Reply::Failed(*failure),
                Source::Early { until } => {
                    self.shard.wait_until(*until).await;
                    let lookup = self.shard.lookup(&self.request);
                    self.source = Self::source(lookup);
                }
                Source::Stored {
                    object,
                    status,
                    next,
                } => {
                    let index = *next;
                    *next += 1;
                    return if index == 0 {
                        Reply::Head {
                            head: Arc::clone(&object.head),
                            age_secs: object.freshness.age(self.shard.now()).as_secs(),
                            status: *status,
                            body_len: Some(object.body_len),
                            in_hand: true,
                            written: None,
                            shared: true,
                        }
                    } else {
                        match object.body.get(index - 1) {
                            Some(chunk) => Reply::Chunk(chunk.clone()),
                            None => Reply::End,
                        }
                    };
                }
                Source::Held {
                    waiting,
                    form,
                    since,
                } => {
                    let form = *form;
                    let woken = waiting.await;
                    let held = since.elapsed();
                    match &woken {
                        // Its figures are recorded once it is written (`Meter`).
                        Ok(Held::Ready(_)) => self.shard.released_one(),
                        Ok(Held::Written { .. }) => {}
                        _ => {
                            let stream =
                                StreamKey::of(&self.request.key, self.shard.config().stream_key);
                            let mut latency = self.shard.latency.borrow_mut();
                            latency.record_hold(Some(stream.as_bytes()), held);
                        }
                    }
                    self.source = match woken {
                        Ok(Held::Ready(version)) => {
                            let status = released_status(version.arrived, held);
                            Source::version(version, form, status, None)
                        }
                        Ok(Held::Written {
                            version,
                            status,
                            written,
                        }) => Source::version(version, form, status, Some(Box::new(written))),
                        Ok(Held::Expired) => Source::Refused(Failure::HoldExpired),
                        Ok(Held::TooFar) => Source::Refused(Failure::TooFarAhead),
                        // No usable state (or the rendition was dropped): the ordinary way.
                        Ok(Held::Pass) | Err(_) => Self::source(self.shard.lookup(&self.request)),
                    };
                }
                Source::Version {
                    version,
                    head,
                    body,
                    status,
                    next,
                    written,
                } => {
                    let index = *next;
                    *next += 1;
                    return match index {
                        0 => Reply::Head {
                            head: Arc::clone(head),
                            age_secs: version.age_secs(self.shard.now()),
                            status: *status,
                            body_len: Some(body.len() as u64),
                            in_hand: true,
                            written: written.take(),
                            shared: false,
                        },
                        1 if !body.is_empty() => Reply::Chunk(body.clone()),
                        _ => Reply::End,
                    };
                }
                Source::Flight { reader, status } => match reader.next().await {
                    Event::Head(head) => {
                        if head.variant != head.vary.secondary_key(&self.request.upstream_headers) {
                            // The response varies on fields this request differs in: its own
                            // variant's fetch, once; an origin whose Vary keeps changing
                            // gets a fetch for this request alone.
                            self.source = if self.vary_retried {
                                let status = CacheStatus::forwarded(Fwd::VaryMiss);
                                let reader = self.shard.fetch_private(&self.request);
                                Source::Flight { reader, status }
                            } else {
                                Self::source(self.shard.lookup_variant(&self.request, &head.vary))
                            };
                            self.vary_retried = true;
                            continue;
                        }
                        // A fetch's head goes out alone, at once, to every follower: playlist
                        // answers just released (or about to be) go first.
                        self.shard.let_releases_pass().await;
                        let arrival = head.arrival;
                        let status = CacheStatus {
                            // Only what is stored already, not what will be (RFC 9211 2.7).
                            stored: reader.is_stored(),
                            ttl: arrival.stored_ttl.or(arrival.served_ttl),
                            fwd_status: arrival.fwd_status,
                            detail: arrival.detail,
                            ..*status
                        };
                        return Reply::Head {
                            body_len: head.content_length,
                            age_secs: arrival.initial_age_secs,
                            head,
                            status,
                            in_hand: false,
                            written: None,
                            shared: reader.head_is_shared(),
                        };
                    }
                    Event::Interim(head) => return Reply::Interim(head),
                    Event::Chunk(chunk) => {
                        // Playlist answers just released go first: a player waits on them
                        // to ask for anything else.
                        self.shard.let_releases_pass().await;
                        return Reply::Chunk(chunk);
                    }
                    Event::End => return Reply::End,
                    Event::Aborted => return Reply::Aborted,
                    Event::Failed(failure) => return Reply::Failed(failure),
                    Event::NotShared => {
                        let status = CacheStatus {
                            detail: Some("not-shareable"),
                            ..CacheStatus::forwarded(Fwd::Miss)
                        };
                        let reader = self.shard.fetch_private(&self.request);
                        self.source = Source::Flight { reader, status };
                    }
                },
            }
        }
    }
}
