//! How an upstream chunked body becomes the pieces every reader gets (LIVE.md F12): one piece
//! per upstream chunk, so each client sees the origin's chunk boundaries (an LL-DASH packager
//! sends one CMAF chunk per HTTP chunk), with two bounds. A chunk up to `WHOLE_CHUNK` goes out
//! whole once all of it is read; a larger one streams in pieces as it is read, so a
//! connection never buffers more. Tiny chunks (under `COALESCE_BELOW`) buffered one behind
//! another are joined, since each piece costs every reader a write and the object a slot.

use bytes::{Bytes, BytesMut};

use crate::http::chunked::{ChunkError, ChunkedDecoder, Decoded};

/// Largest read from the upstream at once: a body without chunked framing reaches the
/// readers in pieces of at most this.
pub const MAX_CHUNK: usize = 64 * 1024;
/// An upstream chunk up to this size reaches the readers as one piece, so each client gets
/// the origin's chunk boundaries (one CMAF chunk per HTTP chunk from an LL-DASH packager,
/// LIVE.md F12) with no wait beyond the chunk's own arrival. A larger chunk streams through
/// in pieces as it is read, so an upstream connection never buffers more than this.
pub(super) const WHOLE_CHUNK: usize = 256 * 1024;
/// Decoded chunks smaller than this are joined with those buffered behind them: a sender of
/// tiny chunks must not cost every reader a write, and the object a slot, per few bytes.
const COALESCE_BELOW: usize = 512;

/// A chunked body's pieces: one per upstream chunk, except that tiny chunks buffered one
/// behind another are joined (up to about `MAX_CHUNK`): every piece published costs each
/// reader a write and the object a slot, so an origin sending tiny chunks must not multiply
/// them. A chunk that is not tiny is never joined to them: it waits in `stash` and goes as
/// its own piece, so the packager's boundaries stay wherever they matter.
pub(super) struct JoinedChunks {
    decoder: ChunkedDecoder,
    stash: Option<Bytes>,
}

impl JoinedChunks {
    /// The pieces of an upstream body: chunks kept whole up to `WHOLE_CHUNK`.
    pub(super) fn upstream() -> JoinedChunks {
        JoinedChunks::new(ChunkedDecoder::keeping_chunks_up_to(WHOLE_CHUNK as u64))
    }

    fn new(decoder: ChunkedDecoder) -> JoinedChunks {
        JoinedChunks {
            decoder,
            stash: None,
        }
    }

    /// The next piece; the end of the body is reported at the call after its last piece.
    pub(super) fn next(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkError> {
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
    use crate::http::chunked::{write_chunk_size_line, LAST_CHUNK};

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
