//! Why a request got an error livecache made itself, and whose fault it was: the client's
//! (bad input, too slow, asked for the cache alone), the upstream's (unreachable, silent,
//! broken), or livecache's own (out of room, overloaded). One value per failure decides the
//! status the client sees, the metrics label and the access-log field, so the three agree and
//! an operator can tell a bad client from a bad origin from a sick cache. An upstream's own
//! error response (its 503, say) is not a failure here: it is passed on as a response.

/// Whose fault a failure was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Local,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Upstream => "upstream",
            Side::Local => "local",
        }
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Malformed syntax or framing (400).
    Malformed,
    /// A body over `max_request_body` (413).
    BodyTooLarge,
    /// A request target over `max_uri` (414).
    UriTooLong,
    /// A head over `max_request_head` or `max_headers` (431).
    HeadTooLarge,
    /// A transfer coding other than chunked (501).
    NotImplemented,
    /// A body sent slower than `client_min_rate` (408).
    TooSlow,
    /// `only-if-cached` with nothing usable stored (504, RFC 9111 5.2.1.7).
    NotCached,
    /// An LL-HLS delivery directive that is malformed (`_HLS_part` without `_HLS_msn`, a
    /// value that is not a decimal number) (400, RFC 8216bis 6.2.5.2).
    BadDirective,
    /// A blocking playlist reload further ahead of a current playlist than the spec allows
    /// (400, RFC 8216bis 6.2.5.2).
    TooFarAhead,
    /// The upstream refused or could not be reached (502).
    Unreachable,
    /// The upstream was silent past a timeout (504).
    UpstreamTimeout,
    /// The upstream broke HTTP framing or the connection (502).
    UpstreamBroken,
    /// The owner shard's queue was full (503).
    Overloaded,
    /// `request_body_memory` or `pass_through_memory` was spent (503).
    MemoryFull,
    /// A fetch ended without an answer (its task stopped) (502).
    Internal,
    /// A blocking playlist reload the upstream did not satisfy within three target durations
    /// (503 with `Retry-After`, RFC 8216bis 6.2.5.2).
    HoldExpired,
    /// The request's `CDN-Loop` already names this node: the tiers loop (508, RFC 8586).
    Loop,
    /// Its path needs a signed URL and its token is missing or does not hold (403).
    Forbidden,
}

impl Failure {
    pub const ALL: [Failure; 18] = [
        Failure::Malformed,
        Failure::BodyTooLarge,
        Failure::UriTooLong,
        Failure::HeadTooLarge,
        Failure::NotImplemented,
        Failure::TooSlow,
        Failure::NotCached,
        Failure::BadDirective,
        Failure::TooFarAhead,
        Failure::Unreachable,
        Failure::UpstreamTimeout,
        Failure::UpstreamBroken,
        Failure::Overloaded,
        Failure::MemoryFull,
        Failure::Internal,
        Failure::HoldExpired,
        Failure::Loop,
        Failure::Forbidden,
    ];

    pub fn side(self) -> Side {
        match self {
            Failure::Malformed
            | Failure::BodyTooLarge
            | Failure::UriTooLong
            | Failure::HeadTooLarge
            | Failure::NotImplemented
            | Failure::TooSlow
            | Failure::NotCached
            | Failure::BadDirective
            | Failure::TooFarAhead
            | Failure::Loop
            | Failure::Forbidden => Side::Client,
            Failure::Unreachable
            | Failure::UpstreamTimeout
            | Failure::UpstreamBroken
            | Failure::HoldExpired => Side::Upstream,
            Failure::Overloaded | Failure::MemoryFull | Failure::Internal => Side::Local,
        }
    }

    /// The status the client is answered with.
    pub fn status(self) -> u16 {
        match self {
            Failure::Malformed | Failure::BadDirective | Failure::TooFarAhead => 400,
            Failure::BodyTooLarge => 413,
            Failure::UriTooLong => 414,
            Failure::HeadTooLarge => 431,
            Failure::NotImplemented => 501,
            Failure::TooSlow => 408,
            Failure::NotCached | Failure::UpstreamTimeout => 504,
            Failure::Unreachable | Failure::UpstreamBroken | Failure::Internal => 502,
            Failure::Overloaded | Failure::MemoryFull | Failure::HoldExpired => 503,
            Failure::Loop => 508,
            Failure::Forbidden => 403,
        }
    }

    /// Seconds for a `Retry-After` field, where the client should simply ask again soon.
    pub fn retry_after(self) -> Option<u64> {
        (self == Failure::HoldExpired).then_some(1)
    }

    /// The `kind` label and access-log value.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Malformed => "malformed",
            Failure::BodyTooLarge => "body_too_large",
            Failure::UriTooLong => "uri_too_long",
            Failure::HeadTooLarge => "head_too_large",
            Failure::NotImplemented => "not_implemented",
            Failure::TooSlow => "too_slow",
            Failure::NotCached => "not_cached",
            Failure::BadDirective => "bad_directive",
            Failure::TooFarAhead => "too_far_ahead",
            Failure::Unreachable => "unreachable",
            Failure::UpstreamTimeout => "timeout",
            Failure::UpstreamBroken => "broken",
            Failure::Overloaded => "overloaded",
            Failure::MemoryFull => "memory_full",
            Failure::Internal => "internal",
            Failure::HoldExpired => "hold_expired",
            Failure::Loop => "loop",
            Failure::Forbidden => "forbidden",
        }
    }

    /// Its index in `ALL`.
    pub fn index(self) -> usize {
        Failure::ALL
            .iter()
            .position(|&f| f == self)
            .expect("every failure is listed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_one_side_status_and_label() {
        let mut labels = std::collections::BTreeSet::new();
        for (i, f) in Failure::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert!(labels.insert(f.label()), "{} twice", f.label());
            let class = f.status() / 100;
            assert!(class == 4 || class == 5, "{f:?}");
        }
        assert_eq!(Failure::TooSlow.side(), Side::Client);
        assert_eq!(Failure::UpstreamTimeout.side(), Side::Upstream);
        assert_eq!(Failure::MemoryFull.side(), Side::Local);
    }
}
