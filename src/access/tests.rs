//! Unit tests of token verification, with tokens minted by `tools/access/mint-token.py` (an
//! independent implementation in Python's standard library) under the key 00 01 .. 1f.

use super::*;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// `mint-token.py edgeauth --acl '/live/ch1/*' --start 1700000000 --end 1700000300`
const ACL_TOKEN: &str = "st=1700000000~exp=1700000300~acl=/live/ch1/*~hmac=75474675463117e3c17c58a855a3b78616a2e97c3cb7e3ac111270df730d8180";
/// `mint-token.py edgeauth --url /live/ch1/index.m3u8 --end 1700000300`
const URL_TOKEN: &str =
    "exp=1700000300~hmac=6fd0757c570fa188bda6081d0716e3e250c6a2264a73457aed62732e7254f558";
/// `mint-token.py uri_signing --kid k1 --uri-regex 'http://cdn\.example/live/ch1/.*'
/// --start 1700000000 --end 1700000300`
const REGEX_JWT: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJjZG5pdWMiOiJyZWdleDpodHRwOi8vY2RuXFwuZXhhbXBsZS9saXZlL2NoMS8uKiIsImNkbml2IjoxLCJleHAiOjE3MDAwMDAzMDAsIm5iZiI6MTcwMDAwMDAwMH0.7MxITNTh3m3c_cYmRSrmX-cyN0poFOi4HkmT3YCwFpw";
/// `mint-token.py uri_signing --uri-hash 'http://cdn.example/live/ch1/index.m3u8'
/// --end 1700000300`
const HASH_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjZG5pdWMiOiJoYXNoOmd0bk5GNmN5MVpDYXhZcFAtTzU1OUNhMGpNQ2pJQjQzRnVkdmQ2cmctVnMiLCJjZG5pdiI6MSwiZXhwIjoxNzAwMDAwMzAwfQ.rNrS2DWqV0R7WO6tf6_rWv-nq_mp6keqVNgnibc_2O8";

fn keys(lines: &str) -> Vec<Key> {
    keys::parse_keys(lines).unwrap()
}

fn route(scheme: Scheme, key_lines: &str) -> Route {
    Route {
        prefix: "/live/".into(),
        scheme,
        param: "t".into(),
        keys: keys(key_lines).into(),
        keys_file: "-".into(),
    }
}

fn request<'a>(path: &'a str, uri: &'a str, now: u64) -> Request<'a> {
    Request {
        path,
        raw_path: path,
        uri,
        client: None,
        now,
    }
}

const T: u64 = 1_700_000_100;

#[test]
fn an_edgeauth_acl_token_covers_its_stream_for_its_lifetime() {
    let route = route(Scheme::EdgeAuth, KEY);
    let at = |path, now| verify(&route, ACL_TOKEN, &request(path, "", now)).map(|_| ());
    assert_eq!(at("/live/ch1/index.m3u8", T), Ok(()));
    assert_eq!(at("/live/ch1/720p/seg-9.m4s", T), Ok(()));
    assert_eq!(at("/live/ch2/index.m3u8", T), Err(Denial::WrongPath));
    assert_eq!(
        at("/live/ch1/index.m3u8", 1_699_999_999),
        Err(Denial::NotYetValid)
    );
    assert_eq!(
        at("/live/ch1/index.m3u8", 1_700_000_300),
        Err(Denial::Expired)
    );
    let tampered = ACL_TOKEN.replace("/live/ch1/*", "/live/*");
    assert_eq!(
        verify(&route, &tampered, &request("/live/ch2/a", "", T)).map(|_| ()),
        Err(Denial::BadSignature)
    );
}

#[test]
fn an_edgeauth_url_token_covers_its_one_path_and_keys_rotate() {
    let other = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    let rotated = route(Scheme::EdgeAuth, &format!("{other}\n# old key\n{KEY}\n"));
    let at = |path| verify(&rotated, URL_TOKEN, &request(path, "", T)).map(|_| ());
    assert_eq!(at("/live/ch1/index.m3u8"), Ok(()));
    assert_eq!(at("/live/ch1/other.m3u8"), Err(Denial::BadSignature));
    let retired = route(Scheme::EdgeAuth, other);
    assert_eq!(
        verify(&retired, URL_TOKEN, &request("/live/ch1/index.m3u8", "", T)).map(|_| ()),
        Err(Denial::BadSignature)
    );
}

#[test]
fn malformed_edgeauth_tokens_are_told_apart() {
    let route = route(Scheme::EdgeAuth, KEY);
    for bad in [
        "",
        "exp=1~hmac=zz",
        "st=1~acl=/x~hmac=00",
        "exp=soon~acl=/x~hmac=00",
        "exp=1~exp=2~hmac=00",
        "exp=1~what=2~hmac=00",
        "exp=1~url=/x~hmac=00",
    ] {
        let got = verify(&route, bad, &request("/live/x", "", T)).map(|_| ());
        assert_eq!(got, Err(Denial::Malformed), "{bad:?}");
    }
}

#[test]
fn uri_signing_tokens_cover_their_container() {
    let named = route(Scheme::UriSigning, &format!("k1={KEY}"));
    let uri = |u| request("/live/ch1/x", u, T);
    let check = |token, u| verify(&named, token, &uri(u)).map(|_| ());
    assert_eq!(
        check(REGEX_JWT, "http://cdn.example/live/ch1/a.m4s"),
        Ok(())
    );
    assert_eq!(
        check(REGEX_JWT, "http://cdn.example/live/ch2/a.m4s"),
        Err(Denial::WrongPath)
    );
    let index = "http://cdn.example/live/ch1/index.m3u8";
    assert_eq!(check(HASH_JWT, index), Ok(()));
    assert_eq!(
        check(HASH_JWT, "http://cdn.example/live/ch1/index.m3u8?x=1"),
        Err(Denial::WrongPath)
    );
    // The `kid` names a key the route lacks: no other key is tried.
    let unnamed = route(Scheme::UriSigning, &format!("k2={KEY}"));
    assert_eq!(
        verify(&unnamed, REGEX_JWT, &uri("http://cdn.example/live/ch1/a")).map(|_| ()),
        Err(Denial::BadSignature)
    );
    let late = request("/live/ch1/x", index, 1_700_000_300);
    assert_eq!(
        verify(&named, HASH_JWT, &late).map(|_| ()),
        Err(Denial::Expired)
    );
}

#[test]
fn uri_signing_refuses_what_it_cannot_honour() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let route = route(Scheme::UriSigning, KEY);
    let key = keys(KEY)[0].secret.clone();
    let sign = |header: &str, claims: &str| {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(&key, signed.as_bytes()));
        format!("{signed}.{mac}")
    };
    let hs256 = r#"{"alg":"HS256"}"#;
    let at = |token: &str| verify(&route, token, &request("/live/a", "http://h/live/a", T));
    assert!(at(&sign(hs256, r#"{"exp":1700000300}"#)).is_ok());
    assert_eq!(
        at(&sign(r#"{"alg":"none"}"#, "{}")).map(|_| ()),
        Err(Denial::Unsupported)
    );
    assert_eq!(
        at(&sign(hs256, r#"{"cdnicrit":["cdnixyz"],"cdnixyz":1}"#)).map(|_| ()),
        Err(Denial::Unsupported)
    );
    assert_eq!(
        at(&sign(hs256, r#"{"cdniv":2}"#)).map(|_| ()),
        Err(Denial::Unsupported)
    );
    assert_eq!(
        at(&sign(hs256, r#"{"exp":"tomorrow"}"#)).map(|_| ()),
        Err(Denial::Malformed)
    );
    assert_eq!(at("a.b").map(|_| ()), Err(Denial::Malformed));
    let bound = sign(hs256, r#"{"cdniip":"192.0.2.1"}"#);
    let mut from = request("/live/a", "http://h/live/a", T);
    assert_eq!(
        verify(&route, &bound, &from).map(|_| ()),
        Err(Denial::WrongAddress)
    );
    from.client = Some("192.0.2.1".parse().unwrap());
    assert!(verify(&route, &bound, &from).is_ok());
}

#[test]
fn wildcards_and_tokens_in_cookies() {
    assert!(wildcard_match("/live/ch1/*", "/live/ch1/a/b.m4s"));
    assert!(wildcard_match("*.m3u8", "/a/b.m3u8"));
    assert!(wildcard_match("/a/*/x*", "/a/b/c/xyz"));
    assert!(!wildcard_match("/live/ch1/*", "/live/ch10"));
    assert!(!wildcard_match("/a", "/a/b"));
    assert_eq!(cookie_value(b"a=1; t=tok; b=2", b"t"), Some(&b"tok"[..]));
    assert_eq!(cookie_value(b"at=1", b"t"), None);
}

#[test]
fn routes_parse_with_their_keys_and_refuse_mistakes() {
    let dir = std::env::temp_dir().join(format!("livecache-access-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys");
    std::fs::write(&file, format!("# rotation\nk1={KEY}\n")).unwrap();
    let f = file.display();
    let routes = parse_routes(&format!(
        "/live/=edgeauth,keys={f}; /live/vip/=uri_signing,keys={f},param=sig"
    ))
    .unwrap();
    assert_eq!(routes[0].param, "__token__");
    assert_eq!(routes[1].param, "sig");
    assert_eq!(
        route_of(&routes, b"/live/vip/a").unwrap().prefix,
        "/live/vip/"
    );
    assert_eq!(route_of(&routes, b"/live/a").unwrap().prefix, "/live/");
    assert!(route_of(&routes, b"/vod/a").is_none());
    assert_eq!(parse_routes(&render_routes(&routes)).unwrap(), routes);
    for bad in [
        format!("live=edgeauth,keys={f}"),
        format!("/a=hmac,keys={f}"),
        "/a=edgeauth".to_string(),
        "/a=edgeauth,keys=/nonexistent/keys".to_string(),
        format!("/a=edgeauth,keys={f},param=a b"),
        format!("/a=edgeauth,keys={f};/a=edgeauth,keys={f}"),
    ] {
        assert!(parse_routes(&bad).is_err(), "{bad}");
    }
    std::fs::write(&file, "abcd\n").unwrap();
    assert!(
        parse_routes(&format!("/a=edgeauth,keys={f}")).is_err(),
        "short key"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn paths_are_matched_as_an_origin_resolves_them() {
    let n = |p: &'static [u8]| normalized_path(p);
    assert_eq!(n(b"/live/ch1/a.m4s").as_deref(), Some("/live/ch1/a.m4s"));
    assert!(
        matches!(n(b"/live/ch1/a.m4s"), Some(std::borrow::Cow::Borrowed(_))),
        "a normal path is not copied"
    );
    assert_eq!(n(b"/%6Cive/ch1/").as_deref(), Some("/live/ch1/"));
    assert_eq!(n(b"//live//ch1").as_deref(), Some("/live/ch1"));
    assert_eq!(n(b"/x/../live/./a").as_deref(), Some("/live/a"));
    assert_eq!(n(b"/../../live/a").as_deref(), Some("/live/a"));
    assert_eq!(n(b"/live/ch1/..").as_deref(), Some("/live/"));
    assert_eq!(n(b"/").as_deref(), Some("/"));
    assert_eq!(n(b"/a%zz"), None);
    assert_eq!(n(b"/a%ff"), None, "not UTF-8 once decoded");
}

/// `mint-token.py uri_signing --kid k1 --uri-regex 'http://cdn\.example/live/ch1/.*'
/// --start 1700000000 --end 1700000300 --renew 60`
const RENEWABLE_JWT: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJjZG5pZXRzIjo2MCwiY2RuaXN0dCI6MSwiY2RuaXVjIjoicmVnZXg6aHR0cDovL2NkblxcLmV4YW1wbGUvbGl2ZS9jaDEvLioiLCJjZG5pdiI6MSwiZXhwIjoxNzAwMDAwMzAwLCJuYmYiOjE3MDAwMDAwMDB9.mUuuAkldYl-86IN0k0yG867YmagaYAhPaJbba6-joBM";

#[test]
fn a_renewable_token_begets_a_successor_that_verifies() {
    let named = route(Scheme::UriSigning, &format!("k1={KEY}"));
    let uri = "http://cdn.example/live/ch1/a.m4s";
    let grant = verify(&named, RENEWABLE_JWT, &request("/live/ch1/a.m4s", uri, T)).unwrap();
    let renewal = grant.renewal.expect("cdniets 60 with cdnistt 1");
    let successor = renewal.token(T);
    let late = request("/live/ch1/a.m4s", uri, 1_700_000_150);
    let renewed = verify(&named, &successor, &late).expect("signed with k1, living 60 s");
    assert_eq!(
        (renewed.expires, renewed.not_before),
        (T + 60, 1_700_000_000)
    );
    assert!(renewed.renewal.is_some(), "and renewable again");
    assert_eq!(
        verify(
            &named,
            &successor,
            &request("/live/ch2/a", "http://cdn.example/live/ch2/a", T)
        )
        .map(|_| ()),
        Err(Denial::WrongPath),
        "the same container"
    );
    let cookie = renewal::cookie("t", &successor, "/live/", 60, false);
    assert_eq!(
        cookie,
        format!("t={successor}; Max-Age=60; Path=/live/; HttpOnly")
    );
    let secure = renewal::cookie("t", &successor, "/live/", 59, true);
    assert!(secure.ends_with("; Max-Age=59; Path=/live/; HttpOnly; Secure; SameSite=None"));
    // EdgeAuth has no renewal.
    let edge = route(Scheme::EdgeAuth, KEY);
    let grant = verify(&edge, ACL_TOKEN, &request("/live/ch1/x", "", T)).unwrap();
    assert!(grant.renewal.is_none());
}

/// `mint-token.py uri_signing --kid k1 --end 1700000300 --renew 0`
const EXPIRING_SUCCESSOR_JWT: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJjZG5pZXRzIjowLCJjZG5pc3R0IjoxLCJjZG5pdiI6MSwiZXhwIjoxNzAwMDAwMzAwfQ.BMDOz8oeNSuMAMPC87hH4giuY_u8iz-azbN3XiizJCw";

#[test]
fn a_kept_grant_hands_out_one_successor_and_stands_for_it() {
    let named = route(Scheme::UriSigning, &format!("k1={KEY}"));
    let uri = "http://cdn.example/live/ch1/a.m4s";
    let grant = verify(&named, RENEWABLE_JWT, &request("/live/ch1/a.m4s", uri, T)).unwrap();
    let mut kept = KeptGrant::new(RENEWABLE_JWT.as_bytes(), &named, grant);
    let pair = |cookie: String| cookie.split(';').next().unwrap().to_string();
    let first = kept.renewal_cookie(&named, T, false).unwrap();
    let successor = pair(first.clone()).strip_prefix("t=").unwrap().to_string();
    // The same successor until half its life (60 s) is gone, its Max-Age counting down.
    let later = kept.renewal_cookie(&named, T + 29, false).unwrap();
    assert_eq!(pair(later.clone()), pair(first));
    assert!(later.contains("Max-Age=31"), "{later}");
    // Sent back, it is covered by the kept grant, which now ends when it does.
    assert!(kept.covers(successor.as_bytes(), &named));
    assert_eq!(kept.grant.expires, T + 60);
    assert!(!kept.covers(b"another", &named));
    let renewed = kept.renewal_cookie(&named, T + 30, false).unwrap();
    assert_ne!(pair(renewed), format!("t={successor}"));
    // A successor that would expire as it is issued is refused up front.
    let at = request("/live/ch1/a.m4s", uri, T);
    assert_eq!(
        verify(&named, EXPIRING_SUCCESSOR_JWT, &at).map(|_| ()),
        Err(Denial::Malformed)
    );
}

#[test]
fn an_ipv4_mapped_binding_names_the_ipv4_client() {
    assert_eq!(
        parse_ip("::ffff:192.0.2.7"),
        Ok("192.0.2.7".parse().unwrap())
    );
    assert_eq!(parse_ip("2001:db8::7"), Ok("2001:db8::7".parse().unwrap()));
    assert_eq!(parse_ip("192.0.2"), Err(Denial::Malformed));
}
