//! Client request heads: parsing, validation and body framing.
//!
//! This is the untrusted edge of the cache, so it is strict: anything two
//! HTTP implementations could frame differently (duplicate Content-Length,
//! Content-Length with Transfer-Encoding, bare LF, obs-fold, unknown codings)
//! is rejected with the status to send before closing. It must not read
//! bodies, touch sockets or allocate per header field: names and values are
//! zero-copy slices of the frozen head.

use std::fmt;
use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};

use super::head::{self, Codings, ScanError};
use super::headers::{self, starts_with_ignore_case, Header};
use super::Version;

/// Request method. Known methods are matched case-sensitively (RFC 9110 9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Other(Bytes),
}

impl Method {
    /// The method token as sent on the wire (for forwarding upstream).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Method::Get => b"GET",
            Method::Head => b"HEAD",
            Method::Post => b"POST",
            Method::Put => b"PUT",
            Method::Delete => b"DELETE",
            Method::Patch => b"PATCH",
            Method::Options => b"OPTIONS",
            Method::Other(m) => m,
        }
    }

    /// GET or HEAD: the only methods whose responses this cache serves from
    /// or stores into the cache.
    pub fn is_cacheable_read(&self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }

    fn from_token(token: &[u8], head: &Bytes) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"PATCH" => Method::Patch,
            b"OPTIONS" => Method::Options,
            other => Method::Other(head.slice_ref(other)),
        }
    }
}

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody {
    None,
    Length(u64),
    Chunked,
}

/// A parsed request head.
///
/// For an absolute-form target (`http://host/p?q`) `target` is rewritten to
/// the origin-form part and the authority replaces (or supplies) the Host
/// field, as RFC 9112 3.2.2 requires; downstream code then only ever sees
/// origin-form plus one Host.
#[derive(Clone, Debug)]
pub struct RequestHead {
    pub method: Method,
    pub target: Bytes,
    pub version: Version,
    pub headers: Vec<Header>,
    pub body: RequestBody,
    pub keep_alive: bool,
}

impl RequestHead {
    /// The target up to (not including) `?`.
    pub fn path(&self) -> &[u8] {
        match self.target.iter().position(|&b| b == b'?') {
            Some(q) => &self.target[..q],
            None => &self.target,
        }
    }

    /// The part after the first `?`, if any (may be empty).
    pub fn query(&self) -> Option<&[u8]> {
        let q = self.target.iter().position(|&b| b == b'?')?;
        Some(&self.target[q + 1..])
    }

    /// The Host field (the authority, for absolute-form requests).
    pub fn host(&self) -> Option<&Bytes> {
        headers::find(&self.headers, "host")
    }
}

/// Resource limits applied while parsing a request head.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
    pub max_uri_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_uri_bytes: 8 * 1024,
        }
    }
}

/// Why a request head was rejected. Every variant means: answer with
/// `status()` and close the connection (framing can no longer be trusted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    HeadTooLarge,
    TooManyHeaders,
    UriTooLong,
    Malformed(&'static str),
    AmbiguousFraming(&'static str),
    UnsupportedTransferCoding,
}

impl RequestError {
    /// The client's failure this is, which decides the status answered.
    pub fn failure(&self) -> super::Failure {
        use super::Failure;
        match self {
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => Failure::HeadTooLarge,
            RequestError::UriTooLong => Failure::UriTooLong,
            RequestError::Malformed(_) | RequestError::AmbiguousFraming(_) => Failure::Malformed,
            RequestError::UnsupportedTransferCoding => Failure::NotImplemented,
        }
    }

    pub fn status(&self) -> u16 {
        self.failure().status()
    }

    pub fn reason(&self) -> &'static str {
        super::encode::status_reason(self.status())
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::HeadTooLarge => f.write_str("request head too large"),
            RequestError::TooManyHeaders => f.write_str("too many request header fields"),
            RequestError::UriTooLong => f.write_str("request-target too long"),
            RequestError::Malformed(why) => write!(f, "malformed request: {why}"),
            RequestError::AmbiguousFraming(why) => write!(f, "ambiguous request framing: {why}"),
            RequestError::UnsupportedTransferCoding => f.write_str("unsupported transfer coding"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Header slots kept on the stack (4 KiB), above the default `max_headers` (100) so a request
/// head is tokenised without an allocation; a larger limit falls back to one Vec.
const STACK_SLOTS: usize = 128;

/// Parse one request head from the front of `buf`. Ok(None): incomplete,
/// read more (and buf.len() is still within max_head_bytes — if the buffer
/// already holds more than max_head_bytes without a complete head return
/// Err(HeadTooLarge)). Ok(Some(head)): the head bytes were removed from `buf`
/// (split_to + freeze, header values sliced zero-copy from that frozen
/// Bytes); any pipelined bytes after it stay in `buf`. On Err, `buf` is left
/// unchanged.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &RequestLimits,
) -> Result<Option<RequestHead>, RequestError> {
    let len = match head::scan_head(buf, limits.max_head_bytes, Some(limits.max_uri_bytes)) {
        Ok(Some(len)) => len,
        Ok(None) => return Ok(None),
        Err(ScanError::TooLarge) => return Err(RequestError::HeadTooLarge),
        Err(ScanError::UriTooLong) => return Err(RequestError::UriTooLong),
        Err(ScanError::BareLf) => return Err(RequestError::Malformed("bare LF in head")),
        Err(ScanError::ObsFold) => return Err(RequestError::Malformed("obsolete line folding")),
    };
    let frozen = buf.split_to(len).freeze();
    match parse_complete(&frozen, limits) {
        Ok(req) => Ok(Some(req)),
        Err(e) => {
            head::unconsume(buf, &frozen);
            Err(e)
        }
    }
}

/// Tokenises a complete head (exactly `head.len()` bytes) and applies the
/// semantic rules.
fn parse_complete(head: &Bytes, limits: &RequestLimits) -> Result<RequestHead, RequestError> {
    let mut stack: [MaybeUninit<httparse::Header<'_>>; STACK_SLOTS] =
        [const { MaybeUninit::uninit() }; STACK_SLOTS];
    let mut heap = Vec::new();
    let slots = if limits.max_headers <= STACK_SLOTS {
        &mut stack[..limits.max_headers]
    } else {
        heap.resize(limits.max_headers, MaybeUninit::uninit());
        &mut heap[..]
    };
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(RequestError::Malformed("unterminated head")),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(e) => return Err(RequestError::Malformed(head::describe(e))),
    }
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Err(RequestError::Malformed("incomplete request line"));
    };
    let version = Version::from_minor(req.version)
        .ok_or(RequestError::Malformed("unsupported HTTP version"))?;
    if path.len() > limits.max_uri_bytes {
        return Err(RequestError::UriTooLong);
    }
    let method = Method::from_token(method.as_bytes(), head);
    let mut headers = head::to_headers(head, req.headers);

    let (target, authority) = split_target(&method, head.slice_ref(path.as_bytes()))?;

    let mut hosts = headers.iter().filter(|h| h.is("host"));
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(RequestError::Malformed("multiple Host fields"));
    }
    match host {
        None if version == Version::Http11 => {
            return Err(RequestError::Malformed("missing Host"));
        }
        Some(h) if !valid_host(&h.value) => return Err(RequestError::Malformed("invalid Host")),
        _ => {}
    }
    if let Some(authority) = authority {
        match headers.iter_mut().find(|h| h.is("host")) {
            Some(h) => h.value = authority,
            None => headers.push(Header::new("Host", authority)),
        }
    }

    let body = request_body(version, &headers)?;
    let keep_alive = match version {
        Version::Http11 => !headers::has_token(&headers, "connection", "close"),
        Version::Http10 => {
            headers::has_token(&headers, "connection", "keep-alive")
                && !headers::has_token(&headers, "connection", "close")
        }
    };
    Ok(RequestHead {
        method,
        target,
        version,
        headers,
        body,
        keep_alive,
    })
}

/// Validates the request-target form (RFC 9112 3.2) and returns the
/// origin-form target plus, for absolute-form, the authority.
fn split_target(method: &Method, raw: Bytes) -> Result<(Bytes, Option<Bytes>), RequestError> {
    if raw.first() == Some(&b'/') {
        return Ok((raw, None));
    }
    if &raw[..] == b"*" {
        return match method {
            Method::Options => Ok((raw, None)),
            _ => Err(RequestError::Malformed(
                "asterisk-form target requires OPTIONS",
            )),
        };
    }
    let scheme_len = if starts_with_ignore_case(&raw, b"http://") {
        7
    } else if starts_with_ignore_case(&raw, b"https://") {
        8
    } else {
        return Err(RequestError::Malformed("invalid request-target"));
    };
    let rest = raw.slice(scheme_len..);
    let auth_end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = rest.slice(..auth_end);
    if authority.is_empty() || !valid_host(&authority) {
        return Err(RequestError::Malformed(
            "invalid authority in request-target",
        ));
    }
    let target = match rest.get(auth_end) {
        Some(b'/') => rest.slice(auth_end..),
        // "http://h?q" means path "/" (RFC 9112 3.2.2); rare, so copying is fine.
        Some(b'?') => {
            let mut t = BytesMut::with_capacity(rest.len() - auth_end + 1);
            t.extend_from_slice(b"/");
            t.extend_from_slice(&rest[auth_end..]);
            t.freeze()
        }
        Some(_) => return Err(RequestError::Malformed("fragment in request-target")),
        None => Bytes::from_static(b"/"),
    };
    Ok((target, Some(authority)))
}

/// Host must look like `uri-host [":" port]`. Delimiters that could make the
/// cache key and the origin disagree about the resource (`/ ? # @ \`,
/// whitespace, controls) are refused.
fn valid_host(h: &[u8]) -> bool {
    h.iter().all(|&b| {
        b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\' | b'"' | b'<' | b'>')
    })
}

/// Body framing per RFC 9112 6.1-6.3, strict variant (no recovery).
fn request_body(version: Version, headers: &[Header]) -> Result<RequestBody, RequestError> {
    let has_te = headers.iter().any(|h| h.is("transfer-encoding"));
    let mut cls = headers::find_all(headers, "content-length");
    let cl = cls.next();
    if cls.next().is_some() {
        return Err(RequestError::AmbiguousFraming("duplicate Content-Length"));
    }
    if has_te {
        if version == Version::Http10 {
            return Err(RequestError::AmbiguousFraming(
                "Transfer-Encoding in HTTP/1.0",
            ));
        }
        if cl.is_some() {
            return Err(RequestError::AmbiguousFraming(
                "Content-Length with Transfer-Encoding",
            ));
        }
        return match head::classify_codings(headers) {
            Codings::ChunkedOnly => Ok(RequestBody::Chunked),
            Codings::ChunkedTwice => Err(RequestError::AmbiguousFraming("chunked applied twice")),
            Codings::ChunkedLast | Codings::Other => Err(RequestError::UnsupportedTransferCoding),
        };
    }
    let Some(cl) = cl else {
        return Ok(RequestBody::None);
    };
    let value = headers::trim_ows(cl);
    if value.contains(&b',') {
        return Err(RequestError::AmbiguousFraming("duplicate Content-Length"));
    }
    match headers::parse_content_length(value) {
        Some(n) => Ok(RequestBody::Length(n)),
        None => Err(RequestError::AmbiguousFraming("invalid Content-Length")),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
