//! The access log: one line per response, in the Apache/nginx `combined` form plus the
//! cache's own fields, or as one JSON object per line. Off unless `access_log` names a file.
//!
//! Each shard formats its lines into its own buffer (no lock, no cross-shard traffic on the
//! data path) and writes the buffer to its own descriptor of the file, opened with `O_APPEND`,
//! in one `write` when the buffer passes 64 KiB and otherwise once a second (a timer task on
//! the shard calls `ShardLog::flush`). A buffer always ends at a line boundary, so every write
//! carries whole lines. The writes are blocking `std::fs::File` writes from the shard thread:
//! small (about 64 KiB at most) and into the page cache, never per request.
//!
//! Assumption: shards never interleave inside each other's lines. `O_APPEND` makes each
//! `write` land at the end of the file, and on Linux a regular-file `write` holds the inode
//! lock for its whole length on the usual local filesystems (ext4, xfs, btrfs, tmpfs), so one
//! shard's buffer is never split by another's. POSIX promises that only for pipes (up to
//! `PIPE_BUF`); on network filesystems (NFS) appends from several descriptors may interleave.
//! A short write (disk full) can leave a partial line; its buffer is dropped, not retried.
//!
//! Rotation: `Reopen::request` (SIGUSR2 in the binary, `Running::reopen_access_logs` in the
//! library) bumps a generation; each shard, at its next flush (within a second, or sooner if
//! its buffer fills), reopens the path and then writes what it holds, so every line recorded
//! after the request lands in the new file and nothing is lost. A reload that changes
//! `access_log` writes what is buffered to the old file and opens the new path at once. This
//! module does no request handling: `server::connection` makes one `record` call per
//! response.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::RateLimit;
use crate::config::{AccessLogFormat, Config};
use crate::http::headers::find;
use crate::http::request::RequestHead;
use crate::http::Version;
use crate::metrics::{CacheResult, Meter};

/// A shard writes its buffer out once it holds this much.
pub const FLUSH_BYTES: usize = 64 * 1024;
/// ... and at least this often (the shard's flush task).
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// At most one warning per shard in this interval about a file that cannot be written.
const TROUBLE_WARN_EVERY: Duration = Duration::from_secs(60);

/// Asks every shard to reopen its access log (after logrotate renamed it). Cloned into the
/// signal thread and every shard; a request is one atomic add.
#[derive(Clone, Debug, Default)]
pub struct Reopen(Arc<AtomicU64>);

impl Reopen {
    pub fn new() -> Reopen {
        Reopen::default()
    }

    /// Every shard reopens its file at its next flush, within `FLUSH_EVERY`.
    pub fn request(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Opens (creating it if needed) the file the way every shard will: append-only, `0640`.
pub fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// The request line of a logged response.
#[derive(Clone, Copy, Debug)]
pub struct RequestLine<'a> {
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub version: Version,
}

/// One response as the access log sees it.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub client: Option<IpAddr>,
    /// When the request head was parsed.
    pub time: SystemTime,
    /// `None` for input refused before a request could be parsed (400, 414, 431, ...).
    pub request: Option<RequestLine<'a>>,
    pub status: u16,
    /// Bytes written to the client, head and body.
    pub bytes: u64,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub cache: CacheResult,
    /// How long the response waited for an upstream head; `None` when no upstream was
    /// involved (hits, and answers livecache made itself).
    pub upstream: Option<Duration>,
    /// Request head parsed to last byte written (or the response abandoned).
    pub total: Duration,
    /// The shard that wrote the response (the connection's shard).
    pub shard: usize,
}

impl<'a> Entry<'a> {
    /// The entry for a response just finished: `meter` followed it, `head` asked for it.
    pub fn new(
        peer: Option<SocketAddr>,
        head: Option<&'a RequestHead>,
        meter: &Meter,
        shard: usize,
    ) -> Entry<'a> {
        let total = meter.elapsed();
        let now = SystemTime::now();
        Entry {
            client: peer.map(|p| p.ip().to_canonical()),
            time: now.checked_sub(total).unwrap_or(now),
            request: head.map(|h| RequestLine {
                method: h.method.as_bytes(),
                target: &h.target,
                version: h.version,
            }),
            status: meter.status(),
            bytes: meter.bytes(),
            referer: head
                .and_then(|h| find(&h.headers, "referer"))
                .map(|v| &v[..]),
            user_agent: head
                .and_then(|h| find(&h.headers, "user-agent"))
                .map(|v| &v[..]),
            cache: meter.cache_result(),
            upstream: meter.upstream_time(),
            total,
            shard,
        }
    }
}

/// Appends one `combined` line:
/// `IP - - [DD/Mon/YYYY:HH:MM:SS +0000] "METHOD TARGET PROTO" STATUS BYTES "REFERER" "UA"
/// cache=RESULT upstream_ms=MS|- total_ms=MS shard=N`. Quoted fields escape `"` and `\` with a
/// backslash and any other byte outside printable ASCII as `\xHH`, as Apache does.
pub fn format_combined(entry: &Entry, out: &mut Vec<u8>) {
    match entry.client {
        Some(ip) => {
            let _ = write!(out, "{ip}");
        }
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" - - [");
    push_clf_time(out, entry.time);
    out.extend_from_slice(b"] \"");
    match entry.request {
        Some(request) => {
            push_clf_escaped(out, request.method);
            out.push(b' ');
            push_clf_escaped(out, request.target);
            out.push(b' ');
            out.extend_from_slice(request.version.as_bytes());
        }
        None => out.push(b'-'),
    }
    let _ = write!(out, "\" {} {} \"", entry.status, entry.bytes);
    push_clf_header(out, entry.referer);
    out.extend_from_slice(b"\" \"");
    push_clf_header(out, entry.user_agent);
    let _ = write!(out, "\" cache={} upstream_ms=", entry.cache.label());
    match entry.upstream {
        Some(upstream) => push_ms(out, upstream),
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" total_ms=");
    push_ms(out, entry.total);
    let _ = writeln!(out, " shard={}", entry.shard);
}

/// Appends one JSON object and a newline: `time` (RFC 3339, UTC, milliseconds), `client`,
/// `method`, `target`, `protocol`, `status`, `bytes`, `referer`, `user_agent`, `cache`,
/// `upstream_ms`, `total_ms`, `shard`. Absent values are `null`; bytes that are not UTF-8
/// become U+FFFD.
pub fn format_json(entry: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"time\":\"");
    push_iso_time(out, entry.time);
    out.extend_from_slice(b"\",\"client\":");
    match entry.client {
        Some(ip) => {
            let _ = write!(out, "\"{ip}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
    let request = entry.request;
    out.extend_from_slice(b",\"method\":");
    push_json_opt(out, request.map(|r| r.method));
    out.extend_from_slice(b",\"target\":");
    push_json_opt(out, request.map(|r| r.target));
    out.extend_from_slice(b",\"protocol\":");
    push_json_opt(out, request.map(|r| r.version.as_bytes()));
    let _ = write!(
        out,
        ",\"status\":{},\"bytes\":{},\"referer\":",
        entry.status, entry.bytes
    );
    push_json_opt(out, entry.referer);
    out.extend_from_slice(b",\"user_agent\":");
    push_json_opt(out, entry.user_agent);
    let _ = write!(
        out,
        ",\"cache\":\"{}\",\"upstream_ms\":",
        entry.cache.label()
    );
    match entry.upstream {
        Some(upstream) => push_ms(out, upstream),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"total_ms\":");
    push_ms(out, entry.total);
    let _ = writeln!(out, ",\"shard\":{}}}", entry.shard);
}

/// Milliseconds with three decimals (microsecond resolution): `12.345`.
fn push_ms(out: &mut Vec<u8>, d: Duration) {
    let us = d.as_micros();
    let _ = write!(out, "{}.{:03}", us / 1000, us % 1000);
}

fn push_clf_header(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) if !v.is_empty() => push_clf_escaped(out, v),
        _ => out.push(b'-'),
    }
}

fn push_clf_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(b),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

fn push_json_opt(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => push_json_str(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_json_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    // Valid UTF-8 stays as it is (no copy); other bytes become U+FFFD.
    let text = String::from_utf8_lossy(bytes);
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC calendar time: (year, month 1-12, day, hour, minute, second, millisecond).
fn civil(time: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis(),
    )
}

/// `25/Nov/2025:13:14:15 +0000`
fn push_clf_time(out: &mut Vec<u8>, time: SystemTime) {
    let (y, mo, d, h, mi, s, _) = civil(time);
    let month = MONTHS[(mo - 1) as usize];
    let _ = write!(out, "{d:02}/{month}/{y}:{h:02}:{mi:02}:{s:02} +0000");
}

/// `2025-11-25T13:14:15.123Z`
fn push_iso_time(out: &mut Vec<u8>, time: SystemTime) {
    let (y, mo, d, h, mi, s, ms) = civil(time);
    let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z");
}

/// Formatted lines waiting to be written: whole lines only, written out in one `write_all`.
#[derive(Debug)]
pub struct LineBuffer {
    bytes: Vec<u8>,
    lines: usize,
    limit: usize,
}

impl LineBuffer {
    /// A buffer that asks to be flushed once it holds `limit` bytes.
    pub fn new(limit: usize) -> LineBuffer {
        LineBuffer {
            bytes: Vec::new(),
            lines: 0,
            limit,
        }
    }

    /// Appends one line written by `format` (which must end it with `\n`); true when the
    /// buffer is due to be written out.
    pub fn push_line(&mut self, format: impl FnOnce(&mut Vec<u8>)) -> bool {
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(self.limit + 1024);
        }
        format(&mut self.bytes);
        debug_assert_eq!(self.bytes.last(), Some(&b'\n'));
        self.lines += 1;
        self.bytes.len() >= self.limit
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Writes every buffered line to `out` at once and empties the buffer, whatever the
    /// outcome: on an error the lines are dropped (memory stays bounded) and counted.
    /// Ok: the lines written.
    pub fn write_to(&mut self, out: &mut impl Write) -> Result<usize, (io::Error, usize)> {
        let result = out.write_all(&self.bytes);
        let lines = self.discard();
        result.map(|()| lines).map_err(|e| (e, lines))
    }

    /// Drops every buffered line; returns how many there were.
    pub fn discard(&mut self) -> usize {
        self.bytes.clear();
        std::mem::take(&mut self.lines)
    }
}

/// One shard's access log: its buffer and its own descriptor of the file.
pub struct ShardLog {
    on: Cell<bool>,
    writer: RefCell<Writer>,
}

struct Writer {
    shard: usize,
    path: Option<PathBuf>,
    format: AccessLogFormat,
    file: Option<File>,
    /// The reopen generation this shard's file was opened at.
    generation: u64,
    reopen: Reopen,
    lines: LineBuffer,
    trouble: RateLimit,
}

impl ShardLog {
    /// The log of shard `shard` as `config` sets it, opening the file if it is on.
    pub fn new(shard: usize, config: &Config, reopen: Reopen) -> ShardLog {
        let log = ShardLog {
            on: Cell::new(false),
            writer: RefCell::new(Writer {
                shard,
                path: None,
                format: config.access_log_format,
                file: None,
                generation: reopen.generation(),
                reopen,
                lines: LineBuffer::new(FLUSH_BYTES),
                trouble: RateLimit::new(TROUBLE_WARN_EVERY),
            }),
        };
        log.configure(config);
        log
    }

    /// Whether responses are logged; one `Cell` read, so a disabled log costs nothing more.
    pub fn is_on(&self) -> bool {
        self.on.get()
    }

    /// Formats one line into the buffer; writes the buffer out if it is full.
    pub fn record(&self, entry: &Entry) {
        if !self.is_on() {
            return;
        }
        let mut writer = self.writer.borrow_mut();
        let format = writer.format;
        let full = writer.lines.push_line(|out| match format {
            AccessLogFormat::Combined => format_combined(entry, out),
            AccessLogFormat::Json => format_json(entry, out),
        });
        if full {
            writer.flush();
        }
    }

    /// Reopens the file if that was requested since it was opened, then writes out what is
    /// buffered. Run every `FLUSH_EVERY` by the shard's flush task, and at stop.
    pub fn flush(&self) {
        self.writer.borrow_mut().flush();
    }

    /// Applies a (reloaded) configuration: the format from the next line on; a changed path
    /// gets what is buffered written to the old file, then the new one opened.
    pub fn configure(&self, config: &Config) {
        let mut writer = self.writer.borrow_mut();
        writer.format = config.access_log_format;
        if writer.path != config.access_log {
            writer.write_out();
            writer.path = config.access_log.clone();
            writer.open();
            self.on.set(writer.path.is_some());
        }
    }
}

impl Writer {
    fn flush(&mut self) {
        let generation = self.reopen.generation();
        if generation != self.generation {
            self.generation = generation;
            if self.path.is_some() {
                self.open();
            }
        }
        self.write_out();
    }

    /// (Re)opens the path, closing the descriptor held before; none when the log is off.
    fn open(&mut self) {
        self.file = None;
        let Some(path) = &self.path else {
            return;
        };
        match open(path) {
            Ok(file) => {
                tracing::debug!(shard = self.shard, path = %path.display(), "access log opened");
                self.file = Some(file);
            }
            Err(e) => {
                let message = format!("cannot open the access log {}: {e}", path.display());
                self.warn(&message, 0);
            }
        }
    }

    fn write_out(&mut self) {
        if self.lines.is_empty() {
            return;
        }
        if self.file.is_none() {
            self.open();
        }
        let result = match self.file.as_mut() {
            Some(file) => self.lines.write_to(file),
            None => {
                let dropped = self.lines.discard();
                self.warn("the access log is not open", dropped);
                return;
            }
        };
        if let Err((e, dropped)) = result {
            let path = self.path.as_deref().unwrap_or(Path::new("")).display();
            let message = format!("writing the access log {path} failed: {e}");
            self.warn(&message, dropped);
            // A descriptor that failed is not trusted again: the next flush reopens the path.
            self.file = None;
        }
    }

    fn warn(&mut self, message: &str, dropped: usize) {
        let shard = self.shard;
        match self.trouble.check(Instant::now()) {
            Some(suppressed) => {
                tracing::warn!(shard, dropped, suppressed, "{message}")
            }
            None => tracing::debug!(shard, dropped, "{message}"),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.write_out();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(target: &'a [u8], user_agent: Option<&'a [u8]>) -> Entry<'a> {
        Entry {
            client: Some("192.0.2.7".parse().unwrap()),
            // 2025-11-25T13:14:15.123Z
            time: UNIX_EPOCH + Duration::from_millis(1_764_076_455_123),
            request: Some(RequestLine {
                method: b"GET",
                target,
                version: Version::Http11,
            }),
            status: 200,
            bytes: 1234,
            referer: None,
            user_agent,
            cache: CacheResult::Miss,
            upstream: Some(Duration::from_micros(12_345)),
            total: Duration::from_micros(15_002),
            shard: 3,
        }
    }

    fn line(format: fn(&Entry, &mut Vec<u8>), entry: &Entry) -> String {
        let mut out = Vec::new();
        format(entry, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn combined_line() {
        let e = entry(b"/live/ch1/seg-1.m4s?x=1", Some(b"curl/8.5"));
        assert_eq!(
            line(format_combined, &e),
            "192.0.2.7 - - [25/Nov/2025:13:14:15 +0000] \"GET /live/ch1/seg-1.m4s?x=1 HTTP/1.1\" \
             200 1234 \"-\" \"curl/8.5\" cache=miss upstream_ms=12.345 total_ms=15.002 shard=3\n"
        );
        let hit = Entry {
            cache: CacheResult::Hit,
            upstream: None,
            client: None,
            referer: Some(b"https://player.example/"),
            ..e
        };
        let text = line(format_combined, &hit);
        assert!(text.starts_with("- - - ["), "{text}");
        assert!(
            text.contains("\"https://player.example/\" \"curl/8.5\" cache=hit upstream_ms=- "),
            "{text}"
        );
        let refused = Entry {
            request: None,
            status: 431,
            cache: CacheResult::Error,
            upstream: None,
            user_agent: None,
            ..e
        };
        assert!(
            line(format_combined, &refused).contains("] \"-\" 431 1234 \"-\" \"-\" cache=error")
        );
    }

    #[test]
    fn combined_escapes_quotes_backslashes_and_control_bytes() {
        let e = entry(b"/a\"b\\c\x01\x7f\xc3\xa9", Some(b"evil\" \"agent\r\n"));
        let text = line(format_combined, &e);
        assert!(
            text.contains(r#""GET /a\"b\\c\x01\x7f\xc3\xa9 HTTP/1.1""#),
            "{text}"
        );
        assert!(text.contains(r#""evil\" \"agent\x0d\x0a""#), "{text}");
        assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
    }

    #[test]
    fn json_line_parses_with_every_field() {
        let e = entry(b"/live/ch1/seg-1.m4s", Some(b"curl/8.5"));
        let text = line(format_json, &e);
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["time"], "2025-11-25T13:14:15.123Z");
        assert_eq!(v["client"], "192.0.2.7");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["target"], "/live/ch1/seg-1.m4s");
        assert_eq!(v["protocol"], "HTTP/1.1");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 1234);
        assert!(v["referer"].is_null());
        assert_eq!(v["user_agent"], "curl/8.5");
        assert_eq!(v["cache"], "miss");
        assert_eq!(v["upstream_ms"], 12.345);
        assert_eq!(v["total_ms"], 15.002);
        assert_eq!(v["shard"], 3);
        let hit = Entry {
            cache: CacheResult::Hit,
            upstream: None,
            request: None,
            ..e
        };
        let v: serde_json::Value = serde_json::from_str(&line(format_json, &hit)).unwrap();
        assert!(v["upstream_ms"].is_null() && v["target"].is_null());
        assert_eq!(v["cache"], "hit");
    }

    #[test]
    fn json_escapes_quotes_control_characters_and_bad_utf8() {
        let e = entry(b"/a\"b\\c\x01\x7f/\xc3\xa9/\xff", Some(b"ua\"\r\n\t"));
        let text = line(format_json, &e);
        assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
        assert!(
            text.contains(r#""target":"/a\"b\\c\u0001\u007f/é/�""#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["target"], "/a\"b\\c\u{1}\u{7f}/é/\u{fffd}");
        assert_eq!(v["user_agent"], "ua\"\r\n\t");
    }

    #[test]
    fn calendar_dates_match_http_dates() {
        for secs in [
            0u64,
            951_782_400,   // 2000-02-29
            1_709_208_000, // 2024-02-29 12:00
            1_735_689_599, // 2024-12-31 23:59:59
            4_102_444_800, // 2100-01-01
        ] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            // "Sun, 06 Nov 1994 08:49:37 GMT" -> "06/Nov/1994:08:49:37 +0000"
            let http = httpdate::fmt_http_date(t);
            let p: Vec<&str> = http.split([' ', ',']).filter(|s| !s.is_empty()).collect();
            let expected = format!("{}/{}/{}:{} +0000", p[1], p[2], p[3], p[4]);
            let mut out = Vec::new();
            push_clf_time(&mut out, t);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{secs}");
        }
    }

    /// Records each `write` call it gets.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn buffer_asks_for_a_flush_past_its_limit_and_writes_whole_lines_at_once() {
        let mut buffer = LineBuffer::new(100);
        let line = |out: &mut Vec<u8>| {
            out.extend_from_slice(&[b'x'; 29]);
            out.push(b'\n');
        };
        assert!(!buffer.push_line(line));
        assert!(!buffer.push_line(line));
        assert!(!buffer.push_line(line));
        assert!(buffer.push_line(line), "120 bytes >= 100");
        assert_eq!(buffer.lines(), 4);
        let mut out = Writes::default();
        assert_eq!(buffer.write_to(&mut out).unwrap(), 4);
        assert_eq!(out.0.len(), 1, "one write");
        assert_eq!(out.0[0].len(), 120);
        assert!(out.0[0].ends_with(b"\n"));
        assert!(buffer.is_empty() && buffer.lines() == 0);
        assert_eq!(buffer.write_to(&mut out).unwrap(), 0);
    }

    #[test]
    fn a_failed_write_drops_the_lines_and_counts_them() {
        let mut buffer = LineBuffer::new(1 << 20);
        for _ in 0..3 {
            buffer.push_line(|out| out.extend_from_slice(b"line\n"));
        }
        let (e, dropped) = buffer.write_to(&mut Broken).unwrap_err();
        assert_eq!(dropped, 3);
        assert!(e.to_string().contains("disk on fire"));
        assert!(buffer.is_empty());
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("livecache-access-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn config_with(path: &Path, format: &str) -> Config {
        Config::from_pairs(&[
            ("shards", "1"),
            ("access_log", path.to_str().unwrap()),
            ("access_log_format", format),
        ])
        .unwrap()
    }

    #[test]
    fn shard_log_flushes_reopens_and_follows_reloads() {
        let dir = scratch("shard");
        let path = dir.join("access.log");
        let reopen = Reopen::new();
        let log = ShardLog::new(0, &config_with(&path, "combined"), reopen.clone());
        assert!(log.is_on());
        let e = entry(b"/one", None);
        log.record(&e);
        log.record(&e);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "buffered");
        log.flush();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);

        // logrotate: rename, then ask for a reopen; the next flush reopens, then writes.
        let rotated = dir.join("access.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.record(&entry(b"/before-reopen", None));
        reopen.request();
        log.record(&entry(b"/after-reopen", None));
        log.flush();
        log.flush();
        let old = std::fs::read_to_string(&rotated).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert_eq!(old.lines().count(), 2, "{old}");
        assert_eq!(new.lines().count(), 2, "{new}");
        assert!(new.contains("/before-reopen") && new.contains("/after-reopen"));

        // A reload to another path and format; then off.
        let other = dir.join("other.log");
        log.record(&entry(b"/last-before-reload", None));
        log.configure(&config_with(&other, "json"));
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("/last-before-reload"));
        log.record(&entry(b"/json", None));
        log.flush();
        let json = std::fs::read_to_string(&other).unwrap();
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(v["target"], "/json");
        log.configure(&Config::from_pairs(&[("shards", "1")]).unwrap());
        assert!(!log.is_on());
        log.record(&entry(b"/ignored", None));
        log.flush();
        assert_eq!(std::fs::read_to_string(&other).unwrap(), json);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn buffered_lines_are_written_when_the_log_is_dropped() {
        let dir = scratch("drop");
        let path = dir.join("access.log");
        let log = ShardLog::new(2, &config_with(&path, "combined"), Reopen::new());
        log.record(&entry(b"/x", None));
        drop(log);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with(" shard=3\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
