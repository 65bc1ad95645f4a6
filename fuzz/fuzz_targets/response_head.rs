//! Fuzz target `response_head`: the bytes an origin answers on one upstream connection,
//! handled as `origin::client::exchange` handles them: `parse_response` on the read buffer
//! (read more on `Ok(None)`), interim 1xx heads skipped up to its limit, then the final
//! head's body by its framing (Content-Length, chunked, until close, none). The final head
//! then goes through `freshness::evaluate`, as the fetch leader does when a head arrives.
//!
//! Checked: no panic; the run (heads, body bytes, where the response ended) is the same for
//! one read and for random reads; a head consumes at most the head limit and holds at most the
//! field limit; the status is three digits; bodyless statuses and HEAD get no body; a
//! close-delimited body never keeps the connection; `Ok(None)` and `Err` leave the buffer
//! untouched; memory stays proportional to the input.
#![no_main]

use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use livecache::cache::Policy;
use livecache::http::{
    parse_response, ChunkedDecoder, Decoded, ParsedResponse, ResponseBody, ResponseError, Version,
};
use livecache_fuzz::{
    decide, hash, mix, stream as digest_body, within_budget, Reads, EMPTY, NAME_LIST_FACTOR,
};

/// `origin::client`'s limits (private constants there).
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const MAX_RESPONSE_HEADERS: usize = 128;
const MAX_INTERIM_RESPONSES: usize = 8;

#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The origin closed (the input ended) inside a head or a framed body.
    Truncated,
    EndlessInterim,
    Rejected(ResponseError),
    BadChunked,
    /// The response ended after `at` bytes of the stream (the rest is not this response's).
    Complete {
        at: usize,
    },
    /// A close-delimited body: everything to the end of the stream.
    UntilClose,
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    heads: Vec<u64>,
    body: u64,
    end: End,
}

fn exchange<'a>(stream: &[u8], mut reads: impl Iterator<Item = &'a [u8]>, is_head: bool) -> Run {
    let mut buf = BytesMut::new();
    let mut fed = 0usize;
    let mut heads = Vec::new();
    let mut body = EMPTY;
    let mut interim = 0;
    let mut more = |buf: &mut BytesMut, fed: &mut usize| match reads.next() {
        Some(read) => {
            buf.extend_from_slice(read);
            *fed += read.len();
            true
        }
        None => false,
    };
    let end = loop {
        let before = (buf.len(), hash(&buf));
        match parse_response(&mut buf, MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS, is_head) {
            Ok(Some(parsed)) => {
                let consumed = before.0 - buf.len();
                check(&parsed, consumed, is_head);
                heads.push(digest(&parsed, consumed));
                if (100..200).contains(&parsed.head.status) {
                    interim += 1;
                    if interim > MAX_INTERIM_RESPONSES {
                        break End::EndlessInterim;
                    }
                    continue;
                }
                evaluate(&parsed, stream);
                match parsed.body {
                    ResponseBody::None => {
                        break End::Complete {
                            at: fed - buf.len(),
                        }
                    }
                    ResponseBody::Length(n) => {
                        while (buf.len() as u64) < n {
                            if !more(&mut buf, &mut fed) {
                                break;
                            }
                        }
                        if (buf.len() as u64) < n {
                            break End::Truncated;
                        }
                        digest_body(&mut body, &buf.split_to(n as usize));
                        break End::Complete {
                            at: fed - buf.len(),
                        };
                    }
                    ResponseBody::CloseDelimited => {
                        while more(&mut buf, &mut fed) {}
                        digest_body(&mut body, &buf.split());
                        break End::UntilClose;
                    }
                    ResponseBody::Chunked => {
                        let mut decoder = ChunkedDecoder::new();
                        break loop {
                            match decoder.decode(&mut buf) {
                                Ok(Decoded::Data(data)) => {
                                    assert!(!data.is_empty(), "empty Data");
                                    digest_body(&mut body, &data);
                                }
                                Ok(Decoded::NeedMore) if more(&mut buf, &mut fed) => {}
                                Ok(Decoded::NeedMore) => break End::Truncated,
                                Ok(Decoded::Done) => {
                                    break End::Complete {
                                        at: fed - buf.len(),
                                    }
                                }
                                Err(_) => break End::BadChunked,
                            }
                        };
                    }
                }
            }
            Ok(None) => {
                assert_eq!(
                    (buf.len(), hash(&buf)),
                    before,
                    "Ok(None) changed the buffer"
                );
                assert!(
                    buf.len() <= MAX_RESPONSE_HEAD,
                    "incomplete head over the limit"
                );
                if !more(&mut buf, &mut fed) {
                    break End::Truncated;
                }
            }
            Err(e) => {
                assert_eq!((buf.len(), hash(&buf)), before, "Err changed the buffer");
                assert!(!e.to_string().is_empty());
                break End::Rejected(e);
            }
        }
    };
    Run { heads, body, end }
}

fn check(parsed: &ParsedResponse, consumed: usize, is_head: bool) {
    let head = &parsed.head;
    assert!(
        consumed > 0 && consumed <= MAX_RESPONSE_HEAD,
        "consumed {consumed}"
    );
    assert!((100..=999).contains(&head.status), "status {}", head.status);
    assert!(
        head.headers.len() <= MAX_RESPONSE_HEADERS,
        "too many fields"
    );
    assert!(!head.reason.contains(&b'\r') && !head.reason.contains(&b'\n'));
    let bodyless = (100..200).contains(&head.status) || matches!(head.status, 204 | 304);
    if bodyless || is_head {
        assert_eq!(parsed.body, ResponseBody::None, "a body where none may be");
    }
    if parsed.body == ResponseBody::Chunked {
        assert_eq!(head.version, Version::Http11, "chunked from HTTP/1.0");
    }
    if parsed.body == ResponseBody::CloseDelimited {
        assert!(
            !parsed.keep_alive,
            "close-delimited body on a kept connection"
        );
    }
}

/// What the fetch leader decides when the final head arrives.
fn evaluate(parsed: &ParsedResponse, stream: &[u8]) {
    let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000 + hash(stream) % 1000);
    let arrived = sent + Duration::from_millis(hash(&parsed.head.reason) % 70_000);
    let decision = decide(parsed.head.status, &parsed.head.headers, sent, arrived);
    if let Policy::Store {
        lifetime,
        initial_age,
        reuse,
    } = decision.policy
    {
        assert!(lifetime > initial_age || reuse.revalidate_always);
    }
}

fn digest(parsed: &ParsedResponse, consumed: usize) -> u64 {
    let head = &parsed.head;
    let mut h = consumed as u64;
    mix(&mut h, &head.status.to_le_bytes());
    mix(&mut h, &head.reason);
    mix(&mut h, head.version.as_bytes());
    for field in &head.headers {
        mix(&mut h, &field.name);
        mix(&mut h, &field.value);
    }
    let body = match parsed.body {
        ResponseBody::None => u64::MAX,
        ResponseBody::Length(n) => n,
        ResponseBody::Chunked => u64::MAX - 1,
        ResponseBody::CloseDelimited => u64::MAX - 2,
    };
    mix(&mut h, &body.to_le_bytes());
    mix(&mut h, &[u8::from(parsed.keep_alive)]);
    h
}

fuzz_target!(|data: &[u8]| {
    let is_head = hash(data) & 3 == 0;
    // `freshness::evaluate` reads the Vary list of the head.
    let budget = NAME_LIST_FACTOR * data.len() + 256 * 1024;
    let whole = within_budget(budget, "one read", || {
        exchange(data, std::iter::once(data), is_head)
    });
    let dribbled = within_budget(budget, "many reads", || {
        exchange(data, Reads::new(data, 4), is_head)
    });
    assert_eq!(whole, dribbled, "the response depends on the reads");
});
