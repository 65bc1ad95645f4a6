//! The upstream side: an HTTP/1.1 client over glommio `TcpStream`s with a keep-alive pool per
//! shard and strict response framing. It knows nothing of caching: the shard decides what to
//! fetch and what to keep. Errors carry the status the client should see: 502 for a refused
//! connection or a malformed response, 504 for a timeout.

mod client;
mod pieces;
mod pool;
pub mod rendezvous;

pub use client::{
    fetch, BodyFraming, BodySource, NoBody, Timeouts, UpstreamRequest, UpstreamResponse,
};
pub use pieces::MAX_CHUNK;
pub use pool::Pool;

use std::fmt;

use crate::http::Failure;
use crate::metrics::OriginErrorKind;

/// Why an upstream exchange failed; the variant decides the status a client sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    Connect(String),
    ConnectTimeout,
    FirstByteTimeout,
    BetweenBytesTimeout,
    /// The response broke HTTP framing rules (or was garbage).
    Protocol(String),
    /// The connection failed or closed early.
    Io(String),
    /// The client's request body failed while it was relayed (the client's fault: its
    /// reader knows the status to answer).
    ClientBody,
}

impl UpstreamError {
    /// How `livecache_origin_errors_total` labels it. A client's broken body is the client's
    /// failure and is not counted as the origin's; `io` if it ever were.
    pub fn kind(&self) -> OriginErrorKind {
        match self {
            UpstreamError::Connect(_) => OriginErrorKind::Connect,
            UpstreamError::ConnectTimeout
            | UpstreamError::FirstByteTimeout
            | UpstreamError::BetweenBytesTimeout => OriginErrorKind::Timeout,
            UpstreamError::Protocol(_) => OriginErrorKind::Protocol,
            UpstreamError::Io(_) | UpstreamError::ClientBody => OriginErrorKind::Io,
        }
    }

    /// Failed before any response byte (nothing connected, or nothing answered in time): an
    /// idempotent request may go to another upstream instead.
    pub fn before_response(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect(_)
                | UpstreamError::ConnectTimeout
                | UpstreamError::FirstByteTimeout
        )
    }

    /// The failure this is for a client whose response it ends before any head was sent.
    pub fn failure(&self) -> Failure {
        match self {
            UpstreamError::Connect(_) => Failure::Unreachable,
            UpstreamError::ConnectTimeout
            | UpstreamError::FirstByteTimeout
            | UpstreamError::BetweenBytesTimeout => Failure::UpstreamTimeout,
            UpstreamError::Protocol(_) | UpstreamError::Io(_) => Failure::UpstreamBroken,
            // Never answered as the upstream's: the client's body reader knows what it was.
            UpstreamError::ClientBody => Failure::Malformed,
        }
    }

    /// The status to answer with when this happens before any response head was sent.
    pub fn status(&self) -> u16 {
        self.failure().status()
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Connect(e) => write!(f, "cannot connect to the origin: {e}"),
            UpstreamError::ConnectTimeout => write!(f, "origin connect timed out"),
            UpstreamError::FirstByteTimeout => write!(f, "origin sent no response head in time"),
            UpstreamError::BetweenBytesTimeout => write!(f, "origin stalled mid-body"),
            UpstreamError::Protocol(e) => write!(f, "origin broke HTTP framing: {e}"),
            UpstreamError::Io(e) => write!(f, "origin connection failed: {e}"),
            UpstreamError::ClientBody => write!(f, "the client's request body failed"),
        }
    }
}
