//! Turning a [`Behavior`] into bytes on the wire. This module owns the
//! response head (status line, caching headers, range and framing headers,
//! `X-Echo-*` and the other echo headers), `103 Early Hints`, the body
//! delivery plan (pieces, pauses, truncation) and the deliberately broken
//! variants, and reports how the connection must end. What is sent (status,
//! body bytes, caching and type headers) arrives as an [`Entity`] (built by
//! `entity` for ordinary paths, by `live` for the live simulator);
//! `conditional` decides whether it goes out whole, as a 304, as a 206 byte
//! range or as a 416, and then both kinds share the same delivery knobs
//! (`delay_ms`, `chunk`, `fail_after`, `bad`, ...). A 304 carries the
//! headers the 200 would (`Date`, `Cache-Control`, `Age`, `Expires`, `ETag`,
//! `Last-Modified`, RFC 9110 §15.4.5) but no `Content-Type` or framing.
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

use crate::behavior::{Bad, Behavior, Framing};
use crate::conditional::{self, Outcome};
use crate::date;
pub(crate) use crate::entity::Entity;
pub(crate) use crate::out::{sleep_unless_stopped, Source};
use crate::out::{Out, Pace};
use crate::request::Request;

/// How long `bad=hang` keeps the connection silent.
const HANG: Duration = Duration::from_secs(60);
/// What `bad=garbage` sends instead of a status line.
const GARBAGE: &[u8] = b"\x00\x01garbage, not HTTP at all\r\n\xff\xfe\r\n\r\n";
/// What `hints=1` sends before the final response.
const EARLY_HINTS: &[u8] = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
/// The body of a 416.
const UNSATISFIABLE: &[u8] = b"range not satisfiable\n";
/// What `stray_ms=` writes after the response: a whole, long-lived, wrong response.
pub const STRAY_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
Cache-Control: public, max-age=3600\r\nContent-Length: 13\r\n\r\nSTRAY-POISON\n";

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
    /// Waits until the live timeline reaches an instant (`false`: it never
    /// will), for a growing body's steps.
    pub(crate) wait_published: &'a dyn Fn(Duration) -> bool,
}

/// Sends `entity` for `request`, delivered the way `b` says.
pub(crate) fn respond(
    stream: &TcpStream,
    request: &Request,
    entity: Entity,
    b: &Behavior,
    ctx: &Ctx<'_>,
) -> io::Result<After> {
    if b.hints && !ctx.http10 {
        let mut early = Out::new(stream, EARLY_HINTS.len(), None);
        early.push(EARLY_HINTS);
        early.flush()?;
    }
    sleep_unless_stopped(b.delay, ctx.stop);
    let pace = ctx.throughput.map(|rate| Pace::new(rate, ctx.stop));
    let mut out = Out::new(stream, 4096, pace);
    if b.bad == Some(Bad::Garbage) {
        out.push(GARBAGE);
        out.flush()?;
        return Ok(After::Close);
    }

    // A body still growing goes out whole, chunked: its length is not known yet.
    let growing = matches!(entity.source, Source::Growing { .. });
    let ranges = b.ranges && !growing;
    let accept_ranges = ranges && entity.status == 200;
    let (entity, content_range) = shape(request, entity, ranges);
    let Entity {
        status,
        source,
        size,
        ..
    } = entity;
    let bodiless = status < 200 || status == 204 || status == 304;
    let send_body = !bodiless && request.method != "HEAD";
    let close = !ctx.keep_alive
        || b.framing == Framing::Close
        || b.bad.is_some()
        || b.fail_after.is_some()
        || (growing && ctx.http10);

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
    if let Some(tag) = &entity.etag {
        header("ETag", tag);
    }
    if let Some(modified) = entity.last_modified {
        if !overridden("last-modified") {
            header("Last-Modified", &date::format(modified));
        }
    }
    if status != 304 && !overridden("content-type") {
        header("Content-Type", &entity.content_type);
    }
    if accept_ranges {
        header("Accept-Ranges", &"bytes");
    }
    if let Some(range) = &content_range {
        header("Content-Range", range);
    }

    // Framing: how many body bytes go out, and how they are delimited.
    let mut chunked = false;
    let mut send_len = size;
    let mut terminate = true;
    if bodiless {
        send_len = 0;
    } else if growing {
        chunked = !ctx.http10;
        if chunked {
            header("Transfer-Encoding", &"chunked");
        }
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
    for name in &b.echo {
        let values = request.header_all(name);
        let value = if values.is_empty() {
            "-".to_string()
        } else {
            values.join(", ")
        };
        header(&format!("X-Echo-{name}"), &value);
    }
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
    if let Source::Growing { steps, .. } = &source {
        let cut = write_growing(&mut out, &source, steps, chunked, ctx)?;
        return Ok(ending(cut, close));
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
    if let (Some(wait), false) = (b.stray, cut) {
        sleep_unless_stopped(wait, ctx.stop);
        let mut stray = Out::new(stream, STRAY_RESPONSE.len(), None);
        stray.push(STRAY_RESPONSE);
        stray.flush()?;
    }
    Ok(ending(cut, close))
}

/// The entity as [`conditional::evaluate`] says it goes out, with the
/// `Content-Range` value of a 206 or 416.
fn shape(request: &Request, entity: Entity, ranges: bool) -> (Entity, Option<String>) {
    let total = entity.size;
    match conditional::evaluate(request, &entity, ranges) {
        Outcome::Full => (entity, None),
        Outcome::NotModified => (
            Entity {
                status: 304,
                ..entity
            },
            None,
        ),
        Outcome::Partial { start, len } => (
            Entity {
                status: 206,
                source: entity.source.skip(start),
                size: len,
                ..entity
            },
            Some(format!("bytes {start}-{}/{total}", start + len - 1)),
        ),
        Outcome::Unsatisfiable => (
            Entity {
                status: 416,
                source: Source::Bytes(UNSATISFIABLE.to_vec()),
                size: UNSATISFIABLE.len(),
                cache_control: Some("no-store".to_string()),
                content_type: "text/plain",
                etag: None,
                last_modified: None,
            },
            Some(format!("bytes */{total}")),
        ),
    }
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

/// Writes a growing body: each step's new bytes (one chunk when `chunked`)
/// once the live timeline reaches the step. Returns `true` when the growth
/// stopped short (the stream ended or stalled past the hold limit): the
/// caller then resets, so no client takes the partial body as whole.
fn write_growing(
    out: &mut Out<'_>,
    source: &Source,
    steps: &[(usize, Duration)],
    chunked: bool,
    ctx: &Ctx<'_>,
) -> io::Result<bool> {
    let mut sent = 0;
    for &(end, ready) in steps {
        // What is out so far (the head at first) leaves before any wait.
        out.flush()?;
        if !(ctx.wait_published)(ready) {
            out.flush()?;
            return Ok(true);
        }
        let piece = end.saturating_sub(sent);
        if piece == 0 {
            continue;
        }
        if chunked {
            out.push(format!("{piece:x}\r\n").as_bytes());
        }
        out.push_body(source, sent, piece)?;
        if chunked {
            out.push(b"\r\n");
        }
        out.flush()?;
        sent = end;
    }
    if chunked {
        out.push(b"0\r\n\r\n");
    }
    out.flush()?;
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

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        103 => "Early Hints",
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
        412 => "Precondition Failed",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
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
