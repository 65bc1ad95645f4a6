//! Keep-alive connections to the upstream, one pool per shard (connections never cross
//! shards). Addresses were resolved once at start-up, so connecting never touches a resolver.
//! The pool is LIFO: the most recently used connection is the least likely to have been
//! closed by the origin's idle timer.
//!
//! A connection is pooled only when it is clean: nothing unread waits on it and the peer has
//! not closed it. It is checked again when taken, because an origin may write after the end
//! of its response (a wrong `Content-Length`, a late body after a 204/304/HEAD, a buggy
//! parent); those bytes would otherwise be read as the response to the next request on the
//! connection, for whatever URL that is, and stored for every viewer.

use crate::http::credential::Credential;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use glommio::net::TcpStream;

use super::UpstreamError;
use crate::io::SocketOf;
use crate::metrics::{Guard, ShardStats, Stats};

pub struct Pool {
    addrs: Vec<SocketAddr>,
    connect_timeout: Duration,
    max_idle: usize,
    idle: RefCell<Vec<TcpStream>>,
    /// Where dropped dirty connections are counted: the owning shard's block.
    stats: Arc<Stats>,
    shard: usize,
    /// What every request to this upstream carries to prove it comes from livecache (an
    /// origin's `origin_credential`; parents have none).
    credential: Option<Credential>,
}

impl Pool {
    pub fn new(
        addrs: Vec<SocketAddr>,
        connect_timeout: Duration,
        max_idle: usize,
        stats: Arc<Stats>,
        shard: usize,
    ) -> Pool {
        Pool {
            addrs,
            connect_timeout,
            max_idle,
            idle: RefCell::new(Vec::new()),
            stats,
            shard,
            credential: None,
        }
    }

    /// The same pool, its requests carrying `credential`.
    pub fn with_credential(self, credential: Option<Credential>) -> Pool {
        Pool { credential, ..self }
    }

    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }

    /// An idle connection that is still clean, if one is kept; dirty ones are dropped.
    pub fn take_idle(&self) -> Option<TcpStream> {
        loop {
            let stream = self.idle.borrow_mut().pop()?;
            if self.clean(&stream) {
                return Some(stream);
            }
        }
    }

    /// Keeps a connection whose last response was read to its exact end, if it is clean.
    pub fn put_idle(&self, stream: TcpStream) {
        if !self.clean(&stream) {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        if idle.len() < self.max_idle {
            idle.push(stream);
        }
    }

    /// `is_clean`, counting the connections that are not.
    fn clean(&self, stream: &TcpStream) -> bool {
        let clean = is_clean(stream);
        if !clean {
            self.my_stats().guards.fire(Guard::DirtyUpstream);
        }
        clean
    }

    fn my_stats(&self) -> &ShardStats {
        &self.stats.shards[self.shard]
    }

    /// A new connection, trying each resolved address in turn.
    pub async fn connect(&self) -> Result<TcpStream, UpstreamError> {
        let mut last = UpstreamError::Connect("no origin address".into());
        for addr in &self.addrs {
            match TcpStream::connect_timeout(*addr, self.connect_timeout).await {
                Ok(stream) => {
                    // Latency over throughput: request heads are small and must leave at once.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => {
                    let e: std::io::Error = e.into();
                    last = if e.kind() == std::io::ErrorKind::TimedOut {
                        UpstreamError::ConnectTimeout
                    } else {
                        UpstreamError::Connect(format!("{addr}: {e}"))
                    };
                }
            }
        }
        Err(last)
    }
}

/// Whether an idle connection has nothing to read and is still open: a peek that would block
/// is the only clean answer. Bytes mean the origin wrote past its response; zero means it
/// closed; an error means the connection is broken.
fn is_clean(stream: &TcpStream) -> bool {
    let mut byte = [MaybeUninit::uninit()];
    // MSG_DONTWAIT keeps the peek from blocking the executor.
    let peeked = SocketOf(stream)
        .sock()
        .recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT);
    matches!(peeked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
