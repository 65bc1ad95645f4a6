//! Token keys, read from a file when the configuration is loaded: one key per line, in hex,
//! optionally named `ID=HEX` (a URI Signing token's `kid` picks the key of that name; a token
//! without one, and every EdgeAuth token, is tried with each key in turn, so an operator
//! rotates by adding the new key, moving the issuers to it, then removing the old). Blank
//! lines and `#` comments are skipped. A key is at least 16 bytes.

use crate::http::percent::decode_hex;

/// Shortest key accepted, in bytes.
const MIN_KEY: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    pub id: Option<String>,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    /// Never the secret: configurations are printed and logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?}, {} bytes)", self.id, self.secret.len())
    }
}

/// The keys of a key file's text.
pub fn parse_keys(text: &str) -> Result<Vec<Key>, String> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, hex) = match line.split_once('=') {
            Some((id, hex)) => (Some(id.trim().to_string()), hex.trim()),
            None => (None, line),
        };
        let secret =
            decode_hex(hex.as_bytes()).ok_or_else(|| format!("line {}: not a hex key", n + 1))?;
        if secret.len() < MIN_KEY {
            return Err(format!(
                "line {}: a key of {} bytes is too short (at least {MIN_KEY})",
                n + 1,
                secret.len()
            ));
        }
        keys.push(Key { id, secret });
    }
    if keys.is_empty() {
        return Err("no key in the file".into());
    }
    Ok(keys)
}
