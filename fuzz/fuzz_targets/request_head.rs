//! Fuzz target `request_head`: the bytes a client sends on one keep-alive connection, parsed
//! as `server::connection` does: `parse_request` on the read buffer, read more on `Ok(None)`,
//! consume the body by its framing as `server::body::BodyReader` does (Content-Length or
//! chunked, refused past `max_request_body`, counting an announced chunk), then
//! the next pipelined request, until the client or the framing ends the connection. Each
//! parsed head also goes where the daemon sends it next: cache key, stream key, request
//! directives, end-to-end fields.
//!
//! Checked: no panic; the whole run is the same whether the input arrives in one read or
//! dribbled in pieces; a head consumes at most `max_head_bytes`, its target and field count
//! stay within the limits, its Host is safe for a cache key; `Ok(None)` and `Err` leave the
//! buffer untouched; memory stays proportional to the input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use livecache::cache::directives::RequestDirectives;
use livecache::cache::{CacheKey, StreamKey};
use livecache::config::StreamKeyRule;
use livecache::http::{
    end_to_end, parse_request, ChunkedDecoder, Decoded, RequestBody, RequestError, RequestHead,
    RequestLimits, Version,
};
use livecache_fuzz::{hash, mix, within_budget, Reads};

/// The daemon's default `max_request_body`.
const MAX_REQUEST_BODY: u64 = 16 << 20;
/// Where a request without Host is sent (the default `origin`'s authority).
const ORIGIN_AUTHORITY: &[u8] = b"127.0.0.1:9000";

/// Limits picked by the input: the daemon's defaults, the library's defaults, or the smallest
/// a configuration accepts (so short inputs reach every limit).
fn limits(data: &[u8]) -> RequestLimits {
    match hash(data) % 3 {
        0 => RequestLimits {
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
        },
        1 => RequestLimits::default(),
        _ => RequestLimits {
            max_head_bytes: 1024,
            max_headers: 4,
            max_uri_bytes: 64,
        },
    }
}

/// How the connection ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The input ran out while more was needed (the client went quiet or closed).
    NeedMore,
    /// The last response closes the connection (no keep-alive).
    Closed,
    Rejected(RequestError),
    BodyTooLarge,
    BadChunked,
}

/// Digests of every accepted head (with the bytes it took), and how the run ended.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    heads: Vec<u64>,
    end: End,
}

fn serve<'a>(mut reads: impl Iterator<Item = &'a [u8]>, limits: &RequestLimits) -> Run {
    let mut buf = BytesMut::new();
    let mut heads = Vec::new();
    loop {
        let before = (buf.len(), hash(&buf));
        match parse_request(&mut buf, limits) {
            Ok(Some(head)) => {
                let consumed = before.0 - buf.len();
                check_head(&head, consumed, limits);
                follow(&head);
                heads.push(digest(&head, consumed));
                if let Err(end) = read_body(&mut buf, &mut reads, head.body) {
                    return Run { heads, end };
                }
                if !head.keep_alive {
                    return Run {
                        heads,
                        end: End::Closed,
                    };
                }
            }
            Ok(None) => {
                assert_eq!(
                    (buf.len(), hash(&buf)),
                    before,
                    "Ok(None) changed the buffer"
                );
                assert!(
                    buf.len() <= limits.max_head_bytes,
                    "incomplete head of {} bytes over max_head_bytes",
                    buf.len()
                );
                match reads.next() {
                    Some(read) => buf.extend_from_slice(read),
                    None => {
                        return Run {
                            heads,
                            end: End::NeedMore,
                        }
                    }
                }
            }
            Err(e) => {
                assert_eq!((buf.len(), hash(&buf)), before, "Err changed the buffer");
                assert!(matches!(e.status(), 400 | 414 | 431 | 501), "{e:?}");
                assert!(!e.to_string().is_empty());
                return Run {
                    heads,
                    end: End::Rejected(e),
                };
            }
        }
    }
}

/// `server::body::BodyReader`: the body is consumed piece by piece as it arrives (thrown away
/// or streamed, never collected) before the next request is looked for; a declared length or
/// an announced chunk beyond `max_request_body` is refused before its bytes are read.
fn read_body<'a>(
    buf: &mut BytesMut,
    reads: &mut impl Iterator<Item = &'a [u8]>,
    framing: RequestBody,
) -> Result<(), End> {
    match framing {
        RequestBody::None => Ok(()),
        RequestBody::Length(n) if n > MAX_REQUEST_BODY => Err(End::BodyTooLarge),
        RequestBody::Length(mut left) => {
            while left > 0 {
                if buf.is_empty() {
                    buf.extend_from_slice(reads.next().ok_or(End::NeedMore)?);
                }
                let n = (left as usize).min(buf.len());
                left -= n as u64;
                drop(buf.split_to(n));
            }
            Ok(())
        }
        RequestBody::Chunked => {
            let mut decoder = ChunkedDecoder::new();
            let mut received = 0u64;
            let over = |received: u64, decoder: &ChunkedDecoder| {
                received + decoder.announced_remaining() > MAX_REQUEST_BODY
            };
            loop {
                match decoder.decode(buf) {
                    Ok(Decoded::Data(data)) => {
                        assert!(!data.is_empty(), "empty Data");
                        received += data.len() as u64;
                        if over(received, &decoder) {
                            return Err(End::BodyTooLarge);
                        }
                    }
                    Ok(Decoded::Done) => return Ok(()),
                    Ok(Decoded::NeedMore) if over(received, &decoder) => {
                        return Err(End::BodyTooLarge)
                    }
                    Ok(Decoded::NeedMore) => {
                        buf.extend_from_slice(reads.next().ok_or(End::NeedMore)?)
                    }
                    Err(_) => return Err(End::BadChunked),
                }
            }
        }
    }
}

/// Invariants every accepted head holds.
fn check_head(head: &RequestHead, consumed: usize, limits: &RequestLimits) {
    assert!(
        consumed > 0 && consumed <= limits.max_head_bytes,
        "consumed {consumed}"
    );
    assert!(
        head.target.len() <= limits.max_uri_bytes,
        "target over max_uri_bytes"
    );
    assert!(
        head.target.first() == Some(&b'/') || &head.target[..] == b"*",
        "target not in origin form: {:?}",
        head.target
    );
    // An absolute-form target may add the Host field.
    assert!(
        head.headers.len() <= limits.max_headers + 1,
        "too many fields"
    );
    let hosts = head.headers.iter().filter(|h| h.is("host")).count();
    assert!(hosts <= 1, "{hosts} Host fields");
    if head.version == Version::Http11 {
        assert_eq!(hosts, 1, "HTTP/1.1 head without Host");
    }
    if let Some(host) = head.host() {
        assert!(
            host.iter().all(|&b| b.is_ascii_graphic()
                && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\' | b'"' | b'<' | b'>')),
            "unsafe Host {host:?}"
        );
    }
    if head.body == RequestBody::Chunked {
        assert_eq!(head.version, Version::Http11, "chunked body in HTTP/1.0");
    }
    assert!(head.target.starts_with(head.path()));
    if let Some(q) = head.query() {
        assert!(head.target.ends_with(q));
    }
}

/// What `Connection::respond` derives from a head before routing it.
fn follow(head: &RequestHead) {
    let host = head.host().map(|h| &h[..]).unwrap_or(ORIGIN_AUTHORITY);
    let key = CacheKey::new(host, &head.target, &["CMCD".to_string()]);
    assert!(
        key.target().len() <= head.target.len(),
        "cache key grew the target"
    );
    assert!(
        !key.host().iter().any(u8::is_ascii_uppercase),
        "host not lower-cased"
    );
    for rule in [StreamKeyRule::Dirname, StreamKeyRule::Prefix(2)] {
        assert!(StreamKey::of(&key, rule).owner(4) < 4);
    }
    let directives = RequestDirectives::parse(&head.headers);
    for age in [directives.max_age, directives.min_fresh] {
        assert!(age.is_none_or(|s| s <= 1 << 31 || s == u64::MAX));
    }
    assert!(end_to_end(&head.headers).len() <= head.headers.len());
}

fn digest(head: &RequestHead, consumed: usize) -> u64 {
    let mut h = consumed as u64;
    mix(&mut h, head.method.as_bytes());
    mix(&mut h, &head.target);
    mix(&mut h, head.version.as_bytes());
    for field in &head.headers {
        mix(&mut h, &field.name);
        mix(&mut h, &field.value);
    }
    let body = match head.body {
        RequestBody::None => u64::MAX,
        RequestBody::Length(n) => n,
        RequestBody::Chunked => u64::MAX - 1,
    };
    mix(&mut h, &body.to_le_bytes());
    mix(&mut h, &[u8::from(head.keep_alive)]);
    h
}

/// The same connection, except that which error refuses a bad head may depend on where the
/// reads split it (a bare LF after an over-long target is 400 when it arrives with the target,
/// 414 when it arrives later; a head over both limits is 431 or 414): either way the head is
/// refused and the connection closed.
fn same_end(a: &End, b: &End) -> bool {
    a == b || matches!((a, b), (End::Rejected(_), End::Rejected(_)))
}

fuzz_target!(|data: &[u8]| {
    let limits = limits(data);
    let budget = 8 * data.len() + 256 * 1024;
    let whole = within_budget(budget, "one read", || serve(std::iter::once(data), &limits));
    let dribbled = within_budget(budget, "many reads", || serve(Reads::new(data, 1), &limits));
    assert_eq!(whole.heads, dribbled.heads, "heads depend on the reads");
    assert!(
        same_end(&whole.end, &dribbled.end),
        "end depends on the reads: {:?} vs {:?}",
        whole.end,
        dribbled.end
    );
});
