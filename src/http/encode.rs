//! Serialising HTTP/1.1 heads into a `BytesMut`: status lines, request lines,
//! header fields, integers.
//!
//! Pure appends with no allocation beyond growing `dst`. It must not decide
//! which headers to send (that is the caller's policy) and must not emit CR
//! or LF from field data: values that reach here came from our parser or our
//! own code, and a debug assertion guards against response splitting.

use bytes::BytesMut;

use super::headers::Header;

/// Append "HTTP/1.1 200 OK\r\n" (reason from status_reason when None).
pub fn status_line(dst: &mut BytesMut, status: u16, reason: Option<&[u8]>) {
    let reason = reason.unwrap_or_else(|| status_reason(status).as_bytes());
    debug_assert!(no_crlf(reason), "CR/LF in reason phrase");
    dst.reserve(13 + reason.len() + 2);
    dst.extend_from_slice(b"HTTP/1.1 ");
    put_decimal(dst, u64::from(status));
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(reason);
    dst.extend_from_slice(b"\r\n");
}

/// "name: value\r\n"
pub fn header(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    debug_assert!(no_crlf(name) && no_crlf(value), "CR/LF in header field");
    dst.reserve(name.len() + value.len() + 4);
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// Appends every field in order (names as received).
pub fn write_headers(dst: &mut BytesMut, headers: &[Header]) {
    for h in headers {
        header(dst, &h.name, &h.value);
    }
}

/// "Content-Length: N\r\n" without going through a temporary string.
pub fn content_length(dst: &mut BytesMut, len: u64) {
    dst.extend_from_slice(b"Content-Length: ");
    put_decimal(dst, len);
    dst.extend_from_slice(b"\r\n");
}

/// "\r\n"
pub fn end_head(dst: &mut BytesMut) {
    dst.extend_from_slice(b"\r\n");
}

/// A request head for upstream: "METHOD target HTTP/1.1\r\n" + headers + CRLF.
/// This writes the request line; follow with `header`/`write_headers` and
/// `end_head`. We always speak HTTP/1.1 upstream.
pub fn request_line(dst: &mut BytesMut, method: &[u8], target: &[u8]) {
    debug_assert!(no_crlf(method) && no_crlf(target), "CR/LF in request line");
    dst.reserve(method.len() + target.len() + 11);
    dst.extend_from_slice(method);
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(target);
    dst.extend_from_slice(b" HTTP/1.1\r\n");
}

/// Appends `n` in decimal using a stack buffer (no `fmt` machinery, no
/// allocation): used for status codes and Content-Length on every response.
pub fn put_decimal(dst: &mut BytesMut, n: u64) {
    let mut digits = [0u8; 20];
    dst.extend_from_slice(decimal(n, &mut digits));
}

/// `n` in decimal ASCII digits, written at the end of `digits` and returned.
pub fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[i..]
}

/// canonical phrases for the common codes, "Unknown" otherwise
pub fn status_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        508 => "Loop Detected",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn no_crlf(s: &[u8]) -> bool {
    !s.iter().any(|&b| b == b'\r' || b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let mut b = BytesMut::new();
        status_line(&mut b, 200, None);
        status_line(&mut b, 404, Some(b"Nope"));
        status_line(&mut b, 599, None);
        assert_eq!(
            &b[..],
            b"HTTP/1.1 200 OK\r\nHTTP/1.1 404 Nope\r\nHTTP/1.1 599 Unknown\r\n"
        );
    }

    #[test]
    fn full_response_head() {
        let mut b = BytesMut::new();
        status_line(&mut b, 206, None);
        header(&mut b, b"Content-Type", b"video/mp2t");
        content_length(&mut b, 1234567890123);
        write_headers(
            &mut b,
            &[Header::new("X-Cache", "HIT"), Header::new("Age", "0")],
        );
        end_head(&mut b);
        assert_eq!(
            &b[..],
            &b"HTTP/1.1 206 Partial Content\r\nContent-Type: video/mp2t\r\nContent-Length: 1234567890123\r\nX-Cache: HIT\r\nAge: 0\r\n\r\n"[..]
        );
    }

    #[test]
    fn request_head() {
        let mut b = BytesMut::new();
        request_line(&mut b, b"GET", b"/live/seg1.ts?x=1");
        header(&mut b, b"Host", b"origin");
        end_head(&mut b);
        assert_eq!(
            &b[..],
            b"GET /live/seg1.ts?x=1 HTTP/1.1\r\nHost: origin\r\n\r\n"
        );
    }

    #[test]
    fn decimals() {
        for n in [0u64, 7, 10, 99, 100, 65535, u64::MAX] {
            let mut b = BytesMut::new();
            put_decimal(&mut b, n);
            assert_eq!(&b[..], n.to_string().as_bytes());
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(status_reason(200), "OK");
        assert_eq!(status_reason(304), "Not Modified");
        assert_eq!(status_reason(431), "Request Header Fields Too Large");
        assert_eq!(status_reason(502), "Bad Gateway");
        assert_eq!(status_reason(299), "Unknown");
    }

    #[test]
    fn encoded_heads_parse_back() {
        let mut b = BytesMut::new();
        status_line(&mut b, 200, None);
        content_length(&mut b, 3);
        end_head(&mut b);
        b.extend_from_slice(b"abc");
        let r = super::super::response::parse_response(&mut b, 1024, 8, false)
            .unwrap()
            .unwrap();
        assert_eq!(r.head.status, 200);
        assert_eq!(r.body, super::super::response::ResponseBody::Length(3));
        assert_eq!(&b[..], b"abc");
    }
}
