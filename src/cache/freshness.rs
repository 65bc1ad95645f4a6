//! Freshness and age (RFC 9111 sections 4.2 and 5.2): which responses may be shared and
//! stored, how long they stay fresh, and how old they are. Decisions are made once, when the
//! response head arrives, from its headers and the request/response times; after that an
//! entry's age is a clock reading. No heuristic freshness: an origin that says nothing about
//! freshness gets nothing stored. Pure: no I/O.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::directives::{parse_delta_seconds, PolicySource, ResponseDirectives};
use super::rules::{ResponseRules, SetCookie};
use super::vary::Vary;
use crate::http::conditional::http_date;
use crate::http::headers::{find, find_all, Header};

/// What a stored response allows once it is stale, and what its reuse needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reuse {
    /// `no-cache`: every reuse is revalidated first.
    pub revalidate_always: bool,
    /// `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache`: never served stale,
    /// not even when the origin is down (RFC 9111 4.2.4).
    pub no_stale: bool,
    /// `immutable` (RFC 8246): a request's `max-age` does not force revalidation while fresh.
    pub immutable: bool,
    /// RFC 5861 windows past freshness.
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Option<Duration>,
}

/// What this cache may do with a response, decided when its head arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Shared with concurrent requesters and stored, fresh for `lifetime` from an age of
    /// `initial_age` at the moment the head arrived.
    Store {
        lifetime: Duration,
        initial_age: Duration,
        reuse: Reuse,
    },
    /// Shared with the requests collapsed onto this fetch but not stored: the origin gave no
    /// freshness, or it is already stale, or the status is never stored.
    ShareOnly {
        initial_age: Duration,
        reason: &'static str,
    },
    /// Never handed to anyone but the client that asked (`no-store`, `private`, `Vary: *`).
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

    /// The age clock of a response stored (or kept) under this policy at `stored_at`; `None`
    /// for one that may not be stored.
    pub fn freshness(&self, stored_at: Instant) -> Option<Freshness> {
        match *self {
            Policy::Store {
                lifetime,
                initial_age,
                reuse,
            } => Some(Freshness {
                lifetime,
                initial_age,
                stored_at,
                reuse,
            }),
            _ => None,
        }
    }

    /// Why the response is not stored, for `Cache-Status: detail`.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Policy::Store { .. } => None,
            Policy::ShareOnly { reason, .. } | Policy::Private { reason } => Some(reason),
        }
    }
}

/// The policy and what else the cache needs from a response's head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub policy: Policy,
    /// Fields a qualified `no-cache`/`private` withholds from storage and other requesters.
    pub withheld_fields: Vec<Bytes>,
    pub vary: Vary,
    /// `public`, `s-maxage` or `must-revalidate`: the response to a request with
    /// `Authorization` may be stored and reused by a shared cache (RFC 9111 3.5).
    pub shared_despite_authorization: bool,
}

/// Decides the policy for a response to a GET that this cache fetched. `request_time` is when
/// the request was sent upstream and `response_time` when the head arrived (RFC 9111 4.2.3).
pub fn evaluate(
    status: u16,
    headers: &[Header],
    request_time: SystemTime,
    response_time: SystemTime,
    rules: &ResponseRules,
) -> Decision {
    let (cc, source) = ResponseDirectives::select(headers, rules.targeted_cache_control.as_deref());
    let vary = Vary::of(headers);
    let decide = |policy| Decision {
        policy,
        withheld_fields: cc.withheld_fields.clone(),
        vary: vary.clone(),
        shared_despite_authorization: cc.public || cc.s_maxage.is_some() || cc.must_revalidate,
    };
    // RFC 9111 5.2.2.3: with `must-understand`, a status this cache implements may be
    // stored whatever `no-store` says, and any other status must not be.
    if cc.must_understand && !UNDERSTOOD.contains(&status) {
        return decide(Policy::Private {
            reason: "must-understand",
        });
    }
    if cc.no_store && !cc.must_understand {
        return decide(Policy::Private { reason: "no-store" });
    }
    if cc.private {
        return decide(Policy::Private { reason: "private" });
    }
    if vary == Vary::Star {
        return decide(Policy::Private {
            reason: "vary-star",
        });
    }
    // A cookie is someone's session; unless the origin itself withholds it from caches
    // (`no-cache="Set-Cookie"`, `private="Set-Cookie"`), the response stays with its client.
    let cookie_withheld = cc.withheld_fields.iter().any(|f| f == "set-cookie");
    if rules.set_cookie == SetCookie::Private
        && !cookie_withheld
        && find(headers, "set-cookie").is_some()
    {
        return decide(Policy::Private {
            reason: "set-cookie",
        });
    }
    let initial_age = initial_age(headers, request_time, response_time);
    if !storable_status(status) {
        return decide(Policy::ShareOnly {
            initial_age,
            reason: "status",
        });
    }
    let has_validator = find(headers, "etag").is_some() || find(headers, "last-modified").is_some();
    let explicit = freshness_lifetime(&cc, source, headers, response_time);
    let lifetime = match (explicit, cc.no_cache) {
        (Some(lifetime), _) => lifetime,
        // Stored only to be revalidated each time, which needs a validator.
        (None, true) if has_validator => Duration::ZERO,
        (None, _) => match rules.negative_ttl_for(status).filter(|_| status >= 400) {
            Some(ttl) => ttl,
            None => {
                return decide(Policy::ShareOnly {
                    initial_age,
                    reason: if cc.no_cache {
                        "no-cache"
                    } else {
                        "no-freshness"
                    },
                })
            }
        },
    };
    if cc.no_cache && !has_validator {
        return decide(Policy::ShareOnly {
            initial_age,
            reason: "no-cache",
        });
    }
    if lifetime <= initial_age && !cc.no_cache {
        return decide(Policy::ShareOnly {
            initial_age,
            reason: "stale-on-arrival",
        });
    }
    let reuse = Reuse {
        revalidate_always: cc.no_cache,
        no_stale: cc.no_cache || cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage.is_some(),
        immutable: cc.immutable,
        stale_while_revalidate: Duration::from_secs(cc.stale_while_revalidate.unwrap_or(0)),
        stale_if_error: cc.stale_if_error.map(Duration::from_secs),
    };
    decide(Policy::Store {
        lifetime,
        initial_age,
        reuse,
    })
}

/// Any final status with explicit freshness may be stored (RFC 9111 section 3), except 206
/// (a part is not the object) and 304 (not an object).
fn storable_status(status: u16) -> bool {
    status >= 200 && status != 206 && status != 304
}

/// s-maxage > max-age > Expires - Date (RFC 9111 4.2.1). `None`: no explicit freshness.
fn freshness_lifetime(
    cc: &ResponseDirectives,
    source: PolicySource,
    headers: &[Header],
    response_time: SystemTime,
) -> Option<Duration> {
    if let Some(s) = cc.s_maxage.or(cc.max_age) {
        return Some(Duration::from_secs(s));
    }
    // A targeted field replaces Expires too (RFC 9213 2.1).
    if source == PolicySource::Targeted {
        return None;
    }
    let expires = find(headers, "expires")?;
    // An invalid Expires (such as "0") means already expired.
    let Some(expires) = http_date(expires) else {
        return Some(Duration::ZERO);
    };
    let date = find(headers, "date")
        .and_then(|v| http_date(v))
        .unwrap_or(response_time);
    Some(expires.duration_since(date).unwrap_or(Duration::ZERO))
}

/// The resolution of an HTTP date.
const DATE_RESOLUTION: Duration = Duration::from_secs(1);

/// The statuses whose semantics this cache implements, so a `must-understand` response with
/// one may be stored (RFC 9111 5.2.2.3).
const UNDERSTOOD: [u16; 16] = [
    200, 203, 204, 206, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 501,
];

/// The largest age stated (RFC 9111 1.2.2: 2^31 seconds, sent when an age is larger).
const MAX_AGE_SECS: u64 = 1 << 31;

/// The response's `Age` in seconds (`None` when absent); `Err` when it is present but not one
/// delta-seconds value in one field.
fn age_field(headers: &[Header]) -> Result<Option<u64>, ()> {
    let mut ages = find_all(headers, "age");
    let Some(first) = ages.next() else {
        return Ok(None);
    };
    if ages.next().is_some() {
        return Err(());
    }
    parse_delta_seconds(first.trim_ascii()).map(Some).ok_or(())
}

/// corrected_initial_age of RFC 9111 4.2.3: the larger of the apparent age (our clock minus
/// the origin's `Date`) and the upstream `Age` plus the time the response took to arrive.
///
/// `Date` has whole seconds: the response was sent up to a second after the instant it names.
/// The apparent age is therefore counted from the end of that second (the least the age can
/// be), not its start: otherwise every response would be aged by up to a second it never
/// spent anywhere, and a live playlist that says `max-age=1` would often arrive already
/// stale. Clock skew or an old cache that held the response without an `Age` still shows,
/// less that second.
fn initial_age(
    headers: &[Header],
    request_time: SystemTime,
    response_time: SystemTime,
) -> Duration {
    let age_value = match age_field(headers) {
        Ok(age) => Duration::from_secs(age.unwrap_or(0)),
        // RFC 9111 5.1: an invalid Age (a list, a suffix, a parameter) makes the response
        // stale: it is as old as an age can be said to be (1.2.2's cap).
        Err(()) => return Duration::from_secs(MAX_AGE_SECS),
    };
    let apparent_age = find(headers, "date")
        .and_then(|v| http_date(v))
        .and_then(|date| response_time.duration_since(date).ok())
        .map_or(Duration::ZERO, |age| age.saturating_sub(DATE_RESOLUTION));
    let response_delay = response_time
        .duration_since(request_time)
        .unwrap_or(Duration::ZERO);
    apparent_age.max(age_value + response_delay)
}

/// The age clock of one stored response, and what its directives allow.
#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    pub lifetime: Duration,
    pub initial_age: Duration,
    pub stored_at: Instant,
    pub reuse: Reuse,
}

impl Freshness {
    /// current_age = corrected_initial_age + resident_time (RFC 9111 4.2.3).
    pub fn age(&self, now: Instant) -> Duration {
        self.initial_age + now.saturating_duration_since(self.stored_at)
    }

    pub fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_at(self.age(now))
    }

    /// Whether a response of this `age` is fresh (for callers that read the age once).
    pub fn fresh_at(&self, age: Duration) -> bool {
        self.lifetime > age
    }

    /// When half the freshness it had left on arrival is spent: a refresh started then lands
    /// before it expires, and one that arrived with little left is refreshed sooner.
    pub fn refresh_at(&self) -> Instant {
        self.stored_at + self.lifetime.saturating_sub(self.initial_age) / 2
    }

    /// How long past its freshness the response is (zero while fresh).
    pub fn staleness(&self, now: Instant) -> Duration {
        self.staleness_at(self.age(now))
    }

    /// How long past its freshness a response of this `age` is (zero while fresh).
    pub fn staleness_at(&self, age: Duration) -> Duration {
        age.saturating_sub(self.lifetime)
    }

    /// Within its `stale-while-revalidate` window (and allowed to be stale at all).
    pub fn may_serve_while_revalidating(&self, now: Instant) -> bool {
        !self.reuse.no_stale
            && !self.is_fresh(now)
            && self.staleness(now) < self.reuse.stale_while_revalidate
    }

    /// Within its `stale-if-error` window, or the operator's cap when it has none.
    pub fn may_serve_on_error(&self, now: Instant, operator_cap: Duration) -> bool {
        let window = self.reuse.stale_if_error.unwrap_or(operator_cap);
        !self.reuse.no_stale && self.staleness(now) <= window && !window.is_zero()
    }

    /// Remaining freshness, whole seconds, for `Cache-Status: ttl=`.
    pub fn ttl_secs(&self, now: Instant) -> i64 {
        self.lifetime.as_secs() as i64 - self.age(now).as_secs() as i64
    }
}

#[cfg(test)]
#[path = "freshness_tests.rs"]
mod tests;
