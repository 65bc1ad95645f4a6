//! One client connection, from accept to close: read a request head within the limits and
//! timeouts, route it, write the response, repeat. Pipelined requests are answered in order
//! because the next head is parsed only after the previous response is written (extra bytes
//! simply wait in the buffer). Bad input costs only this connection: a status and a close.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use futures_lite::future::or;

use super::client::Connection;
use super::pace::Pace;
use super::respond::{write_failure, write_response, Exchange};
use super::written_at_release::AtRelease;
use super::{forward, pass, purge};
use crate::cache::directives::RequestDirectives;
use crate::cache::StreamKey;
use crate::config::node::loops_through;
use crate::config::RequestDirectives as RequestDirectivesRule;
use crate::http::headers::find_all;
use crate::http::request::{parse_request, Method, RequestBody, RequestHead, RequestLimits};
use crate::http::Failure;
use crate::io::read_some;
use crate::live::Cmcd;
use crate::log::access::Entry;
use crate::metrics::streams::ObjectKind;
use crate::metrics::{self, Guard, Meter, ShardStats};
use crate::shard::{route, FetchRequest};

/// The first read of a request head (`io::FIRST_HEAD_READ`, which says why it is small).
pub(super) const FIRST_READ: usize = crate::io::FIRST_HEAD_READ;
/// A read for the rest of a head the first did not hold, and every first read for a client
/// whose last head was larger than `FIRST_READ`.
const READ_SIZE: usize = 4 * 1024;

enum NextRequest {
    Request(RequestHead),
    /// Closed by the client, idle too long, too slow with its head, or draining.
    Done,
    Reject(Failure),
}

impl Connection {
    pub async fn serve(mut self) {
        let _ = self.stream.set_nodelay(true);
        loop {
            // A reload applies from the next request on, also on a kept-alive connection.
            let _ = self
                .stream
                .set_write_timeout(Some(self.shard.config().client_idle_timeout));
            let head = match self.next_request().await {
                NextRequest::Request(head) => head,
                NextRequest::Done => return,
                NextRequest::Reject(failure) => {
                    // Not a request yet: counted as a failure, not by method.
                    self.shard.my_stats().failed(failure);
                    let mut meter = Meter::start();
                    let answered = write_failure(&mut self.stream, &mut meter, failure, None).await;
                    if answered.is_ok() {
                        ShardStats::add(&self.shard.my_stats().bytes_sent, meter.bytes());
                    }
                    self.log_access(None, &meter);
                    return;
                }
            };
            ShardStats::incr(&self.shard.my_stats().requests);
            let method = metrics::method_index(&head.method);
            let mut meter = Meter::start();
            let result = self.respond(&head, &mut meter).await;
            if result
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::TimedOut)
            {
                self.shard.my_stats().guards.fire(Guard::SlowReader);
            }
            self.log_access(Some(&head), &meter);
            self.shard.record_response(meter, method);
            match result {
                Ok(true) if !self.drain.is_draining() => {}
                _ => return,
            }
        }
    }

    /// Reads until one request head is buffered. Waiting for its first byte is bounded by
    /// the idle timeout (and ends on drain); the whole head by the header timeout.
    async fn next_request(&mut self) -> NextRequest {
        let mut deadline: Option<Instant> = None;
        loop {
            // A reload applies from the next request on, kept-alive connections included: it
            // is adopted as soon as that request's bytes are here (an atomic load otherwise).
            self.shard.adopt_reload();
            let config = self.shard.config();
            let limits = RequestLimits {
                max_head_bytes: config.max_request_head,
                max_headers: config.max_headers,
                max_uri_bytes: config.max_uri,
            };
            let buffered = self.buf.len();
            match parse_request(&mut self.buf, &limits) {
                Ok(Some(head)) => {
                    let head_len = buffered - self.buf.len();
                    self.head_room = match head_len > FIRST_READ {
                        true => READ_SIZE,
                        false => FIRST_READ,
                    };
                    return NextRequest::Request(head);
                }
                Ok(None) => {}
                Err(e) => return NextRequest::Reject(e.failure()),
            }
            let timeout = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return NextRequest::Done,
                },
                None if self.buf.is_empty() => config.client_idle_timeout,
                None => {
                    let d = Instant::now() + config.client_header_timeout;
                    deadline = Some(d);
                    config.client_header_timeout
                }
            };
            let _ = self.stream.set_read_timeout(Some(timeout));
            let read = if self.buf.is_empty() {
                let drain = self.drain.wait();
                let stream = &mut self.stream;
                let buf = &mut self.buf;
                or(read_some(stream, buf, self.head_room), async {
                    drain.await;
                    Ok(0)
                })
                .await
            } else {
                read_some(&mut self.stream, &mut self.buf, READ_SIZE).await
            };
            if let Ok(n) = read {
                self.note_received(n);
            }
            // A head still incomplete after this read starts its header deadline on the next
            // turn (a complete one, the usual case, needs no clock reading).
            if let Ok(0) | Err(_) = read {
                return NextRequest::Done;
            }
        }
    }

    /// The access log's one call per response (a no-op while the log is off). `head` is
    /// `None` for input refused before a request could be parsed.
    fn log_access(&mut self, head: Option<&RequestHead>, meter: &Meter) {
        if !self.shard.access_log.is_on() {
            return;
        }
        let peer = self.peer();
        let config = self.shard.config();
        let stripped;
        let mut entry = Entry::new(peer, head, meter, self.shard.id);
        // Behind a trusted proxy, the client it forwarded for (as nginx's realip logs it).
        if let Some((client, _)) = head.and_then(|head| self.client_of(head)) {
            entry.client = Some(client);
        }
        // A signed URL's token is a credential: it is not written to the log.
        let params = &config.access.token_params;
        if let Some(line) = entry.request.as_mut().filter(|_| !params.is_empty()) {
            stripped = crate::cache::key::strip_query(line.target, params);
            line.target = &stripped;
        }
        self.shard.access_log.record(&entry);
    }

    async fn respond(&mut self, head: &RequestHead, meter: &mut Meter) -> io::Result<bool> {
        // Held playlist answers just released go before a new request is worked on.
        self.shard.let_releases_pass().await;
        let keep_alive = head.keep_alive && !self.drain.is_draining();
        let config = self.shard.config();
        let cmcd = Cmcd::of_request(&head.target, &head.headers);
        let urgent = cmcd.as_ref().is_some_and(Cmcd::is_urgent);
        if urgent {
            ShardStats::incr(&self.shard.my_stats().live.cmcd_urgent);
        }
        let exchange = Exchange {
            version: head.version,
            head_only: head.method == Method::Head,
            keep_alive,
            conditions: super::respond::Conditions::of(head),
            pace: Pace::new(
                self.shard.config().client_header_timeout,
                self.shard.config().client_min_rate,
            ),
            server_data: super::cmsd::ServerData::of(
                &self.stream,
                &self.shard,
                &mut self.tcp,
                meter.started(),
            ),
            node: &config.node,
            urgent,
            set_cookie: None,
        };
        if loops_through(find_all(&head.headers, "cdn-loop"), &config.node) {
            // This node already passed the request on: a tier loop (RFC 8586). Answered and
            // closed before any body is read: what follows on the connection is no request.
            write_failure(&mut self.stream, meter, Failure::Loop, None).await?;
            return Ok(false);
        }
        if purge::is_purge(&head.method) {
            return purge::serve(self, head, exchange, meter).await;
        }
        // TRACE echoes the request as the origin received it: with livecache's own credential
        // added, that would hand the secret to any client (nginx refuses TRACE likewise).
        let trace = matches!(&head.method, Method::Other(m) if m.eq_ignore_ascii_case(b"TRACE"));
        let renewal = match self.check_access(head) {
            Ok(renewal) if !trace => renewal,
            _ => {
                // Refused before any lookup or upstream request. A body that was not read
                // leaves nothing on the connection that could be trusted as the next request.
                let alive = exchange.keep_alive && head.body == RequestBody::None;
                let version = alive.then_some(head.version);
                write_failure(&mut self.stream, meter, Failure::Forbidden, version).await?;
                return Ok(alive);
            }
        };
        let exchange = Exchange {
            set_cookie: renewal.as_deref(),
            ..exchange
        };
        let authorized =
            forward::carries_credentials(head, &self.shard.config().access.token_params);
        // A credentialed HEAD, range or conditional read goes to the origin as it is, as it
        // always did: its own fetch would take the whole body from the origin to cut a part
        // of it, or to decide a 304, here (plain credentialed GETs: RFC 9111 3.5, below).
        let passed_as_sent = authorized && (exchange.head_only || exchange.conditions.is_some());
        if !head.method.is_cacheable_read() || self.is_personal(head) || passed_as_sent {
            return pass::forward(self, head, exchange, meter).await;
        }
        if let Err(failure) = self.discard_body(head).await {
            write_failure(&mut self.stream, meter, failure, None).await?;
            return Ok(false);
        }
        let key = self.cache_key(head);
        let hinted = match authorized {
            false => self.hinted_objects(cmcd.as_ref(), &key),
            true => Vec::new(),
        };
        let stream = StreamKey::of(&key, self.shard.config().stream_key);
        let owner = route::stream_owner(&self.shard.config(), &stream);
        meter.for_stream(stream.into_bytes(), ObjectKind::of(key.target()));
        let directives = match self.shard.config().caching.request_cache_control {
            RequestDirectivesRule::Honor => RequestDirectives::parse(&head.headers),
            RequestDirectivesRule::Ignore => RequestDirectives::default(),
        };
        let mut upstream_headers = forward::shared_fetch_fields(
            head,
            &self.shard.config().forwarding,
            &self.shard.config().origin.authority,
            &config.node,
        );
        if authorized {
            forward::add_credentials(&mut upstream_headers, head);
        }
        let request = Arc::new(FetchRequest {
            upstream_headers,
            key,
            directives,
            hinted,
            authorized,
            // Only a request with range or conditional fields has a range to look for.
            range_end: exchange
                .conditions
                .and_then(|_| crate::http::range::closed_end(&head.headers)),
        });
        match route::route(&self.shard, owner, request) {
            Some(mut route) => {
                if exchange.answers_whole_get() {
                    // Held here, its answer may go out from its release (`written_at_release`).
                    route.offer_write_at_release(|| AtRelease::offer(&self.stream, exchange));
                }
                let written = write_response(&mut self.stream, &mut route, exchange, meter).await;
                meter.end();
                // What is left of this exchange (dropping its request and replies, its figures
                // and log line, the next read: a syscall that would find nothing yet) waits for
                // the held answers released with it.
                self.shard.let_releases_pass().await;
                written
            }
            None => {
                let version = keep_alive.then_some(exchange.version);
                write_failure(&mut self.stream, meter, Failure::Overloaded, version).await?;
                Ok(keep_alive)
            }
        }
    }

    /// Counts bytes read from the client.
    fn note_received(&self, bytes: usize) {
        ShardStats::add(&self.shard.my_stats().bytes_received, bytes as u64);
    }
}
