//! Micro-benchmarks of signed-URL checks (issue "Access control", item 3: at most 2 us per
//! request on a hit): what a request costs when its token is verified (an HMAC-SHA256 over the
//! token's fields, an ACL match), and when the connection's kept grant covers it (expiry,
//! address and path checks only), and a URI Signing token that asks for renewal: its
//! verification and the `Set-Cookie` each response then carries. Tokens from
//! `tools/access/mint-token.py`'s formats.
//!
//! Run: `cargo bench --bench access` (add `-- --quick` for a fast, noisier pass). Figures are
//! in the README's "Access control" section with the machine and date.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use livecache::access::{self, hmac_sha256, keys, Request, Route, Scheme};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn route(scheme: Scheme) -> Route {
    Route {
        prefix: "/live/".into(),
        scheme,
        param: "__token__".into(),
        keys: keys::parse_keys(KEY_HEX).unwrap().into(),
        keys_file: "-".into(),
    }
}

fn edgeauth_token() -> String {
    let key = keys::parse_keys(KEY_HEX).unwrap()[0].secret.clone();
    let signed = "st=1700000000~exp=4000000000~acl=/live/ch1/*";
    let mac: String = hmac_sha256(&key, signed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{signed}~hmac={mac}")
}

fn renewable_token() -> String {
    let key = &keys::parse_keys(KEY_HEX).unwrap()[0];
    access::uri_signing::sign(br#"{"cdniets":120,"cdnistt":1,"exp":4000000000}"#, key)
}

fn request(now: u64) -> Request<'static> {
    Request {
        path: "/live/ch1/720p/seg-1234.m4s",
        raw_path: "/live/ch1/720p/seg-1234.m4s",
        uri: "",
        client: None,
        now,
    }
}

fn bench_access(c: &mut Criterion) {
    let mut group = c.benchmark_group("access");
    let route = route(Scheme::EdgeAuth);
    let token = edgeauth_token();
    let now = 1_800_000_000;
    group.bench_function("edgeauth_verify", |b| {
        b.iter(|| access::verify(&route, black_box(&token), &request(now)).unwrap())
    });
    let grant = access::verify(&route, &token, &request(now)).unwrap();
    group.bench_function("kept_grant", |b| {
        b.iter(|| grant.allows(black_box(&request(now))).unwrap())
    });
    // A URI Signing token asking for renewal by cookie (cdniets 120, cdnistt 1): verifying it,
    // and the Set-Cookie a response carries while its successor is current (RFC 9246 4.4).
    let signing = Route {
        param: "URISigningPackage".into(),
        ..self::route(Scheme::UriSigning)
    };
    let renewable = renewable_token();
    group.bench_function("uri_signing_verify_renewable", |b| {
        b.iter(|| access::verify(&signing, black_box(&renewable), &request(now)).unwrap())
    });
    let grant = access::verify(&signing, &renewable, &request(now)).unwrap();
    let mut kept = access::KeptGrant::new(renewable.as_bytes(), &signing, grant);
    kept.renewal_cookie(&signing, now, true);
    group.bench_function("renewal_cookie", |b| {
        b.iter(|| kept.renewal_cookie(&signing, black_box(now), true).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_access);
criterion_main!(benches);
