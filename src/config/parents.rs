//! The parent shields an edge fetches through (issue "Origin-shield tiers", item 2): each has
//! an id (what rendezvous hashing scores, so every edge sends one stream to the same shield
//! however the list is ordered), an address resolved once here, a weight, and optionally the
//! admin address its health is read from. Written `ID=HOST:PORT[,WEIGHT][,admin=HOST:PORT]`,
//! entries separated by `;` or whitespace: the flag `--parent` may be repeated, and a TOML
//! file may use `[[parent]]` tables (`sources` flattens both to this text).
//!
//! Refused with the key and value named: a duplicate id, a zero or non-numeric weight, and a
//! parent that is this node's own listen address (a loop on the first request).

use std::net::{SocketAddr, ToSocketAddrs};

/// One parent shield.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parent {
    pub id: String,
    /// Where requests go (the first address the host resolved to).
    pub address: SocketAddr,
    /// As written, for `--check-config`.
    pub written: String,
    pub weight: u32,
    /// Where its `/readyz` is probed; `None`: only passive health.
    pub admin: Option<SocketAddr>,
}

/// Parses the `parent` key's text (see the module); `listen` is this node's own address.
pub fn parse_parents(text: &str, listen: SocketAddr) -> Result<Vec<Parent>, String> {
    let mut parents: Vec<Parent> = Vec::new();
    for entry in text
        .split(|c: char| c == ';' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        let parent = parse_entry(entry)?;
        if parents.iter().any(|p| p.id == parent.id) {
            return Err(format!("the parent id `{}` is given twice", parent.id));
        }
        if parent.address == listen {
            return Err(format!(
                "the parent `{}` is this node's own listen address {listen}",
                parent.id
            ));
        }
        parents.push(parent);
    }
    Ok(parents)
}

fn parse_entry(entry: &str) -> Result<Parent, String> {
    let expected = "expected ID=HOST:PORT[,WEIGHT][,admin=HOST:PORT]";
    let (id, rest) = entry
        .split_once('=')
        .ok_or_else(|| format!("`{entry}`: {expected}"))?;
    let valid_id = !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid_id {
        return Err(format!(
            "`{entry}`: a parent id is 1 to 63 letters, digits, `.`, `_` or `-`"
        ));
    }
    let mut fields = rest.split(',');
    let written = fields.next().unwrap_or_default().to_string();
    let address = resolve(&written).map_err(|e| format!("`{entry}`: {e}"))?;
    let mut weight = 1;
    let mut admin = None;
    for field in fields {
        if let Some(addr) = field.strip_prefix("admin=") {
            admin = Some(resolve(addr).map_err(|e| format!("`{entry}`: admin {e}"))?);
        } else {
            weight = match field.parse::<u32>() {
                Ok(0) => return Err(format!("`{entry}`: a weight must be at least 1")),
                Ok(w) => w,
                Err(_) => return Err(format!("`{entry}`: `{field}` is not a weight; {expected}")),
            };
        }
    }
    Ok(Parent {
        id: id.to_string(),
        address,
        written,
        weight,
        admin,
    })
}

/// `HOST:PORT` to its first address. Configuration is loaded at start-up and on the signal
/// thread at a reload, never on an executor.
#[allow(clippy::disallowed_methods)]
fn resolve(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| format!("`{text}` is not a HOST:PORT that resolves: {e}"))?
        .next()
        .ok_or_else(|| format!("`{text}` resolved to no address"))
}

/// The parents as the key's text, for `--check-config`.
pub fn render(parents: &[Parent]) -> String {
    let entries: Vec<String> = parents
        .iter()
        .map(|p| {
            let mut entry = format!("{}={},{}", p.id, p.written, p.weight);
            if let Some(admin) = p.admin {
                entry.push_str(&format!(",admin={admin}"));
            }
            entry
        })
        .collect();
    entries.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen() -> SocketAddr {
        "127.0.0.1:8080".parse().unwrap()
    }

    #[test]
    fn entries_parse_with_defaults() {
        let parents = parse_parents(
            "s1=127.0.0.1:9001; s2=127.0.0.1:9002,3,admin=127.0.0.1:9902\n s3=localhost:9003",
            listen(),
        )
        .unwrap();
        assert_eq!(parents.len(), 3);
        assert_eq!((parents[0].id.as_str(), parents[0].weight), ("s1", 1));
        assert_eq!(parents[1].weight, 3);
        assert_eq!(parents[1].admin, Some("127.0.0.1:9902".parse().unwrap()));
        assert_eq!(parents[2].address.port(), 9003);
        assert_eq!(
            render(&parents[..2]),
            "s1=127.0.0.1:9001,1; s2=127.0.0.1:9002,3,admin=127.0.0.1:9902"
        );
        assert_eq!(parse_parents("", listen()), Ok(Vec::new()));
    }

    #[test]
    fn bad_parents_are_named() {
        for (text, says) in [
            ("a=127.0.0.1:1;a=127.0.0.1:2", "twice"),
            ("a=127.0.0.1:1,0", "at least 1"),
            ("a=127.0.0.1:1,heavy", "not a weight"),
            ("a=127.0.0.1:8080", "own listen address"),
            ("127.0.0.1:1", "expected ID="),
            ("a b=127.0.0.1:1", "expected ID="),
            ("a=nowhere", "HOST:PORT"),
        ] {
            let error = parse_parents(text, listen()).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
