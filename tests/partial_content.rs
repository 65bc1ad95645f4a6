//! Incomplete responses (RFC 9111 3.3, 3.4), black-box through the daemon with 1 and 4
//! shards: what a fetch received before its origin failed is kept when it can be completed (a
//! `200` of known length with a strong `ETag`), answers ranges inside it without the origin,
//! and is completed by one `Range` request for the rest whose `206` joins it into the whole
//! object; a changed representation, a weak tag and a purge each leave nothing to complete.

mod common;

use common::{get_with, origin_requests_for, request, Setup};
use mock_origin::expected_body;

const SIZE: usize = 100_000;
/// The origin resets whole-body answers after this many bytes (`fail_after`), never a `206`.
const CUT_AT: usize = 40_000;

fn target(path: &str, extra: &str) -> String {
    format!("{path}?size={SIZE}&fail_after={CUT_AT}&ranges=1&cc=max-age%3D60{extra}")
}

fn header<'a>(r: &'a mock_origin::RecordedRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

with_shards!(
    an_interrupted_fetch_serves_ranges_inside_it_and_is_completed_by_its_rest,
    |shards| {
        let setup = Setup::new(shards);
        let path = "/pc/seg-1.m4s";
        let target = target(path, "");
        let body = expected_body(path, SIZE);
        let cut = setup.get(&target);
        assert!(!cut.complete, "the origin failed mid-body");
        // RFC 9111 3.3: a range inside the bytes received is served from them.
        let inside = get_with(setup.addr, &target, &[("Range", "bytes=100-39999")]);
        assert_eq!(inside.status, 206);
        assert_eq!(
            inside.header("content-range"),
            Some("bytes 100-39999/100000")
        );
        assert_eq!(inside.body, body[100..40_000]);
        assert!(
            inside.cache_status().contains("hit"),
            "{}",
            inside.cache_status()
        );
        assert_eq!(setup.origin.hits(&target), 1, "no origin request for it");
        let counted = |slot: usize| setup.running().stats.sum(|s| &s.incomplete[slot]);
        assert_eq!(
            (counted(0), counted(1), counted(2)),
            (1, 1, 0),
            "kept, served, completed"
        );
        // RFC 9111 3.4: the rest is asked for, and the two make the whole object.
        let whole = setup.get(&target);
        assert_eq!(whole.status, 200);
        assert!(whole.complete);
        assert_eq!(whole.header("content-length"), Some("100000"));
        assert!(whole.body == body, "the kept bytes and the rest, in order");
        let asked = origin_requests_for(&setup, "GET", &target);
        assert_eq!(asked.len(), 2);
        assert_eq!(header(&asked[1], "range"), Some("bytes=40000-"));
        let tag = cut.header("etag").expect("a strong ETag");
        assert_eq!(header(&asked[1], "if-range"), Some(tag));
        assert_eq!(counted(2), 1, "completed once");
        // Stored whole: the next request is a hit.
        let again = setup.get(&target);
        assert!(
            again.cache_status().contains("hit"),
            "{}",
            again.cache_status()
        );
        assert!(again.body == body);
        assert_eq!(setup.origin.hits(&target), 2);
    }
);

with_shards!(a_changed_representation_replaces_the_kept_bytes, |shards| {
    // If-Range fails on the origin, which answers the whole new 200 (cut again here): the
    // bytes kept now are the new representation's.
    let setup = Setup::new(shards);
    let target = target("/pc/seg-2.m4s", "&etag=v1&after=1&then_etag=v2");
    assert!(!setup.get(&target).complete);
    assert!(!setup.get(&target).complete, "the new 200 was cut too");
    let asked = origin_requests_for(&setup, "GET", &target);
    assert_eq!(header(&asked[1], "if-range"), Some("\"v1\""));
    let inside = get_with(setup.addr, &target, &[("Range", "bytes=0-99")]);
    assert_eq!(inside.status, 206);
    assert_eq!(inside.header("etag"), Some("\"v2\""));
    assert_eq!(setup.origin.hits(&target), 2);
});

with_shards!(a_weak_tag_or_a_purge_leaves_nothing_to_complete, |shards| {
    let setup = Setup::with(shards, &[("purge_allow", "127.0.0.1/32")]);
    // A weak tag cannot join two pieces (RFC 9110 8.8.3.2): nothing kept.
    let weak = target("/pc/seg-3.m4s", "&etag=W/w1");
    assert!(!setup.get(&weak).complete);
    let r = get_with(setup.addr, &weak, &[("Range", "bytes=0-99")]);
    assert_eq!(r.status, 206);
    assert_eq!(setup.origin.hits(&weak), 2, "asked the origin again");
    // A purge drops the kept bytes with the object.
    let purged = target("/pc/seg-4.m4s", "");
    assert!(!setup.get(&purged).complete);
    let answer = request(
        setup.addr,
        &format!("PURGE {purged} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"),
        false,
    );
    assert_eq!(answer.status, 200);
    let r = get_with(setup.addr, &purged, &[("Range", "bytes=0-99")]);
    assert_eq!(r.status, 206);
    assert_eq!(setup.origin.hits(&purged), 2, "asked the origin again");
    let asked = origin_requests_for(&setup, "GET", &purged);
    assert_eq!(
        header(&asked[1], "range"),
        None,
        "a whole fetch, not a completion"
    );
});

with_shards!(
    a_purge_during_a_completion_that_fails_keeps_nothing,
    |shards| {
        // The completion's origin is slower than the first-byte timeout; a purge arrives while
        // it waits. The kept bytes went with the purge and do not come back when it fails.
        let setup = Setup::with(
            shards,
            &[
                ("purge_allow", "127.0.0.1/32"),
                ("upstream_first_byte_timeout", "1s"),
            ],
        );
        let target = target("/pc/seg-5.m4s", "&after=1&then_delay_ms=2000");
        assert!(!setup.get(&target).complete);
        let addr = setup.addr;
        let whole = {
            let target = target.clone();
            std::thread::spawn(move || get_with(addr, &target, &[]))
        };
        assert!(common::eventually(
            std::time::Duration::from_secs(5),
            || { origin_requests_for(&setup, "GET", &target).len() == 2 }
        ));
        let purge =
            format!("PURGE {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n");
        assert_eq!(request(setup.addr, &purge, false).status, 200);
        assert_eq!(whole.join().unwrap().status, 504);
        let r = get_with(setup.addr, &target, &[("Range", "bytes=0-99")]);
        assert!(
            !r.cache_status().contains("incomplete"),
            "{}",
            r.cache_status()
        );
    }
);

with_shards!(an_answer_not_to_be_shared_drops_the_kept_bytes, |shards| {
    // The URL's next answer is private: what was kept from the public one before is not
    // served to anyone any more.
    let setup = Setup::new(shards);
    let target = target("/pc/seg-6.m4s", "&after=1&then_cc=private");
    assert!(!setup.get(&target).complete);
    let fresh = get_with(setup.addr, &target, &[("Cache-Control", "no-store")]);
    assert!(!fresh.complete, "the private answer was cut too");
    let r = get_with(setup.addr, &target, &[("Range", "bytes=0-99")]);
    assert!(
        !r.cache_status().contains("incomplete"),
        "{}",
        r.cache_status()
    );
});
