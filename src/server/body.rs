//! Request bodies, never buffered whole: a body is handed out piece by piece as it arrives,
//! straight off the connection's read buffer, to be thrown away (GET, HEAD, PURGE) or
//! streamed to the origin (passed methods) with back-pressure. Limits are checked before the
//! bytes they refuse are read: a `Content-Length` or an announced chunk size beyond
//! `max_request_body` is refused at once (413), and a client sending slower than
//! `client_min_rate` after `client_header_timeout` is cut (408), so trickling a body cannot
//! hold a connection and its memory forever.

use std::io;

use bytes::{Bytes, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use super::pace::Pace;
use crate::http::chunked::{ChunkedDecoder, Decoded};
use crate::http::headers::{find, trim_ows};
use crate::http::request::{RequestBody, RequestHead};
use crate::http::Failure;
use crate::http::Version;
use crate::io::read_some;
use crate::metrics::ShardStats;

const READ_SIZE: usize = 16 * 1024;

/// Why a body could not be read whole; the status answers it when a response can still go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Over `max_request_body` (413).
    TooLarge,
    /// Broken chunked framing, or the body ended before its length (400).
    Malformed,
    /// Slower than `client_min_rate`, or silent for `client_idle_timeout` (408).
    TooSlow,
}

impl BodyError {
    /// The client's failure this is, which decides the status answered.
    pub fn failure(self) -> Failure {
        match self {
            BodyError::TooLarge => Failure::BodyTooLarge,
            BodyError::Malformed => Failure::Malformed,
            BodyError::TooSlow => Failure::TooSlow,
        }
    }
}

/// One request's body, read as it arrives from the connection.
pub struct BodyReader<'c> {
    stream: &'c mut TcpStream,
    buf: &'c mut BytesMut,
    stats: &'c ShardStats,
    framing: RequestBody,
    /// `Length` framing: bytes still to come.
    left: u64,
    decoder: ChunkedDecoder,
    received: u64,
    limit: u64,
    pace: Pace,
    done: bool,
}

impl<'c> BodyReader<'c> {
    /// A reader of the body `framing` announces, refusing at once one declared over `limit`.
    /// `buf` holds whatever of the body arrived with the head.
    pub fn new(
        stream: &'c mut TcpStream,
        buf: &'c mut BytesMut,
        stats: &'c ShardStats,
        framing: RequestBody,
        limit: u64,
        pace: Pace,
    ) -> Result<BodyReader<'c>, BodyError> {
        admissible(framing, limit)?;
        let left = match framing {
            RequestBody::Length(n) => n,
            RequestBody::None | RequestBody::Chunked => 0,
        };
        Ok(BodyReader {
            stream,
            buf,
            stats,
            framing,
            left,
            decoder: ChunkedDecoder::new(),
            received: 0,
            limit,
            pace,
            done: framing == RequestBody::None,
        })
    }

    /// The next piece of the body as it arrives; `Ok(None)` at its end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(piece) = self.take_buffered()? {
                return Ok(Some(piece));
            }
            if self.done {
                return Ok(None);
            }
            let read = read_some(self.stream, self.buf, READ_SIZE);
            match self.pace.within(self.pace.moved(), 0, read).await {
                Ok(0) => return Err(BodyError::Malformed),
                Ok(n) => {
                    self.pace.record(std::time::Duration::ZERO, n as u64);
                    ShardStats::add(&self.stats.bytes_received, n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(BodyError::TooSlow),
                Err(_) => return Err(BodyError::Malformed),
            }
        }
    }

    /// Whether the whole body was read: only then does the connection's next byte start the
    /// next request.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Reads the rest of the body and throws it away.
    pub async fn discard(&mut self) -> Result<(), BodyError> {
        while self.next().await?.is_some() {}
        Ok(())
    }

    /// A piece of the body from what is buffered, if any; sets `done` at its end.
    fn take_buffered(&mut self) -> Result<Option<Bytes>, BodyError> {
        match self.framing {
            RequestBody::None => {
                self.done = true;
                Ok(None)
            }
            RequestBody::Length(_) => {
                if self.left == 0 {
                    self.done = true;
                    return Ok(None);
                }
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let n = (self.left as usize).min(self.buf.len());
                self.left -= n as u64;
                Ok(Some(self.buf.split_to(n).freeze()))
            }
            RequestBody::Chunked => match self.decoder.decode(self.buf) {
                Ok(Decoded::Data(piece)) => {
                    self.received += piece.len() as u64;
                    self.check_limit()?;
                    Ok(Some(piece))
                }
                Ok(Decoded::Done) => {
                    self.done = true;
                    Ok(None)
                }
                Ok(Decoded::NeedMore) => {
                    self.check_limit()?;
                    Ok(None)
                }
                Err(_) => Err(BodyError::Malformed),
            },
        }
    }

    /// A chunked body over the limit, counting the chunk announced but not yet here.
    fn check_limit(&self) -> Result<(), BodyError> {
        // Saturating: a size line may announce up to 2^64 - 1 bytes.
        let announced = self
            .received
            .saturating_add(self.decoder.announced_remaining());
        if announced > self.limit {
            return Err(BodyError::TooLarge);
        }
        Ok(())
    }
}

/// Refuses at once a body whose declared length is over `limit` (before any `100 Continue`).
pub fn admissible(framing: RequestBody, limit: u64) -> Result<(), BodyError> {
    match framing {
        RequestBody::Length(n) if n > limit => Err(BodyError::TooLarge),
        _ => Ok(()),
    }
}

/// Answers `Expect: 100-continue` with a `100 Continue` before a body is read (RFC 9110
/// 10.1.1), so a client waiting for it sends at once instead of after its own timeout. The
/// expectation is livecache's to meet: it is never forwarded.
pub async fn continue_if_expected(stream: &mut TcpStream, head: &RequestHead) -> io::Result<()> {
    let expects = find(&head.headers, "expect")
        .is_some_and(|v| trim_ows(v).eq_ignore_ascii_case(b"100-continue"));
    if expects && head.version == Version::Http11 && head.body != RequestBody::None {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    Ok(())
}
