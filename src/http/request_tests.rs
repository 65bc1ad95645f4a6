//! Unit tests for `request.rs` (kept apart to keep that file readable).
//! Each framing / validation rule has at least one accepting and one
//! rejecting case here; nothing outside `crate::http` is used.

use super::*;

fn limits() -> RequestLimits {
    RequestLimits {
        max_head_bytes: 1024,
        max_headers: 8,
        max_uri_bytes: 128,
    }
}

fn parse(raw: &[u8]) -> Result<Option<RequestHead>, RequestError> {
    parse_request(&mut BytesMut::from(raw), &limits())
}

fn ok(raw: &[u8]) -> RequestHead {
    parse(raw).expect("parse error").expect("incomplete")
}

fn err(raw: &[u8]) -> RequestError {
    parse(raw).expect_err("expected rejection")
}

fn malformed(raw: &[u8]) {
    assert!(
        matches!(err(raw), RequestError::Malformed(_)),
        "{:?}",
        String::from_utf8_lossy(raw)
    );
}

#[test]
fn simple_get_fields() {
    let r = ok(b"GET /live/a.m3u8?x=1&y HTTP/1.1\r\nHost: cdn.example\r\nAccept: */*\r\n\r\n");
    assert_eq!(r.method, Method::Get);
    assert_eq!(&r.target[..], b"/live/a.m3u8?x=1&y");
    assert_eq!(r.path(), b"/live/a.m3u8");
    assert_eq!(r.query(), Some(&b"x=1&y"[..]));
    assert_eq!(r.version, Version::Http11);
    assert_eq!(r.host().map(|h| &h[..]), Some(&b"cdn.example"[..]));
    assert_eq!(r.headers.len(), 2);
    assert_eq!(&r.headers[1].name[..], b"Accept");
    assert_eq!(r.body, RequestBody::None);
    assert!(r.keep_alive);
    let r = ok(b"GET /a? HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((r.path(), r.query()), (&b"/a"[..], Some(&b""[..])));
    assert_eq!(ok(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n").query(), None);
}

#[test]
fn headers_are_zero_copy_slices_of_the_input() {
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: abcdef\r\n\r\n"[..]);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let r = parse_request(&mut buf, &limits()).unwrap().unwrap();
    for h in &r.headers {
        assert!(range.contains(&(h.name.as_ptr() as usize)));
        assert!(range.contains(&(h.value.as_ptr() as usize)));
    }
    assert!(range.contains(&(r.target.as_ptr() as usize)));
}

#[test]
fn pipelined_bytes_stay_in_buffer() {
    let mut buf = BytesMut::from(
        &b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGE"[..],
    );
    let a = parse_request(&mut buf, &limits()).unwrap().unwrap();
    assert_eq!(&a.target[..], b"/1");
    let b = parse_request(&mut buf, &limits()).unwrap().unwrap();
    assert_eq!(&b.target[..], b"/2");
    assert_eq!(&buf[..], b"GE");
    assert!(parse_request(&mut buf, &limits()).unwrap().is_none());
    assert_eq!(&buf[..], b"GE");
}

#[test]
fn incomplete_at_every_split_then_complete() {
    let raw = b"\r\nPOST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    let head_len = raw.len() - 3;
    let mut buf = BytesMut::new();
    for (i, &b) in raw.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        let res = parse_request(&mut buf, &limits()).unwrap();
        if i + 1 < head_len {
            assert!(res.is_none(), "complete too early at {i}");
            assert_eq!(buf.len(), i + 1, "incomplete parse must not consume");
        } else if i + 1 == head_len {
            let r = res.expect("complete at end of head");
            assert_eq!(r.body, RequestBody::Length(3));
            assert_eq!(r.method, Method::Post);
        }
    }
    assert_eq!(&buf[..], b"abc");
}

#[test]
fn errors_leave_buffer_untouched() {
    let raw =
        &b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nrest"[..];
    let mut buf = BytesMut::from(raw);
    assert!(parse_request(&mut buf, &limits()).is_err());
    assert_eq!(&buf[..], raw);
}

#[test]
fn head_too_large_incomplete_and_complete() {
    let mut raw = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
    raw.resize(raw.len() + 1100, b'a');
    assert_eq!(err(&raw), RequestError::HeadTooLarge);
    raw.extend_from_slice(b"\r\n\r\n");
    assert_eq!(err(&raw), RequestError::HeadTooLarge);
    // Exactly at the limit is fine.
    let mut exact = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
    exact.resize(1024 - 4, b'a');
    exact.extend_from_slice(b"\r\n\r\n");
    assert_eq!(exact.len(), 1024);
    assert!(ok(&exact).headers.len() == 2);
}

#[test]
fn too_many_headers_boundary_stack_and_heap() {
    let build = |n: usize| {
        let mut raw = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 1..n {
            raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw
    };
    assert_eq!(ok(&build(8)).headers.len(), 8);
    assert_eq!(err(&build(9)), RequestError::TooManyHeaders);
    let big = RequestLimits {
        max_head_bytes: 1 << 16,
        max_headers: 100,
        max_uri_bytes: 64,
    };
    let r = parse_request(&mut BytesMut::from(&build(100)[..]), &big)
        .unwrap()
        .unwrap();
    assert_eq!(r.headers.len(), 100);
    let e = parse_request(&mut BytesMut::from(&build(101)[..]), &big).unwrap_err();
    assert_eq!(e, RequestError::TooManyHeaders);
}

#[test]
fn uri_too_long_even_before_head_completes() {
    let mut raw = b"GET /".to_vec();
    raw.resize(raw.len() + 200, b'a');
    assert_eq!(err(&raw), RequestError::UriTooLong);
    raw.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(err(&raw), RequestError::UriTooLong);
    // Larger than the whole head limit: still 414, not 431.
    let mut huge = b"GET /".to_vec();
    huge.resize(huge.len() + 5000, b'a');
    assert_eq!(err(&huge), RequestError::UriTooLong);
    let mut fits = b"GET /".to_vec();
    fits.resize(fits.len() + 127, b'a');
    fits.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(ok(&fits).target.len(), 128);
}

#[test]
fn bare_lf_obs_fold_and_leading_crlf() {
    malformed(b"GET / HTTP/1.1\nHost: h\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: h\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: h\r\n\n");
    malformed(b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\n Host: h\r\n\r\n");
    let r = ok(b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(&r.target[..], b"/");
}

#[test]
fn tokeniser_errors_are_malformed() {
    malformed(b"GET / HTTP/1.1\r\nHost : h\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nBad Name: h\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n");
    malformed(b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n");
    malformed(b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n");
    malformed(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n");
    malformed(b"GET / HTTP/1.2\r\nHost: h\r\n\r\n");
    malformed(b"GET / FOO/1.1\r\nHost: h\r\n\r\n");
    malformed(b"GET /\r\n\r\n");
}

#[test]
fn methods() {
    for (m, want) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("PATCH", Method::Patch),
        ("OPTIONS", Method::Options),
        ("PURGE", Method::Other(Bytes::from_static(b"PURGE"))),
        ("get", Method::Other(Bytes::from_static(b"get"))),
    ] {
        let r = ok(format!("{m} / HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
        assert_eq!(r.method.as_bytes(), m.as_bytes());
        assert_eq!(r.method, want);
        assert_eq!(r.method.is_cacheable_read(), m == "GET" || m == "HEAD");
    }
}

#[test]
fn absolute_form_overrides_host() {
    let r = ok(b"GET http://Origin.Example:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    assert_eq!(&r.target[..], b"/p?q=1");
    assert_eq!(r.host().map(|h| &h[..]), Some(&b"Origin.Example:8080"[..]));
    assert_eq!(r.headers.iter().filter(|h| h.is("host")).count(), 1);
    let r = ok(b"GET HTTPS://a.example HTTP/1.0\r\n\r\n");
    assert_eq!(&r.target[..], b"/");
    assert_eq!(r.host().map(|h| &h[..]), Some(&b"a.example"[..]));
    let r = ok(b"GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(&r.target[..], b"/?x");
    assert_eq!(r.query(), Some(&b"x"[..]));
    malformed(b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n");
    malformed(b"GET http://user@a/p HTTP/1.1\r\nHost: a\r\n\r\n");
    malformed(b"GET ftp://a/p HTTP/1.1\r\nHost: a\r\n\r\n");
    malformed(b"GET http://a/p HTTP/1.1\r\n\r\n");
}

#[test]
fn other_target_forms() {
    let r = ok(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(&r.target[..], b"*");
    malformed(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n");
    malformed(b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n");
    malformed(b"GET a/b HTTP/1.1\r\nHost: h\r\n\r\n");
}

#[test]
fn host_rules() {
    malformed(b"GET / HTTP/1.1\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
    malformed(b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n");
    assert_eq!(ok(b"GET / HTTP/1.0\r\n\r\n").host(), None);
    assert_eq!(
        ok(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")
            .host()
            .unwrap(),
        "[::1]:80"
    );
    assert_eq!(ok(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").host().unwrap(), "");
}

#[test]
fn content_length_rules() {
    let body = |raw: &[u8]| ok(raw).body;
    let amb = |raw: &[u8]| assert!(matches!(err(raw), RequestError::AmbiguousFraming(_)));
    assert_eq!(
        body(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n"),
        RequestBody::Length(42)
    );
    assert_eq!(
        body(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
        RequestBody::Length(0)
    );
    assert_eq!(
        body(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  7 \r\n\r\n"),
        RequestBody::Length(7)
    );
    for bad in ["+5", "-5", "5 5", "0x5", "", "18446744073709551616", "5;"] {
        amb(format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {bad}\r\n\r\n").as_bytes());
    }
    assert_eq!(
        err(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n"),
        RequestError::AmbiguousFraming("duplicate Content-Length")
    );
    assert_eq!(
        err(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"),
        RequestError::AmbiguousFraming("duplicate Content-Length")
    );
    amb(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    amb(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
}

#[test]
fn transfer_encoding_rules() {
    let te = |v: &str| {
        parse(format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {v}\r\n\r\n").as_bytes())
    };
    assert_eq!(te("chunked").unwrap().unwrap().body, RequestBody::Chunked);
    assert_eq!(te("CHUNKED").unwrap().unwrap().body, RequestBody::Chunked);
    assert_eq!(
        te(" chunked ,").unwrap().unwrap().body,
        RequestBody::Chunked
    );
    for unsupported in [
        "gzip",
        "chunked, gzip",
        "gzip, chunked",
        "identity",
        "chunkedx",
    ] {
        assert_eq!(
            te(unsupported).unwrap_err(),
            RequestError::UnsupportedTransferCoding,
            "{unsupported}"
        );
    }
    assert!(matches!(
        te("chunked, chunked").unwrap_err(),
        RequestError::AmbiguousFraming(_)
    ));
    assert_eq!(
        err(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RequestError::UnsupportedTransferCoding
    );
    assert!(matches!(
        err(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RequestError::AmbiguousFraming(_)
    ));
}

#[test]
fn keep_alive_defaults_and_tokens() {
    let ka = |raw: &[u8]| ok(raw).keep_alive;
    assert!(ka(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"
    ));
    assert!(ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
    ));
}

#[test]
fn error_status_reason_display() {
    let cases = [
        (
            RequestError::HeadTooLarge,
            431,
            "Request Header Fields Too Large",
        ),
        (
            RequestError::TooManyHeaders,
            431,
            "Request Header Fields Too Large",
        ),
        (RequestError::UriTooLong, 414, "URI Too Long"),
        (RequestError::Malformed("x"), 400, "Bad Request"),
        (RequestError::AmbiguousFraming("y"), 400, "Bad Request"),
        (
            RequestError::UnsupportedTransferCoding,
            501,
            "Not Implemented",
        ),
    ];
    for (e, status, reason) in cases {
        assert_eq!(e.status(), status);
        assert_eq!(e.reason(), reason);
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        RequestError::Malformed("bad thing").to_string(),
        "malformed request: bad thing"
    );
}
