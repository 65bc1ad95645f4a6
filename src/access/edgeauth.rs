//! EdgeAuth-style tokens (the field format of Akamai's Edge Authorization tokens):
//! `[ip=ADDR~]st=START~exp=END~acl=PATTERN[!PATTERN...][~id=..][~data=..]~hmac=HEX`, or with
//! no `acl`, a token for one URL, whose HMAC also covers `~url=PATH` (the path is not in the
//! token: the request brings it). The HMAC is SHA-256 over every field before `~hmac=`, as the
//! token was issued (escaped characters stay escaped), under one of the route's keys (several
//! for rotation); its hex value may be either case. `exp` is required; `st` and `ip` bind it
//! further. An `acl` pattern's `*` matches any run of characters, `/` included, so
//! `acl=/live/ch1/*` covers every playlist and segment of the stream.

use super::{hmac_matches, Denial, Grant, Key, Scope};
use crate::http::percent::{decode_hex, percent_decode};

/// The grant of an EdgeAuth `token` for a request of `path`, if one of `keys` signed it.
pub fn verify(keys: &[Key], token: &str, path: &str) -> Result<Grant, Denial> {
    let Some(signed_end) = token.rfind("~hmac=") else {
        return Err(Denial::Malformed);
    };
    let (signed, mac_hex) = (&token[..signed_end], &token[signed_end + "~hmac=".len()..]);
    let mac = decode_hex(mac_hex.as_bytes()).ok_or(Denial::Malformed)?;
    let mut fields = Fields::default();
    for field in signed.split('~') {
        let (name, value) = field.split_once('=').ok_or(Denial::Malformed)?;
        let slot = match name {
            "ip" => &mut fields.ip,
            "st" => &mut fields.start,
            "exp" => &mut fields.expires,
            "acl" => &mut fields.acl,
            "url" => return Err(Denial::Malformed), // never carried: the request brings it
            "id" | "data" => continue,
            _ => return Err(Denial::Malformed),
        };
        if slot.replace(value).is_some() {
            return Err(Denial::Malformed);
        }
    }
    let number = |v: Option<&str>| v.map(|v| v.parse::<u64>().map_err(|_| Denial::Malformed));
    let expires = number(fields.expires).ok_or(Denial::Malformed)??;
    let not_before = number(fields.start).transpose()?.unwrap_or(0);
    let client = match fields.ip {
        Some(ip) => Some(super::parse_ip(ip)?),
        None => None,
    };
    // A token for one URL signs its path as a last field.
    let message: &[&[u8]] = match fields.acl {
        Some(_) => &[signed.as_bytes()],
        None => &[signed.as_bytes(), b"~url=", path.as_bytes()],
    };
    if !keys
        .iter()
        .any(|key| hmac_matches(&key.secret, message, &mac))
    {
        return Err(Denial::BadSignature);
    }
    let scope = match fields.acl {
        Some(acl) => Scope::Paths(acl.split('!').map(percent_decoded).collect()),
        None => Scope::Path(path.to_string()),
    };
    Ok(Grant {
        not_before,
        expires,
        scope,
        client,
        renewal: None,
    })
}

#[derive(Default)]
struct Fields<'a> {
    ip: Option<&'a str>,
    start: Option<&'a str>,
    expires: Option<&'a str>,
    acl: Option<&'a str>,
}

/// `text` with its `%XX` escapes decoded (an issuer may escape the `acl` it signs); a
/// malformed escape is kept as written.
fn percent_decoded(text: &str) -> String {
    match percent_decode(text.as_bytes()) {
        Some(decoded) => String::from_utf8_lossy(&decoded).into_owned(),
        None => text.to_string(),
    }
}
