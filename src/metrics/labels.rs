//! The label values the metrics are split by, each declared once: request methods, status
//! classes, the statuses bad input is answered with, kinds of origin failure and how a
//! response relates to the cache. Each enum or table gives both the label text and the slot
//! its counter sits in, so `ShardStats`, the access log and the admin's rendering agree.

use crate::http::request::Method;

/// Methods counted apart in `livecache_requests_total`; anything else is `OTHER`.
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
];
/// Status classes of `livecache_requests_total` (a code outside 1xx..5xx counts as 5xx).
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Statuses livecache answers bad input with; any other counts under the last slot.
pub const BAD_STATUSES: [u16; 5] = [400, 413, 414, 431, 501];
/// Kinds of upstream failure, as labelled in `livecache_origin_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginErrorKind {
    Connect = 0,
    Timeout = 1,
    Protocol = 2,
    Io = 3,
}

impl OriginErrorKind {
    pub const ALL: [OriginErrorKind; 4] = [
        OriginErrorKind::Connect,
        OriginErrorKind::Timeout,
        OriginErrorKind::Protocol,
        OriginErrorKind::Io,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OriginErrorKind::Connect => "connect",
            OriginErrorKind::Timeout => "timeout",
            OriginErrorKind::Protocol => "protocol",
            OriginErrorKind::Io => "io",
        }
    }
}

/// How a response relates to the cache, as labelled in the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheResult {
    Hit = 0,
    Miss = 1,
    Collapsed = 2,
    Pass = 3,
    /// A failure livecache answered itself (see `http::Failure` for whose fault it was).
    Error = 4,
    /// An answer livecache made itself that is no failure (a `PURGE`, a refused method).
    Local = 5,
}

impl CacheResult {
    /// The coarse class of a response's `Cache-Status`, counted in metrics and the access log.
    pub fn of(status: &crate::cache::CacheStatus) -> CacheResult {
        use crate::cache::Fwd;
        match status.fwd {
            None => CacheResult::Hit,
            Some(Fwd::Pass) => CacheResult::Pass,
            Some(_) if status.collapsed => CacheResult::Collapsed,
            Some(_) => CacheResult::Miss,
        }
    }

    pub const ALL: [CacheResult; 6] = [
        CacheResult::Hit,
        CacheResult::Miss,
        CacheResult::Collapsed,
        CacheResult::Pass,
        CacheResult::Error,
        CacheResult::Local,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Miss => "miss",
            CacheResult::Collapsed => "collapsed",
            CacheResult::Pass => "pass",
            CacheResult::Error => "error",
            CacheResult::Local => "local",
        }
    }
}

/// Index of a method in `METHODS`.
pub fn method_index(method: &Method) -> usize {
    match method {
        Method::Get => 0,
        Method::Head => 1,
        Method::Post => 2,
        Method::Put => 3,
        Method::Delete => 4,
        Method::Patch => 5,
        Method::Options => 6,
        Method::Other(_) => 7,
    }
}

/// Index of a status in `STATUS_CLASSES`.
pub fn status_class_index(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}
