//! Secondary cache keys (RFC 9111 4.1) seen from clients: one stored variant per set of
//! `Vary` field values, normalised request values, `Vary: *` never reused nor shared, a
//! bounded number of variants per URL, and concurrent requests for different variants of
//! an uncached URL each getting their own.

mod common;
use common::*;

/// Query that makes the origin vary on, and echo, `Accept-Language`.
const LANG: &str = "hdr=Vary:Accept-Language&echo=Accept-Language&cc=max-age%3D60";

fn lang_target(path: &str) -> String {
    format!("{path}?size=100&{LANG}")
}

fn get_lang(setup: &Setup, target: &str, lang: Option<&str>) -> Response {
    let r = match lang {
        Some(lang) => get_with(
            setup.addr,
            target,
            &[("Accept-Language", lang), ("Connection", "close")],
        ),
        None => get_with(setup.addr, target, &[("Connection", "close")]),
    };
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.complete);
    r
}

fn echo(r: &Response) -> &str {
    r.header("x-echo-accept-language")
        .expect("the origin's X-Echo-Accept-Language")
}

with_shards!(variants_are_stored_separately, |shards| {
    let setup = Setup::new(shards);
    let target = lang_target("/vary/sep/1/seg.m4s");
    let body = expected_body("/vary/sep/1/seg.m4s", 100);

    let fr = get_lang(&setup, &target, Some("fr"));
    assert_eq!(echo(&fr), "fr");
    assert!(
        fr.cache_status().contains("fwd=uri-miss") && storable(&fr),
        "{}",
        fr.cache_status()
    );
    let de = get_lang(&setup, &target, Some("de"));
    assert_eq!(echo(&de), "de");
    assert!(
        de.cache_status().contains("fwd=vary-miss") && storable(&de),
        "{}",
        de.cache_status()
    );
    assert_eq!(setup.origin.hits(&target), 2);

    for lang in ["fr", "de", "fr", "de"] {
        let r = get_lang(&setup, &target, Some(lang));
        assert!(
            r.cache_status().contains("hit"),
            "{lang}: {}",
            r.cache_status()
        );
        assert_eq!(echo(&r), lang, "the hit is the {lang} variant");
        assert_eq!(r.body, body);
    }
    assert_eq!(setup.origin.hits(&target), 2);

    // A request without the field is a variant of its own.
    let none = get_lang(&setup, &target, None);
    assert_eq!(echo(&none), "-");
    assert!(
        none.cache_status().contains("fwd=vary-miss"),
        "{}",
        none.cache_status()
    );
    let again = get_lang(&setup, &target, None);
    assert!(
        again.cache_status().contains("hit"),
        "{}",
        again.cache_status()
    );
    assert_eq!(echo(&again), "-");
    let fr = get_lang(&setup, &target, Some("fr"));
    assert!(fr.cache_status().contains("hit") && echo(&fr) == "fr");
    assert_eq!(setup.origin.hits(&target), 3);
    // The origin saw each client's own value.
    let sent: Vec<Option<String>> = setup
        .origin
        .requests()
        .iter()
        .map(|r| r.header("accept-language").map(str::to_string))
        .collect();
    assert_eq!(
        sent,
        vec![Some("fr".to_string()), Some("de".to_string()), None]
    );
});

with_shards!(accept_language_weights_and_order_are_normalised, |shards| {
    // One preference list however it is spelled: weights canonical, items by weight, equal
    // weights in the client's order (kept apart: an origin may break ties by it).
    let setup = Setup::new(shards);
    let target = lang_target("/vary/weights/1/seg.m4s");
    let first = get_lang(&setup, &target, Some("en-US,en;q=0.9,fr;q=0.8"));
    assert_eq!(first.status, 200);
    for equivalent in [
        "fr;q=0.800, en;q=0.9, EN-us",
        "en-us;q=1.0,  en;q=0.90, fr;q=0.8",
    ] {
        let r = get_lang(&setup, &target, Some(equivalent));
        assert!(
            r.cache_status().contains("hit"),
            "{equivalent}: {}",
            r.cache_status()
        );
    }
    assert_eq!(setup.origin.hits(&target), 1);
    let other = get_lang(&setup, &target, Some("fr,en"));
    assert!(
        other.cache_status().contains("fwd=vary-miss"),
        "{}",
        other.cache_status()
    );
    assert_eq!(setup.origin.hits(&target), 2);
});

with_shards!(accept_field_values_are_normalised, |shards| {
    let setup = Setup::new(shards);
    let target = lang_target("/vary/norm/1/seg.m4s");
    let first = get_lang(&setup, &target, Some("fr, de"));
    assert_eq!(echo(&first), "fr, de");
    for equivalent in ["FR,  de", "fr,de", "Fr ,DE", " fr , de "] {
        let r = get_lang(&setup, &target, Some(equivalent));
        assert!(
            r.cache_status().contains("hit"),
            "{equivalent:?} matches the variant stored for \"fr, de\": {}",
            r.cache_status()
        );
        assert_eq!(echo(&r), "fr, de");
    }
    assert_eq!(setup.origin.hits(&target), 1);
    // Order matters: another list is another variant.
    let other = get_lang(&setup, &target, Some("de, fr"));
    assert!(
        other.cache_status().contains("fwd=vary-miss"),
        "{}",
        other.cache_status()
    );
    assert_eq!(echo(&other), "de, fr");
    assert_eq!(setup.origin.hits(&target), 2);
});

/// A daemon that forwards `field` (marked safe: the origin declares it in `Vary`).
fn forwarding(shards: usize, field: &str) -> Setup {
    let fields = format!("Accept, Accept-Encoding, Accept-Language, {field}:safe");
    Setup::with(shards, &[("forward_fields", fields.as_str())])
}

with_shards!(case_is_kept_for_fields_that_are_not_negotiation, |shards| {
    let setup = forwarding(shards, "X-Device");
    let target = "/vary/device/1/seg.m4s?size=100&hdr=Vary:X-Device&echo=X-Device&cc=max-age%3D60";
    let tv = get_with(setup.addr, target, &[("X-Device", "tv")]);
    assert_eq!(tv.header("x-echo-x-device"), Some("tv"));
    let upper = get_with(setup.addr, target, &[("X-Device", "TV")]);
    assert!(
        upper.cache_status().contains("fwd=vary-miss"),
        "X-Device values are compared case-sensitively: {}",
        upper.cache_status()
    );
    assert_eq!(upper.header("x-echo-x-device"), Some("TV"));
    let tv = get_with(setup.addr, target, &[("X-Device", "tv")]);
    assert!(tv.cache_status().contains("hit"));
    assert_eq!(tv.header("x-echo-x-device"), Some("tv"));
    assert_eq!(setup.origin.hits(target), 2);
});

with_shards!(vary_star_is_never_stored, |shards| {
    let setup = Setup::new(shards);
    let target = "/vary/star/1/seg.m4s?size=100&hdr=Vary:*&cc=max-age%3D60";
    for n in 1..=3 {
        let r = setup.get(target);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, expected_body("/vary/star/1/seg.m4s", 100));
        assert!(
            !r.cache_status().contains("hit") && !r.cache_status().contains("stored"),
            "{}",
            r.cache_status()
        );
        assert_eq!(
            setup.origin.hits(target),
            n,
            "every request reaches the origin"
        );
    }
});

with_shards!(vary_star_is_not_shared_with_concurrent_requests, |shards| {
    let setup = forwarding(shards, "X-Client");
    let target =
        "/vary/star/2/seg.m4s?size=100&hdr=Vary:*&echo=X-Client&cc=max-age%3D60&delay_ms=300";
    let n = 6;
    let responses = all_at_once(setup.addr, n, |i, conn| {
        let client = format!("c{i}");
        let fields = [("X-Client", client.as_str()), ("Connection", "close")];
        let r = send_with(conn, "GET", target, &fields);
        (client, r)
    });
    for (client, r) in responses {
        assert_eq!(r.status, 200);
        assert!(r.complete);
        assert_eq!(
            r.header("x-echo-x-client"),
            Some(client.as_str()),
            "each client gets the response to its own request: {}",
            r.cache_status()
        );
        assert!(!r.cache_status().contains("stored"), "{}", r.cache_status());
    }
    assert_eq!(setup.origin.hits(target), n as u64);
});

with_shards!(variants_per_url_are_bounded, |shards| {
    let setup = Setup::with(shards, &[("max_variants", "2")]);
    let target = lang_target("/vary/bound/1/seg.m4s");
    for lang in ["fr", "de", "en"] {
        let r = get_lang(&setup, &target, Some(lang));
        assert_eq!(echo(&r), lang);
        assert!(!r.cache_status().contains("hit"), "{}", r.cache_status());
    }
    assert_eq!(setup.origin.hits(&target), 3);
    for lang in ["de", "en"] {
        let r = get_lang(&setup, &target, Some(lang));
        assert!(
            r.cache_status().contains("hit"),
            "{lang} is one of the last two: {}",
            r.cache_status()
        );
        assert_eq!(echo(&r), lang);
    }
    assert_eq!(setup.origin.hits(&target), 3);
    let fr = get_lang(&setup, &target, Some("fr"));
    assert!(
        fr.cache_status().contains("fwd=vary-miss"),
        "the first variant was evicted: {}",
        fr.cache_status()
    );
    assert_eq!(echo(&fr), "fr");
    assert_eq!(setup.origin.hits(&target), 4);
});

with_shards!(concurrent_variants_of_an_uncached_url, |shards| {
    let setup = Setup::new(shards);
    let target = format!("{}&delay_ms=300", lang_target("/vary/herd/1/seg.m4s"));
    let responses = all_at_once(setup.addr, 10, |i, conn| {
        let lang = if i % 2 == 0 { "fr" } else { "de" };
        let fields = [("Accept-Language", lang), ("Connection", "close")];
        (lang, send_with(conn, "GET", &target, &fields))
    });
    let body = expected_body("/vary/herd/1/seg.m4s", 100);
    for (lang, r) in responses {
        assert_eq!(r.status, 200);
        assert!(r.complete && r.body == body);
        assert_eq!(
            r.header("x-echo-accept-language"),
            Some(lang),
            "a {lang} client got another variant: {}",
            r.cache_status()
        );
    }
    let hits = setup.origin.hits(&target);
    assert!(
        (2..=3).contains(&hits),
        "one fetch per variant (plus maybe one before the Vary was known), got {hits}"
    );
    // Both variants are now stored.
    for lang in ["fr", "de"] {
        let r = get_lang(&setup, &target, Some(lang));
        assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
        assert_eq!(echo(&r), lang);
    }
    assert_eq!(setup.origin.hits(&target), hits);
});

with_shards!(
    absent_field_and_present_field_are_different_variants,
    |shards| {
        let setup = forwarding(shards, "X-Device");
        let target =
            "/vary/absent/1/seg.m4s?size=100&hdr=Vary:X-Device&echo=X-Device&cc=max-age%3D60";
        let absent = get_with(setup.addr, target, &[]);
        assert_eq!(absent.header("x-echo-x-device"), Some("-"));
        let absent = get_with(setup.addr, target, &[]);
        assert!(
            absent.cache_status().contains("hit"),
            "{}",
            absent.cache_status()
        );
        // Present (even empty) does not match the variant stored for an absent field.
        let present = get_with(setup.addr, target, &[("X-Device", "tv")]);
        assert!(
            present.cache_status().contains("fwd=vary-miss"),
            "{}",
            present.cache_status()
        );
        assert_eq!(present.header("x-echo-x-device"), Some("tv"));
        let empty = get_with(setup.addr, target, &[("X-Device", "")]);
        assert!(
            empty.cache_status().contains("fwd=vary-miss"),
            "empty is not absent: {}",
            empty.cache_status()
        );
        assert_eq!(setup.origin.hits(target), 3);
        for (fields, echoed) in [(&[][..], "-"), (&[("X-Device", "tv")][..], "tv")] {
            let r = get_with(setup.addr, target, fields);
            assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
            assert_eq!(r.header("x-echo-x-device"), Some(echoed));
        }
        assert_eq!(setup.origin.hits(target), 3);
        // A response whose Vary names a field the request never sends is reused for every
        // request that also lacks it, whatever else it carries.
        let other = "/vary/absent/2/seg.m4s?size=100&hdr=Vary:X-Never&cc=max-age%3D60";
        setup.get(other);
        let r = get_with(setup.addr, other, &[("Accept-Language", "fr")]);
        assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
        assert_eq!(setup.origin.hits(other), 1);
    }
);

with_shards!(
    concurrent_requests_for_a_known_vary_collapse_per_variant,
    |shards| {
        let setup = Setup::new(shards);
        let target = format!("{}&delay_ms=300", lang_target("/vary/herd/2/seg.m4s"));
        // The URL is known to vary (one variant stored), so fetches are per variant from the start.
        get_lang(&setup, &target, Some("en"));
        let n = 10;
        let responses = all_at_once(setup.addr, n, |i, conn| {
            let lang = if i % 2 == 0 { "fr" } else { "de" };
            let fields = [("Accept-Language", lang), ("Connection", "close")];
            (lang, send_with(conn, "GET", &target, &fields))
        });
        let mut collapsed = 0;
        for (lang, r) in responses {
            assert_eq!(r.status, 200);
            assert_eq!(r.header("x-echo-accept-language"), Some(lang));
            assert!(
                r.cache_status().contains("fwd=vary-miss") || r.cache_status().contains("hit"),
                "{}",
                r.cache_status()
            );
            if r.cache_status().contains("collapsed") || r.cache_status().contains("hit") {
                collapsed += 1;
            }
        }
        assert_eq!(
            setup.origin.hits(&target),
            3,
            "en, then one fetch per new variant"
        );
        assert_eq!(
            collapsed,
            n - 2,
            "all but one request per variant collapsed (or hit)"
        );
    }
);

with_shards!(split_field_lines_match_the_combined_value, |shards| {
    let setup = Setup::new(shards);
    let target = lang_target("/vary/lines/1/seg.m4s");
    get_lang(&setup, &target, Some("fr, de"));
    let raw = format!(
        "GET {target} HTTP/1.1\r\nHost: test.local\r\nAccept-Language: fr\r\nAccept-Language: DE\r\nConnection: close\r\n\r\n"
    );
    let r = request(setup.addr, &raw, false);
    assert!(
        r.cache_status().contains("hit"),
        "two field lines are one comma-separated value: {}",
        r.cache_status()
    );
    assert_eq!(echo(&r), "fr, de");
    assert_eq!(setup.origin.hits(&target), 1);
});

with_shards!(unsafe_method_invalidates_every_variant, |shards| {
    let setup = Setup::new(shards);
    let target = lang_target("/vary/inv/1/seg.m4s");
    for lang in ["fr", "de", "fr", "de"] {
        get_lang(&setup, &target, Some(lang));
    }
    assert_eq!(setup.origin.hits(&target), 2);
    let post = request(
        setup.addr,
        &format!("POST {target} HTTP/1.1\r\nHost: test.local\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        false,
    );
    assert_eq!(post.status, 200);
    for lang in ["fr", "de"] {
        let r = get_lang(&setup, &target, Some(lang));
        assert!(
            !r.cache_status().contains("hit"),
            "the {lang} variant was invalidated: {}",
            r.cache_status()
        );
        assert_eq!(echo(&r), lang);
    }
    assert_eq!(setup.origin_count("GET", &target), 4);
});
