//! Turning a [`Behavior`] into bytes on the wire. This module owns the
//! response head (status line, caching headers, framing headers, echo
//! headers), the body delivery plan (pieces, pauses, truncation) and the
//! deliberately broken variants, and reports how the connection must end.
//! What is sent (status, body bytes, caching and type headers) arrives as an
//! [`Entity`]: [`entity_for`] builds it from the query for ordinary paths,
//! the `live` module builds it for the live simulator, and both then share
//! the same delivery knobs (`delay_ms`, `chunk`, `fail_after`, `bad`, ...).
//! An injected live stall (`Ctx::stall`) pauses once at half the body,
//! wherever that falls in the piece plan.
//!
//! Bodies are generated into a bounded buffer as they are written (`out`),
//! so a `size=` of gigabytes costs no memory, and every timed step
//! (first-byte delay, pauses, hangs) sleeps in slices that notice the origin
//! stopping.

use std::io;
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::behavior::{Bad, Behavior, CacheControl, Framing, DEFAULT_CACHE_CONTROL};
pub(crate) use crate::out::{sleep_unless_stopped, Source};
use crate::out::{Out, Pace};
use crate::request::Request;
use crate::{body, date};

/// How long `bad=hang` keeps the connection silent.
const HANG: Duration = Duration::from_secs(60);
/// Fixed `Last-Modified` (2015-01-01): resources never change here.
const LAST_MODIFIED: i64 = 1_420_070_400;
/// What `bad=garbage` sends instead of a status line.
const GARBAGE: &[u8] = b"\x00\x01garbage, not HTTP at all\r\n\xff\xfe\r\n\r\n";

/// How the connection ends after a response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// Read the next request.
    KeepAlive,
    /// Close normally (FIN).
    Close,
    /// Abort with a TCP reset.
    Reset,
}

/// Per-request facts from the connection layer.
pub(crate) struct Ctx<'a> {
    pub(crate) conn_id: u64,
    /// Requests this exact target has received, this one included.
    pub(crate) request_count: u64,
    pub(crate) keep_alive: bool,
    pub(crate) http10: bool,
    pub(crate) stop: &'a AtomicBool,
    /// Pace the body at this many bytes per second (live responses).
    pub(crate) throughput: Option<u64>,
    /// Pause this long halfway through the body (an injected stall).
    pub(crate) stall: Option<Duration>,
}

/// What a response carries, before any delivery knob applies.
pub(crate) struct Entity {
    pub(crate) status: u16,
    pub(crate) source: Source,
    /// Body length (the `Content-Length` of a well-behaved response).
    pub(crate) size: usize,
    /// The `Cache-Control` value, or none at all.
    pub(crate) cache_control: Option<String>,
    pub(crate) content_type: &'static str,
    /// Quoted `ETag` and `Last-Modified` (Unix seconds), when sent.
    pub(crate) validators: Option<(String, i64)>,
}

/// The entity an ordinary (query-driven) request gets: the pattern body for
/// GET/HEAD, the method echo otherwise.
pub(crate) fn entity_for(request: &Request, path: &str, b: &Behavior) -> Entity {
    let cacheable = request.method == "GET" || request.method == "HEAD";
    let default_cc = if cacheable {
        DEFAULT_CACHE_CONTROL
    } else {
        "no-store"
    };
    let cache_control = match &b.cache_control {
        CacheControl::Value(v) => Some(v.clone()),
        CacheControl::Default => Some(default_cc.to_string()),
        CacheControl::Omit => None,
    };
    if cacheable {
        Entity {
            status: b.status,
            source: Source::Pattern {
                seed: body::path_seed(path),
                offset: 0,
            },
            size: b.size,
            cache_control,
            content_type: "application/octet-stream",
            validators: Some((etag_for(b, path), LAST_MODIFIED)),
        }
    } else {
        let echo = format!("method={} len={}", request.method, request.body.len()).into_bytes();
        Entity {
            status: b.status,
            size: echo.len(),
            source: Source::Bytes(echo),
            cache_control,
            content_type: "text/plain",
            validators: None,
        }
    }
}

/// Whether [`respond`] sends `entity`'s body as a 200 (a GET that is not
/// answered 304): the responses a mid-body fault can hit.
pub(crate) fn sends_body(request: &Request, entity: &Entity) -> bool {
    let not_modified = entity
        .validators
        .as_ref()
        .is_some_and(|(tag, _)| none_match(request, tag));
    request.method == "GET" && entity.status == 200 && !not_modified
}

/// Sends `entity` for `request`, delivered the way `b` says.
pub(crate) fn respond(
    stream: &TcpStream,
    request: &Request,
    entity: Entity,
    b: &Behavior,
    ctx: &Ctx<'_>,
) -> io::Result<After> {
    sleep_unless_stopped(b.delay, ctx.stop);
    let pace = ctx.throughput.map(|rate| Pace::new(rate, ctx.stop));
    let mut out = Out::new(stream, 4096, pace);
    if b.bad == Some(Bad::Garbage) {
        out.push(GARBAGE);
        out.flush()?;
        return Ok(After::Close);
    }

    let Entity {
        source,
        size,
        validators,
        ..
    } = entity;
    let etag = validators.as_ref().map(|(tag, _)| tag.as_str());
    let mut status = entity.status;
    if status == 200 && etag.is_some_and(|tag| none_match(request, tag)) {
        status = 304;
    }
    let bodiless = status < 200 || status == 204 || status == 304;
    let send_body = !bodiless && request.method != "HEAD";
    let close =
        !ctx.keep_alive || b.framing == Framing::Close || b.bad.is_some() || b.fail_after.is_some();

    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    let mut header =
        |name: &str, value: &dyn std::fmt::Display| head.push_str(&format!("{name}: {value}\r\n"));
    let now = date::now_secs();
    if b.date {
        header("Date", &date::format(now));
    }
    let overridden = |name: &str| b.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !overridden("server") {
        header("Server", &"mock-origin");
    }
    if let Some(value) = &entity.cache_control {
        header("Cache-Control", value);
    }
    if let Some(age) = b.age {
        header("Age", &age);
    }
    if let Some(secs) = b.expires {
        header("Expires", &date::format(now.saturating_add(secs)));
    }
    if let Some((tag, modified)) = &validators {
        header("ETag", tag);
        if !overridden("last-modified") {
            header("Last-Modified", &date::format(*modified));
        }
    }
    if !overridden("content-type") {
        header("Content-Type", &entity.content_type);
    }

    // Framing: how many body bytes go out, and how they are delimited.
    let mut chunked = false;
    let mut send_len = size;
    let mut terminate = true;
    if bodiless {
        send_len = 0;
    } else {
        match b.bad {
            Some(Bad::Long) => send_len = size + 100,
            Some(Bad::Short) => send_len = size / 2,
            Some(Bad::BadChunk) => (send_len, terminate) = (size / 2, false),
            Some(Bad::Hang) => send_len = 0,
            _ => {}
        }
        let length_header = b.framing == Framing::Length
            || matches!(
                b.bad,
                Some(Bad::ClTe | Bad::DupCl | Bad::Long | Bad::Short | Bad::Hang)
            );
        if length_header && b.bad != Some(Bad::BadChunk) {
            header("Content-Length", &size);
        }
        if b.bad == Some(Bad::DupCl) {
            header("Content-Length", &(size + 1));
        }
        chunked = matches!(b.bad, Some(Bad::ClTe | Bad::BadChunk))
            || (b.framing == Framing::Chunked && b.bad.is_none());
        if chunked {
            header("Transfer-Encoding", &"chunked");
        }
    }
    header("X-Origin-Request-Count", &ctx.request_count);
    header("X-Origin-Connection", &ctx.conn_id);
    for (name, value) in &b.headers {
        header(name, value);
    }
    if close {
        header("Connection", &"close");
    } else if ctx.http10 {
        header("Connection", &"keep-alive");
    }
    head.push_str("\r\n");
    out.push(head.as_bytes());

    if !send_body || b.bad == Some(Bad::Hang) {
        out.flush()?;
        if b.bad == Some(Bad::Hang) {
            sleep_unless_stopped(HANG, ctx.stop);
        }
        return Ok(ending(b.fail_after.is_some(), close));
    }
    let stall = ctx.stall.map(|pause| (send_len / 2, pause));
    let plan = Plan {
        total: send_len,
        chunked,
        terminate,
        stall,
    };
    let cut = write_body(&mut out, &source, &plan, b, ctx.stop)?;
    if b.bad == Some(Bad::BadChunk) && !cut {
        out.push(b"zz\r\nnot a chunk\r\n");
    }
    out.flush()?;
    Ok(ending(cut, close))
}

fn ending(reset: bool, close: bool) -> After {
    match (reset, close) {
        (true, _) => After::Reset,
        (false, true) => After::Close,
        (false, false) => After::KeepAlive,
    }
}

/// How [`write_body`] frames the body.
struct Plan {
    /// Body bytes to send.
    total: usize,
    /// One chunk per piece.
    chunked: bool,
    /// End with the last-chunk (chunked only).
    terminate: bool,
    /// Pause this long once this many bytes are out (mid-piece or mid-chunk
    /// as it falls), flushed first.
    stall: Option<(usize, Duration)>,
}

/// Writes `plan.total` body bytes in pieces: `chunk=N` pieces, or a
/// `pause_after` split, pausing `pause` between pieces and flushing each; as
/// chunked framing, each piece is one chunk. Returns `true` when `fail_after`
/// cut the body (the caller then resets); the cut skips the last-chunk
/// terminator.
fn write_body(
    out: &mut Out<'_>,
    source: &Source,
    plan: &Plan,
    b: &Behavior,
    stop: &AtomicBool,
) -> io::Result<bool> {
    let total = plan.total;
    let cut_at = b.fail_after.map(|limit| limit.min(total));
    let mut stall = plan.stall.filter(|&(at, _)| at < total);
    let mut sent = 0;
    let mut first = true;
    loop {
        let remaining = total - sent;
        let piece = match (b.chunk, b.pause_after) {
            (Some(n), _) => n.min(remaining),
            (None, Some(after)) if first => after.min(remaining),
            _ => remaining,
        };
        if plan.chunked && piece > 0 {
            out.push(format!("{piece:x}\r\n").as_bytes());
        }
        if let Some(cut) = cut_at.filter(|&cut| sent + piece >= cut) {
            push_range(out, source, sent, cut, &mut stall, stop)?;
            out.flush()?;
            return Ok(true);
        }
        push_range(out, source, sent, sent + piece, &mut stall, stop)?;
        if plan.chunked && piece > 0 {
            out.push(b"\r\n");
        }
        sent += piece;
        first = false;
        if sent >= total {
            break;
        }
        out.flush()?;
        sleep_unless_stopped(b.pause, stop);
    }
    if plan.chunked && plan.terminate {
        out.push(b"0\r\n\r\n");
    }
    Ok(false)
}

/// Body bytes `from..to`, with the pending stall taken on the way if it
/// falls in that range.
fn push_range(
    out: &mut Out<'_>,
    source: &Source,
    from: usize,
    to: usize,
    stall: &mut Option<(usize, Duration)>,
    stop: &AtomicBool,
) -> io::Result<()> {
    if let Some((at, pause)) = stall.take_if(|&mut (at, _)| from <= at && at < to) {
        out.push_body(source, from, at - from)?;
        out.flush()?;
        sleep_unless_stopped(pause, stop);
        out.push_body(source, at, to - at)
    } else {
        out.push_body(source, from, to - from)
    }
}

/// A small response with a fixed body (stats endpoint, request errors).
pub(crate) fn write_simple(
    stream: &TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let mut out = Out::new(stream, 256 + body.len(), None);
    let head = format!(
        "HTTP/1.1 {status} {}\r\nDate: {}\r\nServer: mock-origin\r\nCache-Control: no-store\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{}\r\n",
        reason(status),
        date::format(date::now_secs()),
        body.len(),
        if close { "Connection: close\r\n" } else { "" },
    );
    out.push(head.as_bytes());
    if !head_only {
        out.push(body);
    }
    out.flush()
}

/// The strong (or `etag=W/..` weak) entity tag, quoted.
fn etag_for(b: &Behavior, path: &str) -> String {
    match b.etag.as_deref() {
        Some(tag) => match tag.strip_prefix("W/") {
            Some(weak) => format!("W/\"{weak}\""),
            None => format!("\"{tag}\""),
        },
        None => format!("\"{:016x}-{:x}\"", body::fingerprint(path, b.size), b.size),
    }
}

/// `If-None-Match` matches (weak comparison, RFC 9110 §13.1.2), so a cache
/// revalidating with the ETag it stored gets a 304.
fn none_match(request: &Request, etag: &str) -> bool {
    let Some(list) = request.header("if-none-match") else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    list.split(',')
        .any(|t| t.trim() == "*" || opaque(t) == opaque(etag))
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
