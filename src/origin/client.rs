//! One HTTP/1.1 exchange with the upstream: write the request head, stream its body from its
//! source with back-pressure (never buffered whole), read the response head with strict
//! framing, then hand out body chunks as they are read (a chunked body's pieces: `pieces`).
//! A connection goes back to the pool only after a response was read to its exact end. A
//! bodiless request that fails on a reused keep-alive connection before any response byte
//! arrived is retried once on a new one (the origin may have closed it while idle), but only
//! when the method is idempotent: a body already streamed cannot be sent again.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use super::pieces::{JoinedChunks, MAX_CHUNK};
use super::{Pool, UpstreamError};
use crate::http::chunked::{write_chunk_size_line, Decoded, LAST_CHUNK};
use crate::http::credential::Credential;
use crate::http::encode;
use crate::http::headers::Header;
use crate::http::response::{parse_response, ResponseBody, ResponseHead};
use crate::io::read_some;

const READ_SIZE: usize = MAX_CHUNK;
/// Upstream response heads are bounded like client heads.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const MAX_RESPONSE_HEADERS: usize = 128;
/// 1xx heads tolerated before the final one.
const MAX_INTERIM_RESPONSES: usize = 8;

/// A request to send upstream. Built by the caller with hop-by-hop fields already removed.
#[derive(Clone, Debug)]
pub struct UpstreamRequest {
    pub method: Bytes,
    pub target: Bytes,
    pub headers: Vec<Header>,
    /// How the body (from the `BodySource` given to `fetch`) is framed upstream.
    pub body: BodyFraming,
    /// GET, HEAD, PUT, DELETE, OPTIONS: safe to send again on a fresh connection.
    pub idempotent: bool,
    pub is_head: bool,
}

/// How a request body is delimited upstream: as the client delimited it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// Where a request's body comes from while it is sent: the client's connection, read as
/// the origin takes it. Thread-per-core: the futures never cross threads, so `Send` is moot.
#[allow(async_fn_in_trait)]
pub trait BodySource {
    /// The next piece; `Ok(None)` at the end. `Err`: the client side failed; the exchange is
    /// abandoned, and the source knows why.
    async fn next(&mut self) -> Result<Option<Bytes>, ()>;
}

/// The source of a bodiless request.
pub struct NoBody;

impl BodySource for NoBody {
    async fn next(&mut self) -> Result<Option<Bytes>, ()> {
        Ok(None)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

/// A response whose head has arrived; the body is read with `next_chunk`.
pub struct UpstreamResponse {
    pub head: ResponseHead,
    pub framing: ResponseBody,
    keep_alive: bool,
    stream: Option<TcpStream>,
    pool: Rc<Pool>,
    buf: BytesMut,
    remaining: u64,
    chunked: JoinedChunks,
    done: bool,
}

/// Sends `request`, its body read from `body`, and waits for the final response head. Each
/// informational (1xx) head that arrives first is handed to `interim` as it arrives, for
/// forwarding.
pub async fn fetch(
    pool: &Rc<Pool>,
    request: &UpstreamRequest,
    body: &mut impl BodySource,
    timeouts: Timeouts,
    interim: &mut dyn FnMut(&ResponseHead),
) -> Result<UpstreamResponse, UpstreamError> {
    let wire = encode_head(request, pool.credential());
    // A POST or PATCH never rides a reused connection: the origin may have closed it while
    // idle, and the request could not be sent again.
    let reusable = if request.idempotent {
        pool.take_idle()
    } else {
        None
    };
    let replayable = request.idempotent && request.body == BodyFraming::None;
    if let Some(stream) = reusable {
        match exchange(pool, stream, &wire, request, body, timeouts, interim).await {
            Ok(response) => return Ok(response),
            Err(Attempt::BeforeResponse(_)) if replayable => {}
            Err(Attempt::BeforeResponse(e) | Attempt::During(e)) => return Err(e),
        }
    }
    let stream = pool.connect().await?;
    match exchange(pool, stream, &wire, request, body, timeouts, interim).await {
        Ok(response) => Ok(response),
        Err(Attempt::BeforeResponse(e) | Attempt::During(e)) => Err(e),
    }
}

/// Whether a failure happened before any byte of the response (so a retry is safe).
enum Attempt {
    BeforeResponse(UpstreamError),
    During(UpstreamError),
}

fn encode_head(request: &UpstreamRequest, credential: Option<&Credential>) -> BytesMut {
    let mut wire = BytesMut::with_capacity(512);
    let target = match credential {
        Some(credential) => credential.target(&request.target),
        None => std::borrow::Cow::Borrowed(&request.target[..]),
    };
    encode::request_line(&mut wire, &request.method, &target);
    let ours = credential.and_then(Credential::field);
    for h in &request.headers {
        // A client's field of the credential's name never travels beside livecache's own.
        if ours.is_some_and(|(name, _)| h.name.eq_ignore_ascii_case(name)) {
            continue;
        }
        encode::header(&mut wire, &h.name, &h.value);
    }
    if let Some((name, value)) = ours {
        encode::header(&mut wire, name, value);
    }
    match request.body {
        // Every request but a bodiless GET or HEAD declares its length, even when it is zero.
        BodyFraming::None if matches!(&request.method[..], b"GET" | b"HEAD") => {}
        BodyFraming::None => encode::content_length(&mut wire, 0),
        BodyFraming::Length(n) => encode::content_length(&mut wire, n),
        BodyFraming::Chunked => encode::header(&mut wire, b"Transfer-Encoding", b"chunked"),
    }
    encode::end_head(&mut wire);
    wire
}

/// Writes the body from `body` as `framing` says, each piece as it arrives.
async fn send_body(
    stream: &mut TcpStream,
    framing: BodyFraming,
    body: &mut impl BodySource,
) -> Result<(), UpstreamError> {
    let io_error = |e: io::Error| UpstreamError::Io(e.to_string());
    let mut sent = 0u64;
    while let Some(piece) = body.next().await.map_err(|()| UpstreamError::ClientBody)? {
        sent += piece.len() as u64;
        if framing == BodyFraming::Chunked {
            // One write per piece (pieces are at most a client read, 16 KiB).
            let mut framed = BytesMut::with_capacity(piece.len() + 24);
            write_chunk_size_line(&mut framed, piece.len());
            framed.extend_from_slice(&piece);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await.map_err(io_error)?;
        } else {
            stream.write_all(&piece).await.map_err(io_error)?;
        }
    }
    match framing {
        BodyFraming::Chunked => stream.write_all(LAST_CHUNK).await.map_err(io_error),
        BodyFraming::Length(n) if n != sent => Err(UpstreamError::ClientBody),
        _ => Ok(()),
    }
}

async fn exchange(
    pool: &Rc<Pool>,
    mut stream: TcpStream,
    wire: &[u8],
    request: &UpstreamRequest,
    body: &mut impl BodySource,
    timeouts: Timeouts,
    on_interim: &mut dyn FnMut(&ResponseHead),
) -> Result<UpstreamResponse, Attempt> {
    let io_error = |e: io::Error| UpstreamError::Io(e.to_string());
    let is_head = request.is_head;
    // An origin that stops reading must not hold this task (and a client's body) forever.
    let _ = stream.set_write_timeout(Some(timeouts.first_byte));
    stream
        .write_all(wire)
        .await
        .map_err(|e| Attempt::BeforeResponse(io_error(e)))?;
    if request.body != BodyFraming::None {
        send_body(&mut stream, request.body, body)
            .await
            .map_err(Attempt::During)?;
    }
    // The origin answers once the body is in, however long the client took to send it.
    let deadline = Instant::now() + timeouts.first_byte;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut any_byte = false;
    let mut interim = 0;
    loop {
        match parse_response(&mut buf, MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS, is_head) {
            Ok(Some(parsed)) if (100..200).contains(&parsed.head.status) => {
                interim += 1;
                if interim > MAX_INTERIM_RESPONSES {
                    return Err(Attempt::During(UpstreamError::Protocol(
                        "endless 1xx responses".into(),
                    )));
                }
                on_interim(&parsed.head);
                continue;
            }
            Ok(Some(parsed)) => {
                let _ = stream.set_read_timeout(Some(timeouts.between_bytes));
                let remaining = match parsed.body {
                    ResponseBody::Length(n) => n,
                    _ => 0,
                };
                let done = matches!(parsed.body, ResponseBody::None | ResponseBody::Length(0));
                let mut response = UpstreamResponse {
                    head: parsed.head,
                    framing: parsed.body,
                    keep_alive: parsed.keep_alive,
                    stream: Some(stream),
                    pool: Rc::clone(pool),
                    buf,
                    remaining,
                    chunked: JoinedChunks::upstream(),
                    done,
                };
                if done {
                    response.release();
                }
                return Ok(response);
            }
            Ok(None) => {}
            Err(e) => return Err(Attempt::During(UpstreamError::Protocol(e.to_string()))),
        }
        // The first-byte timeout bounds the whole head (1xx included), not each read: an
        // origin dribbling a byte at a time must not keep its followers waiting forever.
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => {
                let _ = stream.set_read_timeout(Some(left));
            }
            _ => return Err(Attempt::During(UpstreamError::FirstByteTimeout)),
        }
        match read_some(&mut stream, &mut buf, READ_SIZE).await {
            Ok(0) if !any_byte => {
                return Err(Attempt::BeforeResponse(UpstreamError::Io(
                    "closed before responding".into(),
                )))
            }
            Ok(0) => {
                return Err(Attempt::During(UpstreamError::Protocol(
                    "closed inside the response head".into(),
                )))
            }
            Ok(_) => any_byte = true,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(Attempt::During(UpstreamError::FirstByteTimeout))
            }
            Err(e) if !any_byte => return Err(Attempt::BeforeResponse(io_error(e))),
            Err(e) => return Err(Attempt::During(io_error(e))),
        }
    }
}

impl UpstreamResponse {
    /// The next piece of the body as it arrives; `Ok(None)` at its exact end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, UpstreamError> {
        loop {
            if let Some(chunk) = self.take_buffered()? {
                return Ok(Some(chunk));
            }
            if self.done {
                self.release();
                return Ok(None);
            }
            let stream = self.stream.as_mut().expect("stream is kept until done");
            // A body of known length is read in rooms no larger than what is left of it: each
            // room is zero-filled first (`io::read_room`), and the chunks split off it keep
            // its whole allocation alive in the cache. Under `benches/hold_instructions.sh`
            // (parts of 19-75 KB; `callgrind_annotate --tree=caller` of its CALLGRIND_OUT) a
            // body read took 62k instructions with 64 KiB rooms, 43k so.
            let room = match self.framing {
                ResponseBody::Length(_) => READ_SIZE.min(self.remaining as usize).max(1),
                _ => READ_SIZE,
            };
            match read_some(stream, &mut self.buf, room).await {
                Ok(0) if self.framing == ResponseBody::CloseDelimited => {
                    self.done = true;
                    self.stream = None;
                    return Ok(None);
                }
                Ok(0) => {
                    self.stream = None;
                    return Err(UpstreamError::Io(
                        "origin closed the connection mid-body".into(),
                    ));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    self.stream = None;
                    return Err(UpstreamError::BetweenBytesTimeout);
                }
                Err(e) => {
                    self.stream = None;
                    return Err(UpstreamError::Io(e.to_string()));
                }
            }
        }
    }

    /// Decodes what is already buffered into one body chunk, if any.
    fn take_buffered(&mut self) -> Result<Option<Bytes>, UpstreamError> {
        match self.framing {
            _ if self.done => Ok(None),
            ResponseBody::None => {
                self.done = true;
                Ok(None)
            }
            ResponseBody::Length(_) => {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let n = (self.remaining as usize).min(self.buf.len());
                self.remaining -= n as u64;
                let chunk = self.buf.split_to(n).freeze();
                if self.remaining == 0 {
                    if !self.buf.is_empty() {
                        self.stream = None;
                        return Err(UpstreamError::Protocol(
                            "body longer than Content-Length".into(),
                        ));
                    }
                    self.done = true;
                }
                Ok(Some(chunk))
            }
            ResponseBody::Chunked => match self.chunked.next(&mut self.buf) {
                Ok(Decoded::Data(chunk)) => Ok(Some(chunk)),
                Ok(Decoded::NeedMore) => Ok(None),
                Ok(Decoded::Done) => {
                    if !self.buf.is_empty() {
                        self.stream = None;
                        return Err(UpstreamError::Protocol("bytes after the last chunk".into()));
                    }
                    self.done = true;
                    Ok(None)
                }
                Err(e) => {
                    self.stream = None;
                    Err(UpstreamError::Protocol(format!("bad chunked body: {e:?}")))
                }
            },
            ResponseBody::CloseDelimited => {
                if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(self.buf.split().freeze()))
                }
            }
        }
    }

    /// Returns the connection to the pool when the response ended cleanly and may be reused.
    fn release(&mut self) {
        if let Some(stream) = self.stream.take() {
            if self.keep_alive
                && self.buf.is_empty()
                && self.framing != ResponseBody::CloseDelimited
            {
                let _ = stream.set_read_timeout(None);
                self.pool.put_idle(stream);
            }
        }
    }
}
