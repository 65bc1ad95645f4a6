//! Upstream (origin) response heads: parsing and body framing.
//!
//! Origins are trusted more than clients but their bytes still end up in the
//! cache and in front of many clients, so framing is parsed strictly: an
//! ambiguous length must fail the fetch rather than poison a cached object.
//! This file must not read bodies, decide cacheability or touch sockets;
//! fields are zero-copy slices of the frozen head.

use std::fmt;
use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};

use super::head::{self, Codings, ScanError};
use super::headers::{self, Header};
use super::Version;

/// A parsed response status line plus fields.
#[derive(Clone, Debug)]
pub struct ResponseHead {
    pub status: u16,
    /// Reason phrase exactly as received (may be empty or contain obs-text).
    pub reason: Bytes,
    pub version: Version,
    pub headers: Vec<Header>,
}

/// How the response body is delimited (RFC 9112 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    None,
    Length(u64),
    Chunked,
    /// Body runs until the origin closes; the connection cannot be reused.
    CloseDelimited,
}

/// A response head with its framing decided.
#[derive(Clone, Debug)]
pub struct ParsedResponse {
    pub head: ResponseHead,
    pub body: ResponseBody,
    /// Whether the upstream connection may be reused after this body.
    pub keep_alive: bool,
}

/// Why an upstream response head was rejected (caller answers 502).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseError {
    HeadTooLarge,
    TooManyHeaders,
    Malformed(&'static str),
    AmbiguousFraming(&'static str),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::HeadTooLarge => f.write_str("upstream response head too large"),
            ResponseError::TooManyHeaders => f.write_str("too many upstream response fields"),
            ResponseError::Malformed(why) => write!(f, "malformed upstream response: {why}"),
            ResponseError::AmbiguousFraming(why) => {
                write!(f, "ambiguous upstream response framing: {why}")
            }
        }
    }
}

impl std::error::Error for ResponseError {}

/// Header slots kept on the stack; larger `max_headers` falls back to one Vec.
const STACK_SLOTS: usize = 64;

/// Same contract as parse_request (Ok(None) = incomplete; head bytes
/// consumed on success; `buf` unchanged on Err).
///
/// `request_was_head` matters because a response to HEAD carries framing
/// fields describing a body that is never sent.
pub fn parse_response(
    buf: &mut BytesMut,
    max_head_bytes: usize,
    max_headers: usize,
    request_was_head: bool,
) -> Result<Option<ParsedResponse>, ResponseError> {
    let len = match head::scan_head(buf, max_head_bytes, None) {
        Ok(Some(len)) => len,
        Ok(None) => return Ok(None),
        Err(ScanError::TooLarge) => return Err(ResponseError::HeadTooLarge),
        Err(ScanError::BareLf) => return Err(ResponseError::Malformed("bare LF in head")),
        Err(ScanError::ObsFold) => return Err(ResponseError::Malformed("obsolete line folding")),
        Err(ScanError::UriTooLong) => return Err(ResponseError::Malformed("unexpected URI check")),
    };
    let frozen = buf.split_to(len).freeze();
    match parse_complete(&frozen, max_headers, request_was_head) {
        Ok(resp) => Ok(Some(resp)),
        Err(e) => {
            head::unconsume(buf, &frozen);
            Err(e)
        }
    }
}

fn parse_complete(
    head: &Bytes,
    max_headers: usize,
    request_was_head: bool,
) -> Result<ParsedResponse, ResponseError> {
    let mut stack: [MaybeUninit<httparse::Header<'_>>; STACK_SLOTS] =
        [const { MaybeUninit::uninit() }; STACK_SLOTS];
    let mut heap = Vec::new();
    let slots = if max_headers <= STACK_SLOTS {
        &mut stack[..max_headers]
    } else {
        heap.resize(max_headers, MaybeUninit::uninit());
        &mut heap[..]
    };
    let mut resp = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    match config.parse_response_with_uninit_headers(&mut resp, head, slots) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(ResponseError::Malformed("unterminated head")),
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
        Err(e) => return Err(ResponseError::Malformed(head::describe(e))),
    }
    let version = Version::from_minor(resp.version)
        .ok_or(ResponseError::Malformed("unsupported HTTP version"))?;
    let status = match resp.code {
        Some(c @ 100..=999) => c,
        _ => return Err(ResponseError::Malformed("invalid status code")),
    };
    // httparse blanks reasons containing obs-text; take it from the raw
    // start line instead ("HTTP/1.1 200 " is 13 bytes, validated above).
    let line = head::start_line(head);
    let reason = match line.get(13..) {
        Some(r) => head.slice_ref(r),
        None => Bytes::new(),
    };
    let headers = head::to_headers(head, resp.headers);

    let body = if (100..200).contains(&status) || status == 204 || status == 304 || request_was_head
    {
        ResponseBody::None
    } else {
        response_body(version, &headers)?
    };
    // A 204 that announces a body breaks RFC 9112 6.1/6.3: whatever follows it on the
    // connection cannot be trusted to be the next response, so it is not reused.
    let announces_body = status == 204
        && (headers.iter().any(|h| h.is("transfer-encoding"))
            || headers::find_all(&headers, "content-length")
                .any(|v| headers::parse_content_length(headers::trim_ows(v)) != Some(0)));
    let keep_alive = body != ResponseBody::CloseDelimited
        && !announces_body
        && !headers::has_token(&headers, "connection", "close")
        && (version == Version::Http11 || headers::has_token(&headers, "connection", "keep-alive"));
    Ok(ParsedResponse {
        head: ResponseHead {
            status,
            reason,
            version,
            headers,
        },
        body,
        keep_alive,
    })
}

/// RFC 9112 6.3, minus the recovery it permits: Transfer-Encoding with
/// Content-Length is refused outright (a cache must not guess), and so is
/// Transfer-Encoding from an HTTP/1.0 origin (6.1: framing is faulty).
fn response_body(version: Version, headers: &[Header]) -> Result<ResponseBody, ResponseError> {
    let has_te = headers.iter().any(|h| h.is("transfer-encoding"));
    let has_cl = headers.iter().any(|h| h.is("content-length"));
    if has_te {
        if has_cl {
            return Err(ResponseError::AmbiguousFraming(
                "Content-Length with Transfer-Encoding",
            ));
        }
        if version == Version::Http10 {
            return Err(ResponseError::AmbiguousFraming(
                "Transfer-Encoding in HTTP/1.0",
            ));
        }
        // Transfer-Encoding is hop-by-hop: a coding other than chunked (gzip, ...) would be
        // dropped with the field and its bytes served as identity, so it is refused outright.
        return match head::classify_codings(headers) {
            Codings::ChunkedOnly => Ok(ResponseBody::Chunked),
            Codings::ChunkedLast | Codings::Other => Err(ResponseError::AmbiguousFraming(
                "transfer coding other than chunked",
            )),
            Codings::ChunkedTwice => Err(ResponseError::AmbiguousFraming("chunked applied twice")),
        };
    }
    if !has_cl {
        return Ok(ResponseBody::CloseDelimited);
    }
    // Every element of every Content-Length field must be valid and equal
    // (RFC 9112 6.3 item 5 allows collapsing identical duplicates).
    let mut length = None;
    for v in headers::find_all(headers, "content-length") {
        for item in v.split(|&b| b == b',').map(headers::trim_ows) {
            let n = headers::parse_content_length(item)
                .ok_or(ResponseError::AmbiguousFraming("invalid Content-Length"))?;
            match length {
                Some(prev) if prev != n => {
                    return Err(ResponseError::AmbiguousFraming(
                        "conflicting Content-Length",
                    ));
                }
                _ => length = Some(n),
            }
        }
    }
    match length {
        Some(n) => Ok(ResponseBody::Length(n)),
        None => Err(ResponseError::AmbiguousFraming("invalid Content-Length")),
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
