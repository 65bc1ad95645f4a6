//! The credential livecache shows its origins (`origin_credential`; issue "Access control",
//! item 2): a field (`X-Edge-Secret: s3cr3t`) or a query parameter (`?edge=s3cr3t`) added to
//! every request sent to an origin (never to a parent shield, which adds its own), so an
//! origin can refuse everyone but its edges once viewers' tokens are checked and removed at
//! the edge. A client's field of the same name is dropped, not forwarded beside it.

use std::borrow::Cow;

use bytes::Bytes;

#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Field {
        name: Bytes,
        value: Bytes,
    },
    /// `name=value`, appended to the request target's query.
    Query(Bytes),
}

impl std::fmt::Debug for Credential {
    /// Never the secret: configurations are printed and logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Credential {
    /// What `--check-config` shows: which field or parameter, never the value.
    pub fn redacted(&self) -> String {
        match self {
            Credential::Field { name, .. } => {
                format!("{}: (secret)", String::from_utf8_lossy(name))
            }
            Credential::Query(pair) => {
                let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
                format!("?{}=(secret)", String::from_utf8_lossy(name))
            }
        }
    }

    /// The request target with the credential's parameter, for a query credential.
    pub fn target<'a>(&self, target: &'a [u8]) -> Cow<'a, [u8]> {
        let Credential::Query(pair) = self else {
            return Cow::Borrowed(target);
        };
        let mut with = Vec::with_capacity(target.len() + pair.len() + 1);
        with.extend_from_slice(target);
        with.push(if target.contains(&b'?') { b'&' } else { b'?' });
        with.extend_from_slice(pair);
        Cow::Owned(with)
    }

    /// The field a field credential adds.
    pub fn field(&self) -> Option<(&[u8], &[u8])> {
        match self {
            Credential::Field { name, value } => Some((name, value)),
            Credential::Query(_) => None,
        }
    }
}

/// Parses `origin_credential`: empty (none), `?NAME=VALUE`, or `NAME: VALUE`.
pub fn parse_credential(text: &str) -> Result<Option<Credential>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let token = |s: &str| !s.is_empty() && s.bytes().all(crate::http::headers::is_tchar);
    if let Some(pair) = text.strip_prefix('?') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let plain = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'&' && b != b'#')
        };
        if !token(name) || value.is_empty() || !plain(value) {
            return Err("expected ?NAME=VALUE (no `&`, `#` or spaces)".into());
        }
        return Ok(Some(Credential::Query(Bytes::copy_from_slice(
            pair.as_bytes(),
        ))));
    }
    let (name, value) = text
        .split_once(':')
        .ok_or("expected `NAME: VALUE` (a field) or `?NAME=VALUE` (a query parameter)")?;
    let value = value.trim();
    let printable = value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic());
    if !token(name) || value.is_empty() || !printable {
        return Err("expected `NAME: VALUE` with a field name and a printable value".into());
    }
    Ok(Some(Credential::Field {
        name: Bytes::copy_from_slice(name.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_parameters_parse_and_apply_without_showing_the_secret() {
        let field = parse_credential("X-Edge-Secret: s3cr3t").unwrap().unwrap();
        assert_eq!(field.field(), Some((&b"X-Edge-Secret"[..], &b"s3cr3t"[..])));
        assert_eq!(field.target(b"/a?b=1"), Cow::Borrowed(&b"/a?b=1"[..]));
        assert_eq!(field.redacted(), "X-Edge-Secret: (secret)");
        assert!(!format!("{field:?}").contains("s3cr3t"));
        let query = parse_credential("?edge=s3cr3t").unwrap().unwrap();
        assert_eq!(&query.target(b"/a")[..], b"/a?edge=s3cr3t");
        assert_eq!(&query.target(b"/a?b=1")[..], b"/a?b=1&edge=s3cr3t");
        assert_eq!(query.redacted(), "?edge=(secret)");
        assert_eq!(parse_credential(" ").unwrap(), None);
        for bad in [
            "X-Edge-Secret",
            "Bad Name: x",
            "X: ",
            "?edge",
            "?edge=a&b",
            "?=x",
        ] {
            assert!(parse_credential(bad).is_err(), "{bad}");
        }
    }
}
