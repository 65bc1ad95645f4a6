//! Where a response comes from (`Replies`: the owner's stream, a remote owner's queue, a pass)
//! and its body as it goes out (after `respond` wrote or kept its head): each chunk as it
//! arrives, framed for the connection (`Content-Length`, chunked with the origin's chunk
//! boundaries kept, or close-delimited), a byte range of it cut from the chunks by refcount,
//! and its end. A writer that fell behind (a follower woken after the leader read on, a
//! remote reply queue filling while its shard was busy) sends every chunk already there in
//! one gather write rather than one write each.

use std::io;

use bytes::{Bytes, BytesMut};

use super::client_out::ClientOut;
use crate::http::chunked::{write_chunk_size_line, LAST_CHUNK};
use crate::metrics::Meter;
use crate::shard::Reply;

/// Anything that yields a response as `Reply`s.
pub(crate) trait Replies {
    async fn next(&mut self) -> Reply;

    /// The next reply when it is here already, without waiting; `None` otherwise (or when
    /// the source cannot tell).
    fn ready(&mut self) -> Option<Reply> {
        None
    }
}

impl Replies for crate::shard::Route {
    async fn next(&mut self) -> Reply {
        crate::shard::Route::next(self).await
    }

    fn ready(&mut self) -> Option<Reply> {
        crate::shard::Route::ready(self)
    }
}

/// How the body is delimited on this connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    NoBody,
    Length,
    Chunked,
    Close,
}

/// How a response body ended.
pub(super) enum Ended {
    /// Every byte the head promised went out.
    Complete,
    /// The upstream failed first: the response must be cut.
    Cut,
}

/// The most chunks, and the most bytes, one write gathers of those already there: no more
/// than one upstream read may bring (64 KiB), so gathering only joins the small pieces reads
/// left and never makes a write larger than a follower keeping up would (a larger chunk goes
/// alone, as before). Gathering up to 256 KiB was tried: 42% fewer sends in a 1 MiB herd, but
/// writes larger than ever before and no CPU gain to show for them.
const GATHER_CHUNKS: usize = 32;
const GATHER_BYTES: usize = 64 * 1024;

/// Writes the body's chunks as they arrive, framed as `framing` says, then its end. Chunks
/// already there when one arrives go with it in one write: in a fan-out the followers run
/// after the leader has read on, and a write per upstream read cost every follower a syscall
/// each. Measured with `perf stat -a -e syscalls:sys_enter_sendmsg` (2-core VM, 2026-12-07):
/// 19% fewer sends under `TWO_HOSTS=1 benches/hold_release.sh 16 500` (parts of 19-75 KB
/// arrive in a few reads); none fewer in a 1 MiB herd, whose reads are whole 64 KiB pieces.
pub(super) async fn write_body(
    client: &mut ClientOut<'_>,
    replies: &mut impl Replies,
    pending: &mut Option<BytesMut>,
    framing: Framing,
    meter: &mut Meter,
) -> io::Result<Ended> {
    // A reply taken while gathering chunks, to act on next.
    let mut taken = None;
    loop {
        let reply = match taken.take() {
            Some(reply) => reply,
            None => replies.next().await,
        };
        match reply {
            // The common case (a hit, a follower keeping up) neither gathers nor allocates.
            Reply::Chunk(chunk) => {
                let next = (chunk.len() < GATHER_BYTES)
                    .then(|| replies.ready())
                    .flatten();
                match next {
                    Some(Reply::Chunk(next)) if chunk.len() + next.len() <= GATHER_BYTES => {
                        let mut chunks = vec![chunk, next];
                        taken = gather_ready(replies, &mut chunks);
                        meter.wrote(write_chunks(client, pending, &chunks, framing).await?);
                    }
                    other => {
                        taken = other;
                        meter.wrote(write_chunk(client, pending, chunk, framing).await?);
                    }
                }
            }
            Reply::End => return finish_body(client, pending, framing, meter).await,
            Reply::Aborted
            | Reply::Failed(_)
            | Reply::Head { .. }
            | Reply::Interim(_)
            | Reply::HeldEarly => return Ok(Ended::Cut),
        }
    }
}

/// Adds the chunks already there to `chunks`, up to `GATHER_CHUNKS` and `GATHER_BYTES`;
/// returns a reply taken that is not part of this write (the end, a failure, or a chunk that
/// would take it past `GATHER_BYTES`: that one starts the next write).
fn gather_ready(replies: &mut impl Replies, chunks: &mut Vec<Bytes>) -> Option<Reply> {
    let mut bytes: usize = chunks.iter().map(Bytes::len).sum();
    while chunks.len() < GATHER_CHUNKS && bytes < GATHER_BYTES {
        match replies.ready()? {
            Reply::Chunk(chunk) if bytes + chunk.len() <= GATHER_BYTES => {
                bytes += chunk.len();
                chunks.push(chunk);
            }
            other => return Some(other),
        }
    }
    None
}

/// Writes several body chunks (after whatever is pending) in one gather write; returns the
/// bytes written. Chunked, each keeps its own size line: the origin's chunk boundaries reach
/// the client (an LL-DASH packager's CMAF chunks, LIVE.md F12).
async fn write_chunks(
    client: &mut ClientOut<'_>,
    pending: &mut Option<BytesMut>,
    chunks: &[Bytes],
    framing: Framing,
) -> io::Result<usize> {
    // An empty chunk is no body; chunked, its size line would end the body early.
    let nonempty = || chunks.iter().filter(|c| !c.is_empty());
    let mut framed = pending.take().unwrap_or_default();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * chunks.len() + 1);
    if framing != Framing::Chunked {
        parts.push(&framed);
        parts.extend(nonempty().map(|c| &c[..]));
        return client.send(&parts).await;
    }
    // Every size line and the CRLF closing each chunk, in one buffer: `ends[i]` is where the
    // framing before chunk i ends.
    let mut ends = Vec::with_capacity(chunks.len());
    for (i, chunk) in nonempty().enumerate() {
        if i > 0 {
            framed.extend_from_slice(b"\r\n");
        }
        write_chunk_size_line(&mut framed, chunk.len());
        ends.push(framed.len());
    }
    if !ends.is_empty() {
        framed.extend_from_slice(b"\r\n");
    }
    let mut start = 0;
    for (chunk, end) in nonempty().zip(ends) {
        parts.push(&framed[start..end]);
        parts.push(chunk);
        start = end;
    }
    parts.push(&framed[start..]);
    client.send(&parts).await
}

/// Writes whatever is pending and, when chunked, the last chunk: the body is complete.
async fn finish_body(
    client: &mut ClientOut<'_>,
    pending: &mut Option<BytesMut>,
    framing: Framing,
    meter: &mut Meter,
) -> io::Result<Ended> {
    let mut tail = pending.take().unwrap_or_default();
    if framing == Framing::Chunked {
        tail.extend_from_slice(LAST_CHUNK);
    }
    if !tail.is_empty() {
        meter.wrote(client.send(&[&tail]).await?);
    }
    Ok(Ended::Complete)
}

/// The part of a body a `206` carries: from `first` to `end` (exclusive), or to the body's
/// end when `None` (RFC 8673), delimited by `framing`.
#[derive(Clone, Copy)]
pub(super) struct Slice {
    pub first: u64,
    pub end: Option<u64>,
    pub framing: Framing,
}

/// Writes `slice` of the body as its chunks arrive: each chunk is cut (a refcount, not a
/// copy) to its part of the slice, chunks before it are skipped, and the replies after a
/// bounded slice are never read. `Complete` once the slice is written; `Cut` when the body
/// ended or failed first, or (for an open slice) ended before its first byte.
pub(super) async fn write_slice(
    client: &mut ClientOut<'_>,
    replies: &mut impl Replies,
    pending: &mut Option<BytesMut>,
    slice: Slice,
    meter: &mut Meter,
) -> io::Result<Ended> {
    // Body offset of the next chunk's first byte.
    let mut offset = 0u64;
    loop {
        let chunk = match replies.next().await {
            Reply::Chunk(chunk) => chunk,
            Reply::End if slice.end.is_none() && offset > slice.first => {
                return finish_body(client, pending, slice.framing, meter).await;
            }
            _ => return Ok(Ended::Cut),
        };
        let start = offset;
        offset += chunk.len() as u64;
        if offset <= slice.first {
            continue;
        }
        let from = slice.first.saturating_sub(start) as usize;
        let to = slice
            .end
            .map_or(chunk.len(), |end| (end.min(offset) - start) as usize);
        let part = chunk.slice(from..to);
        meter.wrote(write_chunk(client, pending, part, slice.framing).await?);
        if slice.end.is_some_and(|end| offset >= end) {
            return Ok(Ended::Complete);
        }
    }
}

/// Writes one body chunk (after whatever is pending); returns the bytes written.
async fn write_chunk(
    client: &mut ClientOut<'_>,
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
    // One gather write, whatever the chunk's size: copying a small chunk next to its prefix
    // saved a syscall before writes were gathered, and now only costs a larger allocation and
    // the copy (every held playlist answer took that path).
    let suffix: &[u8] = if framing == Framing::Chunked {
        b"\r\n"
    } else {
        b""
    };
    client.send(&[&prefix, &chunk, suffix]).await
}
