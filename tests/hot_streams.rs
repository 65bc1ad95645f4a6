//! Hot streams on every core (issue "Live video II", item 3; LIVE.md F8): once a stream's
//! request rate passes `hot_stream_requests`, its owner replicates its complete objects and
//! playlist versions on every shard, and requests for it stop crossing cores: at most 0.05
//! cross-shard messages per client request (counted, so this is a test, not a timing). The
//! owner still fetches each object once, replicas answer with the right bytes and an honest
//! `Age`, and a stream that cools down is demoted (on the clock seam).
//!
//! Two shards with every stream owned by shard 1 and every connection on shard 0 (the test
//! harness's cross-mesh mode), in front of a classic packager of 1 s segments.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use common::{concurrent_gets, eventually, playlist, request, Setup};

const RENDITION: &str = "/live/s0/r0/index.m3u8";
const DIRECTORY: &str = "/live/s0/r0/";

fn mesh_messages(setup: &Setup) -> u64 {
    let stats = &setup.running().stats;
    stats
        .shards
        .iter()
        .map(|s| s.mesh_messages.load(Relaxed))
        .sum()
}

fn live_sum(
    setup: &Setup,
    f: fn(&livecache::metrics::LiveStats) -> &std::sync::atomic::AtomicU64,
) -> u64 {
    setup.running().stats.sum(|s| f(&s.live))
}

/// Plays like a small audience for `how_long`: the playlist, then its newest segment, again
/// and again. Returns the requests made; every answer is checked.
fn audience(setup: &Setup, how_long: Duration) -> u64 {
    let mut requests = 0;
    let end = Instant::now() + how_long;
    while Instant::now() < end {
        let current = playlist(&setup.get(RENDITION));
        let newest = current.segments.last().expect("segments are listed");
        let segment = setup.get(&format!("{DIRECTORY}{}", newest.uri));
        assert_eq!(segment.status, 200);
        assert!(!segment.body.is_empty());
        requests += 2;
    }
    requests
}

/// A daemon whose one stream an audience made hot (20 requests a second is the threshold).
fn hot() -> Setup {
    let extra = [
        ("hot_stream_requests", "20"),
        ("purge_allow", "127.0.0.1/32"),
    ];
    let setup = Setup::classic(2, &extra);
    // The first second measures the rate; the stream is hot from then on, and its objects
    // reach the other shard as the owner stores or serves them.
    audience(&setup, Duration::from_millis(2500));
    let replicated = eventually(Duration::from_secs(3), || {
        live_sum(&setup, |l| &l.replicated_streams) == 1
    });
    assert!(replicated, "the stream became hot");
    setup
}

#[test]
fn a_hot_stream_is_served_on_every_core_without_crossing_it() {
    let setup = hot();
    let messages = mesh_messages(&setup);
    let hits = live_sum(&setup, |l| &l.replica_hits);
    let requests = audience(&setup, Duration::from_secs(2));
    let crossed = mesh_messages(&setup) - messages;
    let ratio = crossed as f64 / requests as f64;
    assert!(
        ratio <= 0.05,
        "{crossed} cross-shard messages for {requests} requests"
    );
    assert!(live_sum(&setup, |l| &l.replica_hits) - hits >= requests * 9 / 10);
    // The owner still fetched each segment once.
    for request in setup.origin.requests() {
        if request.target.ends_with(".m4s") {
            assert_eq!(setup.origin.hits(&request.target), 1, "{}", request.target);
        }
    }
    // A replica's answer: a hit with an honest age, and the bytes of the origin.
    let current = playlist(&setup.get(RENDITION));
    let hits = live_sum(&setup, |l| &l.replica_hits);
    let from_replica = setup.get(RENDITION);
    assert_eq!(live_sum(&setup, |l| &l.replica_hits), hits + 1);
    assert!(from_replica.cache_status().contains("live-state"));
    assert!(from_replica.header("age").is_some());
    let newest = &current.segments.last().unwrap().uri;
    let path = format!("{DIRECTORY}{newest}");
    let segment = setup.get(&path);
    assert!(
        segment.cache_status().contains("replica"),
        "{}",
        segment.cache_status()
    );
    assert_eq!(segment.body, setup.get(&path).body);
    // A purge on the owner voids every replica before it is answered.
    let purged = request(
        setup.addr,
        &format!("PURGE {path} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"),
        false,
    );
    assert_eq!(purged.status, 200);
    let after = setup.get(&path);
    assert!(
        !after.cache_status().contains("replica"),
        "{}",
        after.cache_status()
    );
    assert_eq!(setup.origin.path_hits(&path), 2);
}

#[test]
fn a_stream_that_cools_down_is_demoted() {
    let setup = hot();
    // Quiet: the next requests find the replicas too old and reach the owner, whose rate
    // stays under half the threshold for the cool-down (the first window may still count
    // the audience's last reads, reported late).
    for _ in 0..5 {
        setup.advance(Duration::from_secs(16));
        setup.get(RENDITION);
    }
    assert!(eventually(Duration::from_secs(3), || live_sum(
        &setup,
        |l| &l.replicated_streams
    ) == 0));
    let hits = live_sum(&setup, |l| &l.replica_hits);
    setup.get(RENDITION);
    setup.get(RENDITION);
    assert_eq!(
        live_sum(&setup, |l| &l.replica_hits),
        hits,
        "no replica left"
    );
}

#[test]
fn an_aborted_fetch_of_a_hot_stream_is_cut_for_everyone_and_kept_nowhere() {
    // LIVE.md T8.2: the origin resets mid-segment while the stream is replicated. Every viewer
    // (all on the other core than the owner) gets a cut response, no replica holds it, and the
    // next request is one new origin fetch.
    let setup = hot();
    let current = playlist(&setup.get(RENDITION));
    let newest = &current.segments.last().expect("segments are listed").uri;
    // The origin waits 200 ms before its head, so every viewer joins the one fetch.
    let target = format!("{DIRECTORY}{newest}?delay_ms=200&fail_after=20000");
    for response in concurrent_gets(setup.addr, &target, 8) {
        assert_eq!(response.status, 200);
        assert!(!response.complete, "a cut segment must not look complete");
    }
    assert_eq!(
        setup.origin.hits(&target),
        1,
        "the viewers shared one fetch"
    );
    let again = setup.get(&target);
    assert!(!again.complete);
    assert!(
        !again.cache_status().contains("hit"),
        "{}",
        again.cache_status()
    );
    assert_eq!(setup.origin.hits(&target), 2, "a new fetch, nothing kept");
}
