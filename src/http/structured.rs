//! RFC 8941 Structured Field dictionaries, parsed strictly: a CMCD field or query value
//! (`live::cmcd`) and the targeted cache-control fields (`CDN-Cache-Control`, RFC 9213) are
//! dictionaries, and a malformed one is ignored whole rather than half-read. Parameters
//! (`;k=v`) are checked and skipped. Pure; nothing is sized by a number read from the input.

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

/// Writes `value` in its field form.
pub fn render(value: &Value, out: &mut String) {
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
                    .take_while(|b| crate::http::headers::is_tchar(b) || b == b':' || b == b'/');
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
