//! Keep-alive connections to the upstream, one pool per shard (connections never cross
//! shards). Addresses were resolved once at start-up, so connecting never touches a resolver.
//! The pool is LIFO: the most recently used connection is the least likely to have been
//! closed by the origin's idle timer.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Duration;

use glommio::net::TcpStream;

use super::UpstreamError;

pub struct Pool {
    addrs: Vec<SocketAddr>,
    connect_timeout: Duration,
    max_idle: usize,
    idle: RefCell<Vec<TcpStream>>,
}

impl Pool {
    pub fn new(addrs: Vec<SocketAddr>, connect_timeout: Duration, max_idle: usize) -> Pool {
        Pool {
            addrs,
            connect_timeout,
            max_idle,
            idle: RefCell::new(Vec::new()),
        }
    }

    /// An idle connection, if one is kept.
    pub fn take_idle(&self) -> Option<TcpStream> {
        self.idle.borrow_mut().pop()
    }

    /// Keeps a connection whose last response was read completely.
    pub fn put_idle(&self, stream: TcpStream) {
        let mut idle = self.idle.borrow_mut();
        if idle.len() < self.max_idle {
            idle.push(stream);
        }
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
