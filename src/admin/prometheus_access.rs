//! The families of the issue "Access control" in a scrape: signed-URL requests refused by
//! reason, and those let through, verified or covered by their connection's grant; incomplete
//! responses kept, answering ranges, and completed (RFC 9111 3.3, 3.4).

use std::sync::atomic::Ordering::Relaxed;

use super::{by_kind, Family};
use crate::access::Denial;
use crate::metrics::Stats;

pub(super) fn families(stats: &Stats) -> Vec<Family> {
    vec![
        by_kind(
            stats,
            (
                "livecache_access_denied",
                "Requests under an `access` route answered 403, by why: no token, a malformed one, a bad signature, expired, not yet valid, another path, another client address, unsupported",
                "reason",
            ),
            &Denial::ALL,
            Denial::label,
            |s, d| s.access_denied[d as usize].load(Relaxed),
        ),
        by_kind(
            stats,
            (
                "livecache_access_granted",
                "Requests under an `access` route let through: their token verified (an HMAC), or covered by the grant their connection kept",
                "how",
            ),
            &[0usize, 1],
            |i| ["verified", "kept"][i],
            |s, i| s.access_granted[i].load(Relaxed),
        ),
        by_kind(
            stats,
            (
                "livecache_incomplete_responses",
                "Responses whose origin failed mid-body (RFC 9111 3.3): their bytes kept for completion, ranges answered from kept bytes, and kept bytes completed by one ranged fetch into the stored object",
                "event",
            ),
            &[0usize, 1, 2],
            |i| ["kept", "served", "completed"][i],
            |s, i| s.incomplete[i].load(Relaxed),
        ),
    ]
}
