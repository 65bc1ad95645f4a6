//! What the cache keeps for one object: the response head, shared read-only across shards as
//! an `Arc`, and the body as the `Bytes` chunks it arrived in, so serving a hit clones
//! refcounts and never copies bytes. Pure data; the store decides lifetimes.

use std::sync::Arc;

use bytes::Bytes;

use super::encoded::{block_cost, EncodedSlot, FieldFacts};
use super::freshness::Freshness;
use super::vary::Vary;
use crate::http::headers::Header;

/// A response head as the cache serves it: the origin's end-to-end fields without the framing
/// (`Content-Length`, `Transfer-Encoding`) and `Age`, which are written per response.
#[derive(Clone, Debug)]
pub struct CachedHead {
    pub status: u16,
    pub reason: Bytes,
    pub headers: Vec<Header>,
    /// The body length when the origin declared it; `None` for chunked or close-delimited.
    pub content_length: Option<u64>,
    pub arrival: Arrival,
    /// The request fields this response varies on.
    pub vary: Vary,
    /// The secondary key of the request that brought it, under `vary`.
    pub variant: Bytes,
    /// What `headers` say and their encoded block, made on first use (`facts`,
    /// `ranged_fields`).
    pub encoded: EncodedSlot,
}

impl CachedHead {
    /// A head with no `Vary` and no arrival facts (pass-through responses, tests).
    pub fn plain(
        status: u16,
        reason: Bytes,
        headers: Vec<Header>,
        content_length: Option<u64>,
    ) -> CachedHead {
        CachedHead {
            status,
            reason,
            headers,
            content_length,
            arrival: Arrival::default(),
            vary: Vary::None,
            variant: Bytes::new(),
            encoded: EncodedSlot::default(),
        }
    }
}

/// What was decided when the head arrived, for the responses of the fetch that brought it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arrival {
    /// The response's age when it arrived (RFC 9111 corrected_initial_age), whole seconds.
    pub initial_age_secs: u64,
    /// Remaining freshness when it is being stored; `None` when it is not.
    pub stored_ttl: Option<i64>,
    /// The upstream status when it differs from the response's (a 304 that refreshed a
    /// stored response, an error answered with a stale one).
    pub fwd_status: Option<u16>,
    /// Why it is not stored, or which stale rule served it, for `Cache-Status: detail`.
    pub detail: Option<&'static str>,
    /// Remaining freshness of a stored response served after upstream failed (negative:
    /// stale), for `Cache-Status: ttl` when nothing is being stored.
    pub served_ttl: Option<i64>,
    /// Which of the configured origins answered (0: the primary; LIVE.md F9 tells a backup's
    /// playlist by it); `None` from a parent, or not known.
    pub from_origin: Option<usize>,
}

impl CachedHead {
    /// What the stored fields say (`cache::encoded`). The fields of a shared head never
    /// change, so this never goes stale.
    pub fn facts(&self) -> &FieldFacts {
        self.encoded.facts(&self.headers)
    }

    /// The stored fields as a cacheable `200` of known length or its `206` sends them, with
    /// our `Accept-Ranges` (`cache::encoded`).
    pub fn ranged_fields(&self) -> &Bytes {
        self.encoded.ranged(&self.headers)
    }

    /// Bytes this head costs in the budget: its fields (and their encoded block, counted
    /// whether or not a hit built it yet) plus a fixed allowance for the structures around
    /// them, so many tiny objects cannot hide from the accounting.
    pub fn cost(&self) -> u64 {
        let fields: usize = self
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 48)
            .sum();
        let vary: usize = self.vary.fields().iter().map(|n| n.len() + 48).sum();
        // The secondary key holds request field values (Vary: Cookie, User-Agent...).
        let encoded = block_cost(&self.headers);
        (fields + encoded + vary + self.reason.len() + self.variant.len() + 256) as u64
    }
}

/// A complete object in the store.
#[derive(Debug)]
pub struct StoredObject {
    pub head: Arc<CachedHead>,
    pub body: Arc<[Bytes]>,
    pub body_len: u64,
    pub freshness: Freshness,
}

impl StoredObject {
    /// Bytes this object costs in the budget: head plus body.
    pub fn cost(&self) -> u64 {
        self.head.cost() + self.body_len
    }
}
