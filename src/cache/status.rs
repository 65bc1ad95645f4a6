//! How a response relates to the cache, as `Cache-Status` (RFC 9211) says it: served from the
//! cache or forwarded (and why), the upstream's status, whether the request collapsed onto
//! another's fetch, whether the object is stored, its remaining freshness and a detail. One
//! value per response, written straight into the head buffer. Pure: no I/O.

use std::time::{Duration, Instant};

/// Why a request went upstream (RFC 9211 `fwd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fwd {
    /// Nothing stored for the URL.
    UriMiss,
    /// Something stored for the URL, but no variant matched the request's `Vary` fields.
    VaryMiss,
    /// Stored but unusable for another reason (too big, not shareable, ...).
    Miss,
    /// The request's own directives (or method) required going upstream.
    Request,
    /// A stored response was stale and had to be revalidated.
    Stale,
    /// Forwarded because of the method (never cached); rendered as `request`.
    Pass,
}

impl Fwd {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Fwd::UriMiss => b"uri-miss",
            Fwd::VaryMiss => b"vary-miss",
            Fwd::Miss => b"miss",
            Fwd::Request | Fwd::Pass => b"request",
            Fwd::Stale => b"stale",
        }
    }
}

/// How the response relates to the cache, rendered as `Cache-Status` (RFC 9211). `fwd` is
/// `None` for a hit (served without going upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStatus {
    pub fwd: Option<Fwd>,
    /// The status the upstream answered with, when it differs from the response's.
    pub fwd_status: Option<u16>,
    /// Whether the response was stored (or is being stored) by this fetch.
    pub stored: bool,
    /// Joined another request's fetch.
    pub collapsed: bool,
    /// Remaining freshness in seconds (negative: stale); `None` when not stored.
    pub ttl: Option<i64>,
    pub detail: Option<&'static str>,
    /// A held request answered by a new playlist version (not part of `Cache-Status`).
    pub release: Option<Release>,
}

/// A held request released by a new playlist version: what its figures are made of, recorded
/// by the shard that writes the answer (which may not be the one that held it) once it is
/// written, so a burst of releases is not slowed by their bookkeeping. An answer whose viewer
/// is gone before its reply crosses to the viewer's shard is not counted in `hold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    /// When the version arrived from upstream: the release is timed from it.
    pub version_arrived: Instant,
    /// How long the request was held.
    pub held: Duration,
}

impl CacheStatus {
    pub fn hit(ttl: i64) -> CacheStatus {
        CacheStatus {
            fwd: None,
            fwd_status: None,
            stored: false,
            collapsed: false,
            ttl: Some(ttl),
            detail: None,
            release: None,
        }
    }

    pub fn forwarded(fwd: Fwd) -> CacheStatus {
        CacheStatus {
            fwd: Some(fwd),
            fwd_status: None,
            stored: false,
            collapsed: false,
            ttl: None,
            detail: None,
            release: None,
        }
    }

    pub fn pass() -> CacheStatus {
        CacheStatus::forwarded(Fwd::Pass)
    }

    pub fn is_hit(&self) -> bool {
        self.fwd.is_none()
    }

    pub fn is_pass(&self) -> bool {
        self.fwd == Some(Fwd::Pass)
    }

    /// Appends the `Cache-Status` field value of the cache called `name` to `out`, with no
    /// allocation of its own.
    pub fn write_value(&self, name: &[u8], out: &mut bytes::BytesMut) {
        use crate::http::encode::put_decimal;
        out.extend_from_slice(name);
        match self.fwd {
            None => out.extend_from_slice(b"; hit"),
            Some(fwd) => {
                out.extend_from_slice(b"; fwd=");
                out.extend_from_slice(fwd.as_bytes());
            }
        }
        if let Some(status) = self.fwd_status {
            out.extend_from_slice(b"; fwd-status=");
            put_decimal(out, u64::from(status));
        }
        if self.collapsed {
            out.extend_from_slice(b"; collapsed");
        }
        if self.stored {
            out.extend_from_slice(b"; stored");
        }
        if let Some(ttl) = self.ttl {
            out.extend_from_slice(b"; ttl=");
            if ttl < 0 {
                out.extend_from_slice(b"-");
            }
            put_decimal(out, ttl.unsigned_abs());
        }
        if let Some(detail) = self.detail {
            out.extend_from_slice(b"; detail=");
            out.extend_from_slice(detail.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(status: CacheStatus) -> String {
        let mut out = bytes::BytesMut::new();
        status.write_value(b"livecache", &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn cache_status_values_follow_rfc_9211() {
        assert_eq!(value(CacheStatus::hit(27)), "livecache; hit; ttl=27");
        assert_eq!(value(CacheStatus::hit(-3)), "livecache; hit; ttl=-3");
        let stored = CacheStatus {
            stored: true,
            ttl: Some(60),
            ..CacheStatus::forwarded(Fwd::UriMiss)
        };
        assert_eq!(value(stored), "livecache; fwd=uri-miss; stored; ttl=60");
        assert_eq!(
            value(CacheStatus::forwarded(Fwd::Miss)),
            "livecache; fwd=miss"
        );
        let collapsed = CacheStatus {
            collapsed: true,
            stored: true,
            ttl: Some(5),
            ..CacheStatus::forwarded(Fwd::VaryMiss)
        };
        assert_eq!(
            value(collapsed),
            "livecache; fwd=vary-miss; collapsed; stored; ttl=5"
        );
        let stale = CacheStatus {
            fwd_status: Some(503),
            ttl: Some(-4),
            detail: Some("stale-if-error"),
            ..CacheStatus::forwarded(Fwd::Stale)
        };
        assert_eq!(
            value(stale),
            "livecache; fwd=stale; fwd-status=503; ttl=-4; detail=stale-if-error"
        );
        assert_eq!(value(CacheStatus::pass()), "livecache; fwd=request");
    }
}
