//! What a cacheable `200` becomes for the client that asked: itself, a `304 Not Modified`, a
//! `206 Partial Content` or a `416 Range Not Satisfiable`, decided from the request's
//! conditional and range fields (RFC 9110 13 and 14) and the response's validators and length.
//!
//! The owner shard always fetches and stores whole objects unconditionally, shared by every
//! client, so these fields are applied here, on the connection's shard, for hits and fetches
//! alike, once the head is known. This file decides and writes the head fields; `respond`
//! writes the status line and streams the body (the slice of it, for a `206`). The rules
//! themselves are the pure `http::conditional` and `http::range`.
//!
//! Left as they are: pass-through responses (never cached, the origin saw the client's own
//! fields), statuses other than `200`, and most ranges on a body of unknown length (a fetch
//! from an origin that sends no `Content-Length`): a `206` must state where its range ends,
//! and holding the response until the end would defeat streaming, so those clients get the
//! whole `200`, as RFC 9110 14.2 allows. Once stored, the same object serves ranges. The one
//! range a body of unknown length does serve is RFC 8673's "from here to the end, however
//! long" (`first-9007199254740991`): LL-HLS players ask a growing segment for a hinted part
//! that way, and get `206` with `bytes first-last/*` as the bytes arrive.

use bytes::BytesMut;

use crate::cache::CacheStatus;
use crate::cache::CachedHead;
use crate::http::conditional::{self, Verdict};
use crate::http::encode;
use crate::http::headers::Header;
use crate::http::range::{self, ByteRange, Outcome};
use crate::http::request::{Method, RequestHead};

/// Request fields that can change what a cacheable `200` becomes.
const FIELDS: [&str; 4] = ["if-none-match", "if-modified-since", "range", "if-range"];

/// The fields of a GET or HEAD request that carries conditional or range fields, borrowed
/// for its response (the request head outlives the response to it).
#[derive(Clone, Copy, Debug)]
pub struct Conditions<'a> {
    fields: &'a [Header],
}

impl<'a> Conditions<'a> {
    /// `None` for the usual request that carries none of them, and for methods other than GET
    /// and HEAD (their responses are passed through untouched).
    pub fn of(head: &'a RequestHead) -> Option<Conditions<'a>> {
        let relevant = |h: &Header| FIELDS.iter().any(|name| h.is(name));
        if !head.method.is_cacheable_read() || !head.headers.iter().any(relevant) {
            return None;
        }
        Some(Conditions {
            fields: &head.headers,
        })
    }
}

/// What is sent for one response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The response as it is. `ranges`: a cacheable `200` of known length, which announces
    /// `Accept-Ranges: bytes`.
    Whole { ranges: bool },
    /// `304`: the client's copy is current.
    NotModified,
    /// `206` with these bytes of a body of `complete` bytes.
    Partial { range: ByteRange, complete: u64 },
    /// `206` of a body of unknown length, from `range.first` to wherever it ends (RFC 8673).
    Growing { range: ByteRange },
    /// `416`: the range starts past the end of a body of `complete` bytes.
    Unsatisfiable { complete: u64 },
}

/// Decides what the response with `head` (and `body_len`, when known) becomes for a request
/// with `conditions`: conditionals first, then the range (RFC 9110 13.2.2).
pub fn select(
    head: &CachedHead,
    cache: &CacheStatus,
    body_len: Option<u64>,
    head_only: bool,
    conditions: Option<Conditions<'_>>,
) -> Selection {
    if cache.is_pass() || head.status != 200 {
        return Selection::Whole { ranges: false };
    }
    if let Some(conditions) = conditions {
        let method = if head_only { Method::Head } else { Method::Get };
        if conditional::evaluate(&method, conditions.fields, &head.headers) == Verdict::NotModified
        {
            return Selection::NotModified;
        }
    }
    let Some(complete) = body_len else {
        let open = conditions.and_then(|c| range::indeterminate(c.fields, &head.headers));
        return match open {
            Some(range) if !head_only => Selection::Growing { range },
            _ => Selection::Whole { ranges: false },
        };
    };
    // Range is defined for GET only and MUST be ignored on other methods (RFC 9110 14.2),
    // HEAD included: it gets the 200 head.
    if head_only {
        return Selection::Whole { ranges: true };
    }
    match conditions.map(|c| range::evaluate(c.fields, &head.headers, complete)) {
        Some(Outcome::Partial(range)) => Selection::Partial { range, complete },
        Some(Outcome::Unsatisfiable) => Selection::Unsatisfiable { complete },
        Some(Outcome::Full) | None => Selection::Whole { ranges: true },
    }
}

impl Selection {
    /// The status sent, given the response's own.
    pub fn status(&self, stored: u16) -> u16 {
        match self {
            Selection::Whole { .. } => stored,
            Selection::NotModified => 304,
            Selection::Partial { .. } | Selection::Growing { .. } => 206,
            Selection::Unsatisfiable { .. } => 416,
        }
    }

    /// Whether the response's own fields (and so its `Age` and `Date`) go out. A `416` is
    /// about the request, not the stored response: it carries none of them, in particular no
    /// `Cache-Control` that could get it stored downstream in place of the object.
    pub fn carries_stored_fields(&self) -> bool {
        !matches!(self, Selection::Unsatisfiable { .. })
    }

    /// Writes the response's fields this selection keeps, and those it adds (`Accept-Ranges`,
    /// `Content-Range`). Framing fields are the caller's.
    pub fn write_fields(&self, out: &mut BytesMut, head: &CachedHead) {
        // Ours replaces whatever `Accept-Ranges` the origin said: the range is cut here, not
        // there. Encoded once per stored head (`cache::encoded`).
        let ranged = |out: &mut BytesMut| out.extend_from_slice(head.ranged_fields());
        match self {
            Selection::Whole { ranges: false } => encode::write_headers(out, &head.headers),
            Selection::Whole { ranges: true } => ranged(out),
            Selection::NotModified => {
                for h in conditional::not_modified_fields(&head.headers) {
                    encode::header(out, &h.name, &h.value);
                }
            }
            Selection::Partial { range, complete } => {
                ranged(out);
                out.extend_from_slice(b"Content-Range: ");
                range.write_content_range(out, *complete);
                out.extend_from_slice(b"\r\n");
            }
            Selection::Growing { range } => {
                ranged(out);
                out.extend_from_slice(b"Content-Range: ");
                range::write_open_content_range(out, *range);
                out.extend_from_slice(b"\r\n");
            }
            Selection::Unsatisfiable { complete } => {
                out.extend_from_slice(b"Content-Range: ");
                range::write_unsatisfied_range(out, *complete);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}
