//! The cache budget is shared by the shards (issue "Live video II", item 2): a stream lives
//! on one shard, and while the others do not use their share it may use nearly all of
//! `cache_size`; a shard that needs its even share back gets it within heartbeats; and the
//! stored plus in-flight bytes of all shards never pass the budget.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::{eventually, Setup};
use livecache::cache::CacheKey;

const OBJECT: u64 = 64 << 10;

fn object(directory: &str, i: u64) -> String {
    format!("/{directory}/o{i}.bin?size={OBJECT}")
}

/// The shards' quotas together: never more than the budget.
fn quotas(setup: &Setup) -> u64 {
    let stats = &setup.running().stats;
    let quota = |s: &livecache::metrics::ShardStats| {
        s.store_budget.load(std::sync::atomic::Ordering::Relaxed)
    };
    stats.shards.iter().map(quota).sum()
}

fn stored_bytes(setup: &Setup, shard: Option<usize>) -> u64 {
    let stats = &setup.running().stats;
    let of = |s: &livecache::metrics::ShardStats| {
        s.store_bytes.load(std::sync::atomic::Ordering::Relaxed)
    };
    match shard {
        Some(i) => of(&stats.shards[i]),
        None => stats.shards.iter().map(of).sum(),
    }
}

/// Fetches objects of `directory` (one stream) adding up to `bytes`.
fn fill(setup: &Setup, directory: &str, bytes: u64) {
    for i in 0..bytes / OBJECT {
        assert_eq!(setup.get(&object(directory, i)).status, 200);
    }
}

with_shards!(one_stream_may_use_nearly_the_whole_budget, |shards| {
    let budget = 2 * shards as u64 * (1 << 20);
    let setup = Setup::with(shards, &[("cache_size", &format!("{budget}"))]);
    // Three budgets' worth of one stream's objects, so the LRU runs full.
    fill(&setup, "event", 3 * budget);
    // The other shards' unused shares reach its shard within heartbeats.
    let grown = eventually(Duration::from_secs(5), || {
        fill(&setup, "event", 4 * OBJECT);
        assert!(quotas(&setup) <= budget);
        stored_bytes(&setup, None) >= budget * 9 / 10
    });
    assert!(grown, "{} of {budget} stored", stored_bytes(&setup, None));
    assert!(stored_bytes(&setup, None) <= budget);
    assert!(!setup.running().stats.budget_ever_exceeded());
});

#[test]
fn a_shard_gets_its_even_share_back() {
    let shards = 4;
    let budget = 8u64 << 20;
    let setup = Setup::with(shards, &[("cache_size", &format!("{budget}"))]);
    // As the harness runs it: every stream owned by shards 1 to 3 (see `Setup::with`).
    let mut config = (*setup.running().config.current()).clone();
    config.cross_mesh_for_tests = true;
    let owner = |directory: &str| {
        // The test client's `Host`.
        let key = CacheKey::new(b"test.local", object(directory, 0).as_bytes(), &[]);
        livecache::shard::owner(&config, &key)
    };
    let (first, second) = (
        "a",
        (0..64)
            .map(|i| format!("b{i}"))
            .find(|d| owner(d) != owner("a"))
            .unwrap(),
    );
    let grown = eventually(Duration::from_secs(5), || {
        fill(&setup, first, budget);
        stored_bytes(&setup, Some(owner(first))) > budget / 2
    });
    assert!(grown, "the first stream outgrew its even share");
    // The second stream's shard asks; the first one's shrinks to its even share.
    let even = budget / shards as u64;
    let back = eventually(Duration::from_secs(5), || {
        fill(&setup, &second, even);
        assert!(quotas(&setup) <= budget);
        stored_bytes(&setup, Some(owner(&second))) >= even * 3 / 4
    });
    assert!(
        back,
        "{} stored",
        stored_bytes(&setup, Some(owner(&second)))
    );
    assert!(stored_bytes(&setup, None) <= budget);
    assert!(!setup.running().stats.budget_ever_exceeded());
}
