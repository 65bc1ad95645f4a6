//! Unit tests of `freshness`: which responses may be stored and shared, their lifetimes and
//! initial ages from the response headers, and the reuse rules (stale-while-revalidate,
//! stale-if-error, no-store and private) read back through `Freshness`.

use super::*;

fn h(name: &'static str, value: &str) -> Header {
    Header {
        name: Bytes::from_static(name.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn date(secs: u64) -> String {
    httpdate::fmt_http_date(at(secs))
}

fn caching() -> ResponseRules {
    ResponseRules::default()
}

fn policy(status: u16, hs: &[Header], sent: SystemTime, arrived: SystemTime) -> Policy {
    evaluate(status, hs, sent, arrived, &caching()).policy
}

fn lifetime(p: &Policy) -> Option<u64> {
    match p {
        Policy::Store { lifetime, .. } => Some(lifetime.as_secs()),
        _ => None,
    }
}

#[test]
fn s_maxage_beats_max_age_beats_expires() {
    let hs = [
        h("Cache-Control", "max-age=10, s-maxage=30"),
        h("Expires", &date(100)),
        h("Date", &date(0)),
    ];
    assert_eq!(lifetime(&policy(200, &hs, at(0), at(0))), Some(30));
    let hs = [
        h("Cache-Control", "max-age=10"),
        h("Expires", &date(100)),
        h("Date", &date(0)),
    ];
    assert_eq!(lifetime(&policy(200, &hs, at(0), at(0))), Some(10));
    let hs = [h("Expires", &date(100)), h("Date", &date(40))];
    assert_eq!(lifetime(&policy(200, &hs, at(40), at(40))), Some(60));
}

#[test]
fn targeted_fields_override_cache_control_and_expires() {
    let hs = [
        h("Cache-Control", "no-store"),
        h("CDN-Cache-Control", "max-age=30"),
    ];
    assert_eq!(lifetime(&policy(200, &hs, at(0), at(0))), Some(30));
    let hs = [
        h("Cache-Control", "max-age=600"),
        h("CDN-Cache-Control", "max-age=30"),
        h("Livecache-Cache-Control", "max-age=3"),
    ];
    assert_eq!(lifetime(&policy(200, &hs, at(0), at(0))), Some(3));
    let hs = [
        h("CDN-Cache-Control", "public"),
        h("Expires", &date(100)),
        h("Date", &date(0)),
    ];
    assert!(
        matches!(policy(200, &hs, at(0), at(0)), Policy::ShareOnly { .. }),
        "Expires does not count under a targeted field"
    );
}

#[test]
fn invalid_expires_means_stale() {
    let hs = [h("Expires", "0"), h("Date", &date(0))];
    assert!(matches!(
        policy(200, &hs, at(0), at(0)),
        Policy::ShareOnly { .. }
    ));
}

#[test]
fn upstream_age_and_transit_time_count() {
    let hs = [
        h("Cache-Control", "max-age=60"),
        h("Age", "20"),
        h("Date", &date(0)),
    ];
    assert_eq!(
        policy(200, &hs, at(0), at(2)).initial_age(),
        Duration::from_secs(22)
    );
    // Apparent age wins when the Date is older than Age says (less the second a `Date`
    // cannot resolve).
    let hs = [
        h("Cache-Control", "max-age=60"),
        h("Age", "1"),
        h("Date", &date(0)),
    ];
    assert_eq!(
        policy(200, &hs, at(10), at(10)).initial_age(),
        Duration::from_secs(9)
    );
    // A response received within the second after its `Date` is not counted older than its
    // transit.
    let hs = [h("Cache-Control", "max-age=1"), h("Date", &date(10))];
    let received = at(10) + Duration::from_millis(900);
    let initial = policy(200, &hs, at(10) + Duration::from_millis(850), received).initial_age();
    assert_eq!(initial, Duration::from_millis(50));
}

#[test]
fn private_directives_are_never_shared() {
    for cc in [
        "no-store",
        "private",
        "Private, max-age=60",
        "max-age=60, NO-STORE",
    ] {
        let hs = [h("Cache-Control", cc)];
        assert!(
            matches!(policy(200, &hs, at(0), at(0)), Policy::Private { .. }),
            "{cc}"
        );
    }
    let hs = [h("Cache-Control", "max-age=60"), h("Vary", "*")];
    assert!(matches!(
        policy(200, &hs, at(0), at(0)),
        Policy::Private {
            reason: "vary-star"
        }
    ));
}

#[test]
fn set_cookie_keeps_a_response_private_unless_withheld_or_stripped() {
    let cookie = [h("Cache-Control", "max-age=60"), h("Set-Cookie", "sid=1")];
    assert_eq!(
        policy(200, &cookie, at(0), at(0)),
        Policy::Private {
            reason: "set-cookie"
        }
    );
    let withheld = [
        h("Cache-Control", "max-age=60, no-cache=\"Set-Cookie\""),
        h("Set-Cookie", "sid=1"),
    ];
    assert!(matches!(
        policy(200, &withheld, at(0), at(0)),
        Policy::Store { .. }
    ));
    let strip = ResponseRules {
        set_cookie: SetCookie::Strip,
        ..caching()
    };
    assert!(matches!(
        evaluate(200, &cookie, at(0), at(0), &strip).policy,
        Policy::Store { .. }
    ));
}

#[test]
fn no_cache_is_stored_for_revalidation_only_with_a_validator() {
    let hs = [h("Cache-Control", "no-cache"), h("ETag", "\"a\"")];
    match policy(200, &hs, at(0), at(0)) {
        Policy::Store { reuse, .. } => assert!(reuse.revalidate_always && reuse.no_stale),
        other => panic!("{other:?}"),
    }
    let hs = [h("Cache-Control", "no-cache, max-age=60")];
    assert!(matches!(
        policy(200, &hs, at(0), at(0)),
        Policy::ShareOnly {
            reason: "no-cache",
            ..
        }
    ));
}

#[test]
fn reuse_rules_follow_the_directives() {
    let reuse = |cc: &str| match policy(200, &[h("Cache-Control", cc)], at(0), at(0)) {
        Policy::Store { reuse, .. } => reuse,
        other => panic!("{cc}: {other:?}"),
    };
    assert!(reuse("max-age=5, must-revalidate").no_stale);
    assert!(reuse("max-age=5, proxy-revalidate").no_stale);
    assert!(reuse("s-maxage=5").no_stale);
    assert!(!reuse("max-age=5").no_stale);
    assert!(reuse("max-age=5, immutable").immutable);
    let r = reuse("max-age=5, stale-while-revalidate=7, stale-if-error=60");
    assert_eq!(r.stale_while_revalidate, Duration::from_secs(7));
    assert_eq!(r.stale_if_error, Some(Duration::from_secs(60)));
}

#[test]
fn negative_ttl_applies_only_without_explicit_freshness() {
    let mut rules = caching();
    rules.negative_ttl = vec![(
        crate::cache::rules::StatusMatch::Exact(404),
        Duration::from_secs(5),
    )];
    let p = evaluate(404, &[], at(0), at(0), &rules).policy;
    assert_eq!(lifetime(&p), Some(5));
    let hs = [h("Cache-Control", "max-age=60")];
    assert_eq!(
        lifetime(&evaluate(404, &hs, at(0), at(0), &rules).policy),
        Some(60)
    );
    assert!(matches!(
        evaluate(410, &[], at(0), at(0), &rules).policy,
        Policy::ShareOnly { .. }
    ));
    assert!(matches!(
        policy(404, &[], at(0), at(0)),
        Policy::ShareOnly { .. }
    ));
}

#[test]
fn no_freshness_or_stale_means_share_only() {
    assert!(matches!(
        policy(200, &[], at(0), at(0)),
        Policy::ShareOnly { .. }
    ));
    let hs = [h("Cache-Control", "max-age=5"), h("Age", "9")];
    assert!(matches!(
        policy(200, &hs, at(0), at(0)),
        Policy::ShareOnly { .. }
    ));
    let hs = [h("Cache-Control", "max-age=abc")];
    assert!(matches!(
        policy(200, &hs, at(0), at(0)),
        Policy::ShareOnly { .. }
    ));
    let hs = [h("Cache-Control", "max-age=60")];
    assert!(matches!(
        policy(206, &hs, at(0), at(0)),
        Policy::ShareOnly { .. }
    ));
}

#[test]
fn age_grows_with_residence_and_stale_windows_follow() {
    let now = Instant::now();
    let f = Freshness {
        lifetime: Duration::from_secs(10),
        initial_age: Duration::from_secs(3),
        stored_at: now,
        reuse: Reuse {
            stale_while_revalidate: Duration::from_secs(5),
            stale_if_error: Some(Duration::from_secs(20)),
            ..Reuse::default()
        },
    };
    assert!(f.is_fresh(now));
    assert_eq!(f.ttl_secs(now), 7);
    assert_eq!(f.age(now + Duration::from_secs(4)), Duration::from_secs(7));
    assert!(!f.is_fresh(now + Duration::from_secs(7)));
    let later = |s| now + Duration::from_secs(s);
    assert!(!f.may_serve_while_revalidating(later(1)), "fresh");
    assert!(f.may_serve_while_revalidating(later(9)));
    assert!(!f.may_serve_while_revalidating(later(12)));
    assert!(f.may_serve_on_error(later(20), Duration::ZERO));
    assert!(!f.may_serve_on_error(later(40), Duration::ZERO));
    let strict = Freshness {
        reuse: Reuse {
            no_stale: true,
            ..f.reuse
        },
        ..f
    };
    assert!(!strict.may_serve_while_revalidating(later(9)));
    assert!(!strict.may_serve_on_error(later(9), Duration::from_secs(60)));
    let plain = Freshness {
        reuse: Reuse::default(),
        ..f
    };
    assert!(!plain.may_serve_on_error(later(9), Duration::ZERO));
    assert!(plain.may_serve_on_error(later(9), Duration::from_secs(60)));
}

#[test]
fn an_invalid_age_makes_the_response_stale() {
    // RFC 9111 5.1: a list, a suffix or a parameter is no Age; such a response is stale.
    for age in ["5, 10", "5s", "5;x", "-1", ""] {
        let hs = [
            h("Cache-Control", "max-age=60"),
            h("Date", &date(0)),
            h("Age", age),
        ];
        let p = policy(200, &hs, at(0), at(0));
        assert!(p.initial_age() >= Duration::from_secs(60), "{age:?}: {p:?}");
    }
    let twice = [
        h("Cache-Control", "max-age=60"),
        h("Age", "5"),
        h("Age", "5"),
    ];
    assert!(policy(200, &twice, at(0), at(0)).initial_age() >= Duration::from_secs(60));
    let valid = [
        h("Cache-Control", "max-age=60"),
        h("Date", &date(0)),
        h("Age", "5"),
    ];
    assert_eq!(
        policy(200, &valid, at(0), at(0)).initial_age(),
        Duration::from_secs(5)
    );
}

#[test]
fn must_understand_stores_a_known_status_despite_no_store() {
    // RFC 9111 5.2.2.3.
    let hs = [h("Cache-Control", "no-store, must-understand, max-age=60")];
    assert_eq!(lifetime(&policy(200, &hs, at(0), at(0))), Some(60));
    assert!(matches!(
        policy(299, &hs, at(0), at(0)),
        Policy::Private { .. }
    ));
    let plain = [h("Cache-Control", "no-store, max-age=60")];
    assert!(matches!(
        policy(200, &plain, at(0), at(0)),
        Policy::Private { .. }
    ));
}

#[test]
fn an_invalid_targeted_field_is_ignored_whole() {
    // RFC 9213 2.1 with RFC 8941: CDN-Cache-Control is a dictionary; one that does not parse
    // (an upper-case key, a bad value, a trailing comma) is ignored, Cache-Control applies.
    for bad in [
        "Max-Age=30",
        "max-age=30, no-store=",
        "max-age=30,",
        "max-age=30 private",
    ] {
        let hs = [
            h("Cache-Control", "max-age=10"),
            h("CDN-Cache-Control", bad),
        ];
        assert_eq!(lifetime(&policy(200, &hs, at(0), at(0))), Some(10), "{bad}");
    }
    let good = [
        h("Cache-Control", "max-age=10"),
        h("CDN-Cache-Control", "max-age=30, private=\"set-cookie\""),
    ];
    assert_eq!(lifetime(&policy(200, &good, at(0), at(0))), Some(30));
}
