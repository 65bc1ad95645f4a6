//! Who the client is, and how it reached us, when livecache sits behind TLS terminators or
//! load balancers (`trusted_proxies`). From a trusted peer, the client is the rightmost
//! `X-Forwarded-For` address that is not itself a trusted proxy (each proxy appends the
//! address it saw, so what lies left of the first untrusted one is the client's to invent),
//! and the scheme is the rightmost `X-Forwarded-Proto` item. From any other peer both fields
//! are ignored: a client cannot claim another address or `https` by sending them. Signed-URL
//! address binding and URI Signing containers are checked against this, and a passed request
//! names it upstream.

use std::net::IpAddr;

use ipnet::IpNet;

use super::headers::{list_items, Header};

/// The scheme a client used to reach this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The client behind `peer`, and the scheme it used.
pub fn client_of(peer: IpAddr, fields: &[Header], trusted: &[IpNet]) -> (IpAddr, Scheme) {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|block| block.contains(ip));
    if !is_trusted(&peer) {
        return (peer, Scheme::Http);
    }
    let forwarded: Vec<&[u8]> = list_items(fields, "x-forwarded-for").collect();
    let mut client = peer;
    for item in forwarded.iter().rev() {
        // An entry that is no address (`unknown`, garbage) ends the walk: nothing left of it
        // can be trusted, and the last proxy that vouched for the chain is the client then.
        let Some(ip) = parse_node(item) else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    let https = list_items(fields, "x-forwarded-proto")
        .last()
        .is_some_and(|proto| proto.eq_ignore_ascii_case(b"https"));
    (client, if https { Scheme::Https } else { Scheme::Http })
}

/// An `X-Forwarded-For` entry: an address, an IPv4 address with a port, or a bracketed IPv6
/// address with or without one.
fn parse_node(item: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(item).ok()?.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let host = match text.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None => text.rsplit_once(':').map(|(host, _)| host)?,
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(xff: &[&'static str], proto: &[&'static str]) -> Vec<Header> {
        let mut out: Vec<Header> = xff
            .iter()
            .map(|v| Header::new("X-Forwarded-For", *v))
            .collect();
        out.extend(proto.iter().map(|v| Header::new("X-Forwarded-Proto", *v)));
        out
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let claims = fields(&["203.0.113.7"], &["https"]);
        // An untrusted peer claiming an address and https: neither is believed.
        assert_eq!(
            client_of(ip("198.51.100.1"), &claims, &trusted),
            (ip("198.51.100.1"), Scheme::Http)
        );
        assert_eq!(
            client_of(ip("10.1.2.3"), &claims, &trusted),
            (ip("203.0.113.7"), Scheme::Https)
        );
        // Nothing trusted at all (the default).
        assert_eq!(client_of(ip("10.1.2.3"), &claims, &[]).0, ip("10.1.2.3"));
        // IPv4-mapped peers match IPv4 blocks.
        assert_eq!(
            client_of(ip("::ffff:10.1.2.3"), &claims, &trusted).0,
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.1");
        // The client invented the leftmost entry; two proxies appended theirs.
        let chain = fields(&["1.1.1.1, 203.0.113.7", "10.9.9.9"], &[]);
        assert_eq!(client_of(peer, &chain, &trusted).0, ip("203.0.113.7"));
        // Ports and brackets.
        for (entry, expected) in [
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
        ] {
            let one = [Header::new("X-Forwarded-For", entry)];
            assert_eq!(client_of(peer, &one, &trusted).0, ip(expected), "{entry}");
        }
        // Garbage ends the walk at the last proxy that vouched; no field: the peer itself.
        let broken = fields(&["203.0.113.7, unknown, 10.2.2.2"], &[]);
        assert_eq!(client_of(peer, &broken, &trusted).0, ip("10.2.2.2"));
        assert_eq!(client_of(peer, &[], &trusted).0, peer);
        // The proxy nearest to us sets the scheme last.
        let proto = fields(&[], &["http", "https"]);
        assert_eq!(client_of(peer, &proto, &trusted).1, Scheme::Https);
        let plain = fields(&[], &["https, http"]);
        assert_eq!(client_of(peer, &plain, &trusted).1, Scheme::Http);
    }
}
