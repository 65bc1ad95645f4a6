//! The `PURGE` method: a client at an address listed in `purge_allow` removes one URL from
//! the cache, every stored variant of it, and learns how many objects went. The URL is keyed
//! exactly as a GET for it would be (host lower-cased, tracking parameters stripped), so the
//! purge finds what viewers were served, and it goes to the shard that owns its stream.
//!
//! A purge is answered by livecache itself and never reaches the origin. It answers 200 with
//! `{"purged":N}` even when N is 0, so a retried purge is not an error. Any other address gets
//! 405, as if the method did not exist here: an edge must not tell strangers it accepts purges.
//! Wider purges (a stream, a path prefix) are the admin listener's (`admin`), not a method's.

use std::io;
use std::net::IpAddr;

use bytes::BytesMut;
use futures_lite::AsyncWriteExt;

use super::client::Connection;
use super::respond::{write_failure, Exchange};
use crate::http::encode;
use crate::http::request::{Method, RequestHead};
use crate::http::Failure;
use crate::http::Version;
use crate::metrics::{CacheResult, Meter};
use crate::shard::route;

/// What a 405 lists: the methods livecache serves or forwards (PURGE stays unadvertised).
const ALLOW: &[u8] = b"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";

/// Whether `method` is `PURGE` (method names are case-sensitive, RFC 9110 9.1).
pub fn is_purge(method: &Method) -> bool {
    matches!(method, Method::Other(name) if name.as_ref() == b"PURGE")
}

/// Answers one `PURGE`. Ok(true): the connection may carry another request.
pub async fn serve(
    conn: &mut Connection,
    head: &RequestHead,
    exchange: Exchange<'_>,
    meter: &mut Meter,
) -> io::Result<bool> {
    if let Err(failure) = conn.discard_body(head).await {
        write_failure(&mut conn.stream, meter, failure, None).await?;
        return Ok(false);
    }
    let config = conn.shard.config();
    if !conn.peer().is_some_and(|peer| allowed(&config, peer.ip())) {
        let answer = Answer {
            status: 405,
            content_type: b"text/plain",
            allow: true,
            body: format!("{}\n", encode::status_reason(405)).into_bytes(),
        };
        meter.head(answer.status, CacheResult::Local);
        meter.wrote(write_answer(conn, &answer, exchange).await?);
        return Ok(exchange.keep_alive);
    }
    let key = conn.cache_key(head);
    let owner = route::owner(&config, &key);
    let Some(purged) = route::invalidate(&conn.shard, owner, key.clone()).await else {
        // The owner's queue is gone: nothing can be said about the URL.
        write_failure(&mut conn.stream, meter, Failure::Internal, None).await?;
        return Ok(false);
    };
    tracing::debug!(
        shard = conn.shard.id,
        owner,
        host = %String::from_utf8_lossy(key.host()),
        target = %String::from_utf8_lossy(key.target()),
        purged,
        "PURGE"
    );
    let answer = Answer {
        status: 200,
        content_type: b"application/json",
        allow: false,
        body: format!("{{\"purged\":{purged}}}\n").into_bytes(),
    };
    meter.head(answer.status, CacheResult::Local);
    meter.wrote(write_answer(conn, &answer, exchange).await?);
    Ok(exchange.keep_alive)
}

/// Whether `ip` may purge. An IPv4 client of a dual-stack listener shows up as `::ffff:a.b.c.d`
/// and is matched as the IPv4 address it is.
fn allowed(config: &crate::config::Config, ip: IpAddr) -> bool {
    config.caching.may_purge(ip.to_canonical())
}

/// A response livecache makes for a purge.
struct Answer {
    status: u16,
    content_type: &'static [u8],
    /// Whether to list the allowed methods (a 405).
    allow: bool,
    body: Vec<u8>,
}

/// Writes `answer` whole, never stored by anyone; returns the bytes written.
async fn write_answer(
    conn: &mut Connection,
    answer: &Answer,
    exchange: Exchange<'_>,
) -> io::Result<usize> {
    let mut out = BytesMut::with_capacity(256 + answer.body.len());
    encode::status_line(&mut out, answer.status, None);
    encode::header(&mut out, b"Content-Type", answer.content_type);
    encode::content_length(&mut out, answer.body.len() as u64);
    encode::header(&mut out, b"Cache-Control", b"no-store");
    if answer.allow {
        encode::header(&mut out, b"Allow", ALLOW);
    }
    encode::header(&mut out, b"Via", &exchange.node.via);
    encode::header(
        &mut out,
        b"Date",
        httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes(),
    );
    if !exchange.keep_alive {
        encode::header(&mut out, b"Connection", b"close");
    } else if exchange.version == Version::Http10 {
        encode::header(&mut out, b"Connection", b"keep-alive");
    }
    encode::end_head(&mut out);
    out.extend_from_slice(&answer.body);
    conn.stream.write_all(&out).await?;
    Ok(out.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn only_the_exact_method_name_is_a_purge() {
        assert!(is_purge(&Method::Other(Bytes::from_static(b"PURGE"))));
        assert!(!is_purge(&Method::Other(Bytes::from_static(b"purge"))));
        assert!(!is_purge(&Method::Other(Bytes::from_static(b"BAN"))));
        assert!(!is_purge(&Method::Delete));
    }

    #[test]
    fn mapped_ipv4_clients_match_ipv4_blocks() {
        let config = crate::config::Config::from_pairs(&[
            ("origin", "http://127.0.0.1:9"),
            ("purge_allow", "10.0.0.0/8"),
        ])
        .expect("valid config");
        assert!(allowed(&config, "10.1.2.3".parse().unwrap()));
        assert!(allowed(&config, "::ffff:10.1.2.3".parse().unwrap()));
        assert!(!allowed(&config, "127.0.0.1".parse().unwrap()));
        assert!(!allowed(&config, "::1".parse().unwrap()));
    }
}
