//! Chunked transfer coding (RFC 9112 7.1): an incremental decoder for request
//! bodies and upstream response bodies, plus the bits needed to encode.
//!
//! The decoder owns only chunk framing. It must not copy body data (data is
//! handed out as zero-copy slices) and must not interpret extensions or
//! trailers: those are bounded, validated for line endings and discarded.
//! By default data goes out as soon as any of it arrives; a decoder that
//! keeps chunks whole ([`ChunkedDecoder::keeping_chunks_up_to`]) hands a chunk
//! of at most that size out in one piece once all of it is buffered, so a
//! relay can forward the sender's chunk boundaries (an LL-DASH packager sends
//! one CMAF chunk per HTTP chunk; LIVE.md F12), while a larger chunk still
//! streams through.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk-size line we accept, extensions included. Extensions are
/// useless to us; the bound keeps a peer from streaming one forever.
pub const MAX_SIZE_LINE: usize = 4096;
/// Bound on the whole trailer section (all lines and the final CRLF).
pub const MAX_TRAILER_BYTES: usize = 8192;
/// The terminating zero-size chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Result of one `decode` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes (never empty), sliced off the front of the input buffer.
    Data(Bytes),
    /// Nothing decodable is buffered; read more and call again.
    NeedMore,
    /// The last chunk and trailer section have been consumed; bytes after it
    /// (a pipelined message) are left in the buffer.
    Done,
}

/// Framing violations. All are fatal for the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// Missing or non-hex chunk size, or junk after it.
    InvalidSize,
    /// More than 16 hex digits, or a size line over `MAX_SIZE_LINE`.
    SizeTooLong,
    /// Missing CRLF after chunk data, CR without LF, or a bare LF.
    BadLineEnding,
    /// Trailer section over `MAX_TRAILER_BYTES`.
    TrailerTooLarge,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkError::InvalidSize => "invalid chunk size",
            ChunkError::SizeTooLong => "chunk size line too long",
            ChunkError::BadLineEnding => "bad line ending in chunked body",
            ChunkError::TrailerTooLarge => "chunked trailer section too large",
        })
    }
}

impl std::error::Error for ChunkError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size {
        size: u64,
        digits: u8,
        line: usize,
    },
    /// After the size: optional BWS, then `;ext...` (ignored) or CR.
    Ext {
        size: u64,
        line: usize,
        in_ext: bool,
    },
    /// Saw CR ending the size line; LF must follow.
    SizeLf {
        size: u64,
    },
    /// Inside chunk data.
    Data {
        remaining: u64,
    },
    /// Chunk data done; CR must follow.
    DataCr,
    /// CR after chunk data seen; LF must follow.
    DataLf,
    /// In the trailer section; `line` bytes of the current line seen.
    Trailer {
        line: usize,
        total: usize,
    },
    /// CR ending a trailer line (`empty`: it ended the section).
    TrailerLf {
        empty: bool,
        total: usize,
    },
    Done,
}

/// Incremental chunked-body decoder. Feed it the connection's read buffer;
/// it consumes framing bytes and splits data off the front. After an error
/// the stream position is unknown: drop the decoder and the connection.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Chunks of at most this many bytes are handed out whole (0: none is waited for).
    whole: u64,
    /// Part of the current chunk was handed out already: the rest goes as it arrives.
    partial: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size {
                size: 0,
                digits: 0,
                line: 0,
            },
            whole: 0,
            partial: false,
        }
    }

    /// A decoder that hands each chunk of at most `whole` bytes out in one piece, once all
    /// of it is buffered; a larger chunk goes out as it arrives.
    pub fn keeping_chunks_up_to(whole: u64) -> Self {
        ChunkedDecoder {
            whole,
            ..ChunkedDecoder::new()
        }
    }

    /// True once the last chunk and trailers have been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes of the current chunk announced by its size line and not yet handed out, so a
    /// receiver can refuse a chunk larger than it accepts before the data arrives.
    pub fn announced_remaining(&self) -> u64 {
        match self.state {
            State::Data { remaining } => remaining,
            _ => 0,
        }
    }

    /// Advances over framing in `buf` and returns the next piece of data,
    /// `NeedMore` or `Done`. Data is returned (zero-copy `split_to(n).freeze()`)
    /// as soon as any of the current chunk is buffered, or, for a chunk kept
    /// whole, once all of it is; so memory use is bounded by the larger of the
    /// read size and the whole-chunk bound, whatever the chunk size.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::Done),
                State::Data { remaining } => {
                    let buffered = buf.len() as u64;
                    let wait_whole = !self.partial && remaining <= self.whole;
                    if buffered == 0 || (wait_whole && buffered < remaining) {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = remaining.min(buffered) as usize;
                    let left = remaining - n as u64;
                    self.partial = left > 0;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining: left }
                    };
                    return Ok(Decoded::Data(buf.split_to(n).freeze()));
                }
                _ => {
                    let Some(&b) = buf.first() else {
                        return Ok(Decoded::NeedMore);
                    };
                    buf.advance(1);
                    self.state = step(self.state, b)?;
                }
            }
        }
    }
}

/// One framing byte. Kept byte-at-a-time so any split of the input is handled
/// identically; framing bytes are few compared to data.
fn step(state: State, b: u8) -> Result<State, ChunkError> {
    Ok(match state {
        State::Size { size, digits, line } => {
            let line = bump_line(line)?;
            match b {
                _ if b.is_ascii_hexdigit() => {
                    if digits == 16 {
                        return Err(ChunkError::SizeTooLong);
                    }
                    let d = (b as char).to_digit(16).unwrap_or(0);
                    State::Size {
                        size: (size << 4) | u64::from(d),
                        digits: digits + 1,
                        line,
                    }
                }
                _ if digits == 0 => {
                    return Err(if b == b'\n' {
                        ChunkError::BadLineEnding
                    } else {
                        ChunkError::InvalidSize
                    })
                }
                b'\r' => State::SizeLf { size },
                b'\n' => return Err(ChunkError::BadLineEnding),
                b';' => State::Ext {
                    size,
                    line,
                    in_ext: true,
                },
                b' ' | b'\t' => State::Ext {
                    size,
                    line,
                    in_ext: false,
                },
                _ => return Err(ChunkError::InvalidSize),
            }
        }
        State::Ext { size, line, in_ext } => {
            let line = bump_line(line)?;
            match b {
                b'\r' => State::SizeLf { size },
                b'\n' => return Err(ChunkError::BadLineEnding),
                b';' => State::Ext {
                    size,
                    line,
                    in_ext: true,
                },
                b' ' | b'\t' => State::Ext { size, line, in_ext },
                // Extension text: visible ASCII / obs-text only.
                _ if in_ext && (b.is_ascii_graphic() || b >= 0x80) => {
                    State::Ext { size, line, in_ext }
                }
                _ => return Err(ChunkError::InvalidSize),
            }
        }
        State::SizeLf { size } => match b {
            b'\n' if size == 0 => State::Trailer { line: 0, total: 0 },
            b'\n' => State::Data { remaining: size },
            _ => return Err(ChunkError::BadLineEnding),
        },
        State::DataCr => match b {
            b'\r' => State::DataLf,
            _ => return Err(ChunkError::BadLineEnding),
        },
        State::DataLf => match b {
            b'\n' => State::Size {
                size: 0,
                digits: 0,
                line: 0,
            },
            _ => return Err(ChunkError::BadLineEnding),
        },
        State::Trailer { line, total } => {
            let total = total + 1;
            if total > MAX_TRAILER_BYTES {
                return Err(ChunkError::TrailerTooLarge);
            }
            match b {
                b'\r' => State::TrailerLf {
                    empty: line == 0,
                    total,
                },
                b'\n' => return Err(ChunkError::BadLineEnding),
                _ => State::Trailer {
                    line: line + 1,
                    total,
                },
            }
        }
        State::TrailerLf { empty, total } => {
            let total = total + 1;
            if total > MAX_TRAILER_BYTES {
                return Err(ChunkError::TrailerTooLarge);
            }
            match b {
                b'\n' if empty => State::Done,
                b'\n' => State::Trailer { line: 0, total },
                _ => return Err(ChunkError::BadLineEnding),
            }
        }
        State::Data { .. } | State::Done => unreachable!("handled in decode"),
    })
}

/// Counts a size-line byte; the line may hold `MAX_SIZE_LINE` bytes plus
/// its CR.
fn bump_line(line: usize) -> Result<usize, ChunkError> {
    if line > MAX_SIZE_LINE {
        Err(ChunkError::SizeTooLong)
    } else {
        Ok(line + 1)
    }
}

/// Appends the "SIZE\r\n" line for a chunk of `len` bytes (hex, lowercase)
/// without allocating.
pub fn write_chunk_size_line(dst: &mut BytesMut, len: usize) {
    let mut tmp = [0u8; 18];
    let mut i = 16;
    let mut n = len;
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    tmp[16] = b'\r';
    tmp[17] = b'\n';
    dst.extend_from_slice(&tmp[i..]);
}

/// The "SIZE\r\n" line for a chunk of `len` bytes, hex, lowercase.
pub fn chunk_size_line(len: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(18);
    write_chunk_size_line(&mut b, len);
    b.freeze()
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
