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

/// One dictionary value (RFC 8941 3.3; v2's inner lists for `nor`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Integer(i64),
    Decimal(f64),
    String(String),
    Token(String),
    Boolean(bool),
    List(Vec<Value>),
}

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
        if let Some(value) = query_value(target, b"CMCD") {
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

fn render(value: &Value, out: &mut String) {
    match value {
        Value::Integer(n) => out.push_str(&n.to_string()),
        Value::Decimal(d) => out.push_str(&d.to_string()),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Value::Token(t) => out.push_str(t),
        Value::Boolean(b) => out.push_str(if *b { "?1" } else { "?0" }),
        Value::List(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render(item, out);
            }
            out.push(')');
        }
    }
}

/// Parses one dictionary; `None` when malformed. Parameters (`;k=v`) are skipped.
pub fn parse(text: &str) -> Option<Vec<(String, Value)>> {
    let mut input = Input {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut members = Vec::new();
    input.skip_spaces();
    while !input.done() {
        let key = input.key()?;
        let value = if input.eat(b'=') {
            input.item_or_list()?
        } else {
            Value::Boolean(true)
        };
        input.skip_parameters()?;
        members.push((key, value));
        input.skip_spaces();
        if input.done() {
            break;
        }
        if !input.eat(b',') {
            return None;
        }
        input.skip_spaces();
        if input.done() {
            return None; // a trailing comma
        }
    }
    Some(members)
}

struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Input<'_> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.at += usize::from(hit);
        hit
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> &str {
        let start = self.at;
        while self.peek().is_some_and(&ok) {
            self.at += 1;
        }
        // Only ASCII bytes pass the predicates used here.
        std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default()
    }

    fn key(&mut self) -> Option<String> {
        let first = self.peek()?;
        if !(first.is_ascii_lowercase() || first == b'*') {
            return None;
        }
        let key = self.take_while(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.' | b'*')
        });
        Some(key.to_string())
    }

    fn item_or_list(&mut self) -> Option<Value> {
        if !self.eat(b'(') {
            return self.item();
        }
        let mut items = Vec::new();
        loop {
            self.skip_spaces();
            if self.eat(b')') {
                return Some(Value::List(items));
            }
            items.push(self.item()?);
            self.skip_parameters()?;
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return None;
            }
        }
    }

    fn item(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string(),
            b'?' => {
                self.at += 1;
                let value = match self.peek()? {
                    b'0' => false,
                    b'1' => true,
                    _ => return None,
                };
                self.at += 1;
                Some(Value::Boolean(value))
            }
            b'-' | b'0'..=b'9' => self.number(),
            b if b.is_ascii_alphabetic() || b == b'*' => {
                let token = self
                    .take_while(|b| b.is_ascii_alphanumeric() || b":/!#$%&'*+-.^_`|~".contains(&b));
                Some(Value::Token(token.to_string()))
            }
            _ => None,
        }
    }

    fn string(&mut self) -> Option<Value> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(Value::String(out));
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = self.peek().filter(|b| matches!(b, b'"' | b'\\'))?;
                    out.push(escaped as char);
                    self.at += 1;
                }
                b @ 0x20..=0x7e => {
                    out.push(b as char);
                    self.at += 1;
                }
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let negative = self.eat(b'-');
        let whole = self.take_while(|b| b.is_ascii_digit()).to_string();
        if whole.is_empty() || whole.len() > 15 {
            return None;
        }
        let sign = if negative { -1 } else { 1 };
        if !self.eat(b'.') {
            return Some(Value::Integer(sign * whole.parse::<i64>().ok()?));
        }
        let fraction = self.take_while(|b| b.is_ascii_digit());
        if fraction.is_empty() || fraction.len() > 3 {
            return None;
        }
        let value: f64 = format!("{whole}.{fraction}").parse().ok()?;
        Some(Value::Decimal(sign as f64 * value))
    }

    /// Skips `;key[=item]` parameters after a value.
    fn skip_parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip_spaces();
            self.key()?;
            if self.eat(b'=') {
                self.item()?;
            }
        }
        Some(())
    }
}

/// The raw value of the first query parameter named `name` (exact case), if any.
fn query_value<'a>(target: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let query = &target[target.iter().position(|&b| b == b'?')? + 1..];
    query.split(|&b| b == b'&').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        (&pair[..eq] == name).then(|| &pair[eq + 1..])
    })
}

/// Percent-decodes a value into text; `None` for a bad escape or bytes that are not UTF-8.
fn decoded_text(value: &[u8]) -> Option<String> {
    String::from_utf8(percent_decode(value)?).ok()
}

#[cfg(test)]
#[path = "cmcd_tests.rs"]
mod tests;
