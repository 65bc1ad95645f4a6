//! Signed URLs on the client side (issue "Access control", item 1 and 3): a request whose path
//! falls under an `access` route must carry a token (in the route's query parameter, cookie or
//! header) that `crate::access` verifies, or it is answered 403 before any lookup, without an
//! origin request, counted by reason. A connection keeps its last grant until the token
//! expires: a player asking segment after segment with one token pays one HMAC, then a
//! comparison per request. The grant is dropped when a reload changes the route's keys, so a
//! retired key stops working at once.

use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use bytes::Bytes;

use super::client::Connection;
use crate::access::{self, cookie_value, Denial, KeptGrant, Route, Scheme};
use crate::cache::CacheKey;
use crate::http::client_address::Scheme as ClientScheme;
use crate::http::headers::{find, find_all, Header};
use crate::http::query::query_param;
use crate::http::request::RequestHead;
use crate::metrics::ShardStats;

impl Connection {
    /// Whether `head` may be answered: `Err` with why not, counted, when its route wants a
    /// token it lacks or that does not hold; `Ok` with the `Set-Cookie` value that renews the
    /// token, when it asks for renewal.
    pub(super) fn check_access(&mut self, head: &RequestHead) -> Result<Option<String>, Denial> {
        let config = self.shard.config();
        let routes = &config.access.routes;
        if routes.is_empty() {
            return Ok(None);
        }
        let raw = head.path();
        let normal = access::normalized_path(raw);
        // The route of the path as sent or as an origin resolves it, whichever has one.
        let by_normal = normal
            .as_deref()
            .and_then(|n| access::route_of(routes, n.as_bytes()));
        let Some(route) = by_normal.or_else(|| access::route_of(routes, raw)) else {
            // A path no origin could resolve is refused rather than guessed at.
            return match normal {
                Some(_) => Ok(None),
                None => Err(self.count_denial(Denial::Malformed)),
            };
        };
        // Read once: what verification and renewal both need.
        let client = self.client_of(head);
        let now = self.wall_secs();
        let result = match (normal, std::str::from_utf8(raw)) {
            (Some(path), Ok(raw)) => self.verify(route, head, (&path, raw), client, now),
            _ => Err(Denial::Malformed),
        };
        let stats = self.shard.my_stats();
        match result {
            Ok(verified) => ShardStats::incr(&stats.access_granted[usize::from(!verified)]),
            Err(denial) => return Err(self.count_denial(denial)),
        }
        let secure = client.map(|(_, scheme)| scheme) == Some(ClientScheme::Https);
        let kept = self.grant.as_mut();
        Ok(kept.and_then(|kept| kept.renewal_cookie(route, now, secure)))
    }

    fn wall_secs(&self) -> u64 {
        let since_epoch = self.shard.wall().duration_since(UNIX_EPOCH);
        since_epoch.map_or(0, |d| d.as_secs())
    }

    fn count_denial(&self, denial: Denial) -> Denial {
        ShardStats::incr(&self.shard.my_stats().access_denied[denial as usize]);
        denial
    }

    /// Ok(true): verified now; Ok(false): the kept grant covered it. `path` is normalised;
    /// `client` is who sent `head` and how (`client_of`), `now` the wall clock's second.
    fn verify(
        &mut self,
        route: &Route,
        head: &RequestHead,
        (path, raw_path): (&str, &str),
        client: Option<(IpAddr, ClientScheme)>,
        now: u64,
    ) -> Result<bool, Denial> {
        let uri = match route.scheme {
            Scheme::UriSigning => signed_uri(
                head,
                path,
                &route.param,
                (
                    &self.shard.config().origin.authority,
                    client.map(|(_, s)| s),
                ),
            ),
            Scheme::EdgeAuth => String::new(),
        };
        let request = access::Request {
            path,
            raw_path,
            uri: &uri,
            client: client.map(|(ip, _)| ip),
            now,
        };
        // The query's token first; when it fails, the cookie's or the field's may hold (a
        // renewed cookie beside the expired token a manifest URL still carries). What the
        // connection's grant covers is a comparison; only the others are verified, after.
        let mut found: [Option<&[u8]>; 3] = [None; 3];
        let mut refused = None;
        for i in 0..found.len() {
            let Some(token) = token_at(head, &route.param, i) else {
                continue;
            };
            if found[..i].contains(&Some(token)) {
                continue;
            }
            let kept = self.grant.as_mut();
            match kept.and_then(|k| k.covers(token, route).then_some(&k.grant)) {
                Some(grant) => match grant.allows(&request) {
                    Ok(()) => return Ok(false),
                    Err(denial) => {
                        refused.get_or_insert(denial);
                    }
                },
                None => found[i] = Some(token),
            }
        }
        for token in found.into_iter().flatten() {
            let verified = std::str::from_utf8(token)
                .map_err(|_| Denial::Malformed)
                .and_then(|text| access::verify(route, text, &request));
            match verified {
                Ok(grant) => {
                    self.grant = Some(KeptGrant::new(token, route, grant));
                    return Ok(true);
                }
                Err(denial) => {
                    refused.get_or_insert(denial);
                }
            }
        }
        Err(refused.unwrap_or(Denial::Missing))
    }
}

/// The token named `name` that `head` carries at place `i`: its query parameter (0), its
/// cookie (1), its field (2).
fn token_at<'a>(head: &'a RequestHead, name: &str, i: usize) -> Option<&'a [u8]> {
    let key = name.as_bytes();
    match i {
        0 => query_param(&head.target, key),
        1 => find_all(&head.headers, "cookie").find_map(|c| cookie_value(c, key)),
        _ => find(&head.headers, name).map(|v| &v[..]),
    }
}

/// The URI an RFC 9246 container is matched against: `SCHEME://HOST` (the scheme the client
/// used, `http` unless a trusted proxy says otherwise), the normalised `path` and the query
/// without the token's parameter.
fn signed_uri(
    head: &RequestHead,
    path: &str,
    param: &str,
    (default_host, scheme): (&str, Option<ClientScheme>),
) -> String {
    let host = head
        .host()
        .map(|h| &h[..])
        .unwrap_or(default_host.as_bytes());
    let query = head.target.iter().position(|&b| b == b'?');
    let mut target = path.as_bytes().to_vec();
    target.extend_from_slice(query.map_or(&[][..], |q| &head.target[q..]));
    let key = CacheKey::new(host, &target, &[param.to_string()]);
    format!(
        "{}://{}{}",
        scheme.unwrap_or(ClientScheme::Http).as_str(),
        String::from_utf8_lossy(key.host()),
        String::from_utf8_lossy(key.target())
    )
}

/// A passed request's fields without the tokens of `params`: no field of such a name, and no
/// such cookie in `Cookie` (a shared fetch never carries either; a pass forwards the client's
/// end-to-end fields, which must not include what only livecache may read).
pub(super) fn strip_token_fields(fields: &mut Vec<Header>, params: &[String]) {
    fields.retain(|h| !params.iter().any(|p| h.is(p)));
    let is_token = |pair: &[u8]| {
        let name = pair.trim_ascii().split(|&b| b == b'=').next();
        params.iter().any(|p| Some(p.as_bytes()) == name)
    };
    // Only a `Cookie` that holds a token is rewritten.
    let holds_token = |h: &Header| h.is("cookie") && h.value.split(|&b| b == b';').any(is_token);
    for field in fields.iter_mut().filter(|h| holds_token(h)) {
        let kept: Vec<&[u8]> = field
            .value
            .split(|&b| b == b';')
            .filter(|p| !is_token(p))
            .collect();
        field.value = Bytes::from(kept.join(&b';'));
    }
    fields.retain(|h| !h.is("cookie") || !h.value.trim_ascii().is_empty());
}
