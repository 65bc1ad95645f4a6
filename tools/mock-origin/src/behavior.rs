//! What a single request asks the origin to do. This module owns the
//! translation from a request target's query string into a [`Behavior`]
//! value. It is pure (no I/O, no clock) so every parsing rule is unit-tested
//! here, and the wire side (`response.rs`) only ever sees typed values.
//!
//! Parameters travel in the query string on purpose: a cache keys on the full
//! target, so two scenarios never share a cache entry, and every scenario can
//! be reproduced by hand with curl. Unknown parameters are ignored (tests add
//! `v=N` and the like to make targets unique), and so are values that do not
//! parse: the default applies instead.

use std::time::Duration;

pub use crate::query::{percent_decode, query_pairs, split_target};
pub use crate::switch::Then;

/// Body length when no `size=` is given.
pub const DEFAULT_SIZE: usize = 1024;
/// Cache-Control sent for GET/HEAD when no `cc=` is given.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=60";

/// Which Cache-Control header to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheControl {
    /// The default for the method: [`DEFAULT_CACHE_CONTROL`] for GET/HEAD,
    /// `no-store` for everything else.
    Default,
    /// `cc=none`: no Cache-Control header at all, to exercise heuristics.
    Omit,
    /// `cc=VALUE`, sent verbatim after percent-decoding.
    Value(String),
}

/// How the response body is delimited on the wire (`te=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` (the default).
    Length,
    /// `te=chunked`: `Transfer-Encoding: chunked`.
    Chunked,
    /// `te=close`: no length at all; the body ends when the connection closes.
    Close,
}

/// Deliberately broken responses (`bad=`), for the cache's error paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// `bad=garbage`: bytes that are not an HTTP response, then close.
    Garbage,
    /// `bad=long`: declares Content-Length N but sends N+100 bytes.
    Long,
    /// `bad=short`: declares Content-Length N, sends N/2, then closes.
    Short,
    /// `bad=cl-te`: both Content-Length and `Transfer-Encoding: chunked`.
    ClTe,
    /// `bad=dup-cl`: two different Content-Length headers.
    DupCl,
    /// `bad=bad-chunk`: chunked, with an invalid hex chunk-size line.
    BadChunk,
    /// `bad=hang`: the head, then nothing for 60 s, then close.
    Hang,
}

impl Bad {
    fn parse(value: &str) -> Option<Bad> {
        Some(match value {
            "garbage" => Bad::Garbage,
            "long" => Bad::Long,
            "short" => Bad::Short,
            "cl-te" => Bad::ClTe,
            "dup-cl" => Bad::DupCl,
            "bad-chunk" => Bad::BadChunk,
            "hang" => Bad::Hang,
            _ => return None,
        })
    }
}

/// Everything the query string can ask for. Field docs name the parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behavior {
    /// `size=N`: body length in bytes for GET/HEAD.
    pub size: usize,
    /// `status=N`: response status code (100..=999).
    pub status: u16,
    /// `cc=VALUE` / `cc=none`.
    pub cache_control: CacheControl,
    /// `age=N`: send `Age: N`.
    pub age: Option<u64>,
    /// `expires=N`: send `Expires` = now + N seconds (N may be negative).
    pub expires: Option<i64>,
    /// Send `Date`; `nodate=1` turns it off.
    pub date: bool,
    /// `etag=V`: send `ETag: "V"` (`W/V` gives a weak `W/"V"`) instead of
    /// the derived strong one.
    pub etag: Option<String>,
    /// `delay_ms=N`: wait before sending anything.
    pub delay: Duration,
    /// `chunk=N`: write the body in pieces of N bytes, flushing each.
    pub chunk: Option<usize>,
    /// `pause_ms=M`: sleep between pieces (see `chunk` and `pause_after`).
    pub pause: Duration,
    /// `pause_after=B`: first piece is B bytes, the second the rest.
    pub pause_after: Option<usize>,
    /// `te=chunked|close|length`.
    pub framing: Framing,
    /// `fail_after=B`: reset the connection after B body bytes (of a whole `200` body).
    pub fail_after: Option<usize>,
    /// `bad=...`: a deliberately broken response.
    pub bad: Option<Bad>,
    /// `hdr=Name:Value` (repeatable): extra response headers, in order.
    pub headers: Vec<(String, String)>,
    /// `lm=SECS`: the `Last-Modified` time, Unix seconds (default
    /// 2015-01-01T00:00:00Z).
    pub last_modified: Option<i64>,
    /// `noetag=1`: send no `ETag` (so `If-None-Match` never matches).
    pub no_etag: bool,
    /// `nolm=1`: send no `Last-Modified` (so `If-Modified-Since` never
    /// matches).
    pub no_last_modified: bool,
    /// `ranges=1`: answer a single-range `Range` on GET with 206 (or 416).
    pub ranges: bool,
    /// `echo=Field-Name` (repeatable): reflect that request field back as
    /// `X-Echo-Field-Name`, in order.
    pub echo: Vec<String>,
    /// `hints=1`: send a `103 Early Hints` before the final response.
    pub hints: bool,
    /// `stray_ms=M`: M ms after the response, write a second, unrequested one on the same
    /// connection (a desynchronised origin).
    pub stray: Option<Duration>,
    /// `after=N` and the `then_*` knobs: a change of behaviour from request
    /// N+1 on (see [`Behavior::switch`]).
    pub then: Then,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            size: DEFAULT_SIZE,
            status: 200,
            cache_control: CacheControl::Default,
            age: None,
            expires: None,
            date: true,
            etag: None,
            delay: Duration::ZERO,
            chunk: None,
            pause: Duration::ZERO,
            pause_after: None,
            framing: Framing::Length,
            fail_after: None,
            bad: None,
            headers: Vec::new(),
            last_modified: None,
            no_etag: false,
            no_last_modified: false,
            ranges: false,
            echo: Vec::new(),
            hints: false,
            stray: None,
            then: Then::default(),
        }
    }
}

impl Behavior {
    /// Behaviour for a full request target (`/path?query`).
    pub fn from_target(target: &str) -> Behavior {
        Behavior::from_query(split_target(target).1)
    }

    /// Behaviour for a raw (still percent-encoded) query string. Later
    /// occurrences of a single-valued parameter win; `hdr` and `echo`
    /// accumulate.
    pub fn from_query(query: &str) -> Behavior {
        let mut b = Behavior::default();
        for (key, value) in query_pairs(query) {
            match key.as_str() {
                "size" => set(&mut b.size, num(&value)),
                "status" => set(
                    &mut b.status,
                    num(&value).filter(|s| (100..=999).contains(s)),
                ),
                "cc" if value == "none" => b.cache_control = CacheControl::Omit,
                "cc" => b.cache_control = CacheControl::Value(value),
                "age" => b.age = num(&value).or(b.age),
                "expires" => b.expires = num(&value).or(b.expires),
                "nodate" => b.date = !truthy(&value),
                "etag" if !value.is_empty() && !has_ctl(&value) => b.etag = Some(value),
                "delay_ms" => set(&mut b.delay, num(&value).map(Duration::from_millis)),
                "chunk" => b.chunk = num(&value).filter(|&n| n > 0).or(b.chunk),
                "pause_ms" => set(&mut b.pause, num(&value).map(Duration::from_millis)),
                "pause_after" => b.pause_after = num(&value).or(b.pause_after),
                "te" => match value.as_str() {
                    "chunked" => b.framing = Framing::Chunked,
                    "close" => b.framing = Framing::Close,
                    "length" | "cl" => b.framing = Framing::Length,
                    _ => {}
                },
                "fail_after" => b.fail_after = num(&value).or(b.fail_after),
                "bad" => b.bad = Bad::parse(&value).or(b.bad),
                "hdr" => b.headers.extend(parse_header(&value)),
                "lm" => b.last_modified = num(&value).or(b.last_modified),
                "noetag" => b.no_etag = truthy(&value),
                "nolm" => b.no_last_modified = truthy(&value),
                "ranges" => b.ranges = truthy(&value),
                "echo" if is_token(&value) => b.echo.push(value),
                "hints" => b.hints = truthy(&value),
                "stray_ms" => b.stray = num(&value).map(Duration::from_millis).or(b.stray),
                key => {
                    b.then.parse(key, &value);
                }
            }
        }
        b
    }
}

fn num<T: std::str::FromStr>(value: &str) -> Option<T> {
    value.trim().parse().ok()
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn truthy(value: &str) -> bool {
    matches!(value, "" | "1" | "true" | "yes" | "on")
}

/// CR/LF (or any control byte) in a header would let a query rewrite the
/// response framing by accident, which is what `bad=` is for; such values are
/// dropped instead.
pub(crate) fn has_ctl(value: &str) -> bool {
    value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// An HTTP token (RFC 9110 §5.6.2), as a field name must be.
fn is_token(name: &str) -> bool {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty() && name.bytes().all(tchar)
}

/// `Name:Value` with a valid token name; the value loses leading spaces only.
fn parse_header(raw: &str) -> Option<(String, String)> {
    let (name, value) = raw.split_once(':')?;
    let name = name.trim();
    if !is_token(name) || has_ctl(value) {
        return None;
    }
    Some((name.to_string(), value.trim_start().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_query_is_empty_or_unknown() {
        assert_eq!(Behavior::from_query(""), Behavior::default());
        assert_eq!(
            Behavior::from_query("v=3&foo&&bar=baz"),
            Behavior::default()
        );
        let b = Behavior::default();
        assert_eq!((b.size, b.status, b.date), (1024, 200, true));
        assert_eq!(b.cache_control, CacheControl::Default);
        assert_eq!(b.framing, Framing::Length);
    }

    #[test]
    fn numbers_and_invalid_values() {
        let b = Behavior::from_query("size=5000&status=404&age=7&expires=-10&delay_ms=250");
        assert_eq!(
            (b.size, b.status, b.age, b.expires),
            (5000, 404, Some(7), Some(-10))
        );
        assert_eq!(b.delay, Duration::from_millis(250));
        let b = Behavior::from_query("size=lots&status=42&chunk=0&age=-1");
        assert_eq!((b.size, b.status, b.chunk, b.age), (1024, 200, None, None));
        assert_eq!(Behavior::from_query("size=1&size=2").size, 2);
    }

    #[test]
    fn cache_control_is_percent_decoded() {
        let b = Behavior::from_query("cc=private%2C%20max-age%3D5");
        assert_eq!(
            b.cache_control,
            CacheControl::Value("private, max-age=5".into())
        );
        let b = Behavior::from_query("cc=public,+max-age=5");
        assert_eq!(
            b.cache_control,
            CacheControl::Value("public, max-age=5".into())
        );
        assert_eq!(
            Behavior::from_query("cc=none").cache_control,
            CacheControl::Omit
        );
    }

    #[test]
    fn repeated_hdr_accumulates_in_order() {
        let b =
            Behavior::from_query("hdr=X-One:1&hdr=Vary%3A%20Accept&hdr=X-Two:a:b&hdr=bad%20name:x");
        let want = [("X-One", "1"), ("Vary", "Accept"), ("X-Two", "a:b")];
        let got: Vec<_> = b
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
        assert!(Behavior::from_query("hdr=X-Evil:a%0d%0aSet:1")
            .headers
            .is_empty());
        assert!(Behavior::from_query("hdr=NoColon").headers.is_empty());
    }

    #[test]
    fn framing_delivery_and_failures() {
        let b = Behavior::from_query("te=chunked&chunk=100&pause_ms=5&nodate=1");
        assert_eq!(
            (b.framing, b.chunk, b.pause, b.date),
            (Framing::Chunked, Some(100), Duration::from_millis(5), false)
        );
        assert_eq!(Behavior::from_query("te=close").framing, Framing::Close);
        assert!(Behavior::from_query("nodate=0").date);
        let b = Behavior::from_query("pause_after=10&fail_after=20&etag=abc");
        assert_eq!((b.pause_after, b.fail_after), (Some(10), Some(20)));
        assert_eq!(b.etag.as_deref(), Some("abc"));
        for (v, bad) in [
            ("garbage", Bad::Garbage),
            ("long", Bad::Long),
            ("short", Bad::Short),
            ("cl-te", Bad::ClTe),
            ("dup-cl", Bad::DupCl),
            ("bad-chunk", Bad::BadChunk),
            ("hang", Bad::Hang),
        ] {
            assert_eq!(Behavior::from_query(&format!("bad={v}")).bad, Some(bad));
        }
        assert_eq!(Behavior::from_query("bad=nope").bad, None);
    }

    #[test]
    fn validators_ranges_echo_and_hints() {
        let b = Behavior::from_query("lm=1700000000&noetag=1&nolm&ranges=1&hints=yes");
        assert_eq!(b.last_modified, Some(1_700_000_000));
        assert!(b.no_etag && b.no_last_modified && b.ranges && b.hints);
        let b = Behavior::from_query("lm=soon&noetag=0&ranges=no&hints=0");
        assert_eq!(b.last_modified, None);
        assert!(!b.no_etag && !b.no_last_modified && !b.ranges && !b.hints);
        assert_eq!(Behavior::from_query("lm=-5").last_modified, Some(-5));
        let b = Behavior::from_query("echo=Accept-Encoding&echo=bad%20name&echo=&echo=X-A");
        assert_eq!(b.echo, ["Accept-Encoding", "X-A"]);
    }

    #[test]
    fn from_target_uses_the_query() {
        assert_eq!(Behavior::from_target("/seg.ts?size=9").size, 9);
        assert_eq!(Behavior::from_target("/seg.ts").size, DEFAULT_SIZE);
    }
}
