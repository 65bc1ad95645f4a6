//! Which request fields reach the origin on a fetch whose response may be stored or shared,
//! and which of them are part of the cache key (`forward_fields`, `key_fields`). A field the
//! origin sees but the key does not lets one client choose what every viewer gets (cache
//! poisoning through `X-Forwarded-Host` and friends), so such a field must be marked safe by
//! the operator, or be one of the content-negotiation fields that origins declare in `Vary`
//! (RFC 9110 12.5). Parsed from text here, like every other key. Pure: no I/O.

use bytes::Bytes;

/// Fields forwarded unkeyed without a mark: an origin that answers differently by them says
/// so in `Vary`, and the cache keys variants by it.
const NEGOTIATION: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
];

/// Fields livecache sets or handles itself on a shared fetch; listing them is an error.
const OWN: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "proxy-authorization",
    "via",
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "x-forwarded-for",
    "forwarded",
];

/// The request fields of shared fetches, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forwarding {
    /// Lower-cased names sent upstream on shared fetches (the key fields included).
    pub forward: Vec<Bytes>,
    /// Lower-cased names whose values are part of the cache key, sorted, without duplicates.
    pub key: Vec<Bytes>,
    /// Forwarded fields the operator marked safe to leave out of the key (`Name:safe`).
    pub marked_safe: Vec<Bytes>,
}

impl Forwarding {
    /// Builds the set from `forward_fields` and `key_fields`; refuses a field that would be
    /// forwarded but not keyed unless it is marked `:safe` or is a negotiation field.
    pub fn parse(forward_text: &str, key_text: &str) -> Result<Forwarding, (&'static str, String)> {
        let mut forward = Vec::new();
        let mut marked_safe = Vec::new();
        for item in items(forward_text) {
            let (name, safe) = match item.split_once(':') {
                Some((name, mark)) if mark.trim().eq_ignore_ascii_case("safe") => (name, true),
                Some(_) => {
                    return Err((
                        "forward_fields",
                        format!("`{item}`: the only mark is `:safe`, e.g. X-Device:safe"),
                    ))
                }
                None => (item, false),
            };
            let name = field_name(name).map_err(|e| ("forward_fields", e))?;
            if safe {
                marked_safe.push(name.clone());
            }
            forward.push(name);
        }
        let mut key = Vec::new();
        for item in items(key_text) {
            key.push(field_name(item).map_err(|e| ("key_fields", e))?);
        }
        key.sort();
        key.dedup();
        for name in &forward {
            let negotiation = NEGOTIATION.iter().any(|n| n.as_bytes() == name.as_ref());
            if !negotiation && !key.contains(name) && !marked_safe.contains(name) {
                let name = String::from_utf8_lossy(name);
                return Err((
                    "forward_fields",
                    format!(
                        "`{name}` would reach the origin without being part of the cache key, so one \
                         client could choose what every viewer gets; add it to key_fields, or write \
                         `{name}:safe` if the origin's response never depends on it (or it says so in Vary)"
                    ),
                ));
            }
        }
        for name in &key {
            if !forward.contains(name) {
                forward.push(name.clone());
            }
        }
        forward.dedup();
        Ok(Forwarding {
            forward,
            key,
            marked_safe,
        })
    }

    /// Whether a request field named `name` goes upstream on a shared fetch.
    pub fn forwards(&self, name: &[u8]) -> bool {
        self.forward.iter().any(|f| f.eq_ignore_ascii_case(name))
    }

    /// `forward_fields` and `key_fields` as TOML text, for `--check-config`.
    pub fn toml_values(&self) -> Vec<(&'static str, String)> {
        let text = |names: Vec<String>| format!("{:?}", names.join(", "));
        let forward = self
            .forward
            .iter()
            .filter(|name| !self.key.contains(name))
            .map(|name| {
                let name = String::from_utf8_lossy(name).into_owned();
                match self.marked_safe.iter().any(|s| s == name.as_bytes()) {
                    true => format!("{name}:safe"),
                    false => name,
                }
            })
            .collect();
        let key = self
            .key
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        vec![("forward_fields", text(forward)), ("key_fields", text(key))]
    }
}

fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A lower-cased field name that livecache does not set or handle itself.
fn field_name(text: &str) -> Result<Bytes, String> {
    let text = text.trim();
    let token = crate::http::headers::is_tchar;
    if text.is_empty() || !text.bytes().all(token) {
        return Err(format!("`{text}`: expected a header field name"));
    }
    let lower = text.to_ascii_lowercase();
    if OWN.contains(&lower.as_str()) {
        return Err(format!(
            "`{text}` is set or handled by livecache itself and cannot be forwarded as sent"
        ));
    }
    Ok(Bytes::from(lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_fields_need_no_mark() {
        let f = Forwarding::parse("Accept, Accept-Encoding, Accept-Language", "").unwrap();
        assert!(f.forwards(b"accept-encoding"));
        assert!(f.forwards(b"Accept"));
        assert!(!f.forwards(b"cookie"));
        assert!(f.key.is_empty());
    }

    #[test]
    fn an_unkeyed_field_is_refused_unless_marked_safe() {
        let (key, why) = Forwarding::parse("Accept, X-Forwarded-Host", "").unwrap_err();
        assert_eq!(key, "forward_fields");
        assert!(why.contains("x-forwarded-host"), "{why}");
        let f = Forwarding::parse("Accept, X-Request-Id:safe", "").unwrap();
        assert!(f.forwards(b"x-request-id"));
        assert!(Forwarding::parse("X-Request-Id:maybe", "").is_err());
    }

    #[test]
    fn key_fields_are_forwarded_and_keyed() {
        let f = Forwarding::parse("Accept, X-Device", "x-device, X-Country").unwrap();
        assert_eq!(
            f.key,
            vec![
                Bytes::from_static(b"x-country"),
                Bytes::from_static(b"x-device")
            ]
        );
        assert!(f.forwards(b"x-country") && f.forwards(b"x-device"));
        assert_eq!(
            f.toml_values(),
            vec![
                ("forward_fields", "\"accept\"".to_string()),
                ("key_fields", "\"x-country, x-device\"".to_string()),
            ]
        );
    }

    #[test]
    fn fields_livecache_owns_are_refused() {
        for own in [
            "Host",
            "Range",
            "If-None-Match",
            "X-Forwarded-For",
            "Forwarded",
        ] {
            assert!(Forwarding::parse(own, "").is_err(), "{own}");
            assert!(Forwarding::parse("", own).is_err(), "{own}");
        }
        assert!(Forwarding::parse("bad name", "").is_err());
    }
}
