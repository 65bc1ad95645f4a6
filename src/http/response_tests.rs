//! Unit tests for `response.rs`: status, framing and keep-alive rules,
//! each with accepting and rejecting cases.

use super::*;

fn parse(raw: &[u8], was_head: bool) -> Result<Option<ParsedResponse>, ResponseError> {
    parse_response(&mut BytesMut::from(raw), 1024, 8, was_head)
}

fn ok(raw: &[u8]) -> ParsedResponse {
    parse(raw, false).unwrap().unwrap()
}

fn err(raw: &[u8]) -> ResponseError {
    parse(raw, false).unwrap_err()
}

fn body(raw: &[u8]) -> ResponseBody {
    ok(raw).body
}

#[test]
fn basic_fields_and_pipelined_body_remains() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello"[..]);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let r = parse_response(&mut buf, 1024, 8, false).unwrap().unwrap();
    assert_eq!(r.head.status, 200);
    assert_eq!(&r.head.reason[..], b"OK");
    assert_eq!(r.head.version, Version::Http11);
    assert_eq!(r.head.headers.len(), 2);
    assert!(range.contains(&(r.head.headers[1].value.as_ptr() as usize)));
    assert_eq!(r.body, ResponseBody::Length(5));
    assert!(r.keep_alive);
    assert_eq!(&buf[..], b"hello");
}

#[test]
fn incomplete_at_every_split() {
    let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    for i in 0..raw.len() {
        let mut buf = BytesMut::from(&raw[..i]);
        assert!(parse_response(&mut buf, 1024, 8, false).unwrap().is_none());
        assert_eq!(buf.len(), i);
    }
    assert_eq!(ok(raw).head.status, 404);
}

#[test]
fn reason_phrases() {
    assert_eq!(&ok(b"HTTP/1.1 200 \r\n\r\n").head.reason[..], b"");
    assert_eq!(&ok(b"HTTP/1.1 200\r\n\r\n").head.reason[..], b"");
    assert_eq!(
        &ok(b"HTTP/1.1 200 Fine, thanks\r\n\r\n").head.reason[..],
        b"Fine, thanks"
    );
    assert_eq!(
        &ok(b"HTTP/1.1 200 Gr\xfc\xdf\r\n\r\n").head.reason[..],
        b"Gr\xfc\xdf"
    );
    assert_eq!(&ok(b"\r\nHTTP/1.1 200 OK\r\n\r\n").head.reason[..], b"OK");
}

#[test]
fn limits() {
    let mut raw = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    raw.resize(raw.len() + 1100, b'a');
    assert_eq!(err(&raw), ResponseError::HeadTooLarge);
    raw.extend_from_slice(b"\r\n\r\n");
    assert_eq!(err(&raw), ResponseError::HeadTooLarge);
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..9 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(err(&many), ResponseError::TooManyHeaders);
    let r = parse_response(&mut BytesMut::from(&many[..]), 1024, 100, false)
        .unwrap()
        .unwrap();
    assert_eq!(r.head.headers.len(), 9);
}

#[test]
fn malformed_heads() {
    for raw in [
        &b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"HTTP/1.1 20 Short\r\n\r\n",
        b"HTTP/1.1 2000 Long\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.2 200 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
    ] {
        assert!(
            matches!(err(raw), ResponseError::Malformed(_)),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    assert_eq!(ok(b"HTTP/1.1 999 Odd\r\n\r\n").head.status, 999);
}

#[test]
fn bodyless_statuses_and_head() {
    assert_eq!(body(b"HTTP/1.1 100 Continue\r\n\r\n"), ResponseBody::None);
    assert_eq!(
        body(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
        ResponseBody::None
    );
    assert_eq!(body(b"HTTP/1.1 204 No Content\r\n\r\n"), ResponseBody::None);
    assert_eq!(
        body(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        ResponseBody::None
    );
    let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true)
        .unwrap()
        .unwrap();
    assert_eq!(r.body, ResponseBody::None);
    assert!(r.keep_alive);
    // 1xx is returned as-is and what follows stays buffered.
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..],
    );
    assert_eq!(
        parse_response(&mut buf, 1024, 8, false)
            .unwrap()
            .unwrap()
            .head
            .status,
        100
    );
    assert_eq!(
        parse_response(&mut buf, 1024, 8, false)
            .unwrap()
            .unwrap()
            .head
            .status,
        200
    );
    assert!(buf.is_empty());
}

#[test]
fn content_length_rules() {
    assert_eq!(
        body(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"),
        ResponseBody::Length(7)
    );
    assert_eq!(
        body(b"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n"),
        ResponseBody::Length(7)
    );
    assert_eq!(
        body(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n"),
        ResponseBody::Length(7)
    );
    for raw in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 7, 8\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -7\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 7 7\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 7,\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        assert!(
            matches!(err(raw), ResponseError::AmbiguousFraming(_)),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn transfer_encoding_rules() {
    let te =
        |v: &str| body(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {v}\r\n\r\n").as_bytes());
    assert_eq!(te("chunked"), ResponseBody::Chunked);
    assert_eq!(te("Chunked"), ResponseBody::Chunked);
    // Other codings would be lost with the hop-by-hop field: refused.
    for coded in ["gzip, chunked", "gzip", "chunked, gzip"] {
        let raw = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {coded}\r\n\r\n");
        assert!(
            matches!(err(raw.as_bytes()), ResponseError::AmbiguousFraming(_)),
            "{coded}"
        );
    }
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
        ResponseError::AmbiguousFraming(_)
    ));
    assert!(matches!(
        err(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ResponseError::AmbiguousFraming(_)
    ));
    assert_eq!(
        body(b"HTTP/1.1 200 OK\r\n\r\n"),
        ResponseBody::CloseDelimited
    );
}

#[test]
fn keep_alive_rules() {
    let ka = |raw: &[u8]| ok(raw).keep_alive;
    assert!(ka(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert!(ka(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
    assert!(!ka(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert!(!ka(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert!(ka(
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
    ));
    assert!(ka(
        b"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n"
    ));
}

#[test]
fn a_no_content_response_announcing_a_body_ends_the_connection() {
    let ka = |raw: &[u8]| ok(raw).keep_alive;
    assert!(ka(b"HTTP/1.1 204 No Content\r\n\r\n"));
    assert!(ka(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"));
    assert!(!ka(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"));
    assert!(!ka(
        b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
    ));
    // A 304 may state the length of the representation it stands for (RFC 9110 8.6).
    assert!(ka(
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"
    ));
}

#[test]
fn errors_leave_buffer_untouched_and_display() {
    let raw = &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx"[..];
    let mut buf = BytesMut::from(raw);
    assert!(parse_response(&mut buf, 1024, 8, false).is_err());
    assert_eq!(&buf[..], raw);
    assert_eq!(
        ResponseError::Malformed("x").to_string(),
        "malformed upstream response: x"
    );
    for e in [
        ResponseError::HeadTooLarge,
        ResponseError::TooManyHeaders,
        ResponseError::AmbiguousFraming("y"),
    ] {
        assert!(!e.to_string().is_empty());
    }
}
