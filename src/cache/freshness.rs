//! Freshness and age (RFC 9111 sections 4.2 and 5.2): which responses may be shared and
//! stored, how long they stay fresh, and how old they are. Decisions are made once, when the
//! response head arrives, from its headers and the request/response times; after that an
//! entry's age is a clock reading. No heuristic freshness: an origin that says nothing about
//! freshness gets nothing stored. Pure: no I/O.

use std::time::{Duration, Instant, SystemTime};

use crate::http::headers::{find, list_items, Header};

/// The `Cache-Control` response directives this cache acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheControl {
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    pub public: bool,
}

impl CacheControl {
    /// Parses every `Cache-Control` field. Directive names are case-insensitive; a malformed
    /// delta-seconds is treated as 0 (stale), the safe reading RFC 9111 section 1.2.2 asks for.
    pub fn parse(headers: &[Header]) -> CacheControl {
        let mut cc = CacheControl::default();
        for item in list_items(headers, "cache-control") {
            let (name, value) = match item.iter().position(|&b| b == b'=') {
                Some(eq) => (&item[..eq], Some(trim_quotes(&item[eq + 1..]))),
                None => (item, None),
            };
            let name = name.trim_ascii();
            let seconds = || {
                value
                    .map(parse_delta_seconds)
                    .unwrap_or(Some(0))
                    .or(Some(0))
            };
            if name.eq_ignore_ascii_case(b"max-age") {
                cc.max_age = seconds();
            } else if name.eq_ignore_ascii_case(b"s-maxage") {
                cc.s_maxage = seconds();
            } else if name.eq_ignore_ascii_case(b"no-store") {
                cc.no_store = true;
            } else if name.eq_ignore_ascii_case(b"no-cache") {
                cc.no_cache = true;
            } else if name.eq_ignore_ascii_case(b"private") {
                cc.private = true;
            } else if name.eq_ignore_ascii_case(b"public") {
                cc.public = true;
            }
        }
        cc
    }
}

fn trim_quotes(v: &[u8]) -> &[u8] {
    let v = v.trim_ascii();
    v.strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(v)
}

/// delta-seconds: digits only; values past 2^31 are capped there, as RFC 9111 1.2.2 says.
fn parse_delta_seconds(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let capped = v.iter().try_fold(0u64, |acc, &d| {
        let next = acc * 10 + u64::from(d - b'0');
        (next < 1 << 31).then_some(next)
    });
    Some(capped.unwrap_or(1 << 31))
}

/// What this cache may do with a response, decided when its head arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Shared with concurrent requesters and stored, fresh for `lifetime` from an age of
    /// `initial_age` at the moment the head arrived.
    Store {
        lifetime: Duration,
        initial_age: Duration,
    },
    /// Shared with the requests collapsed onto this fetch but not stored: the origin gave no
    /// freshness, or it is already stale, or the status is never stored.
    ShareOnly {
        initial_age: Duration,
        reason: &'static str,
    },
    /// Never handed to anyone but the client that asked (`no-store`, `private`, `no-cache`,
    /// `Vary` on request fields this cache does not key on).
    Private { reason: &'static str },
}

impl Policy {
    pub fn initial_age(&self) -> Duration {
        match self {
            Policy::Store { initial_age, .. } | Policy::ShareOnly { initial_age, .. } => {
                *initial_age
            }
            Policy::Private { .. } => Duration::ZERO,
        }
    }
}

/// Decides the policy for a response to a GET that this cache fetched. `request_time` is when
/// the request was sent upstream and `response_time` when the head arrived (RFC 9111 4.2.3).
pub fn evaluate(
    status: u16,
    headers: &[Header],
    request_time: SystemTime,
    response_time: SystemTime,
) -> Policy {
    let cc = CacheControl::parse(headers);
    if cc.no_store {
        return Policy::Private { reason: "no-store" };
    }
    if cc.private {
        return Policy::Private { reason: "private" };
    }
    if cc.no_cache {
        // Stored-but-revalidate needs revalidation, which comes later; until then every
        // request must reach the origin, so nothing may be shared either (RFC 9111 5.2.2.4).
        return Policy::Private { reason: "no-cache" };
    }
    if let Some(reason) = unsupported_vary(headers) {
        return Policy::Private { reason };
    }
    let initial_age = initial_age(headers, request_time, response_time);
    if !storable_status(status) {
        return Policy::ShareOnly {
            initial_age,
            reason: "status not stored",
        };
    }
    let Some(lifetime) = freshness_lifetime(&cc, headers, response_time) else {
        return Policy::ShareOnly {
            initial_age,
            reason: "no explicit freshness",
        };
    };
    if lifetime <= initial_age {
        return Policy::ShareOnly {
            initial_age,
            reason: "stale on arrival",
        };
    }
    Policy::Store {
        lifetime,
        initial_age,
    }
}

/// Any final status with explicit freshness may be stored (RFC 9111 section 3), except 206
/// (partial content waits for range support) and 304 (not an object).
fn storable_status(status: u16) -> bool {
    status >= 200 && status != 206 && status != 304
}

/// `Vary` support (secondary keys) comes with the caching-semantics work. Until then only
/// `Vary: Accept-Encoding` on an unencoded body is safe to share: every client accepts identity.
fn unsupported_vary(headers: &[Header]) -> Option<&'static str> {
    let mut vary = list_items(headers, "vary").peekable();
    vary.peek()?;
    let encoded = find(headers, "content-encoding")
        .is_some_and(|v| !v.trim_ascii().eq_ignore_ascii_case(b"identity"));
    let only_encoding = vary.all(|f| f.eq_ignore_ascii_case(b"accept-encoding"));
    (encoded || !only_encoding).then_some("vary")
}

/// s-maxage > max-age > Expires - Date (RFC 9111 4.2.1). `None`: no explicit freshness.
fn freshness_lifetime(
    cc: &CacheControl,
    headers: &[Header],
    response_time: SystemTime,
) -> Option<Duration> {
    if let Some(s) = cc.s_maxage.or(cc.max_age) {
        return Some(Duration::from_secs(s));
    }
    let expires = find(headers, "expires")?;
    // An invalid Expires (such as "0") means already expired.
    let Some(expires) = parse_http_date(expires) else {
        return Some(Duration::ZERO);
    };
    let date = find(headers, "date")
        .and_then(parse_http_date)
        .unwrap_or(response_time);
    Some(expires.duration_since(date).unwrap_or(Duration::ZERO))
}

/// corrected_initial_age of RFC 9111 4.2.3: the larger of the apparent age (our clock minus
/// the origin's `Date`) and the upstream `Age` plus the time the response took to arrive.
fn initial_age(
    headers: &[Header],
    request_time: SystemTime,
    response_time: SystemTime,
) -> Duration {
    let age_value = find(headers, "age")
        .and_then(|v| parse_delta_seconds(v.trim_ascii()))
        .map(Duration::from_secs)
        .unwrap_or(Duration::ZERO);
    let apparent_age = find(headers, "date")
        .and_then(parse_http_date)
        .and_then(|date| response_time.duration_since(date).ok())
        .unwrap_or(Duration::ZERO);
    let response_delay = response_time
        .duration_since(request_time)
        .unwrap_or(Duration::ZERO);
    apparent_age.max(age_value + response_delay)
}

pub fn parse_http_date(value: &bytes::Bytes) -> Option<SystemTime> {
    let text = std::str::from_utf8(value).ok()?;
    httpdate::parse_http_date(text.trim()).ok()
}

/// The age clock of one stored response.
#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    pub lifetime: Duration,
    pub initial_age: Duration,
    pub stored_at: Instant,
}

impl Freshness {
    /// current_age = corrected_initial_age + resident_time (RFC 9111 4.2.3).
    pub fn age(&self, now: Instant) -> Duration {
        self.initial_age + now.saturating_duration_since(self.stored_at)
    }

    pub fn is_fresh(&self, now: Instant) -> bool {
        self.lifetime > self.age(now)
    }

    /// Remaining freshness, whole seconds, for `Cache-Status: ttl=`.
    pub fn ttl_secs(&self, now: Instant) -> i64 {
        self.lifetime.as_secs() as i64 - self.age(now).as_secs() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

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

    #[test]
    fn s_maxage_beats_max_age_beats_expires() {
        let hs = [
            h("Cache-Control", "max-age=10, s-maxage=30"),
            h("Expires", &date(100)),
            h("Date", &date(0)),
        ];
        assert_eq!(
            evaluate(200, &hs, at(0), at(0)),
            Policy::Store {
                lifetime: Duration::from_secs(30),
                initial_age: Duration::ZERO
            }
        );
        let hs = [
            h("Cache-Control", "max-age=10"),
            h("Expires", &date(100)),
            h("Date", &date(0)),
        ];
        assert_eq!(
            evaluate(200, &hs, at(0), at(0)),
            Policy::Store {
                lifetime: Duration::from_secs(10),
                initial_age: Duration::ZERO
            }
        );
        let hs = [h("Expires", &date(100)), h("Date", &date(40))];
        assert_eq!(
            evaluate(200, &hs, at(40), at(40)),
            Policy::Store {
                lifetime: Duration::from_secs(60),
                initial_age: Duration::ZERO
            }
        );
    }

    #[test]
    fn invalid_expires_means_stale() {
        let hs = [h("Expires", "0"), h("Date", &date(0))];
        assert!(matches!(
            evaluate(200, &hs, at(0), at(0)),
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
        let policy = evaluate(200, &hs, at(0), at(2));
        assert_eq!(
            policy,
            Policy::Store {
                lifetime: Duration::from_secs(60),
                initial_age: Duration::from_secs(22)
            }
        );
        // Apparent age wins when the Date is older than Age says.
        let hs = [
            h("Cache-Control", "max-age=60"),
            h("Age", "1"),
            h("Date", &date(0)),
        ];
        assert_eq!(
            evaluate(200, &hs, at(10), at(10)).initial_age(),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn private_directives_are_never_shared() {
        for cc in [
            "no-store",
            "private",
            "no-cache",
            "Private, max-age=60",
            "max-age=60, NO-STORE",
        ] {
            let hs = [h("Cache-Control", cc)];
            assert!(
                matches!(evaluate(200, &hs, at(0), at(0)), Policy::Private { .. }),
                "{cc}"
            );
        }
    }

    #[test]
    fn no_freshness_or_stale_means_share_only() {
        assert!(matches!(
            evaluate(200, &[], at(0), at(0)),
            Policy::ShareOnly { .. }
        ));
        let hs = [h("Cache-Control", "max-age=5"), h("Age", "9")];
        assert!(matches!(
            evaluate(200, &hs, at(0), at(0)),
            Policy::ShareOnly { .. }
        ));
        let hs = [h("Cache-Control", "max-age=abc")];
        assert!(matches!(
            evaluate(200, &hs, at(0), at(0)),
            Policy::ShareOnly { .. }
        ));
        let hs = [h("Cache-Control", "max-age=60")];
        assert!(matches!(
            evaluate(206, &hs, at(0), at(0)),
            Policy::ShareOnly { .. }
        ));
    }

    #[test]
    fn vary_is_only_shared_for_identity_accept_encoding() {
        let ok = [
            h("Cache-Control", "max-age=60"),
            h("Vary", "Accept-Encoding"),
        ];
        assert!(matches!(
            evaluate(200, &ok, at(0), at(0)),
            Policy::Store { .. }
        ));
        let encoded = [
            h("Cache-Control", "max-age=60"),
            h("Vary", "accept-encoding"),
            h("Content-Encoding", "gzip"),
        ];
        assert!(matches!(
            evaluate(200, &encoded, at(0), at(0)),
            Policy::Private { .. }
        ));
        let other = [
            h("Cache-Control", "max-age=60"),
            h("Vary", "Accept-Encoding, Cookie"),
        ];
        assert!(matches!(
            evaluate(200, &other, at(0), at(0)),
            Policy::Private { .. }
        ));
    }

    #[test]
    fn age_grows_with_residence() {
        let now = Instant::now();
        let f = Freshness {
            lifetime: Duration::from_secs(10),
            initial_age: Duration::from_secs(3),
            stored_at: now,
        };
        assert!(f.is_fresh(now));
        assert_eq!(f.ttl_secs(now), 7);
        assert_eq!(f.age(now + Duration::from_secs(4)), Duration::from_secs(7));
        assert!(!f.is_fresh(now + Duration::from_secs(7)));
    }

    #[test]
    fn huge_delta_seconds_are_capped() {
        assert_eq!(parse_delta_seconds(b"99999999999999999999"), Some(1 << 31));
        assert_eq!(parse_delta_seconds(b"-1"), None);
    }
}
