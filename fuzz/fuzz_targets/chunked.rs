//! Fuzz target `chunked`: a chunked body (RFC 9112 7.1) from a client or an origin, fed to
//! `ChunkedDecoder` the way `UpstreamResponse::take_buffered` and `server::body::BodyReader`
//! feed it: decode until `NeedMore`, append the next socket read, decode again.
//!
//! Checked: no panic; data pieces are never empty and are exactly the bytes of the stream at
//! the decoder's position (zero-copy, nothing skipped or repeated); the data never outgrows
//! the input; the result (data, where it ended, error) is the same for one read, for random
//! reads and for one byte at a time; `NeedMore` mid-chunk (`announced_remaining` > 0) only
//! with nothing buffered; after `Done` the rest of the stream is left untouched;
//! what was decoded, encoded again with `chunk_size_line` and `LAST_CHUNK`, decodes back to
//! itself; memory stays proportional to the input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use livecache::http::{chunk_size_line, ChunkError, ChunkedDecoder, Decoded, LAST_CHUNK};
use livecache_fuzz::{within_budget, Reads};

/// How the stream ended for the decoder.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Last chunk and trailers consumed after `at` bytes of the stream.
    Done {
        at: usize,
    },
    /// The input ran out mid-body (a truncated body).
    NeedMore,
    Failed(ChunkError),
}

/// The decoded data (kept only to compare and re-encode) and how decoding ended.
struct Run {
    data: Vec<u8>,
    end: End,
}

fn decode<'a>(stream: &[u8], mut reads: impl Iterator<Item = &'a [u8]>) -> Run {
    let mut decoder = ChunkedDecoder::new();
    let mut buf = BytesMut::new();
    let mut fed = 0usize;
    let mut data = Vec::new();
    let end = loop {
        match decoder.decode(&mut buf) {
            Ok(Decoded::Data(piece)) => {
                assert!(!piece.is_empty(), "empty Data");
                let at = fed - buf.len();
                assert_eq!(
                    &piece[..],
                    &stream[at - piece.len()..at],
                    "Data is not the stream's bytes at the decoder's position"
                );
                data.extend_from_slice(&piece);
            }
            Ok(Decoded::NeedMore) => {
                // Mid-chunk, the decoder hands out whatever data is buffered before asking.
                if decoder.announced_remaining() > 0 {
                    assert!(buf.is_empty(), "NeedMore with chunk data buffered");
                }
                match reads.next() {
                    Some(read) => {
                        buf.extend_from_slice(read);
                        fed += read.len();
                    }
                    None => break End::NeedMore,
                }
            }
            Ok(Decoded::Done) => {
                assert!(decoder.is_done());
                assert_eq!(decoder.announced_remaining(), 0);
                let at = fed - buf.len();
                // Done is sticky and consumes nothing more, whatever follows.
                for read in reads.by_ref() {
                    buf.extend_from_slice(read);
                }
                assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Done));
                assert_eq!(&buf[..], &stream[at..], "bytes after the body were touched");
                break End::Done { at };
            }
            Err(e) => {
                assert!(!decoder.is_done());
                assert!(!e.to_string().is_empty());
                break End::Failed(e);
            }
        }
    };
    assert!(data.len() <= stream.len(), "more data than input");
    Run { data, end }
}

/// `data` as a well-formed chunked body: a few chunks, then the last chunk.
fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2 + 64);
    let mut rest = data;
    let mut size = 1;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        out.extend_from_slice(&chunk_size_line(chunk.len()));
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = tail;
        size = size * 3 + 1;
    }
    out.extend_from_slice(LAST_CHUNK);
    out
}

fuzz_target!(|input: &[u8]| {
    let budget = 16 * input.len() + 64 * 1024;
    within_budget(budget, "chunked", || {
        let whole = decode(input, std::iter::once(input));
        let random = decode(input, Reads::new(input, 2));
        let bytewise = decode(input, input.chunks(1));
        for other in [&random, &bytewise] {
            assert_eq!(whole.data, other.data, "data depends on the reads");
            assert_eq!(whole.end, other.end, "end depends on the reads");
        }

        let encoded = encode(&whole.data);
        let again = decode(&encoded, Reads::new(&encoded, 3));
        assert_eq!(again.data, whole.data, "encode/decode round trip");
        assert_eq!(again.end, End::Done { at: encoded.len() });
    });
});
