//! Cross-origin players (issue "Live video I", item F1.9): hls.js reads `Age` to place
//! itself at the live edge, but a browser shows a cross-origin script only the fields the
//! response exposes. The origin cannot know the cache adds `Age`, so when the origin allows
//! cross-origin reads, livecache exposes the `Age` it adds (once; not when already exposed).

mod common;

use common::{get, Setup};

/// Every `Access-Control-Expose-Headers` value of a response, one item each.
fn exposed(response: &common::Response) -> Vec<String> {
    let values = response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("access-control-expose-headers"));
    values
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .collect()
}

with_shards!(age_is_exposed_to_cross_origin_players, |shards| {
    let setup = Setup::with(shards, &[]);
    let cors = "/cors/a/seg.m4s?size=10&hdr=Access-Control-Allow-Origin:*";
    setup.get(cors);
    let hit = get(setup.addr, cors);
    assert!(hit.header("age").is_some());
    assert_eq!(exposed(&hit), vec!["Age"]);
    // Already exposed by the origin (by name or `*`): nothing added.
    let named = "/cors/a/named.m4s?size=10&hdr=Access-Control-Allow-Origin:*\
                 &hdr=Access-Control-Expose-Headers:ETag%2C%20age";
    setup.get(named);
    assert_eq!(exposed(&setup.get(named)), vec!["ETag", "age"]);
    // Without cross-origin reads allowed, nothing to expose.
    let plain = "/cors/a/plain.m4s?size=10";
    setup.get(plain);
    assert!(exposed(&setup.get(plain)).is_empty());
});
