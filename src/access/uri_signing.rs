//! RFC 9246 CDNI URI Signing: the token is a JWS in compact form (`HEADER.CLAIMS.SIGNATURE`,
//! base64url) signed with HMAC-SHA256 (`alg: HS256`) under one of the route's keys (its `kid`
//! names which). Claims: `exp` and `nbf` (seconds since the epoch) bound it in time; `cdniv`,
//! if present, is 1; `cdniip` binds it to a client address; `cdniuc` is the URI container it
//! covers, `hash:` (base64url SHA-256 of the URI) or `regex:` (a pattern the whole URI must
//! match); without `cdniuc` it covers every request of the route. A `cdnicrit` naming a claim
//! livecache does not know refuses the token (RFC 9246 2.1.11). `cdniets` with `cdnistt: 1`
//! asks for renewal by cookie (`renewal`); `cdnistt` without `cdniets` is malformed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub use super::renewal::sign;
use super::renewal::{Renewal, COOKIE_TRANSPORT};
use super::{hmac_matches, parse_ip, Denial, Grant, Key, Scope};

/// Compiled size a `regex:` container may take (the issuer is trusted once the signature
/// holds, but a mistake should not cost the shard megabytes).
const REGEX_SIZE_LIMIT: usize = 256 << 10;

/// Claims livecache enforces, so a `cdnicrit` naming them is met; one naming any other
/// (`aud`, `jti`, renewal...) refuses the token, as nothing here would honour it.
const KNOWN: &[&str] = &[
    "exp", "nbf", "cdniv", "cdnicrit", "cdniip", "cdniuc", "cdniets", "cdnistt",
];

/// The grant of a URI Signing `token`, if one of `keys` signed it.
pub fn verify(keys: &[Key], token: &str) -> Result<Grant, Denial> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Denial::Malformed);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Denial::Malformed);
    let json = |bytes: Vec<u8>| -> Result<serde_json::Map<String, serde_json::Value>, Denial> {
        match serde_json::from_slice(&bytes) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            _ => Err(Denial::Malformed),
        }
    };
    let header = json(decode(header)?)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(Denial::Unsupported);
    }
    let kid = header.get("kid").and_then(|k| k.as_str());
    let signed = &token[..token.len() - signature.len() - 1];
    let signature = decode(signature)?;
    let key = keys
        .iter()
        .filter(|k| kid.is_none() || k.id.as_deref() == kid)
        .find(|key| hmac_matches(&key.secret, &[signed.as_bytes()], &signature))
        .ok_or(Denial::BadSignature)?;
    let claims = json(decode(claims)?)?;
    let number = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or(Denial::Malformed),
    };
    let text = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or(Denial::Malformed),
    };
    if number("cdniv")?.is_some_and(|v| v != 1) {
        return Err(Denial::Unsupported);
    }
    let critical: &[serde_json::Value] = match claims.get("cdnicrit") {
        None => &[],
        Some(names) => names.as_array().ok_or(Denial::Malformed)?,
    };
    let known = |n: &serde_json::Value| n.as_str().is_some_and(|n| KNOWN.contains(&n));
    if !critical.iter().all(known) {
        return Err(Denial::Unsupported);
    }
    let renewal = match (number("cdnistt")?, number("cdniets")?) {
        (None, _) => None,
        // A successor that expires as it is issued would only delete the player's cookie.
        (Some(_), None) | (_, Some(0)) => return Err(Denial::Malformed),
        (Some(COOKIE_TRANSPORT), Some(lifetime)) => Some(std::sync::Arc::new(Renewal::new(
            claims.clone(),
            key,
            lifetime,
        ))),
        // Another transport is not offered; a token that insists on it is refused.
        (Some(_), Some(_)) if critical.iter().any(|n| n == "cdnistt") => {
            return Err(Denial::Unsupported)
        }
        (Some(_), Some(_)) => None,
    };
    let client = match text("cdniip")? {
        Some(ip) => Some(parse_ip(ip)?),
        None => None,
    };
    let scope = match text("cdniuc")? {
        None => Scope::Route,
        Some(container) => match container.split_once(':') {
            Some(("hash", hash)) => {
                let hash = URL_SAFE_NO_PAD
                    .decode(hash)
                    .map_err(|_| Denial::Malformed)?;
                Scope::UriHash(hash.try_into().map_err(|_| Denial::Malformed)?)
            }
            Some(("regex", pattern)) => {
                let anchored = format!("^(?:{pattern})$");
                let regex = regex::RegexBuilder::new(&anchored)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|_| Denial::Malformed)?;
                Scope::UriRegex(regex)
            }
            _ => return Err(Denial::Unsupported),
        },
    };
    Ok(Grant {
        not_before: number("nbf")?.unwrap_or(0),
        expires: number("exp")?.unwrap_or(u64::MAX),
        scope,
        client,
        renewal,
    })
}
