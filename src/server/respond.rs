//! Writing responses to clients: the head (stored fields plus `Age`, `Cache-Status`, `Via`,
//! `Date` when missing, and framing for this client) and then body chunks as they become
//! available, straight from the shared `Bytes`. A response whose upstream failed mid-body is
//! cut: the connection closes before the declared length or without the last chunk, so no
//! client can mistake it for complete.

use std::io;
use std::os::fd::AsRawFd;

use bytes::{Bytes, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use crate::cache::CachedHead;
use crate::http::chunked::{write_chunk_size_line, LAST_CHUNK};
use crate::http::encode;
use crate::http::headers::find;
use crate::http::Version;
use crate::io::write_all_parts;
use crate::metrics::{CacheResult, Meter};
use crate::shard::Reply;

/// The pseudonym livecache adds to `Via` (RFC 9110 7.6.3).
pub const VIA: &[u8] = b"1.1 livecache";

/// What the response must respect of the request it answers.
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    pub version: Version,
    pub head_only: bool,
    pub keep_alive: bool,
}

/// Anything that yields a response as `Reply`s.
pub(crate) trait Replies {
    async fn next(&mut self) -> Reply;
}

impl Replies for crate::shard::mesh::Route {
    async fn next(&mut self) -> Reply {
        crate::shard::mesh::Route::next(self).await
    }
}

/// How the body is delimited on this connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    NoBody,
    Length,
    Chunked,
    Close,
}

/// Writes a whole response from `replies`. Ok(true): the connection may carry another request.
/// `meter` learns the status, the cache result and every byte written.
pub async fn write_response(
    stream: &mut TcpStream,
    replies: &mut impl Replies,
    exchange: Exchange,
    meter: &mut Meter,
) -> io::Result<bool> {
    let asked = std::time::Instant::now();
    let (head, age_secs, status) = match replies.next().await {
        Reply::Head {
            head,
            age_secs,
            status,
            body_len: _,
        } => (head, age_secs, status),
        Reply::Failed(code) => {
            meter.upstream(asked.elapsed());
            meter.head(code, CacheResult::Error);
            let n = write_error(
                stream,
                code,
                exchange.keep_alive.then_some(exchange.version),
            )
            .await?;
            meter.wrote(n);
            return Ok(exchange.keep_alive);
        }
        Reply::Chunk(_) | Reply::End | Reply::Aborted => {
            meter.head(502, CacheResult::Error);
            meter.wrote(write_error(stream, 502, None).await?);
            return Ok(false);
        }
    };
    // A pass measured its own origin exchange; a hit had no upstream to wait for.
    if !status.is_hit() && !status.is_pass() {
        meter.upstream(asked.elapsed());
    }
    meter.head(head.status, status.result());
    let mut keep_alive = exchange.keep_alive;
    let framing = choose_framing(&head, exchange);
    if framing == Framing::Close {
        keep_alive = false;
    }
    let mut out = BytesMut::with_capacity(512);
    encode::status_line(&mut out, head.status, Some(&head.reason));
    encode::write_headers(&mut out, &head.headers);
    if !status.is_pass() && (age_secs > 0 || status.is_hit()) {
        out.extend_from_slice(b"Age: ");
        encode::put_decimal(&mut out, age_secs);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Cache-Status: ");
    status.write_value(&mut out);
    out.extend_from_slice(b"\r\n");
    encode::header(&mut out, b"Via", VIA);
    if find(&head.headers, "date").is_none() {
        encode::header(
            &mut out,
            b"Date",
            httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes(),
        );
    }
    match framing {
        Framing::Length => encode::content_length(&mut out, head.content_length.unwrap_or(0)),
        Framing::Chunked => encode::header(&mut out, b"Transfer-Encoding", b"chunked"),
        Framing::NoBody if !no_body_status(head.status) => {
            if let Some(len) = head.content_length {
                encode::content_length(&mut out, len);
            }
        }
        Framing::NoBody | Framing::Close => {}
    }
    connection_header(&mut out, exchange.version, keep_alive);
    encode::end_head(&mut out);
    if framing == Framing::NoBody {
        stream.write_all(&out).await?;
        meter.wrote(out.len());
        return Ok(keep_alive);
    }
    let mut pending = Some(out);
    if !status.is_hit() {
        // A fetch's head reaches every waiting follower before any of them copies a body:
        // send it now and let the other followers' tasks run. A hit instead sends its head
        // together with the first chunk, saving a write.
        let head = pending.take().unwrap_or_default();
        stream.write_all(&head).await?;
        meter.wrote(head.len());
        futures_lite::future::yield_now().await;
    }
    loop {
        match replies.next().await {
            Reply::Chunk(chunk) => {
                meter.wrote(write_chunk(stream, &mut pending, chunk, framing).await?)
            }
            Reply::End => {
                let mut tail = pending.take().unwrap_or_default();
                if framing == Framing::Chunked {
                    tail.extend_from_slice(LAST_CHUNK);
                }
                if !tail.is_empty() {
                    stream.write_all(&tail).await?;
                    meter.wrote(tail.len());
                }
                return Ok(keep_alive);
            }
            Reply::Aborted | Reply::Failed(_) | Reply::Head { .. } => {
                if let Some(head) = pending.take() {
                    stream.write_all(&head).await?;
                    meter.wrote(head.len());
                }
                reset_on_close(stream);
                return Ok(false);
            }
        }
    }
}

/// Writes one body chunk (after whatever is pending); returns the bytes written.
async fn write_chunk(
    stream: &mut TcpStream,
    pending: &mut Option<BytesMut>,
    chunk: Bytes,
    framing: Framing,
) -> io::Result<usize> {
    if chunk.is_empty() {
        return Ok(0);
    }
    let mut prefix = pending.take().unwrap_or_default();
    if framing == Framing::Chunked {
        write_chunk_size_line(&mut prefix, chunk.len());
    }
    if chunk.len() <= 16 * 1024 {
        // Small chunks are cheaper copied next to their prefix than written on their own.
        prefix.extend_from_slice(&chunk);
        if framing == Framing::Chunked {
            prefix.extend_from_slice(b"\r\n");
        }
        stream.write_all(&prefix).await?;
        return Ok(prefix.len());
    }
    let suffix: &[u8] = if framing == Framing::Chunked {
        b"\r\n"
    } else {
        b""
    };
    write_all_parts(stream, &[&prefix, &chunk, suffix]).await?;
    Ok(prefix.len() + chunk.len() + suffix.len())
}

fn no_body_status(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

fn choose_framing(head: &CachedHead, exchange: Exchange) -> Framing {
    if exchange.head_only || no_body_status(head.status) {
        Framing::NoBody
    } else if head.content_length.is_some() {
        Framing::Length
    } else if exchange.version == Version::Http11 {
        Framing::Chunked
    } else {
        Framing::Close
    }
}

fn connection_header(out: &mut BytesMut, version: Version, keep_alive: bool) {
    if !keep_alive {
        encode::header(out, b"Connection", b"close");
    } else if version == Version::Http10 {
        encode::header(out, b"Connection", b"keep-alive");
    }
}

/// Makes the coming close a reset (RST) rather than an orderly end: a close-delimited body
/// (HTTP/1.0 without a length) would otherwise look complete to the client after a cut.
fn reset_on_close(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this stream owns, with a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A short plain-text response livecache makes itself (errors, refusals). `keep_alive`:
/// the version of a connection that stays open, `None` to announce the close. Returns the
/// bytes written.
pub async fn write_error(
    stream: &mut TcpStream,
    status: u16,
    keep_alive: Option<Version>,
) -> io::Result<usize> {
    let reason = encode::status_reason(status);
    let mut out = BytesMut::with_capacity(256);
    encode::status_line(&mut out, status, None);
    encode::header(&mut out, b"Content-Type", b"text/plain");
    encode::content_length(&mut out, reason.len() as u64 + 1);
    encode::header(&mut out, b"Cache-Control", b"no-store");
    encode::header(&mut out, b"Via", VIA);
    connection_header(
        &mut out,
        keep_alive.unwrap_or(Version::Http11),
        keep_alive.is_some(),
    );
    encode::end_head(&mut out);
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\n");
    stream.write_all(&out).await?;
    Ok(out.len())
}
