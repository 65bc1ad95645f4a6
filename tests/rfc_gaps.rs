//! The RFC gaps of the access-control issue that are closed, each black-box through the daemon
//! (1 and 4 shards), each citing its section: an invalid `Age` (RFC 9111 5.1), `must-understand`
//! (RFC 9111 5.2.2.3), an invalid targeted field ignored whole (RFC 9213 2.1, RFC 8941), HTTP
//! dates in any case and form (RFC 9110 5.6.7), and `If-Modified-Since` against the stored
//! `Date` when there is no `Last-Modified` (RFC 9110 13.1.3, RFC 9111 4.3.2).

mod common;

use std::time::{Duration, SystemTime};

use common::{get_with, Setup};

/// Asks for `target` twice; the origin requests it caused.
fn twice(setup: &Setup, target: &str) -> u64 {
    assert_eq!(setup.get(target).status, 200, "{target}");
    assert_eq!(setup.get(target).status, 200, "{target}");
    setup.origin.hits(target)
}

with_shards!(an_invalid_age_makes_the_response_stale, |shards| {
    // RFC 9111 5.1: a cache SHOULD consider a response with an invalid Age stale.
    let setup = Setup::new(shards);
    for (age, expected) in [("5", 1), ("5s", 2), ("5,%2010", 2), ("5;x", 2)] {
        let target = format!(
            "/rfc/age-{expected}-{}.bin?noetag=1&nolm=1&hdr=Age:{age}",
            age.len()
        );
        assert_eq!(twice(&setup, &target), expected, "Age: {age}");
    }
});

with_shards!(
    must_understand_stores_a_known_status_despite_no_store,
    |shards| {
        // RFC 9111 5.2.2.3.
        let setup = Setup::new(shards);
        let understood = "/rfc/mu.bin?cc=no-store,%20must-understand,%20max-age%3D60";
        assert_eq!(twice(&setup, understood), 1);
        let plain = "/rfc/ns.bin?cc=no-store,%20max-age%3D60";
        assert_eq!(twice(&setup, plain), 2);
    }
);

with_shards!(an_invalid_cdn_cache_control_is_ignored_whole, |shards| {
    // RFC 9213 2.1: CDN-Cache-Control is an RFC 8941 dictionary; an invalid one is ignored,
    // and Cache-Control (here no-store) decides.
    let setup = Setup::new(shards);
    let valid = "/rfc/cdn-ok.bin?cc=no-store&hdr=CDN-Cache-Control:max-age%3D60";
    assert_eq!(twice(&setup, valid), 1);
    let invalid = "/rfc/cdn-bad.bin?cc=no-store&hdr=CDN-Cache-Control:Max-Age%3D60";
    assert_eq!(twice(&setup, invalid), 2);
});

with_shards!(http_dates_are_read_in_any_case, |shards| {
    // RFC 9110 5.6.7: a recipient MUST accept all three formats (the obsolete two are
    // unit-tested in http::conditional); their names are read whatever their case.
    let setup = Setup::new(shards);
    let later = SystemTime::now() + Duration::from_secs(3600);
    let expires = httpdate::fmt_http_date(later)
        .to_lowercase()
        .replace(' ', "%20");
    let target = format!("/rfc/expires.bin?cc=none&nolm=1&hdr=Expires:{expires}");
    assert_eq!(
        twice(&setup, &target),
        1,
        "stored until its lower-case Expires"
    );
});

with_shards!(
    if_modified_since_is_compared_with_the_stored_date,
    |shards| {
        // RFC 9110 13.1.3 with RFC 9111 4.3.2: without Last-Modified, the stored Date stands for it.
        let setup = Setup::new(shards);
        let target = "/rfc/ims.bin?nolm=1&noetag=1";
        let first = setup.get(target);
        let date = first.header("date").expect("a Date").to_string();
        let answered = get_with(setup.addr, target, &[("If-Modified-Since", &date)]);
        assert_eq!(answered.status, 304);
        let earlier = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(86_400));
        let full = get_with(setup.addr, target, &[("If-Modified-Since", &earlier)]);
        assert_eq!(full.status, 200);
        assert_eq!(setup.origin.hits(target), 1);
    }
);
