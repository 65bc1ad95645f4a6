//! Signed URLs checked at the edge, before the cache (issue "Access control", LIVE.md F10).
//! A route (a path prefix) names a scheme and its keys: an Akamai EdgeAuth-style HMAC token
//! (`edgeauth`), or an RFC 9246 CDNI URI Signing JWT (`uri_signing`). The token travels in a
//! query parameter, a cookie or a header of the route's `param` name; it is removed from the
//! cache key and from upstream requests (`strip_query_params` gains every route's name), so a
//! thousand viewers with a thousand tokens share one object and one origin fetch.
//!
//! This module is pure: it parses and verifies tokens against a request's path, URI, client
//! address and the wall time it is given, and says why it refuses ([`Denial`]). What a valid
//! token allows is a [`Grant`], which a connection keeps until the token expires, so the next
//! request with the same token costs a comparison, not an HMAC.

pub mod edgeauth;
pub mod keys;
pub mod renewal;
mod routes;
pub mod uri_signing;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use crate::http::percent::percent_decode;

pub use keys::Key;
pub use routes::{parse_routes, render_routes, route_of, Route, Scheme};

/// Why a request was refused (403); the label of `livecache_access_denied_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// No token where the route expects one.
    Missing = 0,
    /// Not a token of the route's scheme (bad fields, bad encoding, no expiry...).
    Malformed = 1,
    /// No key of the route signs it.
    BadSignature = 2,
    /// Past its expiry.
    Expired = 3,
    /// Before its start.
    NotYetValid = 4,
    /// It does not cover the requested path or URI.
    WrongPath = 5,
    /// It names another client address.
    WrongAddress = 6,
    /// A valid token asks for something livecache does not support (another algorithm, a
    /// critical claim it does not know).
    Unsupported = 7,
}

impl Denial {
    pub const ALL: [Denial; 8] = [
        Denial::Missing,
        Denial::Malformed,
        Denial::BadSignature,
        Denial::Expired,
        Denial::NotYetValid,
        Denial::WrongPath,
        Denial::WrongAddress,
        Denial::Unsupported,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Denial::Missing => "missing",
            Denial::Malformed => "malformed",
            Denial::BadSignature => "bad_signature",
            Denial::Expired => "expired",
            Denial::NotYetValid => "not_yet_valid",
            Denial::WrongPath => "wrong_path",
            Denial::WrongAddress => "wrong_address",
            Denial::Unsupported => "unsupported",
        }
    }
}

/// The request a token is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The path as an origin resolves it (`normalized_path`): what ACLs are matched against.
    pub path: &'a str,
    /// The path as sent (no query): what a one-URL token signs, as its issuer wrote it.
    pub raw_path: &'a str,
    /// `http://HOST` + the normalised path + the query without the token parameter: what an
    /// RFC 9246 URI container is matched against (normalised, so `a/%2e%2e/b` cannot walk a
    /// `regex:` token out of its directory).
    pub uri: &'a str,
    pub client: Option<IpAddr>,
    /// Wall time, whole seconds since the Unix epoch.
    pub now: u64,
}

/// What a verified token allows, until when.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Seconds since the epoch from which it is valid, and until which (exclusive).
    pub not_before: u64,
    pub expires: u64,
    pub scope: Scope,
    /// The only client address it is valid for, if it names one.
    pub client: Option<IpAddr>,
    /// The next token to hand the player, by cookie (RFC 9246 4.4), if the token asks.
    pub renewal: Option<Arc<renewal::Renewal>>,
}

/// The requests a grant covers.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Any path matching one of these patterns (`*` matches any run of characters, `/`
    /// included): an EdgeAuth `acl`.
    Paths(Vec<String>),
    /// This path alone: an EdgeAuth token signed for one URL.
    Path(String),
    /// URIs whose SHA-256 is this (RFC 9246 `hash:` container).
    UriHash([u8; 32]),
    /// URIs this regular expression matches whole (RFC 9246 `regex:` container).
    UriRegex(regex::Regex),
    /// Any request of the route (a URI Signing token without `cdniuc`).
    Route,
}

impl Grant {
    /// Whether it allows `request` (the signature was checked when it was granted).
    pub fn allows(&self, request: &Request) -> Result<(), Denial> {
        if request.now < self.not_before {
            return Err(Denial::NotYetValid);
        }
        if request.now >= self.expires {
            return Err(Denial::Expired);
        }
        if self.client.is_some() && self.client != request.client {
            return Err(Denial::WrongAddress);
        }
        let covered = match &self.scope {
            Scope::Paths(patterns) => patterns.iter().any(|p| wildcard_match(p, request.path)),
            Scope::Path(path) => path == request.raw_path,
            Scope::UriHash(hash) => sha256(request.uri.as_bytes()) == *hash,
            Scope::UriRegex(regex) => regex.is_match(request.uri),
            Scope::Route => true,
        };
        if covered {
            Ok(())
        } else {
            Err(Denial::WrongPath)
        }
    }
}

/// A grant a connection keeps: the token it was verified from and the keys that verified it
/// (a reload that changes them makes it stale at once).
pub struct KeptGrant {
    token: Vec<u8>,
    keys: Arc<[Key]>,
    pub grant: Grant,
    /// The successor last issued (RFC 9246 4.4).
    renewed: Option<Successor>,
}

/// A renewed token handed to the player, kept so that its return costs a comparison.
struct Successor {
    issued: u64,
    token: String,
    expires: u64,
}

impl KeptGrant {
    pub fn new(token: &[u8], route: &Route, grant: Grant) -> KeptGrant {
        KeptGrant {
            token: token.to_vec(),
            keys: Arc::clone(&route.keys),
            grant,
            renewed: None,
        }
    }

    /// The `Set-Cookie` value renewing the token (RFC 9246 4.4), if it asks for renewal
    /// (`secure`: the viewer came over https). One successor serves until half its life is
    /// gone, so a player sends the same token back for a while and each connection signs one
    /// now and then, not per request.
    pub fn renewal_cookie(&mut self, route: &Route, now: u64, secure: bool) -> Option<String> {
        let renewal = self.grant.renewal.as_ref()?;
        let fresh = |s: &Successor| now < s.issued + (renewal.lifetime / 2).max(1);
        if !self.renewed.as_ref().is_some_and(fresh) {
            self.renewed = Some(Successor {
                issued: now,
                token: renewal.token(now),
                expires: now.saturating_add(renewal.lifetime),
            });
        }
        let successor = self.renewed.as_ref()?;
        let max_age = successor.expires.saturating_sub(now);
        let cookie = renewal::cookie(
            &route.param,
            &successor.token,
            &route.prefix,
            max_age,
            secure,
        );
        Some(cookie)
    }

    /// Whether it was granted for `token` under `route`'s current keys, or `token` is the
    /// successor it issued (which it then stands for, until that one expires).
    pub fn covers(&mut self, token: &[u8], route: &Route) -> bool {
        if !Arc::ptr_eq(&self.keys, &route.keys) {
            return false;
        }
        if self.token == token {
            return true;
        }
        match &self.renewed {
            Some(successor) if successor.token.as_bytes() == token => {
                self.token = token.to_vec();
                self.grant.expires = successor.expires;
                true
            }
            _ => false,
        }
    }
}

/// Verifies `token` for `request` under `route`: the grant it carries, checked against the
/// request already.
pub fn verify(route: &Route, token: &str, request: &Request) -> Result<Grant, Denial> {
    let grant = match route.scheme {
        Scheme::EdgeAuth => edgeauth::verify(&route.keys, token, request.raw_path)?,
        Scheme::UriSigning => uri_signing::verify(&route.keys, token)?,
    };
    grant.allows(request)?;
    Ok(grant)
}

/// `path` as an origin would resolve it: escapes decoded, runs of `/` merged, `.` and `..`
/// segments resolved (RFC 3986 5.2.4). Routes and ACLs are matched against it, so `/%6Cive/`,
/// `//live/` or `/x/../live/` cannot slip past a `/live/` route. `None` for a malformed escape
/// or a path that is not UTF-8 once decoded. A path already in that form (the usual one) is
/// returned as it is, without a copy: this runs on every request under a route.
pub fn normalized_path(path: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(path).ok()?;
    let resolved = text.starts_with('/')
        && !text.contains('%')
        && !["//", "/./", "/../"].iter().any(|s| text.contains(s))
        && !text.ends_with("/.")
        && !text.ends_with("/..");
    if resolved {
        return Some(Cow::Borrowed(text));
    }
    let decoded = String::from_utf8(percent_decode(path)?).ok()?;
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/').skip(1) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    // A directory stays one: `/live/` and `/live/./` keep their trailing slash.
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    Some(Cow::Owned(out))
}

/// A token's client address, canonical (`::ffff:a.b.c.d` is the IPv4 client it names, as the
/// request's address is).
pub fn parse_ip(text: &str) -> Result<IpAddr, Denial> {
    let ip: IpAddr = text.parse().map_err(|_| Denial::Malformed)?;
    Ok(ip.to_canonical())
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // Greedy matching with backtracking to the last star: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// HMAC-SHA256 of the message made of `parts` under `key` equals `mac` (compared in constant
/// time); the parts are hashed in turn, never joined.
pub fn hmac_matches(key: &[u8], parts: &[&[u8]], mac: &[u8]) -> bool {
    use hmac::Mac;
    let Ok(mut hmac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return false;
    };
    parts.iter().for_each(|part| hmac.update(part));
    hmac.verify_slice(mac).is_ok()
}

/// HMAC-SHA256 of `message` under `key` (what renewal, tests and benchmarks sign tokens with).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut hmac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    hmac.update(message);
    hmac.finalize().into_bytes().into()
}

/// The value of the cookie `name` in a `Cookie` field value.
pub fn cookie_value<'a>(cookies: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    cookies.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let i = pair.iter().position(|&b| b == b'=')?;
        (&pair[..i] == name).then_some(&pair[i + 1..])
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
