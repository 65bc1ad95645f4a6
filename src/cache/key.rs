//! Cache keys and stream keys. A `CacheKey` names one cached object: the lower-cased host
//! and the request target with tracking query parameters (CMCD and friends) removed, so
//! viewers who differ only in telemetry share one object. A `StreamKey` names the stream an
//! object belongs to; its fixed-seed hash picks the owner shard, so every thread agrees
//! without talking. Pure: no I/O, no runtime.

use bytes::{BufMut, Bytes, BytesMut};
use url::{Position, Url};

/// How a request path maps to the stream it belongs to; the stream decides the owner shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKeyRule {
    /// The path up to its last `/`: `/live/ch1/720p/seg-42.m4s` -> `/live/ch1/720p`.
    Dirname,
    /// The first N path segments: with N = 2, `/live/ch1/720p/seg.m4s` -> `/live/ch1`.
    Prefix(usize),
}

/// One cached object's identity. Cheap to clone (`Bytes`) and `Send`, so it crosses shards.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    host: Bytes,
    target: Bytes,
}

impl CacheKey {
    /// Builds the key from the request's host and its raw target (path and query).
    pub fn new(host: &[u8], target: &[u8], strip_params: &[String]) -> CacheKey {
        CacheKey {
            host: normalise_host(host),
            target: strip_query(target, strip_params),
        }
    }

    /// The key of a URI reference found in a response to a request for `base` (`Location`,
    /// `Content-Location`), or `None` when it names another host (RFC 9111 4.4 invalidates
    /// only same-origin URIs). `http` and `https` count as the same origin: livecache speaks
    /// plain HTTP, usually behind a TLS terminator, so the scheme a client used is unknown.
    ///
    /// The reference is resolved against the request's URL as RFC 3986 section 5 says, by the
    /// `url` crate: dot segments are removed (`../x`, `./x`, `a/../b`), a query-only reference
    /// (`?q=1`) keeps the request's path, `//host/path` takes the request's scheme, and the
    /// fragment is dropped. The crate follows the WHATWG URL standard, which also reads
    /// `%2e%2e` as `..` and `\` as `/`, as browsers do. A reference that names nothing more
    /// (empty) or that is not a URL (not UTF-8, another scheme) gives `None`, and so does a
    /// request whose host is empty or not a valid URL host: there is nothing to resolve against.
    pub fn of_reference(
        base: &CacheKey,
        reference: &[u8],
        strip_params: &[String],
    ) -> Option<CacheKey> {
        let reference = std::str::from_utf8(reference.trim_ascii()).ok()?;
        if reference.is_empty() || base.host.is_empty() {
            return None;
        }
        let host = std::str::from_utf8(&base.host).ok()?;
        let path = std::str::from_utf8(&base.target).ok()?;
        let path = if path.starts_with('/') { path } else { "/" };
        let base_url = Url::parse(&format!("http://{host}{path}")).ok()?;
        let resolved = base_url.join(reference).ok()?;
        let same_origin = matches!(resolved.scheme(), "http" | "https")
            && resolved.host_str() == base_url.host_str()
            && resolved.port() == base_url.port();
        if !same_origin {
            return None;
        }
        // Path and query, without the fragment.
        let target = &resolved[Position::BeforePath..Position::AfterQuery];
        Some(CacheKey::new(&base.host, target.as_bytes(), strip_params))
    }

    /// The normalised host (lower case, default port removed).
    pub fn host(&self) -> &Bytes {
        &self.host
    }

    /// The normalised target: what livecache asks the origin for.
    pub fn target(&self) -> &Bytes {
        &self.target
    }

    /// The path part of the target.
    pub fn path(&self) -> &[u8] {
        let end = self
            .target
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(self.target.len());
        &self.target[..end]
    }
}

/// The stream an object belongs to; decides the owner shard.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey(Bytes);

impl StreamKey {
    /// Derives the stream from a cache key by the configured rule.
    pub fn of(key: &CacheKey, rule: StreamKeyRule) -> StreamKey {
        let path = key.path();
        let end = match rule {
            StreamKeyRule::Dirname => path.iter().rposition(|&b| b == b'/').unwrap_or(0),
            StreamKeyRule::Prefix(n) => path
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'/')
                .nth(n)
                .map(|(i, _)| i)
                .unwrap_or(path.len()),
        };
        let mut bytes = BytesMut::with_capacity(key.host.len() + end);
        bytes.put_slice(&key.host);
        bytes.put_slice(&path[..end]);
        StreamKey(bytes.freeze())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The shard that owns every object of this stream.
    pub fn owner(&self, shards: usize) -> usize {
        (stable_hash(&self.0) % shards as u64) as usize
    }
}

/// FNV-1a, 64 bit: fixed seed, so every shard and every process computes the same owner.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn normalise_host(host: &[u8]) -> Bytes {
    let host = host.strip_suffix(b":80").unwrap_or(host);
    Bytes::from(host.to_ascii_lowercase())
}

/// Removes query parameters whose name is listed; keeps the order of the rest, and the
/// target byte-for-byte when nothing is removed (the common case allocates only the copy).
pub fn strip_query(target: &[u8], strip_params: &[String]) -> Bytes {
    let Some(q) = target.iter().position(|&b| b == b'?') else {
        return Bytes::copy_from_slice(target);
    };
    let (path, query) = (&target[..q], &target[q + 1..]);
    let keep = |param: &&[u8]| {
        let name = param.split(|&b| b == b'=').next().unwrap_or_default();
        !param.is_empty() && !strip_params.iter().any(|s| s.as_bytes() == name)
    };
    if query.split(|&b| b == b'&').all(|p| keep(&p)) {
        return Bytes::copy_from_slice(target);
    }
    let mut out = BytesMut::with_capacity(target.len());
    out.put_slice(path);
    for (i, param) in query.split(|&b| b == b'&').filter(keep).enumerate() {
        out.put_u8(if i == 0 { b'?' } else { b'&' });
        out.put_slice(param);
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip() -> Vec<String> {
        vec!["CMCD".to_string()]
    }

    #[test]
    fn tracking_parameters_are_removed_from_the_key() {
        let a = CacheKey::new(
            b"Example.com",
            b"/live/a/seg-1.m4s?CMCD=br%3D3200&x=1",
            &strip(),
        );
        let b = CacheKey::new(b"example.com:80", b"/live/a/seg-1.m4s?x=1", &strip());
        assert_eq!(a, b);
        assert_eq!(a.target().as_ref(), b"/live/a/seg-1.m4s?x=1");
        let only = CacheKey::new(b"h", b"/a/b.ts?CMCD=x", &strip());
        assert_eq!(only.target().as_ref(), b"/a/b.ts");
    }

    #[test]
    fn other_parameters_keep_their_order() {
        let key = CacheKey::new(b"h", b"/p.m3u8?_HLS_msn=5&_HLS_part=2", &strip());
        assert_eq!(key.target().as_ref(), b"/p.m3u8?_HLS_msn=5&_HLS_part=2");
        assert_eq!(key.path(), b"/p.m3u8");
    }

    #[test]
    fn stream_key_is_the_dirname_by_default() {
        let key = CacheKey::new(b"h", b"/live/ch1/720p/seg-42.m4s?x=1", &strip());
        assert_eq!(
            StreamKey::of(&key, StreamKeyRule::Dirname).as_bytes(),
            b"h/live/ch1/720p"
        );
        assert_eq!(
            StreamKey::of(&key, StreamKeyRule::Prefix(2)).as_bytes(),
            b"h/live/ch1"
        );
        let root = CacheKey::new(b"h", b"/index.m3u8", &strip());
        assert_eq!(
            StreamKey::of(&root, StreamKeyRule::Dirname).as_bytes(),
            b"h"
        );
    }

    #[test]
    fn segments_of_one_rendition_share_an_owner() {
        let owner =
            |t: &[u8]| StreamKey::of(&CacheKey::new(b"h", t, &[]), StreamKeyRule::Dirname).owner(4);
        assert_eq!(
            owner(b"/live/ch1/720p/seg-1.m4s"),
            owner(b"/live/ch1/720p/seg-2.m4s")
        );
        assert_eq!(
            owner(b"/live/ch1/720p/seg-1.m4s"),
            owner(b"/live/ch1/720p/index.m3u8")
        );
    }

    /// `of(reference)`: the key of a reference in a response to `host` + `target`;
    /// `key(target)`: the key of a request for `target` on that host.
    fn resolving_against(
        host: &'static [u8],
        target: &[u8],
    ) -> (
        impl Fn(&str) -> Option<CacheKey>,
        impl Fn(&str) -> Option<CacheKey>,
    ) {
        let base = CacheKey::new(host, target, &strip());
        let of = move |r: &str| CacheKey::of_reference(&base, r.as_bytes(), &strip());
        let key = move |t: &str| Some(CacheKey::new(host, t.as_bytes(), &strip()));
        (of, key)
    }

    #[test]
    fn same_origin_references_become_keys() {
        let (of, key) = resolving_against(b"Example.com", b"/live/a/item?x=1");
        assert_eq!(of("/live/b/new"), key("/live/b/new"));
        assert_eq!(of("http://EXAMPLE.com:80/x?CMCD=1"), key("/x"));
        assert_eq!(of("https://example.com/y"), key("/y"));
        assert_eq!(of("https://example.com:443/y"), key("/y"));
        assert_eq!(of("//example.com"), key("/"));
        assert_eq!(of("other"), key("/live/a/other"));
        assert_eq!(of("  other#part  "), key("/live/a/other"));
        assert_eq!(of("http://elsewhere.net/x"), None);
        assert_eq!(of("//elsewhere.net/x"), None);
        assert_eq!(of("http://example.com:8080/x"), None);
        assert_eq!(of("mailto:x@example.com"), None);
        assert_eq!(of("a:b"), None);
        assert_eq!(of(""), None);
    }

    /// Regression: relative references were appended to the base directory as they were, so
    /// `../x` keyed `/live/a/../x` and `?q=1` keyed `/live/a/?q=1`: neither names a URL any
    /// request is keyed by, and the object they meant stayed cached.
    #[test]
    fn relative_references_are_resolved_with_dot_segments_removed() {
        let (of, key) = resolving_against(b"example.com", b"/live/a/item?x=1");
        assert_eq!(of("../x"), key("/live/x"));
        assert_eq!(of("./x"), key("/live/a/x"));
        assert_eq!(of("a/../b"), key("/live/a/b"));
        assert_eq!(of(".."), key("/live/"));
        assert_eq!(of("../../../../x"), key("/x"), "never above the root");
        assert_eq!(of("/live/./b/../c"), key("/live/c"));
        assert_eq!(of("%2e%2e/x"), key("/live/x"));
        assert_eq!(of("?q=1"), key("/live/a/item?q=1"));
        assert_eq!(of("?CMCD=br%3D1&q=1"), key("/live/a/item?q=1"));
        assert_eq!(of("//example.com/live/./b"), key("/live/b"));
    }

    #[test]
    fn a_host_with_a_port_resolves_against_itself() {
        let (of, key) = resolving_against(b"localhost:8080", b"/p/q");
        assert_eq!(of("r"), key("/p/r"));
        assert_eq!(of("http://LOCALHOST:8080/s"), key("/s"));
        assert_eq!(of("http://localhost/s"), None);
        let hostless = CacheKey::new(b"", b"/p/q", &[]);
        assert_eq!(CacheKey::of_reference(&hostless, b"//x/y", &[]), None);
    }

    #[test]
    fn stable_hash_is_fixed() {
        // FNV-1a test vectors: the owner of a stream must never change between releases.
        assert_eq!(stable_hash(b""), 0xcbf29ce484222325);
        assert_eq!(stable_hash(b"a"), 0xaf63dc4c8601ec8c);
    }
}
