//! One HTTP/1.1 exchange with the upstream: write the request head, stream its body from its
//! source with back-pressure (never buffered whole), read the response head with strict
//! framing, then hand out body chunks as they are read. A connection goes back to the pool
//! only after a response was read to its exact end. A bodiless request that fails on a
//! reused keep-alive connection before any response byte arrived is retried once on a new
//! one (the origin may have closed it while idle), but only when the method is idempotent: a
//! body already streamed cannot be sent again.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use super::{Pool, UpstreamError};
use crate::http::chunked::{
    write_chunk_size_line, ChunkError, ChunkedDecoder, Decoded, LAST_CHUNK,
};
use crate::http::encode;
use crate::http::headers::Header;
use crate::http::response::{parse_response, ResponseBody, ResponseHead};
use crate::io::read_some;

/// Largest read from the upstream at once: a body without chunked framing reaches the
/// readers in pieces of at most this.
pub const MAX_CHUNK: usize = 64 * 1024;
/// An upstream chunk up to this size reaches the readers as one piece, so each client gets
/// the origin's chunk boundaries (one CMAF chunk per HTTP chunk from an LL-DASH packager,
/// LIVE.md F12) with no wait beyond the chunk's own arrival. A larger chunk streams through
/// in pieces as it is read, so an upstream connection never buffers more than this.
const WHOLE_CHUNK: usize = 256 * 1024;
/// Decoded chunks smaller than this are joined with those buffered behind them: a sender of
/// tiny chunks must not cost every reader a write, and the object a slot, per few bytes.
const COALESCE_BELOW: usize = 512;
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
    let wire = encode_head(request);
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

fn encode_head(request: &UpstreamRequest) -> BytesMut {
    let mut wire = BytesMut::with_capacity(512);
    encode::request_line(&mut wire, &request.method, &request.target);
    for h in &request.headers {
        encode::header(&mut wire, &h.name, &h.value);
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
                    chunked: JoinedChunks::new(ChunkedDecoder::keeping_chunks_up_to(
                        WHOLE_CHUNK as u64,
                    )),
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
            match read_some(stream, &mut self.buf, READ_SIZE).await {
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

/// A chunked body's pieces: one per upstream chunk, except that tiny chunks buffered one
/// behind another are joined (up to about `MAX_CHUNK`): every piece published costs each
/// reader a write and the object a slot, so an origin sending tiny chunks must not multiply
/// them. A chunk that is not tiny is never joined to them: it waits in `stash` and goes as
/// its own piece, so the packager's boundaries stay wherever they matter.
struct JoinedChunks {
    decoder: ChunkedDecoder,
    stash: Option<Bytes>,
}

impl JoinedChunks {
    fn new(decoder: ChunkedDecoder) -> JoinedChunks {
        JoinedChunks {
            decoder,
            stash: None,
        }
    }

    /// The next piece; the end of the body is reported at the call after its last piece.
    fn next(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkError> {
        if let Some(piece) = self.stash.take() {
            return Ok(Decoded::Data(piece));
        }
        let small = match self.decoder.decode(buf)? {
            Decoded::Data(chunk) if chunk.len() < COALESCE_BELOW => chunk,
            other => return Ok(other),
        };
        let mut joined = BytesMut::with_capacity(MAX_CHUNK);
        joined.extend_from_slice(&small);
        while joined.len() < MAX_CHUNK {
            match self.decoder.decode(buf)? {
                Decoded::Data(more) if more.len() < COALESCE_BELOW => {
                    joined.extend_from_slice(&more)
                }
                Decoded::Data(whole) => {
                    self.stash = Some(whole);
                    break;
                }
                Decoded::NeedMore | Decoded::Done => break,
            }
        }
        Ok(Decoded::Data(joined.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(pieces: &[&[u8]], last: bool) -> BytesMut {
        let mut wire = BytesMut::new();
        for piece in pieces {
            write_chunk_size_line(&mut wire, piece.len());
            wire.extend_from_slice(piece);
            wire.extend_from_slice(b"\r\n");
        }
        if last {
            wire.extend_from_slice(LAST_CHUNK);
        }
        wire
    }

    #[test]
    fn tiny_chunks_buffered_together_become_one_piece_and_the_end_follows() {
        let bytes: Vec<[u8; 1]> = (0..1000u32).map(|i| [b'a' + (i % 26) as u8]).collect();
        let pieces: Vec<&[u8]> = bytes.iter().map(|b| &b[..]).collect();
        let mut wire = chunked(&pieces, true);
        let mut decoder = JoinedChunks::new(ChunkedDecoder::new());
        let expected: Vec<u8> = bytes.iter().map(|b| b[0]).collect();
        assert_eq!(
            decoder.next(&mut wire),
            Ok(Decoded::Data(Bytes::from(expected)))
        );
        assert_eq!(decoder.next(&mut wire), Ok(Decoded::Done));
        assert!(wire.is_empty());
    }

    #[test]
    fn a_large_chunk_passes_alone_and_joining_stops_near_the_piece_size() {
        let large = vec![7u8; COALESCE_BELOW];
        let small = [1u8; 100];
        let mut pieces: Vec<&[u8]> = vec![&large];
        pieces.extend(std::iter::repeat_n(&small[..], 1000));
        let mut wire = chunked(&pieces, false);
        let mut decoder = JoinedChunks::new(ChunkedDecoder::new());
        assert_eq!(
            decoder.next(&mut wire),
            Ok(Decoded::Data(Bytes::from(large)))
        );
        let Ok(Decoded::Data(first)) = decoder.next(&mut wire) else {
            panic!("joined data expected");
        };
        assert_eq!(first.len(), MAX_CHUNK.div_ceil(100) * 100);
        let Ok(Decoded::Data(rest)) = decoder.next(&mut wire) else {
            panic!("the rest expected");
        };
        assert_eq!(first.len() + rest.len(), 1000 * 100);
        assert_eq!(decoder.next(&mut wire), Ok(Decoded::NeedMore));
    }

    #[test]
    fn chunks_of_a_packager_keep_their_boundaries() {
        // CMAF chunks of a low-latency stream, buffered together: a tiny one (audio) and the
        // tiny ones right behind it are joined, every other chunk is its own piece.
        let sizes = [100, 30_000, 300, 200, 700, WHOLE_CHUNK];
        let bodies: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![n as u8; n]).collect();
        let pieces: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let mut wire = chunked(&pieces, true);
        let mut decoder =
            JoinedChunks::new(ChunkedDecoder::keeping_chunks_up_to(WHOLE_CHUNK as u64));
        let expected = [
            bodies[0].clone(),
            bodies[1].clone(),
            [bodies[2].clone(), bodies[3].clone()].concat(),
            bodies[4].clone(),
            bodies[5].clone(),
        ];
        for body in expected {
            assert_eq!(
                decoder.next(&mut wire),
                Ok(Decoded::Data(Bytes::from(body)))
            );
        }
        assert_eq!(decoder.next(&mut wire), Ok(Decoded::Done));
    }

    #[test]
    fn bad_framing_behind_small_chunks_is_an_error() {
        let mut wire = chunked(&[b"abc"], false);
        wire.extend_from_slice(b"zz\r\n");
        let mut decoder = JoinedChunks::new(ChunkedDecoder::new());
        assert_eq!(decoder.next(&mut wire), Err(ChunkError::InvalidSize));
    }
}
