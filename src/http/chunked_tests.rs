//! Unit tests for `chunked.rs`: every rule and rejection, with inputs fed
//! whole, split at every byte offset, and one byte at a time.

use super::*;

/// Feeds `parts` in order, draining the decoder after each, and returns the
/// decoded body, whether Done was reached, and what is left buffered.
fn run(parts: &[&[u8]]) -> Result<(Vec<u8>, bool, Vec<u8>), ChunkError> {
    let mut dec = ChunkedDecoder::new();
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        buf.extend_from_slice(part);
        loop {
            match dec.decode(&mut buf)? {
                Decoded::Data(d) => {
                    assert!(!d.is_empty(), "Data must never be empty");
                    body.extend_from_slice(&d);
                }
                Decoded::NeedMore => break,
                Decoded::Done => {
                    assert!(dec.is_done());
                    let mut rest = buf.to_vec();
                    parts[i + 1..]
                        .iter()
                        .for_each(|p| rest.extend_from_slice(p));
                    return Ok((body, true, rest));
                }
            }
        }
    }
    Ok((body, false, buf.to_vec()))
}

/// Runs `input` whole, split at every offset, and byte-by-byte; all must
/// agree with the whole-input result.
fn all_splits(input: &[u8]) -> Result<(Vec<u8>, bool, Vec<u8>), ChunkError> {
    let whole = run(&[input]);
    for i in 0..=input.len() {
        assert_eq!(run(&[&input[..i], &input[i..]]), whole, "split at {i}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytes), whole, "byte by byte");
    whole
}

fn ok_body(input: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (body, done, rest) = all_splits(input).expect("decode error");
    assert!(done, "not done: {:?}", String::from_utf8_lossy(input));
    (body, rest)
}

fn fails(input: &[u8], want: ChunkError) {
    assert_eq!(
        all_splits(input),
        Err(want),
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn basic_multi_chunk_with_pipelined_tail() {
    let (body, rest) = ok_body(b"5\r\nhello\r\n1;a=b\r\n \r\nA\r\n0123456789\r\n0\r\n\r\nGET /");
    assert_eq!(body, b"hello 0123456789");
    assert_eq!(rest, b"GET /");
}

#[test]
fn empty_body_and_trailers_discarded() {
    assert_eq!(ok_body(b"0\r\n\r\n").0, b"");
    let (body, rest) = ok_body(b"3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-B: 2\r\n\r\nZ");
    assert_eq!(body, b"abc");
    assert_eq!(rest, b"Z");
}

#[test]
fn size_hex_case_leading_zeros_and_max_digits() {
    assert_eq!(ok_body(b"00a\r\n0123456789\r\n0\r\n\r\n").0, b"0123456789");
    assert_eq!(
        ok_body(b"B\r\n0123456789a\r\n0000\r\n\r\n").0,
        b"0123456789a"
    );
    // 16 digits are allowed (value is what matters), 17 are not.
    let (body, done, _) = run(&[b"0000000000000003\r\nabc\r\n0\r\n\r\n"]).unwrap();
    assert!(done);
    assert_eq!(body, b"abc");
    fails(b"00000000000000003\r\nabc\r\n", ChunkError::SizeTooLong);
    fails(b"fffffffffffffffff\r\n", ChunkError::SizeTooLong);
    // The largest size parses; data then simply streams.
    assert_eq!(
        run(&[b"ffffffffffffffff\r\nxy"]).unwrap(),
        (b"xy".to_vec(), false, vec![])
    );
}

#[test]
fn invalid_sizes() {
    fails(b"\r\n", ChunkError::InvalidSize);
    fails(b"g\r\n", ChunkError::InvalidSize);
    fails(b"-1\r\n", ChunkError::InvalidSize);
    fails(b"+1\r\n", ChunkError::InvalidSize);
    fails(b"0x5\r\n", ChunkError::InvalidSize);
    fails(b" 5\r\n", ChunkError::InvalidSize);
    fails(b";x\r\n", ChunkError::InvalidSize);
    fails(b"5 5\r\nhello\r\n", ChunkError::InvalidSize);
    fails(b"5\x00\r\n", ChunkError::InvalidSize);
    fails(b"5;a\x01\r\n", ChunkError::InvalidSize);
}

#[test]
fn extensions_and_bws_allowed_but_bounded() {
    let (body, _) = ok_body(b"3 ;name=\"v;x\"; flag\r\nabc\r\n0;last\r\n\r\n");
    assert_eq!(body, b"abc");
    assert_eq!(ok_body(b"3\t\r\nabc\r\n0\r\n\r\n").0, b"abc");
    let mut long = b"3;".to_vec();
    long.resize(MAX_SIZE_LINE, b'x');
    long.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
    assert_eq!(run(&[&long]).unwrap().0, b"abc");
    let mut too_long = b"3;".to_vec();
    too_long.resize(MAX_SIZE_LINE + 1, b'x');
    too_long.extend_from_slice(b"\r\nabc\r\n");
    assert_eq!(run(&[&too_long]), Err(ChunkError::SizeTooLong));
}

#[test]
fn data_must_be_followed_by_exactly_crlf() {
    fails(b"3\r\nabcd\r\n0\r\n\r\n", ChunkError::BadLineEnding);
    fails(b"3\r\nabc\n0\r\n\r\n", ChunkError::BadLineEnding);
    fails(b"3\r\nabc\rX", ChunkError::BadLineEnding);
    fails(b"3\r\nabc0\r\n\r\n", ChunkError::BadLineEnding);
}

#[test]
fn bare_lf_and_lone_cr_rejected_everywhere() {
    fails(b"3\nabc\r\n", ChunkError::BadLineEnding);
    fails(b"3;x\nabc\r\n", ChunkError::BadLineEnding);
    fails(b"3\rabc\r\n", ChunkError::BadLineEnding);
    fails(b"\n", ChunkError::BadLineEnding);
    fails(b"0\r\n\n", ChunkError::BadLineEnding);
    fails(b"0\r\nX: 1\n\r\n", ChunkError::BadLineEnding);
    fails(b"0\r\nX: 1\r\r\n", ChunkError::BadLineEnding);
    fails(b"0\r\n\rX", ChunkError::BadLineEnding);
}

#[test]
fn trailer_section_bounded() {
    let mut ok = b"0\r\nX: ".to_vec();
    ok.resize(3 + MAX_TRAILER_BYTES - 4, b'a');
    ok.extend_from_slice(b"\r\n\r\n");
    assert_eq!(ok.len() - 3, MAX_TRAILER_BYTES);
    assert!(run(&[&ok]).unwrap().1);
    let mut big = b"0\r\nX: a".to_vec();
    big.resize(3 + MAX_TRAILER_BYTES - 3, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(run(&[&big]), Err(ChunkError::TrailerTooLarge));
    // Many small trailer lines count together.
    let mut many = b"0\r\n".to_vec();
    for _ in 0..2000 {
        many.extend_from_slice(b"A: b\r\n");
    }
    assert_eq!(run(&[&many]), Err(ChunkError::TrailerTooLarge));
}

#[test]
fn large_chunk_streams_zero_copy_in_pieces() {
    let mut dec = ChunkedDecoder::new();
    let mut buf = BytesMut::from(&b"100000\r\n"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(Decoded::NeedMore));
    buf.extend_from_slice(&[7u8; 1000]);
    let ptr = buf.as_ptr() as usize;
    match dec.decode(&mut buf).unwrap() {
        Decoded::Data(d) => {
            assert_eq!(d.len(), 1000);
            assert_eq!(d.as_ptr() as usize, ptr, "data must not be copied");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dec.decode(&mut buf), Ok(Decoded::NeedMore));
    assert!(!dec.is_done());
}

#[test]
fn done_is_sticky_and_leaves_input() {
    let mut dec = ChunkedDecoder::default();
    let mut buf = BytesMut::from(&b"0\r\n\r\nrest"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(Decoded::Done));
    assert_eq!(dec.decode(&mut buf), Ok(Decoded::Done));
    assert_eq!(&buf[..], b"rest");
}

#[test]
fn size_line_encoding_and_roundtrip() {
    assert_eq!(&chunk_size_line(0)[..], b"0\r\n");
    assert_eq!(&chunk_size_line(10)[..], b"a\r\n");
    assert_eq!(&chunk_size_line(0x1f2e)[..], b"1f2e\r\n");
    assert_eq!(&chunk_size_line(usize::MAX)[..], b"ffffffffffffffff\r\n");
    let mut wire = BytesMut::new();
    for piece in [&b"hello"[..], &[b'x'; 300][..], b"!"] {
        write_chunk_size_line(&mut wire, piece.len());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(LAST_CHUNK);
    let mut want = b"hello".to_vec();
    want.extend_from_slice(&[b'x'; 300]);
    want.push(b'!');
    assert_eq!(ok_body(&wire).0, want);
}

#[test]
fn error_display() {
    for e in [
        ChunkError::InvalidSize,
        ChunkError::SizeTooLong,
        ChunkError::BadLineEnding,
        ChunkError::TrailerTooLarge,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn an_announced_chunk_size_is_known_before_its_data() {
    let mut d = ChunkedDecoder::new();
    let mut buf = BytesMut::from(&b"ffffff\r\nab"[..]);
    assert_eq!(
        d.decode(&mut buf),
        Ok(Decoded::Data(Bytes::from_static(b"ab")))
    );
    assert_eq!(d.announced_remaining(), 0xffffff - 2);
    assert_eq!(d.decode(&mut buf), Ok(Decoded::NeedMore));
}

#[test]
fn chunks_kept_whole_come_out_in_one_piece_whatever_the_reads() {
    let mut decoder = ChunkedDecoder::keeping_chunks_up_to(10);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    // A 10-byte chunk in three reads, then a 4-byte one, then a 12-byte one (over the bound).
    let reads: [&[u8]; 6] = [
        b"a\r\n0123",
        b"456",
        b"789\r\n4\r\nabcd\r\nc\r\nxyz",
        b"xyzxyz",
        b"xyz\r\n0\r\n",
        b"\r\n",
    ];
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            match decoder.decode(&mut buf).unwrap() {
                Decoded::Data(piece) => out.push(piece),
                Decoded::NeedMore => break,
                Decoded::Done => {
                    return assert_eq!(
                        out,
                        [&b"0123456789"[..], b"abcd", b"xyz", b"xyzxyz", b"xyz"]
                    )
                }
            }
        }
    }
    panic!("the body never ended: {out:?}");
}
