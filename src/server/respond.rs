//! Writing responses to clients: the head (stored fields plus `Age`, `Cache-Status`, `Via`,
//! CMSD, `Date` when missing, and framing for this client) and then body chunks as they become
//! available, straight from the shared `Bytes`. A response whose upstream failed mid-body is
//! cut: the connection closes before the declared length or without the last chunk, so no
//! client can mistake it for complete.
//!
//! A cacheable `200` may go out as a `304`, `206` or `416` instead, as `partial` decides from
//! the request's conditional and range fields; a `206` streams only its slice of the body, as
//! the bytes arrive, and stops reading once the slice is out.

use std::io;

use bytes::{Bytes, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use crate::cache::{CacheStatus, CachedHead};
use crate::config::node::Node;
use crate::http::encode;
use crate::http::Failure;
use crate::http::Version;

use crate::metrics::{CacheResult, Meter};
use crate::shard::Reply;

use super::client_out::{reset_on_close, ClientOut};
use super::pace::Pace;
pub use super::partial::Conditions;
use super::partial::{self, Selection};
use super::priority::UrgentTurn;
use super::respond_body::{write_body, write_slice, Ended, Framing, Replies, Slice};

/// What the response must respect of the request it answers.
#[derive(Clone, Copy, Debug)]
pub struct Exchange<'a> {
    pub version: Version,
    pub head_only: bool,
    pub keep_alive: bool,
    /// The request's conditional and range fields, applied to cacheable `200`s; `None` when
    /// it has none or is not a GET/HEAD.
    pub conditions: Option<Conditions<'a>>,
    /// How long the response may wait on the client reading it.
    pub pace: Pace,
    /// What its CMSD fields are made of (`None`: none are added).
    pub server_data: Option<super::cmsd::ServerData>,
    /// This node: its `Via` entry and `Cache-Status` identifier.
    pub node: &'a Node,
    /// The player is starting up or starved (CMCD `su`, `bs`): written ahead of others on
    /// this core (`priority`).
    pub urgent: bool,
    /// A renewed access token for the player (RFC 9246 4.4), as a `Set-Cookie` value.
    pub set_cookie: Option<&'a str>,
}

/// Writes a whole response from `replies`. Ok(true): the connection may carry another request.
/// `meter` learns the status, the cache result and every byte written.
pub async fn write_response(
    stream: &mut TcpStream,
    replies: &mut impl Replies,
    exchange: Exchange<'_>,
    meter: &mut Meter,
) -> io::Result<bool> {
    let _turn = UrgentTurn::begin(exchange.urgent);
    let mut client = ClientOut {
        stream,
        pace: exchange.pace,
        urgent: exchange.urgent,
    };
    let mut reply = replies.next().await;
    loop {
        match reply {
            Reply::Interim(interim) => {
                // 1xx responses go to HTTP/1.1 clients only (RFC 9110 15.2).
                if exchange.version == Version::Http11 {
                    meter.wrote(client.send(&[&interim_bytes(&interim)]).await?);
                }
            }
            // Another shard's note that the request waits for its segment: nothing to send.
            Reply::HeldEarly => {}
            _ => break,
        }
        reply = replies.next().await;
    }
    let (head, age_secs, status, body_len, in_hand, written) = match reply {
        Reply::Head {
            head,
            age_secs,
            status,
            body_len,
            in_hand,
            written,
            ..
        } => (head, age_secs, status, body_len, in_hand, written),
        Reply::Failed(failure) => {
            meter.upstream(meter.started().elapsed());
            let keep_alive = exchange.keep_alive.then_some(exchange.version);
            write_failure(client.stream, meter, failure, keep_alive).await?;
            return Ok(exchange.keep_alive);
        }
        Reply::Chunk(_) | Reply::End | Reply::Aborted | Reply::Interim(_) | Reply::HeldEarly => {
            write_failure(client.stream, meter, Failure::Internal, None).await?;
            return Ok(false);
        }
    };
    // A pass measured its own origin exchange; a hit had no upstream to wait for.
    if !status.is_hit() && !status.is_pass() {
        meter.upstream(meter.started().elapsed());
    }
    let plan = Plan::of(&head, &status, body_len, exchange);
    meter.head(plan.sent, CacheResult::of(&status));
    if let Some(release) = status.release {
        meter.released(release);
        // A released playlist answer does not let urgent responses write first: a fetch's
        // media waits at the release gate until the burst is out, so yielding to it would
        // only spin, and the burst's few milliseconds go first (as new requests wait for it).
        client.urgent = true;
    }
    if let Some(written) = written {
        // Its release wrote it (`shard::release_write`): what the socket did not take goes now.
        meter.wrote_at(written.sent, written.at);
        client
            .pace
            .record(std::time::Duration::ZERO, written.sent as u64);
        let rest = written.rest();
        if rest.iter().any(|part| !part.is_empty()) {
            meter.wrote(client.send(&rest).await?);
        }
        return Ok(plan.keep_alive);
    }
    let out = head_bytes(&head, age_secs, &status, &plan, &exchange);
    if plan.framing == Framing::NoBody {
        meter.wrote(client.send(&[&out]).await?);
        return Ok(plan.keep_alive);
    }
    let mut pending = Some(out);
    if !in_hand {
        // A fetch's head reaches every waiting follower before any of them copies a body:
        // send it now and let the other followers' tasks run. A body in hand (a hit, a
        // playlist version) goes with its head instead, saving a write.
        let head = pending.take().unwrap_or_default();
        meter.wrote(client.send(&[&head]).await?);
        futures_lite::future::yield_now().await;
    }
    let ended = match plan.selection {
        Selection::Partial { range, .. } => {
            let slice = Slice {
                first: range.first,
                end: Some(range.last + 1),
                framing: plan.framing,
            };
            write_slice(&mut client, replies, &mut pending, slice, meter).await?
        }
        Selection::Growing { range } => {
            // The range asked ends where the body will, however far that is.
            let slice = Slice {
                first: range.first,
                end: None,
                framing: plan.framing,
            };
            write_slice(&mut client, replies, &mut pending, slice, meter).await?
        }
        _ => write_body(&mut client, replies, &mut pending, plan.framing, meter).await?,
    };
    match ended {
        Ended::Complete => Ok(plan.keep_alive),
        Ended::Cut => {
            if let Some(head) = pending.take() {
                meter.wrote(client.send(&[&head]).await?);
            }
            reset_on_close(client.stream);
            Ok(false)
        }
    }
}

impl Exchange<'_> {
    /// A GET whose response is the whole body as stored: no conditions or ranges to apply,
    /// no token of the viewer's own to add. Only such an answer is written at its release.
    pub(super) fn answers_whole_get(&self) -> bool {
        !self.head_only && self.conditions.is_none() && self.set_cookie.is_none()
    }
}

/// The head of a whole response to `exchange` (`Exchange::answers_whole_get`) with a body of
/// `body_len` bytes, as `write_response` would write it, rendered onto the end of `out` and
/// split off it; `None` when that response would not be the whole body with its length (a
/// status without a body).
pub(super) fn whole_response_head(
    head: &CachedHead,
    age_secs: u64,
    status: &CacheStatus,
    body_len: u64,
    exchange: Exchange<'_>,
    out: &mut BytesMut,
) -> Option<Bytes> {
    let plan = Plan::of(head, status, Some(body_len), exchange);
    if plan.framing != Framing::Length || !matches!(plan.selection, Selection::Whole { .. }) {
        return None;
    }
    write_head(out, head, age_secs, status, &plan, &exchange);
    Some(out.split().freeze())
}

/// What goes out for one response head: the status sent, which part of the body, and how it
/// is delimited on this connection.
struct Plan {
    sent: u16,
    selection: Selection,
    framing: Framing,
    /// The `Content-Length` to announce, if any.
    length: Option<u64>,
    keep_alive: bool,
}

impl Plan {
    fn of(
        head: &CachedHead,
        status: &CacheStatus,
        body_len: Option<u64>,
        exchange: Exchange<'_>,
    ) -> Plan {
        let selection = partial::select(
            head,
            status,
            body_len,
            exchange.head_only,
            exchange.conditions,
        );
        let (framing, length) = match selection {
            // A stored object's length is known even when the origin sent it chunked.
            Selection::Whole { .. } => {
                let length = body_len.or(head.content_length);
                (
                    choose_framing(head.status, length, exchange),
                    length.filter(|_| !no_body_status(head.status)),
                )
            }
            Selection::Partial { range, .. } if !exchange.head_only => {
                (Framing::Length, Some(range.len()))
            }
            Selection::Partial { range, .. } => (Framing::NoBody, Some(range.len())),
            Selection::Growing { .. } => (choose_framing(206, None, exchange), None),
            Selection::Unsatisfiable { .. } => (Framing::NoBody, Some(0)),
            Selection::NotModified => (Framing::NoBody, None),
        };
        Plan {
            sent: selection.status(head.status),
            selection,
            framing,
            length,
            keep_alive: exchange.keep_alive && framing != Framing::Close,
        }
    }
}

/// The response head as it goes out: the stored fields the selection carries, `Age`,
/// `Cache-Status`, `Via`, a `Date` when there is none, framing and `Connection`.
fn head_bytes(
    head: &CachedHead,
    age_secs: u64,
    status: &CacheStatus,
    plan: &Plan,
    exchange: &Exchange,
) -> BytesMut {
    let mut out = BytesMut::with_capacity(512);
    write_head(&mut out, head, age_secs, status, plan, exchange);
    out
}

/// Renders the head `head_bytes` makes onto the end of `out`.
fn write_head(
    out: &mut BytesMut,
    head: &CachedHead,
    age_secs: u64,
    status: &CacheStatus,
    plan: &Plan,
    exchange: &Exchange,
) {
    let reason = (plan.sent == head.status).then_some(&head.reason[..]);
    encode::status_line(out, plan.sent, reason);
    plan.selection.write_fields(out, head);
    let stored_fields = plan.selection.carries_stored_fields();
    if stored_fields && !status.is_pass() && (age_secs > 0 || status.is_hit()) {
        out.extend_from_slice(b"Age: ");
        encode::put_decimal(out, age_secs);
        out.extend_from_slice(b"\r\n");
        // A cross-origin player (hls.js reads Age to place itself at the live edge) sees
        // only the fields exposed to it; the origin could not know the cache adds `Age`.
        if head.facts().hides_age {
            encode::header(out, b"Access-Control-Expose-Headers", b"Age");
        }
    }
    out.extend_from_slice(b"Cache-Status: ");
    status.write_value(&exchange.node.name, out);
    out.extend_from_slice(b"\r\n");
    encode::header(out, b"Via", &exchange.node.via);
    if !stored_fields || !head.facts().has_date {
        encode::header(
            out,
            b"Date",
            httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes(),
        );
    }
    match plan.framing {
        Framing::Length | Framing::NoBody => {
            if let Some(len) = plan.length {
                encode::content_length(out, len);
            }
        }
        Framing::Chunked => encode::header(out, b"Transfer-Encoding", b"chunked"),
        Framing::Close => {}
    }
    if let Some(cookie) = exchange.set_cookie {
        // The viewer's own token: a shared cache in front may keep the response, not this.
        encode::header(out, b"Set-Cookie", cookie.as_bytes());
        encode::header(out, b"Cache-Control", b"no-cache=\"Set-Cookie\"");
    }
    if let Some(data) = &exchange.server_data {
        data.write(out, head, status, exchange.node.name());
    }
    connection_header(out, exchange.version, plan.keep_alive);
    encode::end_head(out);
}

/// An informational (1xx) head as it goes out.
fn interim_bytes(interim: &CachedHead) -> BytesMut {
    let mut out = BytesMut::with_capacity(256);
    encode::status_line(&mut out, interim.status, Some(&interim.reason));
    encode::write_headers(&mut out, &interim.headers);
    encode::end_head(&mut out);
    out
}

fn no_body_status(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

fn choose_framing(status: u16, length: Option<u64>, exchange: Exchange<'_>) -> Framing {
    if exchange.head_only || no_body_status(status) {
        Framing::NoBody
    } else if length.is_some() {
        Framing::Length
    } else if exchange.version == Version::Http11 {
        Framing::Chunked
    } else {
        Framing::Close
    }
}

fn connection_header(out: &mut BytesMut, version: Version, keep_alive: bool) {
    if !keep_alive {
        encode::header(out, b"Connection", b"close");
    } else if version == Version::Http10 {
        encode::header(out, b"Connection", b"keep-alive");
    }
}

/// Answers `failure` with its status (see `write_error`) and tells `meter` whose fault it was.
pub async fn write_failure(
    stream: &mut TcpStream,
    meter: &mut Meter,
    failure: Failure,
    keep_alive: Option<Version>,
) -> io::Result<()> {
    meter.fail(failure);
    let retry_after = failure.retry_after();
    meter.wrote(write_error_retry(stream, failure.status(), retry_after, keep_alive).await?);
    Ok(())
}

/// A short plain-text response livecache makes itself (errors, refusals): no `Via`, since
/// nothing was forwarded (RFC 9110 7.6.3). `keep_alive`:
/// the version of a connection that stays open, `None` to announce the close. Returns the
/// bytes written.
pub async fn write_error(
    stream: &mut TcpStream,
    status: u16,
    keep_alive: Option<Version>,
) -> io::Result<usize> {
    write_error_retry(stream, status, None, keep_alive).await
}

/// `write_error` with a `Retry-After` of `retry_after` seconds when given.
async fn write_error_retry(
    stream: &mut TcpStream,
    status: u16,
    retry_after: Option<u64>,
    keep_alive: Option<Version>,
) -> io::Result<usize> {
    let reason = encode::status_reason(status);
    let mut out = BytesMut::with_capacity(256);
    encode::status_line(&mut out, status, None);
    encode::header(&mut out, b"Content-Type", b"text/plain");
    encode::content_length(&mut out, reason.len() as u64 + 1);
    encode::header(&mut out, b"Cache-Control", b"no-store");
    if let Some(secs) = retry_after {
        encode::header(&mut out, b"Retry-After", secs.to_string().as_bytes());
    }
    connection_header(
        &mut out,
        keep_alive.unwrap_or(Version::Http11),
        keep_alive.is_some(),
    );
    encode::end_head(&mut out);
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\n");
    stream.write_all(&out).await?;
    Ok(out.len())
}
