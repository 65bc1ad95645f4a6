//! RFC 8216bis §4.2 attribute lists and the value types of HLS tags, shared by the media and
//! multivariant parsers: an [`AttributeList`] splits `NAME=value,NAME="quoted, with commas"`
//! once, refusing malformed lists and repeated names, and its typed accessors read one
//! attribute as a quoted-string, enumerated-string, decimal-integer, decimal-floating-point
//! (as an exact [`Duration`] or as `f64`), signed-decimal-floating-point, decimal-resolution or
//! hexadecimal-sequence. The same value parsers read the tags whose value is a bare number
//! (`EXT-X-TARGETDURATION:6`, `EXTINF:5.005,`).
//!
//! Unknown attribute names are not an error (clients MUST ignore them); an attribute that is
//! present with the wrong type is. Nothing here allocates more than the input it was given.

use std::fmt;
use std::time::Duration;

use crate::http::percent::{decode_hex, hex_digit};

/// A parsed attribute list, borrowing the tag's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeList<'a> {
    pairs: Vec<(&'a str, Value<'a>)>,
}

/// One attribute value as written: quoted (quotes removed) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    Quoted(&'a str),
    Unquoted(&'a str),
}

/// Why an attribute list or one of its values was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrError {
    /// The list itself is malformed: what was found.
    Syntax(&'static str),
    /// An attribute name appears twice.
    Duplicate(String),
    /// An attribute is present but is not a value of the `expected` type.
    WrongType {
        name: &'static str,
        expected: &'static str,
    },
}

impl fmt::Display for AttrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrError::Syntax(what) => write!(f, "malformed attribute list: {what}"),
            AttrError::Duplicate(name) => write!(f, "attribute {name} appears twice"),
            AttrError::WrongType { name, expected } => {
                write!(f, "attribute {name} is not {expected}")
            }
        }
    }
}

/// A `decimal-resolution`: `WIDTHxHEIGHT` in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    pub width: u64,
    pub height: u64,
}

type Attr<T> = Result<Option<T>, AttrError>;

impl<'a> AttributeList<'a> {
    /// Splits `text` into attributes: names of `[A-Z0-9-]`, values quoted (no `"` inside) or
    /// unquoted (up to the next comma, non-empty), separated by commas, no name twice.
    /// Scanned as bytes (every delimiter is ASCII, so every slice is on a char boundary):
    /// `str::find` per delimiter made this a third of a playlist's parse, and `memchr`'s
    /// dispatch costs more than a plain scan of values this short.
    pub fn parse(text: &'a str) -> Result<AttributeList<'a>, AttrError> {
        let bytes = text.as_bytes();
        let mut pairs = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let eq =
                find(b'=', &bytes[at..]).ok_or(AttrError::Syntax("an attribute without '='"))? + at;
            let name = &text[at..eq];
            let valid = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-';
            if name.is_empty() || !name.bytes().all(valid) {
                return Err(AttrError::Syntax("a name that is not [A-Z0-9-]"));
            }
            at = eq + 1;
            let value = if bytes.get(at) == Some(&b'"') {
                let end = find(b'"', &bytes[at + 1..])
                    .ok_or(AttrError::Syntax("an unterminated quoted-string"))?
                    + at
                    + 1;
                let value = Value::Quoted(&text[at + 1..end]);
                at = end + 1;
                value
            } else {
                let end = find(b',', &bytes[at..]).map_or(bytes.len(), |i| i + at);
                let value = &text[at..end];
                if value.is_empty() || find(b'"', value.as_bytes()).is_some() {
                    return Err(AttrError::Syntax("an empty or half-quoted value"));
                }
                at = end;
                Value::Unquoted(value)
            };
            pairs.push((name, value));
            match bytes.get(at) {
                Some(b',') => at += 1,
                None => {}
                Some(_) => return Err(AttrError::Syntax("text after a quoted-string")),
            }
        }
        if let Some(name) = repeated_name(&pairs) {
            return Err(AttrError::Duplicate(name.to_string()));
        }
        Ok(AttributeList { pairs })
    }

    fn get(&self, name: &str) -> Option<Value<'a>> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// Whether `name` is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A quoted-string (may be empty), without its quotes.
    pub fn quoted(&self, name: &'static str) -> Attr<&'a str> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Quoted(s)) => Ok(Some(s)),
            Some(Value::Unquoted(_)) => Err(wrong(name, "a quoted-string")),
        }
    }

    /// An enumerated-string (unquoted), as written.
    pub fn enumerated(&self, name: &'static str) -> Attr<&'a str> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Unquoted(s)) => Ok(Some(s)),
            Some(Value::Quoted(_)) => Err(wrong(name, "an enumerated-string")),
        }
    }

    fn unquoted<T>(
        &self,
        name: &'static str,
        what: &'static str,
        f: fn(&str) -> Option<T>,
    ) -> Attr<T> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Unquoted(s)) => f(s).map(Some).ok_or(wrong(name, what)),
            Some(Value::Quoted(_)) => Err(wrong(name, what)),
        }
    }

    /// A decimal-integer (0 to 2^64-1).
    pub fn decimal_integer(&self, name: &'static str) -> Attr<u64> {
        self.unquoted(name, "a decimal-integer", decimal_integer)
    }

    /// A decimal-floating-point number of seconds, exact to the nanosecond.
    pub fn seconds(&self, name: &'static str) -> Attr<Duration> {
        self.unquoted(name, "a decimal-floating-point", decimal_seconds)
    }

    /// A decimal-floating-point number (`FRAME-RATE`).
    pub fn float(&self, name: &'static str) -> Attr<f64> {
        self.unquoted(name, "a decimal-floating-point", decimal_float)
    }

    /// A signed-decimal-floating-point number (`TIME-OFFSET`).
    pub fn signed_float(&self, name: &'static str) -> Attr<f64> {
        self.unquoted(name, "a signed-decimal-floating-point", signed_float)
    }

    /// A decimal-resolution (`1920x1080`).
    pub fn resolution(&self, name: &'static str) -> Attr<Resolution> {
        self.unquoted(name, "a decimal-resolution", resolution)
    }

    /// A hexadecimal-sequence (`0x1A2B`), as bytes (an odd digit count pads on the left).
    pub fn hex(&self, name: &'static str) -> Attr<Vec<u8>> {
        self.unquoted(name, "a hexadecimal-sequence", hex)
    }

    /// A `YES`/`NO` enumerated-string; absent means `NO`.
    pub fn yes_no(&self, name: &'static str) -> Result<bool, AttrError> {
        match self.enumerated(name)? {
            None | Some("NO") => Ok(false),
            Some("YES") => Ok(true),
            Some(_) => Err(wrong(name, "YES or NO")),
        }
    }
}

fn wrong(name: &'static str, expected: &'static str) -> AttrError {
    AttrError::WrongType { name, expected }
}

/// A decimal-integer: 1 to 20 digits, at most 2^64-1.
pub fn decimal_integer(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Where `byte` first is in `bytes`.
fn find(byte: u8, bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == byte)
}

/// `text` split around the first `byte` (ASCII, so both sides are on char boundaries):
/// `str::split_once` without its pattern machinery, which showed in every line's parse.
pub(crate) fn split_at_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    find(byte, text.as_bytes()).map(|at| (&text[..at], &text[at + 1..]))
}

/// The first name (in sorted order) that `pairs` holds twice. A tag's handful of attributes are
/// compared pairwise, without allocating; a long list is sorted, so an adversarial one costs
/// O(n log n), not O(n^2).
fn repeated_name<'a>(pairs: &[(&'a str, Value<'a>)]) -> Option<&'a str> {
    const PAIRWISE: usize = 16;
    if pairs.len() <= PAIRWISE {
        let mut first: Option<&str> = None;
        for (i, (a, _)) in pairs.iter().enumerate() {
            if pairs[i + 1..].iter().any(|(b, _)| a == b) && first.is_none_or(|f| *a < f) {
                first = Some(a);
            }
        }
        return first;
    }
    let mut names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// A non-negative decimal number of seconds (`6`, `6.006`, `0.33334`) as an exact
/// [`Duration`]: digits past the ninth decimal are dropped, values past `u64` seconds refused.
pub fn decimal_seconds(s: &str) -> Option<Duration> {
    let (whole, fraction) = split_at_byte(s, b'.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let secs = if whole.is_empty() {
        0
    } else {
        // Leading zeros do not make a number larger: strip them before the length check.
        let trimmed = whole.trim_start_matches('0');
        match trimmed.len() {
            0 => 0,
            1..=20 => trimmed.parse().ok()?,
            _ => return None,
        }
    };
    let mut nanos = 0u32;
    for i in 0..9 {
        let d = fraction
            .as_bytes()
            .get(i)
            .map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + d;
    }
    Some(Duration::new(secs, nanos))
}

/// A decimal-floating-point as `f64`: digits and at most one '.', nothing else.
pub fn decimal_float(s: &str) -> Option<f64> {
    let dots = s.bytes().filter(|&b| b == b'.').count();
    let valid = s.bytes().any(|b| b.is_ascii_digit())
        && dots <= 1
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !valid {
        return None;
    }
    s.parse().ok()
}

/// A signed-decimal-floating-point: an optional '-' and a decimal-floating-point.
pub fn signed_float(s: &str) -> Option<f64> {
    match s.strip_prefix('-') {
        Some(magnitude) => decimal_float(magnitude).map(|v| -v),
        None => decimal_float(s),
    }
}

/// A decimal-resolution: `WIDTHxHEIGHT`.
pub fn resolution(s: &str) -> Option<Resolution> {
    let (w, h) = s.split_once('x')?;
    Some(Resolution {
        width: decimal_integer(w)?,
        height: decimal_integer(h)?,
    })
}

/// A hexadecimal-sequence: `0x` or `0X` and at least one hex digit.
pub fn hex(s: &str) -> Option<Vec<u8>> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    // An odd count: the first digit is a byte of its own.
    let (head, tail) = digits.as_bytes().split_at(digits.len() % 2);
    let mut out: Vec<u8> = head.iter().map(|&b| hex_digit(b)).collect::<Option<_>>()?;
    if !tail.is_empty() {
        out.extend(decode_hex(tail)?);
    } else if out.is_empty() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
#[path = "attributes_tests.rs"]
mod tests;
