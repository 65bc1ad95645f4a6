//! Raw-head pre-scan and helpers shared by the request and response parsers.
//!
//! httparse is deliberately lenient where RFC 9112 lets recipients be (bare
//! LF line endings, no size limit), and lenient is exactly what a proxy in
//! front of other parsers must not be. This file finds where a head ends,
//! enforces the size limit, and rejects bare LF and obs-fold *before*
//! httparse sees the bytes. It must not interpret fields or decide framing.

use bytes::{Bytes, BytesMut};

use super::headers::Header;

/// Why a head was rejected by the pre-scan.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ScanError {
    /// No complete head within the byte limit.
    TooLarge,
    /// The request-target alone is longer than allowed.
    UriTooLong,
    /// A `\n` not preceded by `\r`.
    BareLf,
    /// A field line starting with SP/HTAB (obsolete line folding).
    ObsFold,
}

/// Finds the end of the head at the front of `buf`.
///
/// Returns `Ok(Some(len))` where `len` includes the terminating empty line,
/// `Ok(None)` when more bytes are needed. Leading empty lines (RFC 9112 2.2)
/// are tolerated and count towards `max_head`, so a peer cannot keep us busy
/// with an endless stream of CRLFs. With `max_uri` set (requests), the
/// request-target is measured as soon as it is visible, even before its line
/// is complete, so an oversized URI is reported as 414 rather than 431.
pub(super) fn scan_head(
    buf: &[u8],
    max_head: usize,
    max_uri: Option<usize>,
) -> Result<Option<usize>, ScanError> {
    let window = &buf[..buf.len().min(max_head)];
    let mut line_start = 0;
    let mut seen_start_line = false;
    while let Some(off) = memchr::memchr(b'\n', &window[line_start..]) {
        let lf = line_start + off;
        if lf == 0 || window[lf - 1] != b'\r' {
            return Err(ScanError::BareLf);
        }
        let line = &window[line_start..lf - 1];
        if line.is_empty() {
            if seen_start_line {
                return Ok(Some(lf + 1));
            }
        } else if !seen_start_line {
            seen_start_line = true;
            if let Some(max) = max_uri {
                check_target_len(line, max)?;
            }
        } else if line[0] == b' ' || line[0] == b'\t' {
            return Err(ScanError::ObsFold);
        }
        line_start = lf + 1;
    }
    if !seen_start_line {
        if let Some(max) = max_uri {
            // The request line may extend past the window; measure it in full.
            check_target_len(&buf[line_start..], max)?;
        }
    }
    if buf.len() > max_head {
        Err(ScanError::TooLarge)
    } else {
        Ok(None)
    }
}

/// Measures the second space-delimited token of a (possibly partial) request
/// line. Malformed lines pass here; httparse rejects them later.
fn check_target_len(line: &[u8], max: usize) -> Result<(), ScanError> {
    let Some(sp) = memchr::memchr(b' ', line) else {
        return Ok(());
    };
    let rest = &line[sp + 1..];
    let target_len = memchr::memchr3(b' ', b'\r', b'\n', rest).unwrap_or(rest.len());
    if target_len > max {
        Err(ScanError::UriTooLong)
    } else {
        Ok(())
    }
}

/// The start line of a complete head (leading empty lines skipped, CRLF
/// excluded). Only called on heads that passed `scan_head`.
pub(super) fn start_line(head: &[u8]) -> &[u8] {
    let mut s = head;
    while let [b'\r', b'\n', rest @ ..] = s {
        s = rest;
    }
    let end = s.iter().position(|&b| b == b'\r').unwrap_or(s.len());
    &s[..end]
}

/// Turns httparse's borrowed fields into zero-copy `Bytes` slices of the
/// frozen head: one Vec allocation, a refcount bump per slice, no copies.
pub(super) fn to_headers(head: &Bytes, parsed: &[httparse::Header<'_>]) -> Vec<Header> {
    parsed
        .iter()
        .map(|h| Header {
            name: head.slice_ref(h.name.as_bytes()),
            value: head.slice_ref(h.value),
        })
        .collect()
}

/// Puts a consumed head back in front of `buf`, so a rejected parse leaves
/// the caller's buffer exactly as it was. Only runs on the error path.
pub(super) fn unconsume(buf: &mut BytesMut, head: &Bytes) {
    let mut restored = BytesMut::with_capacity(head.len() + buf.len());
    restored.extend_from_slice(head);
    restored.extend_from_slice(buf);
    *buf = restored;
}

/// Short, static description of an httparse error for `Malformed`.
pub(super) fn describe(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token in start line",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "unsupported HTTP version",
    }
}

/// Outcome of inspecting Transfer-Encoding codings.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Codings {
    /// Exactly one coding, `chunked`.
    ChunkedOnly,
    /// `chunked` is final (applied once) but other codings precede it.
    ChunkedLast,
    /// `chunked` applied more than once (RFC 9112 7: MUST NOT).
    ChunkedTwice,
    /// Some coding, but not ending in `chunked` (or an empty field).
    Other,
}

/// Classifies the Transfer-Encoding fields (all of them, as one list).
pub(super) fn classify_codings(headers: &[Header]) -> Codings {
    let mut count = 0usize;
    let mut chunked = 0usize;
    let mut last_chunked = false;
    for item in super::headers::list_items(headers, "transfer-encoding") {
        count += 1;
        last_chunked = item.eq_ignore_ascii_case(b"chunked");
        chunked += usize::from(last_chunked);
    }
    match (chunked, last_chunked) {
        (2.., _) => Codings::ChunkedTwice,
        (1, true) if count == 1 => Codings::ChunkedOnly,
        (1, true) => Codings::ChunkedLast,
        _ => Codings::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_complete_incomplete_and_pipelined() {
        let b = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
        assert_eq!(scan_head(b, 1024, Some(64)), Ok(Some(b.len() - 4)));
        assert_eq!(scan_head(&b[..20], 1024, Some(64)), Ok(None));
        assert_eq!(scan_head(b"", 1024, Some(64)), Ok(None));
    }

    #[test]
    fn scan_skips_leading_empty_lines() {
        let b = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(scan_head(b, 1024, None), Ok(Some(b.len())));
        assert_eq!(start_line(b), b"GET / HTTP/1.1");
    }

    #[test]
    fn scan_rejects_bare_lf_anywhere() {
        for b in [
            &b"\nGET / HTTP/1.1\r\n\r\n"[..],
            b"GET / HTTP/1.1\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n\n",
        ] {
            assert_eq!(scan_head(b, 1024, None), Err(ScanError::BareLf), "{b:?}");
        }
    }

    #[test]
    fn scan_rejects_obs_fold() {
        for b in [
            &b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
        ] {
            assert_eq!(scan_head(b, 1024, None), Err(ScanError::ObsFold));
        }
    }

    #[test]
    fn scan_size_limit_exact_and_exceeded() {
        let b = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(scan_head(b, b.len(), None), Ok(Some(b.len())));
        assert_eq!(scan_head(b, b.len() - 1, None), Err(ScanError::TooLarge));
        assert_eq!(scan_head(&b[..20], 10, None), Err(ScanError::TooLarge));
        let crlfs = [b'\r', b'\n'].repeat(100);
        assert_eq!(scan_head(&crlfs, 64, None), Err(ScanError::TooLarge));
    }

    #[test]
    fn scan_uri_limit_complete_and_partial_line() {
        let b = b"GET /0123456789 HTTP/1.1\r\n\r\n";
        assert_eq!(scan_head(b, 1024, Some(11)), Ok(Some(b.len())));
        assert_eq!(scan_head(b, 1024, Some(10)), Err(ScanError::UriTooLong));
        // Partial request line, already over both limits: 414 wins.
        let mut long = b"GET /".to_vec();
        long.resize(long.len() + 5000, b'a');
        assert_eq!(
            scan_head(&long, 1024, Some(2048)),
            Err(ScanError::UriTooLong)
        );
        assert_eq!(scan_head(&long, 8192, Some(8192)), Ok(None));
        // Responses have no URI check.
        assert_eq!(scan_head(&long, 8192, None), Ok(None));
    }

    #[test]
    fn classify_codings_cases() {
        let te = |v: &'static str| vec![Header::new("Transfer-Encoding", v)];
        assert_eq!(classify_codings(&te("chunked")), Codings::ChunkedOnly);
        assert_eq!(classify_codings(&te("CHUNKED")), Codings::ChunkedOnly);
        assert_eq!(classify_codings(&te("gzip, chunked")), Codings::ChunkedLast);
        assert_eq!(
            classify_codings(&te("chunked, chunked")),
            Codings::ChunkedTwice
        );
        assert_eq!(classify_codings(&te("chunked, gzip")), Codings::Other);
        assert_eq!(classify_codings(&te("gzip")), Codings::Other);
        assert_eq!(classify_codings(&te("")), Codings::Other);
        let split = vec![
            Header::new("Transfer-Encoding", "gzip"),
            Header::new("transfer-encoding", "chunked"),
        ];
        assert_eq!(classify_codings(&split), Codings::ChunkedLast);
    }

    #[test]
    fn unconsume_restores_order() {
        let mut buf = BytesMut::from(&b"HEADtail"[..]);
        let head = buf.split_to(4).freeze();
        unconsume(&mut buf, &head);
        assert_eq!(&buf[..], b"HEADtail");
    }
}
