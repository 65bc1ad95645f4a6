//! Per-stream metrics (LIVE.md F11, T11.1): `/metrics` counts what clients asked of each
//! stream exactly, by object type, with hits, misses, errors, the blocking reloads' results
//! and a first-byte histogram; and however many streams are asked for, at most 1,000 get a
//! label of their own and the rest add up under `other`.

mod common;

use common::{get, Setup};

fn scrape(setup: &Setup) -> String {
    let response = get(setup.admin_addr(), "/metrics");
    assert_eq!(response.status, 200);
    String::from_utf8(response.body).expect("UTF-8")
}

/// The value of the sample whose line starts with `name{` and contains every `labels` part.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<u64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|part| l.contains(part)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

with_shards!(each_stream_is_counted_by_object_type, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let dir = "/live/s0/r0";
    for _ in 0..3 {
        assert_eq!(setup.get(&format!("{dir}/index.m3u8")).status, 200);
    }
    assert_eq!(
        setup.get(&format!("{dir}/index.m3u8?_HLS_msn=0")).status,
        200
    );
    assert_eq!(
        setup.get(&format!("{dir}/index.m3u8?_HLS_part=1")).status,
        400
    );
    assert_eq!(setup.get(&format!("{dir}/init.mp4")).status, 200);
    for _ in 0..2 {
        assert_eq!(setup.get("/live/s0/r1/init.mp4").status, 200);
    }
    let text = scrape(&setup);
    let stream = format!("{dir}\"");
    let requests = |kind: &str| {
        let kind = format!("type=\"{kind}\"");
        sample(&text, "livecache_stream_requests_total", &[&stream, &kind])
    };
    assert_eq!(requests("playlist"), Some(3));
    assert_eq!(requests("blocking_playlist"), Some(2));
    assert_eq!(requests("init"), Some(1));
    let hits = sample(&text, "livecache_stream_hits_total", &[&stream]).unwrap();
    let misses = sample(&text, "livecache_stream_misses_total", &[&stream]).unwrap();
    // Playlists: a miss then two hits; init: a miss; the blocking reload waited for the
    // first playlist (a collapsed request, neither); the 400 is an error.
    assert_eq!((hits, misses), (2, 2));
    let client_errors = sample(&text, "livecache_stream_errors_total", &[&stream, "client"]);
    assert_eq!(client_errors, Some(1));
    let bad = sample(
        &text,
        "livecache_stream_hold_results_total",
        &[&stream, "bad_400"],
    );
    assert_eq!(bad, Some(1));
    let first_byte = sample(
        &text,
        "livecache_stream_first_byte_seconds_count",
        &[&stream],
    );
    assert_eq!(first_byte, Some(6));
    let other_stream = "/live/s0/r1\"";
    let other = sample(
        &text,
        "livecache_stream_requests_total",
        &[other_stream, "init"],
    );
    assert_eq!(other, Some(2));
    let bytes = sample(
        &text,
        "livecache_stream_bytes_total",
        &[other_stream, "init"],
    )
    .unwrap();
    assert!(bytes > 2 * 1024, "{bytes}");
    // Two client requests, one origin request: a coalescing ratio of 2.
    let origin = sample(
        &text,
        "livecache_stream_origin_requests_total",
        &[other_stream],
    );
    assert_eq!(origin, Some(1));
});

#[test]
fn stream_labels_are_bounded() {
    let setup = Setup::with(2, &[("admin", "127.0.0.1:0")]);
    let streams = 1100;
    for i in 0..streams {
        let response = setup.get(&format!("/many/{i}/a.ts?size=10"));
        assert_eq!(response.status, 200);
    }
    let text = scrape(&setup);
    let labelled: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("livecache_stream_requests_total{"))
        .collect();
    assert_eq!(labelled.len(), 1001, "1,000 streams and other");
    let total: u64 = labelled
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(total, streams);
    let other = sample(
        &text,
        "livecache_stream_requests_total",
        &["stream=\"other\""],
    );
    assert_eq!(other, Some(100));
}
