//! The request fields livecache sends upstream. A shared fetch (a GET or HEAD through the
//! cache, whose response may be stored or handed to other viewers) speaks for every viewer,
//! so it carries only the allowlist of `forward_fields` and `key_fields`: whatever else a
//! client sends (`X-Forwarded-Host`, `X-Original-URL`, `Cookie`, ...) could steer the origin
//! into a response that every viewer then gets; a client's `Authorization` goes only on that
//! request's own fetch (RFC 9111 3.5). A passed request (other methods, `pass_paths`) answers
//! one client only and carries its end-to-end fields. Either way
//! `Host` and `Via` are livecache's, and the forwarding fields (`X-Forwarded-For`,
//! `X-Forwarded-Proto`, `Forwarded`) are set from what livecache knows, never copied: a shared
//! fetch sends none (no single client is behind it), a passed one names its client's address.

use std::net::IpAddr;

use bytes::Bytes;

use crate::config::node::Node;
use crate::config::Forwarding;
use crate::http::client_address::Scheme;
use crate::http::headers::{end_to_end, find, list_items, Header};
use crate::http::request::RequestHead;

/// Sent on shared fetches unless `User-Agent` is itself forwarded.
const USER_AGENT: &str = concat!("livecache/", env!("CARGO_PKG_VERSION"));

/// Fields a passed request does not carry as sent: framing is recomputed, `Host` is set, an
/// `Expect` is met by livecache itself, and the forwarding fields are livecache's own.
const NOT_PASSED: &[&str] = &[
    "host",
    "expect",
    "content-length",
    "transfer-encoding",
    "x-forwarded-for",
    "x-forwarded-proto",
    "forwarded",
];

/// The fields of a shared fetch for `head`: the allowlisted ones in the order the client sent
/// them, then `Host` (the client's, or `default_host`), `Via`, `CDN-Loop` and livecache's
/// `User-Agent`.
pub fn shared_fetch_fields(
    head: &RequestHead,
    forwarding: &Forwarding,
    default_host: &str,
    node: &Node,
) -> Vec<Header> {
    // The allowlist never names a hop-by-hop field, but `Connection` may name a listed one.
    let hop =
        |name: &[u8]| list_items(&head.headers, "connection").any(|t| name.eq_ignore_ascii_case(t));
    // Room for livecache's four fields too: built on every cached read, grown never.
    let mut fields: Vec<Header> = Vec::with_capacity(head.headers.len() + 4);
    fields.extend(
        head.headers
            .iter()
            .filter(|h| forwarding.forwards(&h.name) && !hop(&h.name))
            .cloned(),
    );
    let ua_forwarded = fields.iter().any(|h| h.is("user-agent"));
    push_host_and_via(&mut fields, head, default_host, node);
    if !ua_forwarded {
        fields.push(Header::new(
            "User-Agent",
            Bytes::from_static(USER_AGENT.as_bytes()),
        ));
    }
    fields
}

/// Whether `head` carries credentials for the origin: an `Authorization` field that is not
/// itself the edge's access token (`token_params` names the token fields, which never go
/// upstream).
pub fn carries_credentials(head: &RequestHead, token_params: &[String]) -> bool {
    find(&head.headers, "authorization").is_some()
        && !token_params
            .iter()
            .any(|p| p.eq_ignore_ascii_case("authorization"))
}

/// Adds the client's `Authorization` to a shared fetch's fields (RFC 9111 3.5: the fetch is
/// then its own, see `Shard::lookup`), unless `forward_fields` already sends it.
pub fn add_credentials(fields: &mut Vec<Header>, head: &RequestHead) {
    if fields.iter().any(|h| h.is("authorization")) {
        return;
    }
    let credentials = head.headers.iter().filter(|h| h.is("authorization"));
    fields.extend(credentials.cloned());
}

/// The fields of a passed request: the client's end-to-end fields but the framing and the
/// forwarding ones, then `Host`, `Via`, `CDN-Loop` and the forwarding fields naming `client`
/// and the scheme it used (`http::client_address`).
pub fn passed_fields(
    head: &RequestHead,
    default_host: &str,
    client: Option<(IpAddr, Scheme)>,
    node: &Node,
) -> Vec<Header> {
    let mut fields = end_to_end(&head.headers);
    fields.retain(|h| !NOT_PASSED.iter().any(|name| h.is(name)));
    push_host_and_via(&mut fields, head, default_host, node);
    let scheme = client.map_or(Scheme::Http, |(_, scheme)| scheme).as_str();
    if let Some((ip, _)) = client {
        fields.push(Header::new("X-Forwarded-For", ip.to_string()));
        let node = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            // RFC 7239 6: an IPv6 address is bracketed and the value quoted.
            IpAddr::V6(v6) => format!("\"[{v6}]\""),
        };
        fields.push(Header::new(
            "Forwarded",
            format!("for={node};proto={scheme}"),
        ));
    }
    fields.push(Header::new(
        "X-Forwarded-Proto",
        Bytes::from_static(scheme.as_bytes()),
    ));
    fields
}

/// `Host`, then `Via` and `CDN-Loop`: the hops and CDNs the request passed, kept in order
/// (RFC 9110 7.6.3, RFC 8586), and then this node, so the origin sees every tier and a
/// request that comes back to a node is caught there.
fn push_host_and_via(
    fields: &mut Vec<Header>,
    head: &RequestHead,
    default_host: &str,
    node: &Node,
) {
    let host = match head.host() {
        Some(host) => host.clone(),
        None => Bytes::copy_from_slice(default_host.as_bytes()),
    };
    fields.push(Header::new("Host", host));
    for (name, ours) in [("Via", &node.via), ("CDN-Loop", &node.name)] {
        if !fields.iter().any(|h| h.is(name)) {
            fields.extend(head.headers.iter().filter(|h| h.is(name)).cloned());
        }
        fields.push(Header::new(name, ours.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse_request, RequestLimits};
    use bytes::BytesMut;

    fn head(raw: &str) -> RequestHead {
        let limits = RequestLimits {
            max_head_bytes: 8192,
            max_headers: 64,
            max_uri_bytes: 4096,
        };
        parse_request(&mut BytesMut::from(raw), &limits)
            .expect("valid")
            .expect("complete")
    }

    fn names(fields: &[Header]) -> Vec<String> {
        fields
            .iter()
            .map(|h| {
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(&h.name),
                    String::from_utf8_lossy(&h.value)
                )
            })
            .collect()
    }

    #[test]
    fn a_shared_fetch_carries_only_the_allowlist() {
        let forwarding = Forwarding::parse("Accept, Accept-Encoding", "").unwrap();
        let request = head(
            "GET /live/a.m3u8 HTTP/1.1\r\nHost: edge.example\r\nAccept: */*\r\n\
             X-Forwarded-Host: evil.example\r\nX-Original-URL: /admin\r\nCookie: s=1\r\n\
             X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Scheme: http\r\nUser-Agent: player\r\n\r\n",
        );
        let fields = names(&shared_fetch_fields(
            &request,
            &forwarding,
            "origin:80",
            &Node::named("livecache"),
        ));
        assert_eq!(
            fields,
            vec![
                "Accept: */*".to_string(),
                "Host: edge.example".to_string(),
                "Via: 1.1 livecache".to_string(),
                "CDN-Loop: livecache".to_string(),
                format!("User-Agent: {USER_AGENT}"),
            ]
        );
    }

    #[test]
    fn a_listed_field_named_by_connection_stays_hop_by_hop() {
        let forwarding = Forwarding::parse("Accept, X-Device:safe", "").unwrap();
        let request = head(
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Device\r\nX-Device: tv\r\nAccept: a\r\n\r\n",
        );
        let fields = names(&shared_fetch_fields(
            &request,
            &forwarding,
            "o",
            &Node::named("livecache"),
        ));
        assert_eq!(fields[0], "Accept: a");
        assert!(
            !fields.iter().any(|f| f.starts_with("X-Device")),
            "{fields:?}"
        );
    }

    #[test]
    fn a_passed_request_names_its_client_and_copies_no_forwarding_field() {
        let request = head(
            "POST /api HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nCookie: s=1\r\n\
             X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n",
        );
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        let fields = names(&passed_fields(
            &request,
            "o",
            Some((peer, Scheme::Http)),
            &Node::named("livecache"),
        ));
        assert_eq!(
            fields,
            vec![
                "Cookie: s=1",
                "Host: h",
                "Via: 1.1 livecache",
                "CDN-Loop: livecache",
                "X-Forwarded-For: 192.0.2.7",
                "Forwarded: for=192.0.2.7;proto=http",
                "X-Forwarded-Proto: http",
            ]
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let fields = names(&passed_fields(
            &request,
            "o",
            Some((v6, Scheme::Https)),
            &Node::named("livecache"),
        ));
        assert!(fields.contains(&"Forwarded: for=\"[2001:db8::1]\";proto=https".to_string()));
        assert!(fields.contains(&"X-Forwarded-Proto: https".to_string()));
    }
}
