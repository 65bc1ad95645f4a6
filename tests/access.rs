//! Access control at the edge (issue "Access control", items 1 to 4; LIVE.md F10): signed URLs
//! checked before the cache, answered 403 without an origin request when they fail, counted
//! by reason; tokens never in the cache key nor upstream; an origin credential on every origin
//! request; the admin token on purges and status. Tokens are minted here with the test's own
//! formatting (the HMAC from `livecache::access`, whose vectors come from
//! `tools/access/mint-token.py`).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{get, get_with, send_with, Conn, Setup};
use livecache::access::hmac_sha256;

const KEY: [u8; 32] = [7; 32];

/// A key file holding `KEY` (in a directory of its own per test).
fn key_file(test: &str) -> String {
    let dir = std::env::temp_dir().join(format!("livecache-access-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys");
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&file, format!("# test key\n{hex}\n")).unwrap();
    file.display().to_string()
}

/// A daemon whose `route` (`PREFIX=SCHEME`) is signed with `KEY`, with `extra` settings; `test`
/// names its key file's directory.
fn guarded(shards: usize, test: &str, route: &str, extra: &[(&str, &str)]) -> Setup {
    let keys = key_file(&format!("{test}{shards}"));
    let access = format!("{route},keys={keys}");
    let mut settings = vec![("access", access.as_str())];
    settings.extend_from_slice(extra);
    Setup::with(shards, &settings)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An EdgeAuth token for `acl`, valid for `secs` from now, told apart by `id`.
fn edgeauth(acl: &str, secs: u64, id: u64) -> String {
    let signed = format!("exp={}~acl={acl}~id={id}", now() + secs);
    let mac: String = hmac_sha256(&KEY, signed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{signed}~hmac={mac}")
}

/// A URI Signing token (HS256 under `KEY`) with these claims (JSON).
fn jwt(claims: &str) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(&KEY, signed.as_bytes()));
    format!("{signed}.{mac}")
}

fn denied(setup: &Setup, reason: livecache::access::Denial) -> u64 {
    setup
        .running()
        .stats
        .sum(|s| &s.access_denied[reason as usize])
}

with_shards!(
    a_missing_bad_or_expired_token_gets_403_and_no_origin_request,
    |shards| {
        let setup = guarded(shards, "deny", "/secure/=edgeauth", &[]);
        use livecache::access::Denial;
        assert_eq!(setup.get("/secure/a.bin?size=10").status, 403);
        // The last hex digit of its HMAC changed.
        let mut bad = edgeauth("/secure/*", 300, 1);
        let last = if bad.ends_with('0') { "1" } else { "0" };
        bad.replace_range(bad.len() - 1.., last);
        let forged = format!("/secure/a.bin?size=10&__token__={bad}");
        assert_eq!(setup.get(&forged).status, 403);
        let other = format!("/secure/a.bin?__token__={}", edgeauth("/other/*", 300, 2));
        assert_eq!(setup.get(&other).status, 403);
        let token = edgeauth("/secure/*", 60, 3);
        setup.advance(Duration::from_secs(61));
        let late = format!("/secure/a.bin?size=10&__token__={token}");
        let refused = setup.get(&late);
        assert_eq!(refused.status, 403);
        assert_eq!(refused.header("cache-control"), Some("no-store"));
        assert_eq!(setup.origin.total(), 0, "nothing reached the origin");
        assert_eq!(denied(&setup, Denial::Missing), 1);
        assert_eq!(denied(&setup, Denial::BadSignature), 1);
        assert_eq!(
            denied(&setup, Denial::WrongPath),
            1,
            "signed for another acl"
        );
        assert_eq!(denied(&setup, Denial::Expired), 1);
        let malformed = "/secure/a.bin?__token__=exp=1~hmac=0";
        assert_eq!(setup.get(malformed).status, 403);
        assert_eq!(denied(&setup, Denial::Malformed), 1);
        // Spellings an origin resolves to a protected path are protected too.
        for sneaky in [
            "/%73ecure/a.bin",
            "//secure/a.bin",
            "/open/../secure/a.bin",
            "/secure%zz",
        ] {
            assert_eq!(setup.get(sneaky).status, 403, "{sneaky}");
        }
        assert_eq!(setup.origin.total(), 0);
        // Paths outside every route need nothing.
        assert_eq!(setup.get("/open/a.bin?size=10").status, 200);
    }
);

with_shards!(
    one_acl_token_covers_the_stream_and_never_reaches_the_key_or_origin,
    |shards| {
        let setup = guarded(shards, "acl", "/secure/=edgeauth", &[]);
        let token = edgeauth("/secure/ch1/*", 300, 1);
        let mut conn = Conn::open(setup.addr);
        for object in ["index.m3u8", "720p/seg-1.m4s", "720p/seg-2.m4s"] {
            let target = format!("/secure/ch1/{object}?size=10&__token__={token}");
            assert_eq!(
                send_with(&mut conn, "GET", &target, &[]).status,
                200,
                "{object}"
            );
            assert_eq!(
                setup.origin.hits(&format!("/secure/ch1/{object}?size=10")),
                1
            );
        }
        let stats = &setup.running().stats;
        // One HMAC for the connection; its other requests were covered by the kept grant.
        assert_eq!(stats.sum(|s| &s.access_granted[0]), 1);
        assert_eq!(stats.sum(|s| &s.access_granted[1]), 2);
        // In a cookie or a field, the same token works; and another viewer's token is a hit.
        let cookie = format!("__token__={}", edgeauth("/secure/ch1/*", 300, 2));
        let hit = get_with(
            setup.addr,
            "/secure/ch1/index.m3u8?size=10",
            &[("Cookie", &cookie)],
        );
        assert_eq!(hit.status, 200);
        assert!(hit.cache_status().contains("hit"), "{}", hit.cache_status());
        let field = edgeauth("/secure/ch1/*", 300, 3);
        let hit = get_with(
            setup.addr,
            "/secure/ch1/index.m3u8?size=10",
            &[("__token__", &field)],
        );
        assert_eq!(hit.status, 200);
        assert_eq!(setup.origin.total(), 3);
    }
);

with_shards!(
    ten_thousand_viewers_with_their_own_tokens_cost_one_origin_request,
    |shards| {
        let setup = guarded(shards, "many", "/secure/=edgeauth", &[]);
        let mut conns: Vec<Conn> = (0..8).map(|_| Conn::open(setup.addr)).collect();
        for viewer in 0..10_000u64 {
            let token = edgeauth("/secure/ch1/*", 300, viewer);
            let target = format!("/secure/ch1/seg-1.m4s?size=1000&__token__={token}");
            let conn = &mut conns[viewer as usize % 8];
            assert_eq!(send_with(conn, "GET", &target, &[]).status, 200);
        }
        assert_eq!(setup.origin.total(), 1);
        assert_eq!(setup.running().stats.sum(|s| &s.access_granted[0]), 10_000);
    }
);

with_shards!(uri_signing_tokens_are_checked_against_the_uri, |shards| {
    let setup = guarded(shards, "jwt", "/vod/=uri_signing", &[]);
    let exp = now() + 300;
    let token = jwt(&format!(
        r#"{{"exp":{exp},"cdniuc":"regex:http://test\\.local/vod/a/.*"}}"#
    ));
    let ok = format!("/vod/a/1.bin?size=10&URISigningPackage={token}");
    assert_eq!(setup.get(&ok).status, 200);
    // The container is matched against the path as an origin resolves it.
    let walk = format!("/vod/a/%2e%2e/b/1.bin?size=10&URISigningPackage={token}");
    assert_eq!(setup.get(&walk).status, 403);
    let elsewhere = format!("/vod/b/1.bin?size=10&URISigningPackage={token}");
    assert_eq!(setup.get(&elsewhere).status, 403);
    assert_eq!(setup.origin.hits("/vod/a/1.bin?size=10"), 1);
    // A pass (a POST) under the route needs the token too, and it is not forwarded.
    let raw = common::request_text("POST", &ok, &[("Content-Length", "0")]);
    assert_eq!(common::request(setup.addr, &raw, false).status, 200);
    assert_eq!(setup.origin_count("POST", "/vod/a/1.bin?size=10"), 1);
    let unsigned = common::request_text("POST", "/vod/a/1.bin", &[("Content-Length", "0")]);
    assert_eq!(common::request(setup.addr, &unsigned, false).status, 403);
    assert_eq!(setup.origin.total(), 2);
});

with_shards!(
    the_origin_sees_the_edges_credential_and_not_the_clients,
    |shards| {
        let setup = Setup::with(shards, &[("origin_credential", "X-Edge-Secret: s3cr3t")]);
        let target = "/c/a.bin?size=10&echo=X-Edge-Secret";
        let answered = get_with(setup.addr, target, &[("X-Edge-Secret", "guess")]);
        assert_eq!(answered.header("x-echo-x-edge-secret"), Some("s3cr3t"));
        // TRACE would echo the credential back: refused.
        let raw = common::request_text("TRACE", "/c/a.bin", &[]);
        assert_eq!(common::request(setup.addr, &raw, false).status, 403);
        let query = Setup::with(shards, &[("origin_credential", "?edge=s3cr3t")]);
        assert_eq!(query.get("/c/b.bin?size=10").status, 200);
        assert_eq!(query.origin.hits("/c/b.bin?size=10&edge=s3cr3t"), 1);
    }
);

with_shards!(
    the_admin_listener_asks_purges_and_status_for_its_token,
    |shards| {
        let dir =
            std::env::temp_dir().join(format!("livecache-admin-{shards}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "an-admin-token-0123456789\n").unwrap();
        let file = file.display().to_string();
        let setup = Setup::with(
            shards,
            &[("admin", "127.0.0.1:0"), ("admin_token_file", &file)],
        );
        let admin = setup.admin_addr();
        assert_eq!(get(admin, "/metrics").status, 200);
        assert_eq!(get(admin, "/healthz").status, 200);
        let refused = get(admin, "/status");
        assert_eq!(refused.status, 401);
        assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
        let bearer = [("Authorization", "Bearer an-admin-token-0123456789")];
        assert_eq!(get_with(admin, "/status", &bearer).status, 200);
        let wrong = [("Authorization", "Bearer an-admin-token-0123456788")];
        assert_eq!(get_with(admin, "/status", &wrong).status, 401);
        let purge = |fields: &[(&str, &str)]| {
            let raw = common::request_text("POST", "/purge?prefix=/x/", fields);
            common::request(admin, &raw, false).status
        };
        assert_eq!(purge(&[]), 401);
        assert_eq!(purge(&bearer), 200);
    }
);

with_shards!(tokens_stay_out_of_passes_logs_and_dot_segments, |shards| {
    let dir = std::env::temp_dir().join(format!(
        "livecache-access-log-{shards}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.log");
    let _ = std::fs::remove_file(&log);
    let log_path = log.to_str().unwrap();
    let setup = guarded(
        shards,
        "leak",
        "/secure/=edgeauth",
        &[("access_log", log_path)],
    );
    let token = edgeauth("/secure/a/*", 300, 1);
    // A pass (POST) with the token in a cookie and a field: neither reaches the origin.
    let cookie = format!("__token__={token}; keep=1");
    let raw = common::request_text(
        "POST",
        "/secure/a/p?echo=Cookie&echo=__token__",
        &[
            ("Cookie", &cookie),
            ("__token__", &token),
            ("Content-Length", "0"),
        ],
    );
    let passed = common::request(setup.addr, &raw, false);
    assert_eq!(passed.status, 200);
    assert_eq!(passed.header("x-echo-cookie"), Some("keep=1"));
    assert_eq!(passed.header("x-echo-__token__"), Some("-"));
    // A dot segment cannot walk an ACL token out of its directory.
    let walk = format!("/secure/a/%2e%2e/b/x.bin?__token__={token}");
    assert_eq!(setup.get(&walk).status, 403);
    // The access log never holds the token.
    let logged = |text: &str| text.lines().count() >= 2;
    assert!(common::eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|t| logged(&t))
    }));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("hmac="), "{text}");
    assert!(text.contains("/secure/a/p?echo=Cookie"), "{text}");
});

with_shards!(
    a_token_asking_for_renewal_gets_its_successor_by_cookie,
    |shards| {
        // RFC 9246 4.4 with cdnistt 1 (cookie): the same claims, exp = now + cdniets.
        let setup = guarded(shards, "renew", "/live/=uri_signing", &[]);
        let scope = r#""cdniuc":"regex:http://test\\.local/live/.*""#;
        let first = jwt(&format!(
            r#"{{"exp":{},"cdniets":120,"cdnistt":1,{scope}}}"#,
            now() + 30
        ));
        let answered = setup.get(&format!("/live/ch/1.bin?size=10&URISigningPackage={first}"));
        assert_eq!(answered.status, 200);
        let cookie = answered
            .header("set-cookie")
            .expect("a renewal cookie")
            .to_string();
        let (pair, attributes) = cookie.split_once("; ").unwrap();
        assert_eq!(attributes, "Max-Age=120; Path=/live/; HttpOnly");
        // A shared cache in front keeps the response, never the viewer's token.
        let cc: Vec<&str> = (answered.headers.iter())
            .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(cc.contains(&"no-cache=\"Set-Cookie\""), "{cc:?}");
        let next = pair.strip_prefix("URISigningPackage=").unwrap().to_string();
        let parts: Vec<&str> = next.split('.').collect();
        let signed = format!("{}.{}", parts[0], parts[1]);
        let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(&KEY, signed.as_bytes()));
        assert_eq!(parts[2], mac, "signed with the key that verified the first");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let exp = claims["exp"].as_u64().unwrap();
        assert!((now() + 118..=now() + 122).contains(&exp), "exp {exp}");
        assert_eq!(claims["cdniuc"], "regex:http://test\\.local/live/.*");
        // A minute on, the first token has expired; its successor, as a cookie, still holds.
        setup.advance(Duration::from_secs(60));
        let late = format!("/live/ch/2.bin?size=10&URISigningPackage={first}");
        assert_eq!(setup.get(&late).status, 403);
        let renewed = get_with(setup.addr, "/live/ch/2.bin?size=10", &[("Cookie", pair)]);
        assert_eq!(renewed.status, 200);
        assert!(renewed.header("set-cookie").is_some(), "renewed again");
        // A manifest URL that still carries the expired first token: the cookie beside it holds.
        let both = get_with(setup.addr, &late, &[("Cookie", pair)]);
        assert_eq!(both.status, 200);
        // The query-string transport is not offered: honoured without renewal, refused when
        // critical; cdnistt without cdniets is malformed.
        let exp = now() + 300;
        let query = jwt(&format!(r#"{{"exp":{exp},"cdniets":60,"cdnistt":2}}"#));
        let plain = setup.get(&format!("/live/ch/3.bin?size=10&URISigningPackage={query}"));
        assert_eq!(plain.status, 200);
        assert!(plain.header("set-cookie").is_none());
        let insisting = jwt(&format!(
            r#"{{"exp":{exp},"cdniets":60,"cdnistt":2,"cdnicrit":["cdnistt"]}}"#
        ));
        let refused = setup.get(&format!("/live/ch/3.bin?URISigningPackage={insisting}"));
        assert_eq!(refused.status, 403);
        let lacking = jwt(&format!(r#"{{"exp":{exp},"cdnistt":1}}"#));
        let malformed = setup.get(&format!("/live/ch/3.bin?URISigningPackage={lacking}"));
        assert_eq!(malformed.status, 403);
    }
);

with_shards!(
    behind_a_trusted_proxy_tokens_bind_to_the_forwarded_client_and_scheme,
    |shards| {
        // A TLS terminator at 127.0.0.1 forwards for 203.0.113.7 over https: the token is
        // signed for that viewer and that https URI (RFC 9246 cdniip, cdniuc hash).
        let trusted = [("trusted_proxies", "127.0.0.1/32")];
        let setup = guarded(shards, "proxy", "/vod/=uri_signing", &trusted);
        let signed_for = |target: &str| {
            let uri = format!("https://test.local{target}");
            let hash = URL_SAFE_NO_PAD.encode(livecache::access::sha256(uri.as_bytes()));
            let token = jwt(&format!(
                r#"{{"exp":{},"cdniip":"203.0.113.7","cdniuc":"hash:{hash}"}}"#,
                now() + 300
            ));
            format!("{target}&URISigningPackage={token}")
        };
        let target = signed_for("/vod/p/1.bin?size=10");
        let viewer = [
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
        ];
        assert_eq!(get_with(setup.addr, &target, &viewer).status, 200);
        let someone_else = [
            ("X-Forwarded-For", "198.51.100.9"),
            ("X-Forwarded-Proto", "https"),
        ];
        assert_eq!(get_with(setup.addr, &target, &someone_else).status, 403);
        let plain_http = [("X-Forwarded-For", "203.0.113.7")];
        assert_eq!(get_with(setup.addr, &target, &plain_http).status, 403);
        // A pass names the viewer and the scheme upstream, not the proxy.
        let post = signed_for("/vod/p/1.bin?echo=X-Forwarded-For&echo=X-Forwarded-Proto");
        let mut fields = viewer.to_vec();
        fields.push(("Content-Length", "0"));
        let raw = common::request_text("POST", &post, &fields);
        let passed = common::request(setup.addr, &raw, false);
        assert_eq!(passed.header("x-echo-x-forwarded-for"), Some("203.0.113.7"));
        assert_eq!(passed.header("x-echo-x-forwarded-proto"), Some("https"));
        // Without trusted proxies the same fields are a client's claims, and ignored.
        let open = guarded(shards, "noproxy", "/vod/=uri_signing", &[]);
        assert_eq!(get_with(open.addr, &target, &viewer).status, 403);
        use livecache::access::Denial;
        assert_eq!(
            denied(&open, Denial::WrongAddress) + denied(&open, Denial::WrongPath),
            1
        );
    }
);
