//! This node's name (issue "shield tiers", item 1): what it calls itself in `Cache-Status`
//! (the cache's identifier, RFC 9211 2), in `Via` (its pseudonym, RFC 9110 7.6.3) and in
//! `CDN-Loop` (its cdn-id, RFC 8586), so each tier of edge -> shield -> origin is told apart
//! in every response and a request that comes back to a node it already passed is caught.
//! `auto` (the default) is the host name, which is what a fleet wants: unique per machine and
//! stable across restarts. A name is a token (letters, digits, `.`, `_`, `-`), so it fits
//! every one of those fields unquoted.

use bytes::Bytes;

/// The longest name accepted.
const MAX_NAME: usize = 63;
/// The name used when the host has none usable.
const FALLBACK: &str = "livecache";

/// This node's name and the field values made of it, rendered once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// As configured (or the host name): the `Cache-Status` identifier and `CDN-Loop` cdn-id.
    pub name: Bytes,
    /// `1.1 <name>`: this node's `Via` entry.
    pub via: Bytes,
}

impl Node {
    pub fn named(name: &str) -> Node {
        Node {
            name: Bytes::copy_from_slice(name.as_bytes()),
            via: Bytes::from(format!("1.1 {name}")),
        }
    }

    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or(FALLBACK)
    }
}

/// The `name` key: `auto` for the host name, else a token of at most 63 characters.
pub fn parse_name(text: &str) -> Result<Node, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Node::named(&host_name()));
    }
    if text.is_empty() || text.len() > MAX_NAME || !text.bytes().all(is_name_byte) {
        return Err(format!(
            "expected `auto` or a name of 1 to {MAX_NAME} letters, digits, `.`, `_` or `-`"
        ));
    }
    Ok(Node::named(text))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// The kernel's host name, kept to name characters (the fallback when nothing is left).
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = raw
        .trim()
        .bytes()
        .filter(|&b| is_name_byte(b))
        .take(MAX_NAME)
        .map(char::from)
        .collect();
    if name.is_empty() {
        FALLBACK.to_string()
    } else {
        name
    }
}

/// Whether a request's `CDN-Loop` fields name `node` (RFC 8586 2: a list of cdn-ids, each
/// with optional parameters; compared case-insensitively, as tokens are).
pub fn loops_through(values: impl IntoIterator<Item = impl AsRef<[u8]>>, node: &Node) -> bool {
    values.into_iter().any(|value| {
        value.as_ref().split(|&b| b == b',').any(|member| {
            let id = member.split(|&b| b == b';').next().unwrap_or_default();
            id.trim_ascii().eq_ignore_ascii_case(&node.name)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tokens_and_auto_is_the_host() {
        let node = parse_name(" edge-1.fra ").unwrap();
        assert_eq!(node.name(), "edge-1.fra");
        assert_eq!(&node.via[..], b"1.1 edge-1.fra");
        for bad in ["", "a b", "x;y", "\"q\"", &"n".repeat(64)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
        let auto = parse_name("auto").unwrap();
        assert!(!auto.name.is_empty() && auto.name.iter().all(|&b| is_name_byte(b)));
    }

    #[test]
    fn a_loop_is_this_node_anywhere_in_the_list() {
        let node = Node::named("shield-2");
        assert!(loops_through(["edge-1, Shield-2; v=1"], &node));
        assert!(loops_through(["edge-1", "shield-2"], &node));
        assert!(!loops_through(["edge-1, shield-20", "shield"], &node));
        assert!(!loops_through(Vec::<&[u8]>::new(), &node));
    }
}
