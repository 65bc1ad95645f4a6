//! One response as the access log sees it (`Entry`, built from the request head and the
//! response's `Meter`) and the two lines it can become: Apache/nginx `combined` plus the
//! cache's fields, or one JSON object. Quoted and JSON fields are escaped here, so a hostile
//! target or header can never break a line in two; times are written in UTC from a calendar
//! computed in `calendar` (no time-zone database). Pure: formats into a caller's buffer, no I/O.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use super::calendar::{push_clf_time, push_iso_time};
use crate::http::headers::find;
use crate::http::request::RequestHead;
use crate::http::{Failure, Version};
use crate::metrics::{CacheResult, Meter};

/// The request line of a logged response.
#[derive(Clone, Copy, Debug)]
pub struct RequestLine<'a> {
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub version: Version,
}

/// One response as the access log sees it.
#[derive(Clone, Debug)]
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
    /// The failure livecache answered, and whose fault it was; `None` for any other response.
    pub failure: Option<Failure>,
    /// How long the response waited for an upstream head; `None` when no upstream was
    /// involved (hits, and answers livecache made itself).
    pub upstream: Option<Duration>,
    /// Request head parsed to last byte written (or the response abandoned).
    pub total: Duration,
    /// The shard that wrote the response (the connection's shard).
    pub shard: usize,
    /// The player's CMCD session, object and buffer fields (`live::Cmcd::log_text`), when it
    /// sent any well-formed.
    pub cmcd: Option<String>,
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
            failure: meter.failure(),
            upstream: meter.upstream_time(),
            total,
            shard,
            cmcd: head
                .and_then(|h| crate::live::Cmcd::of_request(&h.target, &h.headers))
                .map(|c| c.log_text())
                .filter(|text| !text.is_empty()),
        }
    }
}

/// Appends one `combined` line:
/// `IP - - [DD/Mon/YYYY:HH:MM:SS +0000] "METHOD TARGET PROTO" STATUS BYTES "REFERER" "UA"
/// cache=RESULT failure=SIDE/KIND|- upstream_ms=MS|- total_ms=MS shard=N cmcd="K=V,..."|-`.
/// Quoted fields escape `"` and `\` with a backslash and any other byte outside printable
/// ASCII as `\xHH`, as Apache does.
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
    let _ = write!(out, "\" cache={} failure=", entry.cache.label());
    match entry.failure {
        Some(f) => {
            let _ = write!(out, "{}/{}", f.side().label(), f.label());
        }
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" upstream_ms=");
    match entry.upstream {
        Some(upstream) => push_ms(out, upstream),
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" total_ms=");
    push_ms(out, entry.total);
    let _ = write!(out, " shard={} cmcd=", entry.shard);
    match &entry.cmcd {
        Some(cmcd) => {
            out.push(b'"');
            push_clf_escaped(out, cmcd.as_bytes());
            out.extend_from_slice(b"\"\n");
        }
        None => out.extend_from_slice(b"-\n"),
    }
}

/// Appends one JSON object and a newline: `time` (RFC 3339, UTC, milliseconds), `client`,
/// `method`, `target`, `protocol`, `status`, `bytes`, `referer`, `user_agent`, `cache`,
/// `failure` (`"side/kind"`), `upstream_ms`, `total_ms`, `shard`, `cmcd`. Absent values are
/// `null`; bytes that are not UTF-8 become U+FFFD.
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
    let _ = write!(out, ",\"cache\":\"{}\",\"failure\":", entry.cache.label());
    match entry.failure {
        Some(f) => {
            let _ = write!(out, "\"{}/{}\"", f.side().label(), f.label());
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"upstream_ms\":");
    match entry.upstream {
        Some(upstream) => push_ms(out, upstream),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"total_ms\":");
    push_ms(out, entry.total);
    let _ = write!(out, ",\"shard\":{},\"cmcd\":", entry.shard);
    push_json_opt(out, entry.cmcd.as_deref().map(str::as_bytes));
    out.extend_from_slice(b"}\n");
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// A `GET` miss from 192.0.2.7 on shard 3, at 2025-11-25T13:14:15.123Z.
    pub(in crate::log::access) fn entry<'a>(
        target: &'a [u8],
        user_agent: Option<&'a [u8]>,
    ) -> Entry<'a> {
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
            failure: None,
            upstream: Some(Duration::from_micros(12_345)),
            total: Duration::from_micros(15_002),
            shard: 3,
            cmcd: None,
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
             200 1234 \"-\" \"curl/8.5\" cache=miss failure=- upstream_ms=12.345 total_ms=15.002 \
             shard=3 cmcd=-\n"
        );
        let player = Entry {
            cmcd: Some("sid=\"s1\",bl=1200".into()),
            ..entry(b"/x", None)
        };
        assert!(line(format_combined, &player).ends_with(" cmcd=\"sid=\\\"s1\\\",bl=1200\"\n"));
        let v: serde_json::Value = serde_json::from_str(&line(format_json, &player)).unwrap();
        assert_eq!(v["cmcd"], "sid=\"s1\",bl=1200");
        let hit = Entry {
            cache: CacheResult::Hit,
            upstream: None,
            client: None,
            referer: Some(b"https://player.example/"),
            ..e.clone()
        };
        let text = line(format_combined, &hit);
        assert!(text.starts_with("- - - ["), "{text}");
        assert!(
            text.contains(
                "\"https://player.example/\" \"curl/8.5\" cache=hit failure=- upstream_ms=- "
            ),
            "{text}"
        );
        let refused = Entry {
            request: None,
            status: 431,
            cache: CacheResult::Error,
            failure: Some(Failure::HeadTooLarge),
            upstream: None,
            user_agent: None,
            ..e.clone()
        };
        assert!(line(format_combined, &refused)
            .contains("] \"-\" 431 1234 \"-\" \"-\" cache=error failure=client/head_too_large"));
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
        assert!(v["cmcd"].is_null());
        let hit = Entry {
            cache: CacheResult::Hit,
            upstream: None,
            request: None,
            ..e.clone()
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
}
