//! Common Media Client Data (CTA-5004, v1 and v2; LIVE.md F5): what a player says about its
//! session, the object it asks for and its buffer, sent as the `CMCD` query parameter or the
//! `CMCD-Request`, `CMCD-Object`, `CMCD-Status` and `CMCD-Session` header fields, each an RFC
//! 8941 dictionary. The edge reads it for the access log and for `nor` (the next objects the
//! player will ask for, prefetched); it never keys on it and never refuses a request for it:
//! malformed data is ignored whole.
//!
//! Pure: parsing only. Values are bounded by the request head's own limits; nothing is
//! sized by a number read from the input.

use crate::http::headers::Header;
use crate::http::percent::percent_decode;
use crate::http::query::query_param;

use crate::http::structured::render;
pub use crate::http::structured::{parse, Value};

/// The members a request carried, query and header fields together, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cmcd {
    pub members: Vec<(String, Value)>,
}

/// The keys written to the access log, in this order (LIVE.md F5).
pub const LOGGED: [&str; 15] = [
    "sid", "cid", "ot", "br", "bl", "d", "mtp", "su", "bs", "st", "sf", "v", "sta", "ltc", "nor",
];

/// Largest number of `nor` objects acted on per request.
pub const MAX_NEXT: usize = 2;

impl Cmcd {
    /// The CMCD a request carries; `None` when it carries none, or any of it is malformed.
    pub fn of_request(target: &[u8], headers: &[Header]) -> Option<Cmcd> {
        let mut cmcd = Cmcd::default();
        let mut found = false;
        if let Some(value) = query_param(target, b"CMCD") {
            let text = decoded_text(value)?;
            cmcd.members.extend(parse(&text)?);
            found = true;
        }
        for field in headers {
            let name = &field.name;
            if name.len() > 5 && name[..5].eq_ignore_ascii_case(b"cmcd-") {
                let text = std::str::from_utf8(&field.value).ok()?;
                cmcd.members.extend(parse(text)?);
                found = true;
            }
        }
        found.then_some(cmcd)
    }

    /// The members of one dictionary field (a `CMCD-*` field, or an origin's `CMSD-Static`,
    /// which is written the same way); `None` when it is malformed.
    pub fn of_field(value: &[u8]) -> Option<Cmcd> {
        let text = std::str::from_utf8(value).ok()?;
        Some(Cmcd {
            members: parse(text)?,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether the player says it is starting up (`su`) or its buffer is starved (`bs`):
    /// its request goes ahead of others on its core.
    pub fn is_urgent(&self) -> bool {
        ["su", "bs"]
            .iter()
            .any(|key| self.get(key) == Some(&Value::Boolean(true)))
    }

    /// The next objects the player will ask for (`nor`: one string in v1, a list of them in
    /// v2), as relative references with their URL-encoding undone, at most `MAX_NEXT` (two).
    pub fn next_objects(&self) -> Vec<String> {
        let strings: Vec<&str> = match self.get("nor") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::List(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        strings
            .into_iter()
            .filter_map(|s| decoded_text(s.as_bytes()))
            .take(MAX_NEXT)
            .collect()
    }

    /// The logged keys it carries as `key=value` pairs joined by `,` (strings quoted, `true`
    /// booleans bare as in CMCD itself); empty when it carries none of them.
    pub fn log_text(&self) -> String {
        let mut out = String::new();
        for key in LOGGED {
            let Some(value) = self.get(key) else { continue };
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(key);
            if *value != Value::Boolean(true) {
                out.push('=');
                render(value, &mut out);
            }
        }
        out
    }
}

/// Percent-decodes a value into text; `None` for a bad escape or bytes that are not UTF-8.
fn decoded_text(value: &[u8]) -> Option<String> {
    String::from_utf8(percent_decode(value)?).ok()
}

#[cfg(test)]
#[path = "cmcd_tests.rs"]
mod tests;
