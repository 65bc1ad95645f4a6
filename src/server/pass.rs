//! Requests the cache does not serve: methods other than GET/HEAD, reads of `pass_paths`,
//! and credentialed (`Authorization`) HEAD, range and conditional reads. They go to the origin
//! from the connection's own shard, uncached and uncoalesced, with their body. A successful
//! unsafe method then invalidates the cached object for its URL, and for same-origin
//! `Location` / `Content-Location` URLs, on their owner shards (RFC 9111 4.4).

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use super::body::{self, BodyError, BodyReader};
use super::client::Connection;
use super::forward;
use super::pace::Pace;
use super::respond::{write_failure, write_response, Exchange};
use super::respond_body::Replies;
use crate::cache::CacheStatus;
use crate::cache::{CacheKey, CachedHead, StreamKey};
use crate::http::headers::{end_to_end, find, parse_content_length, trim_ows};
use crate::http::request::{Method, RequestBody, RequestHead};
use crate::http::response::ResponseBody;
use crate::http::Failure;
use crate::metrics::{Guard, Meter, ShardStats};
use crate::origin::{self, BodyFraming, BodySource, UpstreamRequest, UpstreamResponse};
use crate::shard::{route, Reply};

/// The replies of a pass-through exchange: its head, then its body as read.
struct PassReplies {
    /// Informational heads, forwarded before the final one.
    interim: std::collections::VecDeque<Arc<CachedHead>>,
    head: Option<Arc<CachedHead>>,
    response: UpstreamResponse,
    /// Where an upstream failure mid-body is counted.
    shard: std::rc::Rc<crate::shard::Shard>,
    /// The request target, for the log when the upstream fails mid-body.
    target: Bytes,
}

impl Replies for PassReplies {
    async fn next(&mut self) -> Reply {
        if let Some(interim) = self.interim.pop_front() {
            return Reply::Interim(interim);
        }
        if let Some(head) = self.head.take() {
            return Reply::Head {
                body_len: head.content_length,
                head,
                age_secs: 0,
                status: CacheStatus::pass(),
                in_hand: false,
                written: None,
                shared: false,
            };
        }
        match self.response.next_chunk().await {
            Ok(Some(chunk)) => Reply::Chunk(chunk),
            Ok(None) => Reply::End,
            Err(e) => {
                self.shard.upstream_failed(&self.target, &e);
                Reply::Aborted
            }
        }
    }
}

pub async fn forward(
    conn: &mut Connection,
    head: &RequestHead,
    exchange: Exchange<'_>,
    meter: &mut Meter,
) -> io::Result<bool> {
    let shard = std::rc::Rc::clone(&conn.shard);
    let config = shard.config();
    ShardStats::incr(&shard.my_stats().passes);
    let framing = match head.body {
        RequestBody::None => BodyFraming::None,
        RequestBody::Length(n) => BodyFraming::Length(n),
        RequestBody::Chunked => BodyFraming::Chunked,
    };
    if let Err(e) = body::admissible(head.body, config.max_request_body) {
        // Refused before a byte of it is read (and before any `100 Continue`).
        write_failure(&mut conn.stream, meter, e.failure(), None).await?;
        return Ok(false);
    }
    // The body is relayed as it arrives; its room in `request_body_memory` is held until the
    // origin has it all (or the exchange failed).
    let room = match framing {
        BodyFraming::None | BodyFraming::Length(0) => None,
        _ => match BodyRoom::reserve(&shard) {
            Some(room) => Some(room),
            None => {
                shard.my_stats().guards.fire(Guard::BodyMemoryFull);
                write_failure(&mut conn.stream, meter, Failure::MemoryFull, None).await?;
                return Ok(false);
            }
        },
    };
    let unsafe_method = !matches!(head.method, Method::Get | Method::Head | Method::Options);
    let request = UpstreamRequest {
        method: Bytes::copy_from_slice(head.method.as_bytes()),
        // A signed URL's token is for livecache, never for the origin.
        target: match config.access.routes.is_empty() {
            true => head.target.clone(),
            false => crate::cache::key::strip_query(&head.target, &config.access.token_params),
        },
        headers: {
            let mut fields = forward::passed_fields(
                head,
                &config.origin.authority,
                conn.client_of(head),
                &config.node,
            );
            if !config.access.routes.is_empty() {
                super::access::strip_token_fields(&mut fields, &config.access.token_params);
            }
            fields
        },
        body: framing,
        // A POST or PATCH must not be sent twice: it never rides a reused connection.
        idempotent: !matches!(head.method, Method::Post | Method::Patch | Method::Other(_)),
        is_head: head.method == Method::Head,
    };
    let stream = StreamKey::of(&conn.cache_key(head), config.stream_key);
    if framing != BodyFraming::None {
        body::continue_if_expected(&mut conn.stream, head).await?;
    }
    let pace = Pace::new(config.client_header_timeout, config.client_min_rate);
    let reader = BodyReader::new(
        &mut conn.stream,
        &mut conn.buf,
        shard.my_stats(),
        head.body,
        config.max_request_body,
        pace,
    );
    let mut source = match reader {
        Ok(reader) => ClientBody {
            reader,
            failed: None,
        },
        Err(e) => {
            write_failure(&mut conn.stream, meter, e.failure(), None).await?;
            return Ok(false);
        }
    };
    ShardStats::incr(&shard.my_stats().origin_requests);
    let sent = std::time::Instant::now();
    // Informational heads are held until the final head arrives: this exchange's client
    // writer runs only then (a coalesced fetch forwards them the moment they arrive).
    let mut interim = std::collections::VecDeque::new();
    let mut keep_interim = |head: &crate::http::response::ResponseHead| {
        interim.extend(crate::shard::interim_head(head));
    };
    // A passed request goes to its stream's first choice only: its body cannot be sent twice.
    let upstreams = shard.upstreams();
    let candidates = upstreams.candidates(stream.as_bytes(), shard.now());
    let candidate = &candidates[0];
    upstreams.sent(candidate);
    let fetched = origin::fetch(
        &candidate.pool,
        &request,
        &mut source,
        shard.timeouts(),
        &mut keep_interim,
    )
    .await;
    match &fetched {
        Ok(_) => upstreams.answered(candidate, sent.elapsed()),
        Err(e) => upstreams.failed(candidate, e.before_response(), false, shard.now()),
    }
    let client_failed = source.failed;
    // Unless the whole body was read, what is left of it on the connection is no request.
    let body_done = source.reader.is_done();
    drop(room);
    meter.upstream(sent.elapsed());
    if let Some(e) = client_failed {
        // The client broke its own body: the origin's side was abandoned mid-request.
        if e == BodyError::TooSlow {
            shard.my_stats().guards.fire(Guard::SlowBody);
        }
        write_failure(&mut conn.stream, meter, e.failure(), None).await?;
        return Ok(false);
    }
    let response = match fetched {
        Ok(response) => {
            shard.record_origin(sent.elapsed());
            response
        }
        Err(e) => {
            shard.upstream_failed(&head.target, &e);
            let keep_alive = exchange.keep_alive && body_done;
            let version = keep_alive.then_some(exchange.version);
            write_failure(&mut conn.stream, meter, e.failure(), version).await?;
            return Ok(keep_alive);
        }
    };
    if unsafe_method && response.head.status < 400 {
        // RFC 9111 4.4: the target, and same-origin URIs the response names, are invalidated.
        let config = shard.config();
        let target = conn.cache_key(head);
        let mut keys = vec![target.clone()];
        for name in ["location", "content-location"] {
            if let Some(reference) = find(&response.head.headers, name) {
                keys.extend(CacheKey::of_reference(
                    &target,
                    reference,
                    &config.strip_query_params,
                ));
            }
        }
        keys.dedup();
        for key in keys {
            let owner = route::owner(&config, &key);
            let _ = route::invalidate(&shard, owner, key).await;
        }
    }
    let mut fields = end_to_end(&response.head.headers);
    fields.retain(|h| !h.is("content-length"));
    let response_head = Arc::new(CachedHead::plain(
        response.head.status,
        response.head.reason.clone(),
        fields,
        match response.framing {
            ResponseBody::Length(n) => Some(n),
            // A response to HEAD has no body but still tells the length of the one it stands for.
            ResponseBody::None if exchange.head_only => {
                find(&response.head.headers, "content-length")
                    .and_then(|v| parse_content_length(trim_ows(v)))
            }
            _ => None,
        },
    ));
    let mut replies = PassReplies {
        interim,
        head: Some(response_head),
        response,
        shard,
        target: head.target.clone(),
    };
    let exchange = Exchange {
        keep_alive: exchange.keep_alive && body_done,
        ..exchange
    };
    write_response(&mut conn.stream, &mut replies, exchange, meter).await
}

/// The client's body as the origin exchange reads it; remembers why it failed, if it did.
struct ClientBody<'c> {
    reader: BodyReader<'c>,
    failed: Option<BodyError>,
}

impl BodySource for ClientBody<'_> {
    async fn next(&mut self) -> Result<Option<Bytes>, ()> {
        self.reader.next().await.map_err(|e| {
            self.failed = Some(e);
        })
    }
}

/// One request body's room in the shard's `request_body_memory`, given back when dropped.
struct BodyRoom(std::rc::Rc<crate::shard::Shard>);

impl BodyRoom {
    fn reserve(shard: &std::rc::Rc<crate::shard::Shard>) -> Option<BodyRoom> {
        shard
            .reserve_request_body()
            .then(|| BodyRoom(std::rc::Rc::clone(shard)))
    }
}

impl Drop for BodyRoom {
    fn drop(&mut self) {
        self.0.release_request_body();
    }
}
