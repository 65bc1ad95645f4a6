//! One client connection's state, and what every kind of request does with it: its address,
//! the cache key of what it asks for (and of what it says it will ask for next), and throwing
//! away a body that means nothing here. The
//! connection loop (`connection`) and the request kinds it dispatches to (`pass`, `purge`)
//! share it; none of them owns another.

use std::net::IpAddr;
use std::rc::Rc;

use bytes::BytesMut;
use glommio::net::TcpStream;

use super::body::{self, BodyError, BodyReader};
use super::drain::Drain;
use super::pace::Pace;
use crate::cache::CacheKey;
use crate::http::client_address::{self, Scheme};
use crate::http::request::{RequestBody, RequestHead};
use crate::http::Failure;
use crate::live::Cmcd;
use crate::metrics::Guard;
use crate::shard::{next_in_stream, Shard};

pub struct Connection {
    pub shard: Rc<Shard>,
    pub stream: TcpStream,
    pub buf: BytesMut,
    /// How much the first read of the next request head asks for: more once this client's
    /// heads have been larger than a small read (`connection::FIRST_READ`).
    pub head_room: usize,
    pub drain: Rc<Drain>,
    /// The client's address, looked up the first time the access log needs it.
    pub peer: Option<std::net::SocketAddr>,
    /// The connection's `TCP_INFO` figures for CMSD, and when they were read (a syscall:
    /// read again at most once a second).
    pub tcp: Option<(std::time::Instant, crate::http::cmsd::TcpFigures)>,
    /// The last signed-URL grant this connection's requests were verified with.
    pub grant: Option<crate::access::KeptGrant>,
}

impl Connection {
    pub fn cache_key(&self, head: &RequestHead) -> CacheKey {
        let config = self.shard.config();
        let host = head
            .host()
            .map(|h| h.as_ref())
            .unwrap_or(config.origin.authority.as_bytes());
        let path = head.path();
        // A queryless route class: per-session tracking parameters make no other object.
        let target = match config.live.is_queryless_path(path) {
            true => path,
            false => &head.target[..],
        };
        CacheKey::new(host, target, &config.strip_query_params)
    }

    /// Whether `head` asks for a personalised object (`pass_paths`): never stored or shared.
    pub fn is_personal(&self, head: &RequestHead) -> bool {
        self.shard.config().live.is_pass_path(head.path())
    }

    /// What the client says it will ask for next (CMCD `nor`), resolved against `key`, kept
    /// to `key`'s stream (others are another owner's business, and a player may not steer
    /// the edge elsewhere) and to two objects: the owner prefetches them.
    pub fn hinted_objects(&self, cmcd: Option<&Cmcd>, key: &CacheKey) -> Vec<CacheKey> {
        match cmcd {
            Some(cmcd) => next_in_stream(&self.shard.config(), key, &cmcd.next_objects()),
            None => Vec::new(),
        }
    }

    /// The client's address, looked up once per connection.
    pub fn peer(&mut self) -> Option<std::net::SocketAddr> {
        if self.peer.is_none() {
            self.peer = self.stream.peer_addr().ok();
        }
        self.peer
    }

    /// The client behind this request and the scheme it used: the TCP peer and `http`, or
    /// what a trusted proxy says (`trusted_proxies`, `http::client_address`).
    pub fn client_of(&mut self, head: &RequestHead) -> Option<(IpAddr, Scheme)> {
        let peer = self.peer()?.ip();
        let trusted = &self.shard.config().access.trusted_proxies;
        Some(client_address::client_of(peer, &head.headers, trusted))
    }

    /// Reads a body that means nothing here (a GET's, a PURGE's) and throws it away as it
    /// arrives: it must be consumed to find the next request, but is never held. Err: the
    /// client's failure, to answer before closing.
    pub async fn discard_body(&mut self, head: &RequestHead) -> Result<(), Failure> {
        if head.body == RequestBody::None {
            return Ok(());
        }
        let config = self.shard.config();
        let pace = Pace::new(config.client_header_timeout, config.client_min_rate);
        body::admissible(head.body, config.max_request_body).map_err(BodyError::failure)?;
        if body::continue_if_expected(&mut self.stream, head)
            .await
            .is_err()
        {
            return Err(Failure::Malformed);
        }
        let stats = self.shard.my_stats();
        let mut reader = BodyReader::new(
            &mut self.stream,
            &mut self.buf,
            stats,
            head.body,
            config.max_request_body,
            pace,
        )
        .map_err(BodyError::failure)?;
        reader.discard().await.map_err(|e| {
            if e == BodyError::TooSlow {
                stats.guards.fire(Guard::SlowBody);
            }
            e.failure()
        })
    }
}
