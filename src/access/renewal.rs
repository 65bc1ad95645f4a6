//! RFC 9246 Signed Token Renewal (section 4.4) by cookie: a URI Signing token with
//! `cdniets` (seconds) and `cdnistt: 1` (cookie transport) asks the edge to hand the player a
//! new token on its responses, with every claim of the old one but `exp` set to the time of
//! renewal plus `cdniets`, signed with the key that verified the old one. The player's later
//! requests then carry the cookie, and a stream outlives the first token's short life without
//! a round trip to the issuer. The query-string transport (`cdnistt: 2`) would mean rewriting
//! every URI of every playlist per viewer: not offered (the token is still honoured, unless
//! its `cdnicrit` names `cdnistt`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::{hmac_sha256, Key};

/// `cdnistt` values (RFC 9246 6.5).
pub const COOKIE_TRANSPORT: u64 = 1;

/// What it takes to issue the next token.
#[derive(Debug)]
pub struct Renewal {
    claims: Map<String, Value>,
    key: Key,
    /// `cdniets`: the next token's life, in seconds from its issue.
    pub lifetime: u64,
}

impl Renewal {
    pub fn new(claims: Map<String, Value>, key: &Key, lifetime: u64) -> Renewal {
        Renewal {
            claims,
            key: key.clone(),
            lifetime,
        }
    }

    /// The next token, issued at `now` (seconds since the epoch).
    pub fn token(&self, now: u64) -> String {
        let mut claims = self.claims.clone();
        claims.insert("exp".into(), now.saturating_add(self.lifetime).into());
        sign(Value::Object(claims).to_string().as_bytes(), &self.key)
    }
}

/// A token carrying `claims` (a JSON object's text) signed with `key`, which its `kid` names
/// when the key has a name: what renewal issues, and what benchmarks and fuzzing mint.
pub fn sign(claims: &[u8], key: &Key) -> String {
    let header = match &key.id {
        Some(id) => serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": id}),
        None => serde_json::json!({"alg": "HS256", "typ": "JWT"}),
    };
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
    let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(&key.secret, signed.as_bytes()));
    format!("{signed}.{mac}")
}

/// The `Set-Cookie` value that hands `token` over as the cookie `name`, sent back on requests
/// under `path` for the `max_age` seconds it still lives. Over https it is `Secure` and
/// `SameSite=None`, so a player on another site's page (the usual web player) sends it too;
/// over plain http a browser would refuse `SameSite=None`, and the cookie stays same-site.
pub fn cookie(name: &str, token: &str, path: &str, max_age: u64, secure: bool) -> String {
    let cross_site = if secure {
        "; Secure; SameSite=None"
    } else {
        ""
    };
    format!("{name}={token}; Max-Age={max_age}; Path={path}; HttpOnly{cross_site}")
}
