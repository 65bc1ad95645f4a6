//! Fuzz target `header_fields`: the structured field values a request and the response it
//! meets are read for, besides Cache-Control: `Range` and `If-Range` (`http::range`),
//! `If-None-Match`, `If-Modified-Since` and entity tags (`http::conditional`), HTTP-dates,
//! `Vary` and the secondary key (`cache::vary`), `Location`/`Content-Location` resolved to
//! cache keys (`cache::key`), token lists, hop-by-hop stripping and Content-Length values
//! (`http::headers`).
//!
//! Input: request fields, an empty line, response fields; one `Name: value` per line (see
//! `livecache_fuzz::fields`). Checked: no panic; a resolved range lies inside the
//! representation and its Content-Range reads back; only GET and HEAD can be answered 304;
//! entity tags borrow from their value; Vary names are sorted, unique and lower-case; a
//! referenced key keeps the base's host; memory stays proportional to the input.
#![no_main]

use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use livecache::cache::{CacheKey, StreamKey, Vary};
use livecache::config::StreamKeyRule;
use livecache::http::conditional::{self, http_date, EntityTag, Verdict};
use livecache::http::range::{self, Outcome, RangeSpec};
use livecache::http::Method;
use livecache::http::{end_to_end, find, has_token, list_items, parse_content_length, Header};
use livecache_fuzz::{fields, hash, NAME_LIST_FACTOR};

const LENGTHS: [u64; 6] = [0, 1, 2, 100, 1 << 20, u64::MAX];

fn check_outcome(outcome: Outcome, length: u64) {
    let mut dst = BytesMut::new();
    match outcome {
        Outcome::Full => {}
        Outcome::Partial(r) => {
            assert!(r.first <= r.last && r.last < length, "{r:?} of {length}");
            assert_eq!(r.len(), r.last - r.first + 1);
            r.write_content_range(&mut dst, length);
            let mut want = String::new();
            let _ = write!(want, "bytes {}-{}/{}", r.first, r.last, length);
            assert_eq!(&dst[..], want.as_bytes());
        }
        Outcome::Unsatisfiable => {
            range::write_unsatisfied_range(&mut dst, length);
            assert_eq!(&dst[..], format!("bytes */{length}").as_bytes());
        }
    }
}

fn ranges(request: &[Header], response: &[Header], seed: u64) {
    for field in request.iter().filter(|h| h.is("range")) {
        let Some(spec) = range::parse(&field.value) else {
            continue;
        };
        if let RangeSpec::FromTo(first, last) = spec {
            assert!(first <= last, "{spec:?}");
        }
        for length in LENGTHS {
            check_outcome(spec.resolve(length), length);
        }
    }
    for field in request.iter().filter(|h| h.is("if-range")) {
        let _ = range::if_range_holds(&field.value, response);
    }
    let length = LENGTHS[(seed % LENGTHS.len() as u64) as usize];
    check_outcome(range::evaluate(request, response, length), length);
}

fn conditions(request: &[Header], response: &[Header]) {
    for method in [Method::Get, Method::Head, Method::Post, Method::Delete] {
        let verdict = conditional::evaluate(&method, request, response);
        if !method.is_cacheable_read() {
            assert_eq!(verdict, Verdict::Send);
        }
    }
    let kept = conditional::not_modified_fields(response).count();
    assert!(kept <= response.len());
    for field in request.iter().chain(response) {
        if let Some(tag) = EntityTag::parse(&field.value) {
            let range = field.value.as_ptr_range();
            assert!(range.contains(&tag.opaque.as_ptr()) || tag.opaque.is_empty());
            assert!(tag.weak_eq(&tag));
            assert_eq!(tag.strong_eq(&tag), !tag.weak);
        }
        let _ = http_date(&field.value);
    }
}

fn vary(request: &[Header], response: &[Header], input_len: usize) {
    let vary = Vary::of(response);
    let names = vary.fields();
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "Vary names not sorted and unique"
    );
    for name in names {
        assert!(!name.is_empty() && !name.iter().any(u8::is_ascii_uppercase));
    }
    let key = vary.secondary_key(request);
    assert_eq!(
        key,
        vary.secondary_key(request),
        "secondary key not deterministic"
    );
    if matches!(vary, Vary::None | Vary::Star) {
        assert!(key.is_empty());
    }
    // Names and values come from the input, and each separator stands for a line of it.
    assert!(
        key.len() <= 3 * input_len,
        "secondary key outgrew the input"
    );
}

fn keys(request: &[Header], response: &[Header]) {
    let strip = ["CMCD".to_string(), "token".to_string()];
    let host = find(request, "host").map_or(&b"example.com"[..], |h| &h[..]);
    // The daemon's base is a parsed request's target: origin-form, so it starts with `/`.
    let target = find(request, "x-target")
        .filter(|t| t.first() == Some(&b'/'))
        .map_or(&b"/live/a/seg.m4s?CMCD=1"[..], |t| &t[..]);
    let base = CacheKey::new(host, target, &strip);
    for name in ["location", "content-location"] {
        for reference in response.iter().filter(|h| h.is(name)) {
            if let Some(key) = CacheKey::of_reference(&base, &reference.value, &strip) {
                assert_eq!(key.host(), base.host(), "reference left the origin");
                assert_eq!(key.target().first(), Some(&b'/'));
                assert!(StreamKey::of(&key, StreamKeyRule::Prefix(2)).owner(3) < 3);
            }
        }
    }
}

fn lists(headers: &[Header]) {
    let total: usize = headers.iter().map(|h| h.value.len()).sum();
    let items: usize = list_items(headers, "connection").map(<[u8]>::len).sum();
    assert!(items <= total);
    let close = has_token(headers, "connection", "close");
    assert_eq!(
        close,
        list_items(headers, "connection").any(|t| t.eq_ignore_ascii_case(b"close"))
    );
    let kept = end_to_end(headers);
    assert!(kept
        .iter()
        .all(|h| !h.is("connection") && !h.is("transfer-encoding")));
    for field in headers {
        if let Some(n) = parse_content_length(&field.value) {
            assert!(field.value.iter().all(u8::is_ascii_digit));
            let digits = field.value.iter().skip_while(|&&b| b == b'0').count();
            assert_eq!(n == 0, digits == 0);
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let data = Bytes::copy_from_slice(input);
    // Request fields up to the first empty line, the response's after it.
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i + 1, i + 2))
        .or_else(|| {
            data.windows(3)
                .position(|w| w == b"\n\r\n")
                .map(|i| (i + 1, i + 3))
        })
        .unwrap_or((data.len(), data.len()));
    let request = fields(&data.slice(..split.0));
    let response = fields(&data.slice(split.1..));
    let budget = NAME_LIST_FACTOR * input.len() + 64 * 1024;
    livecache_fuzz::within_budget(budget, "header_fields", || {
        ranges(&request, &response, hash(input));
        conditions(&request, &response);
        vary(&request, &response, input.len());
        keys(&request, &response);
        lists(&request);
        lists(&response);
    });
});
