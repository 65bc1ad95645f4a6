//! Fuzz target `signed_url`: what the edge reads from a viewer to let it in (`access`,
//! `http::client_address`): EdgeAuth tokens as sent, RFC 9246 URI Signing tokens whose claims
//! are the input (signed here with the route's key, so the claim parsing behind the signature
//! is reached: containers, `regex:` compiled under its size limit, addresses, renewal), the
//! path normalisation routes and ACLs are matched against, and the client and scheme behind a
//! trusted proxy.
//!
//! Input: the whole input is each of these in turn. Checked: no panic; a granted token allows
//! the request it was verified for; a renewable token's successor verifies under the same key,
//! for the same request, and lives `cdniets` from its issue; normalising a normalised path
//! without a `%` changes nothing, and normalising never leaves a `.` or `..` segment; the client behind a proxy is the
//! peer unless a forwarded address was given, and always the peer when it is no proxy; memory stays proportional to the input (plus a
//! compiled container's fixed limit).
#![no_main]

use std::net::IpAddr;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use livecache::access::{self, keys, Denial, Request, Route, Scheme};
use livecache::http::client_address::client_of;
use livecache_fuzz::{fields, within_budget};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const NOW: u64 = 1_800_000_000;

fn route(scheme: Scheme) -> Route {
    Route {
        prefix: "/live/".into(),
        scheme,
        param: "t".into(),
        keys: keys::parse_keys(KEY_HEX).unwrap().into(),
        keys_file: "-".into(),
    }
}

fn request(now: u64) -> Request<'static> {
    Request {
        path: "/live/ch1/seg-1.m4s",
        raw_path: "/live/ch1/seg-1.m4s",
        uri: "http://cdn.example/live/ch1/seg-1.m4s",
        client: Some(IpAddr::from([192, 0, 2, 7])),
        now,
    }
}

/// A URI Signing token carrying `claims` as they are, signed with the route's key.
fn signed(claims: &[u8]) -> String {
    access::uri_signing::sign(claims, &keys::parse_keys(KEY_HEX).unwrap()[0])
}

fn check_tokens(input: &[u8]) {
    let asked = request(NOW);
    if let Ok(text) = std::str::from_utf8(input) {
        if let Ok(grant) = access::verify(&route(Scheme::EdgeAuth), text, &asked) {
            assert_eq!(grant.allows(&asked), Ok(()));
        }
    }
    let signing = route(Scheme::UriSigning);
    let Ok(grant) = access::verify(&signing, &signed(input), &asked) else {
        return;
    };
    assert_eq!(grant.allows(&asked), Ok(()));
    if let Some(renewal) = &grant.renewal {
        let successor = renewal.token(NOW);
        match access::verify(&signing, &successor, &asked) {
            Ok(next) => assert_eq!(next.expires, NOW.saturating_add(renewal.lifetime)),
            // Only its own start may still lie ahead of the request's instant.
            Err(denial) => assert_eq!(denial, Denial::NotYetValid, "{successor}"),
        }
    }
}

fn check_path(input: &[u8]) {
    let Some(normal) = access::normalized_path(input) else {
        return;
    };
    assert!(normal.starts_with('/'));
    assert!(
        !normal.split('/').any(|s| s == "." || s == ".."),
        "{normal}"
    );
    // Decoded once, as an origin does: a `%25` leaves a `%` that a second pass would decode
    // again, so only a path without one must come back as it is.
    if !normal.contains('%') {
        let again = access::normalized_path(normal.as_bytes()).expect("a normal path stays one");
        assert_eq!(again, normal);
    }
}

fn check_client(input: &[u8]) {
    let data = Bytes::copy_from_slice(input);
    let headers = fields(&data);
    let trusted = ["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    let peer = IpAddr::from([10, 0, 0, 1]);
    let (client, _) = client_of(peer, &headers, &trusted);
    let forwarded = headers.iter().any(|h| h.is("x-forwarded-for"));
    assert!(client == peer || forwarded, "{client} from nowhere");
    let outsider = IpAddr::from([198, 51, 100, 1]);
    assert_eq!(client_of(outsider, &headers, &trusted).0, outsider);
}

fuzz_target!(|input: &[u8]| {
    let budget = 64 * input.len() + 4 * 1024 * 1024;
    within_budget(budget, "signed_url", || {
        check_tokens(input);
        check_path(input);
        check_client(input);
    });
});
