//! Pure HTTP/1.1 wire codec: request/response head parsing, chunked body
//! decoding, header-field semantics, head encoding, and the request-side
//! semantics of conditional (`conditional`) and range (`range`) requests.
//!
//! This module owns message *syntax, framing and those request semantics*
//! only. It must not do any I/O, know about sockets, runtimes, caching or
//! configuration, and must not depend on anything but `std`, `bytes`,
//! `httparse` and `httpdate` (HTTP dates), so it can be tested
//! (and fuzzed) in isolation. `httparse` is used purely as a tokeniser; every
//! framing decision (Content-Length / Transfer-Encoding, keep-alive, request
//! target forms, bare-LF and obs-fold rejection) is made here, because those
//! rules are where request smuggling and cache poisoning live.

pub mod chunked;
pub mod client_address;
pub mod cmsd;
pub mod conditional;
pub mod credential;
pub mod encode;
pub mod failure;
mod head;
pub mod headers;
pub mod percent;
pub mod query;
pub mod range;
pub mod request;
pub mod response;
pub mod structured;

pub use self::chunked::{
    chunk_size_line, write_chunk_size_line, ChunkError, ChunkedDecoder, Decoded, LAST_CHUNK,
};
pub use self::encode::{
    content_length, end_head, header, put_decimal, request_line, status_line, status_reason,
    write_headers,
};
pub use self::failure::{Failure, Side};
pub use self::headers::{
    end_to_end, find, find_all, has_token, list_items, parse_content_length, trim_ows, Header,
};
pub use self::request::{
    parse_request, Method, RequestBody, RequestError, RequestHead, RequestLimits,
};
pub use self::response::{
    parse_response, ParsedResponse, ResponseBody, ResponseError, ResponseHead,
};

/// HTTP protocol version of a parsed message.
///
/// Only 1.0 and 1.1 exist on this wire; anything else is rejected at parse
/// time, so callers never have to handle "unknown" versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    /// The version as it appears on the wire (`HTTP/1.0` / `HTTP/1.1`).
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Version::Http10 => b"HTTP/1.0",
            Version::Http11 => b"HTTP/1.1",
        }
    }

    /// Maps httparse's minor version; `None` for anything but 0 and 1.
    pub(crate) fn from_minor(minor: Option<u8>) -> Option<Version> {
        match minor {
            Some(0) => Some(Version::Http10),
            Some(1) => Some(Version::Http11),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_bytes_and_minor_mapping() {
        assert_eq!(Version::Http10.as_bytes(), b"HTTP/1.0");
        assert_eq!(Version::Http11.as_bytes(), b"HTTP/1.1");
        assert_eq!(Version::from_minor(Some(0)), Some(Version::Http10));
        assert_eq!(Version::from_minor(Some(1)), Some(Version::Http11));
        assert_eq!(Version::from_minor(Some(2)), None);
        assert_eq!(Version::from_minor(None), None);
    }
}
