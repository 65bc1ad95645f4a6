mod common;
use common::*;

with_shards!(miss_then_hit, |shards| {
    let setup = Setup::new(shards);
    let target = "/live/ch1/720p/seg-1.m4s?size=5000";
    let first = setup.get(target);
    assert_eq!(first.status, 200);
    assert!(
        first.cache_status().contains("fwd=uri-miss"),
        "{}",
        first.cache_status()
    );
    let second = setup.get(target);
    assert!(
        second.cache_status().contains("hit"),
        "{}",
        second.cache_status()
    );
    assert_eq!(second.body, expected_body("/live/ch1/720p/seg-1.m4s", 5000));
    assert_eq!(setup.origin.hits(target), 1);
});
