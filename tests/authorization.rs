//! Requests with `Authorization` (RFC 9111 3.5), black-box through the daemon with 1 and 4
//! shards: their credentials reach the origin on a fetch of their own, which no request with
//! other credentials joins; the response is stored and reused only when `public`, `s-maxage`
//! or `must-revalidate` says a shared cache may; an `Authorization` that is the edge's own
//! access token is no credential and never goes upstream.

mod common;

use std::thread;

use common::{get_with, Setup};

const ALICE: (&str, &str) = ("Authorization", "Basic YWxpY2U6YQ==");
const BOB: (&str, &str) = ("Authorization", "Basic Ym9iOmI=");

fn percent_encode(text: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    (text.bytes())
        .map(|b| match plain(b) {
            true => char::from(b).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

/// What the origin saw of the request's `Authorization` (mock-origin `echo=`; `-`: none).
fn echoed(response: &common::Response) -> Option<&str> {
    response
        .header("x-echo-authorization")
        .filter(|v| *v != "-")
}

with_shards!(
    credentials_reach_the_origin_and_a_private_answer_stays_with_its_client,
    |shards| {
        // RFC 9111 3.5: without public, s-maxage or must-revalidate, a shared cache MUST NOT
        // use the response to a request with Authorization for any other request.
        let setup = Setup::new(shards);
        let target = "/auth/plain.bin?cc=max-age%3D60&echo=Authorization";
        let alice = get_with(setup.addr, target, &[ALICE]);
        assert_eq!(alice.status, 200);
        assert_eq!(
            echoed(&alice),
            Some(ALICE.1),
            "the credentials went upstream"
        );
        assert!(
            alice.cache_status().contains("detail=authorization"),
            "{}",
            alice.cache_status()
        );
        let bob = get_with(setup.addr, target, &[BOB]);
        assert_eq!(
            echoed(&bob),
            Some(BOB.1),
            "Bob got his own answer, not Alice's"
        );
        let anonymous = setup.get(target);
        assert_eq!(echoed(&anonymous), None, "nobody else got Alice's or Bob's");
        assert_eq!(setup.origin.hits(target), 3);
    }
);

with_shards!(
    public_s_maxage_and_must_revalidate_let_the_answer_be_shared,
    |shards| {
        // RFC 9111 3.5: each of these directives allows a shared cache to store it.
        let setup = Setup::new(shards);
        for (n, cc) in [
            "public,%20max-age%3D60",
            "s-maxage%3D60",
            "must-revalidate,%20max-age%3D60",
        ]
        .into_iter()
        .enumerate()
        {
            let target = format!("/auth/shared-{n}.bin?cc={cc}&echo=Authorization");
            assert_eq!(
                echoed(&get_with(setup.addr, &target, &[ALICE])),
                Some(ALICE.1)
            );
            let bob = get_with(setup.addr, &target, &[BOB]);
            assert_eq!(bob.status, 200);
            assert!(
                bob.cache_status().contains("hit"),
                "{cc}: {}",
                bob.cache_status()
            );
            assert_eq!(setup.get(&target).status, 200);
            assert_eq!(setup.origin.hits(&target), 1, "{cc}: one origin request");
        }
    }
);

with_shards!(
    other_credentials_never_join_one_fetch_and_vary_keeps_answers_apart,
    |shards| {
        let setup = Setup::new(shards);
        // A slow public answer: Alice's and Bob's requests overlap, each gets its own fetch.
        let slow = "/auth/slow.bin?cc=public,%20max-age%3D60&echo=Authorization&delay_ms=300";
        let addr = setup.addr;
        let asked: Vec<_> = [ALICE, BOB]
            .into_iter()
            .map(|who| thread::spawn(move || (who.1, get_with(addr, slow, &[who]))))
            .collect();
        for handle in asked {
            let (who, response) = handle.join().unwrap();
            assert_eq!(
                echoed(&response),
                Some(who),
                "each got the answer to its own credentials"
            );
        }
        assert_eq!(setup.origin.hits(slow), 2);
        // `Vary: Authorization`: stored per credential (RFC 9111 4.1).
        let varied = "/auth/varied.bin?cc=public,%20max-age%3D60&echo=Authorization\
                      &hdr=Vary:Authorization";
        assert_eq!(
            echoed(&get_with(setup.addr, varied, &[ALICE])),
            Some(ALICE.1)
        );
        assert_eq!(echoed(&get_with(setup.addr, varied, &[BOB])), Some(BOB.1));
        let again = get_with(setup.addr, varied, &[ALICE]);
        assert_eq!(echoed(&again), Some(ALICE.1));
        assert!(
            again.cache_status().contains("hit"),
            "{}",
            again.cache_status()
        );
        assert_eq!(setup.origin.hits(varied), 2);
    }
);

with_shards!(
    a_stored_anonymous_answer_serves_credentials_without_a_fetch,
    |shards| {
        // What anyone may get without credentials is no secret: a stored, fresh response
        // serves a request with Authorization, which starts no shared fetch of its own.
        let setup = Setup::new(shards);
        let target = "/auth/open.bin?cc=max-age%3D60&echo=Authorization";
        assert_eq!(setup.get(target).status, 200);
        let alice = get_with(setup.addr, target, &[ALICE]);
        assert!(
            alice.cache_status().contains("hit"),
            "{}",
            alice.cache_status()
        );
        assert_eq!(echoed(&alice), None);
        assert_eq!(setup.origin.hits(target), 1);
    }
);

with_shards!(
    credentials_never_ride_on_a_prefetch_the_origin_hints,
    |shards| {
        // The origin names the next segment (CMSD-Static nor) on a private answer to Alice:
        // livecache fetches hinted objects for everyone, so never with her credentials.
        let setup = Setup::new(shards);
        let next = "/auth/hint/seg-2.m4s?size=100&cc=max-age%3D60&echo=Authorization";
        // The field is `nor="<URL, percent-encoded>"`, itself percent-encoded into `hdr=`.
        let nor = format!("nor=\"{}\"", percent_encode(&next["/auth/hint/".len()..]));
        let first = format!(
            "/auth/hint/seg-1.m4s?size=100&cc=private&echo=Authorization&hdr=CMSD-Static:{}",
            percent_encode(&nor)
        );
        assert_eq!(
            echoed(&get_with(setup.addr, &first, &[ALICE])),
            Some(ALICE.1)
        );
        let anonymous = setup.get(next);
        assert_eq!(anonymous.status, 200);
        assert_eq!(
            echoed(&anonymous),
            None,
            "nobody gets the answer to Alice's credentials"
        );
    }
);

with_shards!(
    an_access_token_in_authorization_is_no_origin_credential,
    |shards| {
        // The edge checks its token in `Authorization` and removes it: the request is a
        // viewer's like any other, shared and coalesced, and the origin never sees the token.
        let key = std::env::temp_dir().join(format!("lc-auth-key-{}-{shards}", std::process::id()));
        std::fs::write(&key, format!("{}\n", hex(&KEY))).unwrap();
        let route = format!(
            "/guarded/=edgeauth,keys={},param=Authorization",
            key.display()
        );
        let setup = Setup::with(shards, &[("access", &route)]);
        let token = mint_edgeauth("/guarded/*");
        let target = "/guarded/a.bin?cc=max-age%3D60&echo=Authorization";
        let first = get_with(setup.addr, target, &[("Authorization", &token)]);
        assert_eq!(first.status, 200, "{}", first.cache_status());
        assert_eq!(echoed(&first), None, "the token stayed at the edge");
        let second = get_with(setup.addr, target, &[("Authorization", &token)]);
        assert!(
            second.cache_status().contains("hit"),
            "{}",
            second.cache_status()
        );
        assert_eq!(setup.origin.hits(target), 1);
        std::fs::remove_file(key).ok();
    }
);

const KEY: [u8; 32] = [9; 32];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An EdgeAuth token for `acl`, valid for an hour, signed with `KEY`.
fn mint_edgeauth(acl: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let fields = format!("exp={exp}~acl={acl}");
    let mac = livecache::access::hmac_sha256(&KEY, fields.as_bytes());
    format!("{fields}~hmac={}", hex(&mac))
}

with_shards!(
    credentialed_head_range_and_conditional_reads_go_to_the_origin_as_sent,
    |shards| {
        // Its own fetch would take the whole body from the origin to cut a part of it, or to
        // decide a 304: these go as they are, with the client's fields, as passes always did.
        let setup = Setup::new(shards);
        let target = "/auth/as-sent.bin?size=1000&ranges=1&cc=max-age%3D60&echo=Cookie";
        let ranged = get_with(
            setup.addr,
            target,
            &[ALICE, ("Range", "bytes=0-9"), ("Cookie", "s=1")],
        );
        assert_eq!(ranged.status, 206);
        assert_eq!(ranged.header("x-echo-cookie"), Some("s=1"));
        let asked = common::origin_requests_for(&setup, "GET", target);
        let range = asked[0]
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("range"));
        assert_eq!(range.map(|(_, v)| v.as_str()), Some("bytes=0-9"));
        let raw = common::request_text("HEAD", target, &[ALICE]);
        assert_eq!(common::request(setup.addr, &raw, true).status, 200);
        assert_eq!(setup.origin_count("HEAD", target), 1, "a HEAD stays a HEAD");
    }
);

with_shards!(
    a_credentialed_requester_keeps_its_own_set_cookie,
    |shards| {
        // `set_cookie = strip` takes Set-Cookie from what is stored and shared, not from the
        // answer to the client whose credentials fetched it (a login's session).
        let setup = Setup::with(shards, &[("set_cookie", "strip")]);
        let target = "/auth/login.bin?size=10&cc=public,%20max-age%3D60&hdr=Set-Cookie:sid%3D1";
        let alice = get_with(setup.addr, target, &[ALICE]);
        assert_eq!(alice.header("set-cookie"), Some("sid=1"));
        let anonymous = setup.get(target);
        assert!(
            anonymous.cache_status().contains("hit"),
            "{}",
            anonymous.cache_status()
        );
        assert_eq!(anonymous.header("set-cookie"), None);
    }
);
