//! Fuzz target `cache_control`: Cache-Control in both directions (`cache::directives`: the
//! quoted-string aware list splitter, delta-seconds, qualified `no-cache`/`private` field
//! lists, the RFC 9213 targeted-field choice, `Pragma`) and what `cache::freshness` makes of
//! a response head (Expires, Date, Age, Vary) with the daemon's default caching config.
//!
//! Input: header fields, one `Name: value` per line (see `livecache_fuzz::fields`); a
//! response status is drawn from the input. Checked: no panic; every age is capped at 2^31 s
//! (or is the documented "any" of u64::MAX); withheld field names are lower-case, non-empty
//! and no bigger than the input; the policy agrees with the directives it came from; the
//! freshness clock of a stored response is consistent at any instant; memory stays
//! proportional to the input.
#![no_main]

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use livecache::cache::directives::{
    parse_delta_seconds, PolicySource, RequestDirectives, ResponseDirectives,
};
use livecache::cache::{Freshness, Policy, Vary};
use livecache_fuzz::{decide, fields, hash, targeted_field, within_budget, NAME_LIST_FACTOR};

const CAP: u64 = 1 << 31;

fn check_response(d: &ResponseDirectives, input_len: usize) {
    for age in [
        d.max_age,
        d.s_maxage,
        d.stale_while_revalidate,
        d.stale_if_error,
    ] {
        assert!(age.is_none_or(|s| s <= CAP), "age over 2^31: {d:?}");
    }
    let mut total = 0;
    for name in &d.withheld_fields {
        assert!(!name.is_empty(), "empty withheld field name");
        assert!(
            !name.iter().any(u8::is_ascii_uppercase),
            "{name:?} not lower-cased"
        );
        total += name.len();
    }
    assert!(total <= input_len, "withheld names outgrew the input");
}

fn check_request(d: &RequestDirectives) {
    assert!(d.max_age.is_none_or(|s| s <= CAP));
    for age in [d.max_stale, d.min_fresh] {
        assert!(age.is_none_or(|s| s <= CAP || s == u64::MAX));
    }
}

/// The age clock of a stored response, read at several instants.
fn check_clock(fresh: &Freshness) {
    let now = fresh.stored_at;
    let swr = fresh.reuse.stale_while_revalidate;
    for later in [
        Duration::ZERO,
        Duration::from_secs(1),
        fresh.lifetime,
        fresh.lifetime + swr,
        Duration::from_secs(CAP * 4),
    ] {
        let at = now + later;
        assert!(fresh.age(at) >= fresh.initial_age);
        if fresh.is_fresh(at) {
            assert!(fresh.staleness(at).is_zero());
            assert!(!fresh.may_serve_while_revalidating(at));
        }
        let _ = fresh.may_serve_on_error(at, Duration::from_secs(60));
        let _ = fresh.ttl_secs(at);
    }
}

const STATUSES: [u16; 12] = [200, 203, 204, 206, 301, 304, 404, 410, 500, 503, 599, 999];

fuzz_target!(|input: &[u8]| {
    let data = Bytes::copy_from_slice(input);
    let headers = fields(&data);
    let status = STATUSES[(hash(input) % STATUSES.len() as u64) as usize];
    let budget = NAME_LIST_FACTOR * input.len() + 64 * 1024;
    within_budget(budget, "cache_control", || {
        let parsed = ResponseDirectives::parse(&headers);
        check_response(&parsed, input.len());
        let (selected, source) = ResponseDirectives::select(&headers, targeted_field());
        check_response(&selected, input.len());
        if source == PolicySource::CacheControl {
            assert_eq!(selected, parsed, "select fell back to something else");
        }
        check_request(&RequestDirectives::parse(&headers));
        for field in &headers {
            if let Some(s) = parse_delta_seconds(&field.value) {
                assert!(s <= CAP);
                assert!(field.value.trim_ascii().iter().all(u8::is_ascii_digit));
            }
        }

        let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let arrived = sent + Duration::from_millis(hash(&data[..data.len() / 2]) % 70_000);
        let decision = decide(status, &headers, sent, arrived);
        assert_eq!(decision.vary, Vary::of(&headers));
        assert_eq!(decision.withheld_fields, selected.withheld_fields);
        // These always keep a response to the client that asked (the configuration may add
        // more reasons, such as Set-Cookie).
        if selected.no_store || selected.private || decision.vary == Vary::Star {
            assert!(
                matches!(decision.policy, Policy::Private { .. }),
                "policy {:?} for {selected:?}",
                decision.policy
            );
        }
        if let Policy::Store {
            lifetime,
            initial_age,
            reuse,
        } = decision.policy
        {
            assert!(!matches!(status, 206 | 304), "stored a {status}");
            assert!(lifetime > initial_age || reuse.revalidate_always);
            check_clock(&Freshness {
                lifetime,
                initial_age,
                stored_at: Instant::now(),
                reuse,
            });
        }
        assert!(
            decision.policy.reason().is_some() != matches!(decision.policy, Policy::Store { .. })
        );
    });
});
