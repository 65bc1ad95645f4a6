//! Requests the cache does not serve: methods other than GET/HEAD, and reads carrying
//! `Authorization` (RFC 9111 3.5). They go to the origin from the connection's own shard,
//! uncached and uncoalesced, with their body. A successful unsafe method then invalidates the
//! cached object for its URL on the owner shard (RFC 9111 4.4).

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use super::connection::Connection;
use super::respond::{write_error, write_response, Exchange, Replies};
use crate::cache::{Arrival, CachedHead, StreamKey};
use crate::http::headers::{end_to_end, find, parse_content_length, trim_ows};
use crate::http::request::{Method, RequestHead};
use crate::http::response::ResponseBody;
use crate::metrics::{self, CacheResult, Meter, ShardStats};
use crate::origin::{self, UpstreamRequest, UpstreamResponse};
use crate::shard::{mesh, CacheStatus, Reply};

/// Request fields not forwarded as-is: recomputed framing and our own `Host`.
const NOT_FORWARDED: &[&str] = &["host", "content-length"];

/// The replies of a pass-through exchange: its head, then its body as read.
struct PassReplies {
    head: Option<Arc<CachedHead>>,
    response: UpstreamResponse,
    /// Where an upstream failure mid-body is counted.
    shard: std::rc::Rc<crate::shard::Shard>,
    /// The request target, for the log when the upstream fails mid-body.
    target: Bytes,
}

impl Replies for PassReplies {
    async fn next(&mut self) -> Reply {
        if let Some(head) = self.head.take() {
            return Reply::Head {
                body_len: head.content_length,
                head,
                age_secs: 0,
                status: CacheStatus::pass(),
            };
        }
        match self.response.next_chunk().await {
            Ok(Some(chunk)) => Reply::Chunk(chunk),
            Ok(None) => Reply::End,
            Err(e) => {
                self.shard
                    .my_stats()
                    .origin_error(metrics::origin_error_kind(&e));
                crate::log::upstream_failure(self.shard.id, &self.target, &e);
                Reply::Aborted
            }
        }
    }
}

pub async fn forward(
    conn: &mut Connection,
    head: &RequestHead,
    exchange: Exchange,
    meter: &mut Meter,
) -> io::Result<bool> {
    let shard = std::rc::Rc::clone(&conn.shard);
    ShardStats::incr(&shard.my_stats().passes);
    let body = match conn.read_body(head.body).await {
        Ok(body) => body,
        Err(status) => {
            shard.my_stats().bad_request(status);
            meter.head(status, CacheResult::Error);
            meter.wrote(write_error(&mut conn.stream, status, None).await?);
            return Ok(false);
        }
    };
    let unsafe_method = !matches!(head.method, Method::Get | Method::Head | Method::Options);
    let request = UpstreamRequest {
        method: Bytes::copy_from_slice(head.method.as_bytes()),
        target: head.target.clone(),
        headers: conn.upstream_headers(head, NOT_FORWARDED),
        body,
        // A POST or PATCH must not be sent twice: it never rides a reused connection.
        idempotent: !matches!(head.method, Method::Post | Method::Patch | Method::Other(_)),
        is_head: head.method == Method::Head,
    };
    ShardStats::incr(&shard.my_stats().origin_requests);
    let sent = std::time::Instant::now();
    let fetched = origin::fetch(&shard.pool(), &request, shard.timeouts()).await;
    meter.upstream(sent.elapsed());
    let response = match fetched {
        Ok(response) => {
            metrics::record_origin(sent.elapsed());
            response
        }
        Err(e) => {
            shard
                .my_stats()
                .origin_error(metrics::origin_error_kind(&e));
            crate::log::upstream_failure(shard.id, &head.target, &e);
            meter.head(e.status(), CacheResult::Error);
            let n = write_error(
                &mut conn.stream,
                e.status(),
                exchange.keep_alive.then_some(exchange.version),
            )
            .await?;
            meter.wrote(n);
            return Ok(exchange.keep_alive);
        }
    };
    if unsafe_method && response.head.status < 400 {
        let key = conn.cache_key(head);
        let owner = StreamKey::of(&key, shard.config().stream_key).owner(shard.config().shards);
        mesh::invalidate(&shard, owner, key).await;
    }
    let mut fields = end_to_end(&response.head.headers);
    fields.retain(|h| !h.is("content-length"));
    let response_head = Arc::new(CachedHead {
        status: response.head.status,
        reason: response.head.reason.clone(),
        headers: fields,
        content_length: match response.framing {
            ResponseBody::Length(n) => Some(n),
            // A response to HEAD has no body but still tells the length of the one it stands for.
            ResponseBody::None if exchange.head_only => {
                find(&response.head.headers, "content-length")
                    .and_then(|v| parse_content_length(trim_ows(v)))
            }
            _ => None,
        },
        arrival: Arrival::default(),
    });
    let mut replies = PassReplies {
        head: Some(response_head),
        response,
        shard,
        target: head.target.clone(),
    };
    write_response(&mut conn.stream, &mut replies, exchange, meter).await
}
