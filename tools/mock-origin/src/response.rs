//! Turning a [`Behavior`] into bytes on the wire. This module owns the
//! response head (status line, caching headers, framing headers, echo
//! headers), the body delivery plan (pieces, pauses, truncation) and the
//! deliberately broken variants, and reports how the connection must end.
//!
//! Bodies are generated into a bounded buffer as they are written, so a
//! `size=` of gigabytes costs no memory, and every timed step (first-byte
//! delay, pauses, hangs) sleeps in slices that notice the origin stopping.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::behavior::{Bad, Behavior, CacheControl, Framing, DEFAULT_CACHE_CONTROL};
use crate::request::Request;
use crate::{body, date};

/// Writes are batched up to this size (and always at a piece boundary).
const WRITE_CHUNK: usize = 64 * 1024;
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
}

/// Where body bytes come from.
enum Source {
    /// The deterministic stream for a path seed (GET/HEAD).
    Pattern(u64),
    /// Fixed bytes (the method echo); past the end, `x` padding for `bad=long`.
    Bytes(Vec<u8>),
}

impl Source {
    fn fill(&self, offset: usize, buf: &mut [u8]) {
        match self {
            Source::Pattern(seed) => body::fill(*seed, offset as u64, buf),
            Source::Bytes(bytes) => {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = bytes.get(offset + i).copied().unwrap_or(b'x');
                }
            }
        }
    }
}

/// Sends the response `b` describes for `request`.
pub(crate) fn respond(
    stream: &TcpStream,
    request: &Request,
    path: &str,
    b: &Behavior,
    ctx: &Ctx<'_>,
) -> io::Result<After> {
    sleep_unless_stopped(b.delay, ctx.stop);
    let mut out = Out {
        stream,
        buf: Vec::with_capacity(4096),
    };
    if b.bad == Some(Bad::Garbage) {
        out.push(GARBAGE);
        out.flush()?;
        return Ok(After::Close);
    }

    let cacheable = request.method == "GET" || request.method == "HEAD";
    let (source, size) = if cacheable {
        (Source::Pattern(body::path_seed(path)), b.size)
    } else {
        let echo = format!("method={} len={}", request.method, request.body.len()).into_bytes();
        let len = echo.len();
        (Source::Bytes(echo), len)
    };
    let etag = cacheable.then(|| etag_for(b, path));
    let mut status = b.status;
    if status == 200 && etag.as_deref().is_some_and(|tag| none_match(request, tag)) {
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
    match &b.cache_control {
        CacheControl::Value(v) => header("Cache-Control", v),
        CacheControl::Default if cacheable => header("Cache-Control", &DEFAULT_CACHE_CONTROL),
        CacheControl::Default => header("Cache-Control", &"no-store"),
        CacheControl::Omit => {}
    }
    if let Some(age) = b.age {
        header("Age", &age);
    }
    if let Some(secs) = b.expires {
        header("Expires", &date::format(now.saturating_add(secs)));
    }
    if let Some(tag) = &etag {
        header("ETag", tag);
        if !overridden("last-modified") {
            header("Last-Modified", &date::format(LAST_MODIFIED));
        }
    }
    if !overridden("content-type") {
        header(
            "Content-Type",
            &if cacheable {
                "application/octet-stream"
            } else {
                "text/plain"
            },
        );
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
    let cut = write_body(&mut out, &source, send_len, chunked, terminate, b, ctx.stop)?;
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

/// Writes `total` body bytes in pieces: `chunk=N` pieces, or a `pause_after`
/// split, pausing `pause` between pieces and flushing each; as chunked
/// framing, each piece is one chunk. Returns `true` when `fail_after` cut the
/// body (the caller then resets); the cut skips the last-chunk terminator.
fn write_body(
    out: &mut Out<'_>,
    source: &Source,
    total: usize,
    chunked: bool,
    terminate: bool,
    b: &Behavior,
    stop: &AtomicBool,
) -> io::Result<bool> {
    let cut_at = b.fail_after.map(|limit| limit.min(total));
    let mut sent = 0;
    let mut first = true;
    loop {
        let remaining = total - sent;
        let piece = match (b.chunk, b.pause_after) {
            (Some(n), _) => n.min(remaining),
            (None, Some(after)) if first => after.min(remaining),
            _ => remaining,
        };
        if chunked && piece > 0 {
            out.push(format!("{piece:x}\r\n").as_bytes());
        }
        if let Some(cut) = cut_at.filter(|&cut| sent + piece >= cut) {
            out.push_body(source, sent, cut - sent)?;
            out.flush()?;
            return Ok(true);
        }
        out.push_body(source, sent, piece)?;
        if chunked && piece > 0 {
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
    if chunked && terminate {
        out.push(b"0\r\n\r\n");
    }
    Ok(false)
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
    let mut out = Out {
        stream,
        buf: Vec::with_capacity(256 + body.len()),
    };
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

/// Sleeps `duration` in short slices, returning early once the origin stops,
/// so a dropped origin does not leave threads sleeping for a minute.
pub(crate) fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + duration;
    loop {
        let now = Instant::now();
        if now >= deadline || stop.load(Ordering::SeqCst) {
            return;
        }
        thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

/// Write batching: the head and small bodies go out in one segment.
struct Out<'a> {
    stream: &'a TcpStream,
    buf: Vec<u8>,
}

impl Out<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends `len` body bytes from `source` starting at `offset`.
    fn push_body(&mut self, source: &Source, mut offset: usize, mut len: usize) -> io::Result<()> {
        while len > 0 {
            if self.buf.len() >= WRITE_CHUNK {
                self.flush()?;
            }
            let take = len.min(WRITE_CHUNK - self.buf.len());
            let start = self.buf.len();
            self.buf.resize(start + take, 0);
            source.fill(offset, &mut self.buf[start..]);
            offset += take;
            len -= take;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut stream = self.stream;
        stream.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}
