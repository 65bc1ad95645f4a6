//! Content steering hygiene (issue "Live video II", item 7; LIVE.md F13, T13.1): a steering
//! manifest request carries the player's own `_HLS_throughput`, which would make every
//! player's request a different object; it is left out of the key (and of the upstream
//! request) by default, while `_HLS_pathway` stays, so each pathway's manifest is fetched
//! once per its lifetime however many players ask.

mod common;

use common::Setup;

with_shards!(steering_manifests_are_one_object_per_pathway, |shards| {
    let setup = Setup::with(shards, &[]);
    let manifest = "/steer/s1/steering.json?size=100&cc=max-age%3D300&_HLS_pathway=CDN-A";
    for player in 0..100 {
        let asked = format!("{manifest}&_HLS_throughput={}", 500_000 + player * 7919);
        assert_eq!(setup.get(&asked).status, 200);
    }
    assert_eq!(
        setup.origin.total(),
        1,
        "one origin request for every player"
    );
    assert_eq!(
        setup.origin.hits(manifest),
        1,
        "sent without the throughput"
    );
    // Another pathway is another manifest.
    let other = "/steer/s1/steering.json?size=100&cc=max-age%3D300&_HLS_pathway=CDN-B";
    setup.get(&format!("{other}&_HLS_throughput=1000000"));
    setup.get(&format!("{other}&_HLS_throughput=2000000"));
    assert_eq!(setup.origin.hits(other), 1);
    assert_eq!(setup.origin.total(), 2);
});
