//! What a purge removes: one URL (every stored variant), every object under a path prefix
//! (on any host or one), or every object of a stream. Plain data rather than a closure, so it
//! is `Send`, crosses shards, and every shard evaluates the same rule against its own keys.
//! Pure: no I/O.

use bytes::Bytes;

use super::key::{CacheKey, StreamKey, StreamKeyRule};

/// What a purge removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeScope {
    /// One URL, every stored variant of it: lives only on its owner shard.
    Url(CacheKey),
    /// Every object whose path starts with `prefix` (raw bytes, as keys hold them), on any
    /// host or only on `host` (normalised like a key's host).
    PathPrefix { host: Option<Bytes>, prefix: Bytes },
    /// Every object whose stream key, by `rule`, equals `stream` (`host/path/to/stream`).
    Stream { stream: Bytes, rule: StreamKeyRule },
}

impl PurgeScope {
    /// Whether the object stored under `key` falls in this scope.
    pub fn matches(&self, key: &CacheKey) -> bool {
        match self {
            PurgeScope::Url(url) => key == url,
            PurgeScope::PathPrefix { host, prefix } => {
                key.path().starts_with(prefix) && host.as_ref().is_none_or(|h| key.host() == h)
            }
            PurgeScope::Stream { stream, rule } => StreamKey::of(key, *rule).as_bytes() == stream,
        }
    }
}
