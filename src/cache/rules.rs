//! The operator's rules for responses, as the cache applies them: which response field
//! overrides `Cache-Control` here (RFC 9213's targeted field), lifetimes for errors that carry
//! none (negative caching), and what happens to responses that set cookies. Defined here, in
//! the cache, so the cache needs nothing from the configuration layer, which only parses text
//! into these values. Pure: no I/O.

use std::time::Duration;

/// Which response statuses a negative-caching TTL applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusMatch {
    Exact(u16),
    /// `4xx`, `5xx`: every status in the hundred.
    Class(u16),
}

impl StatusMatch {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Exact(s) => s == status,
            StatusMatch::Class(c) => status / 100 == c,
        }
    }
}

/// What the cache does with a response that sets a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCookie {
    /// Only the client that asked gets it; nothing is stored or shared (a cookie is usually
    /// a session, and a stored one would be handed to every viewer).
    Private,
    /// `Set-Cookie` is removed, and the response is cached as if it had none (the common CDN
    /// choice for static media).
    Strip,
}

/// The response rules in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseRules {
    /// Lower-cased name of the targeted field (RFC 9213) that overrides `CDN-Cache-Control`
    /// and `Cache-Control` for this cache; `None` when off.
    pub targeted_cache_control: Option<String>,
    /// Freshness given to responses with these statuses when the origin sent none.
    pub negative_ttl: Vec<(StatusMatch, Duration)>,
    pub set_cookie: SetCookie,
}

impl ResponseRules {
    /// The negative-caching TTL for `status`, first matching rule first.
    pub fn negative_ttl_for(&self, status: u16) -> Option<Duration> {
        self.negative_ttl
            .iter()
            .find(|(m, _)| m.matches(status))
            .map(|&(_, ttl)| ttl)
    }
}

impl Default for ResponseRules {
    /// RFC behaviour with the default targeted field.
    fn default() -> Self {
        ResponseRules {
            targeted_cache_control: Some("livecache-cache-control".into()),
            negative_ttl: Vec::new(),
            set_cookie: SetCookie::Private,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_ttl_rules_match_in_order() {
        let rules = ResponseRules {
            negative_ttl: vec![
                (StatusMatch::Exact(404), Duration::from_secs(10)),
                (StatusMatch::Class(5), Duration::from_secs(2)),
                (StatusMatch::Exact(503), Duration::from_secs(60)),
            ],
            ..ResponseRules::default()
        };
        assert_eq!(rules.negative_ttl_for(404), Some(Duration::from_secs(10)));
        assert_eq!(rules.negative_ttl_for(503), Some(Duration::from_secs(2)));
        assert_eq!(rules.negative_ttl_for(410), None);
    }
}
