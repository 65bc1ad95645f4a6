//! The LL-HLS mode end to end against the mock origin (1 s segments, 250 ms parts, two
//! renditions, delta updates on): eight viewers for three seconds, some spelling the
//! blocking reload with the parameters swapped or `_HLS_skip=YES` appended. Straight at
//! the origin, every viewer's reload reaches it, so the origin sees about four blocking
//! requests per published part per rendition; no response may lack its part.

use std::time::{Duration, Instant};

use loadgen::modes::llhls::{self, LlhlsConfig};
use loadgen::Common;
use mock_origin::{LiveConfig, MockOrigin};

#[test]
fn viewers_follow_parts_with_blocking_reloads_and_hints() {
    let origin = MockOrigin::start_with(
        "127.0.0.1:0",
        LiveConfig {
            streams: 1,
            renditions: vec![800, 2500],
            segment_duration: Duration::from_secs(1),
            part_duration: Duration::from_millis(250),
            window: 12,
            can_skip_until: Some(Duration::from_secs(6)),
            start: Instant::now().checked_sub(Duration::from_secs(15)),
            ..LiveConfig::default()
        },
    )
    .expect("origin");
    let cfg = LlhlsConfig {
        common: Common {
            progress: false,
            ..Common::default()
        },
        base: origin.url(),
        streams: 1,
        stream_names: "s{}".into(),
        renditions: vec!["r0".into(), "r1".into()],
        playlist_path: "/live/{stream}/{rendition}/index.m3u8".into(),
        viewers: 8,
        duration: Duration::from_secs(3),
        swapped_fraction: 0.25,
        skip_fraction: 0.5,
        origin_stats: Some(format!("{}/__stats", origin.url())),
    };
    let report = llhls::run(&cfg).expect("run");
    let s = report.summary();
    let l = s.llhls.as_ref().expect("llhls figures");
    assert_eq!((l.viewers, l.lacking_part, l.undated), (8, 0, 0), "{l:?}");
    assert_eq!((l.status_4xx, l.status_5xx, s.errors), (0, 0, 0), "{l:?}");
    assert!(l.swapped_viewers >= 1 && l.skip_viewers >= 3, "{l:?}");
    assert!(l.delta_updates > 0, "{l:?}");
    // About 12 parts per rendition in 3 s; each viewer is held for nearly all of them.
    assert!((16..=32).contains(&l.parts_published), "{l:?}");
    assert!(l.held >= 60 && l.parts >= 60, "{l:?}");
    assert!(l.hold_release_ms.p99 < 250.0, "{l:?}");
    assert!(l.edge_latency_ms.count >= l.held, "{l:?}");
    let o = l.origin.as_ref().expect("origin load");
    assert_eq!(o.renditions.len(), 2);
    assert!((3.0..=5.0).contains(&o.blocking_per_part), "{o:?}");
    assert_eq!(o.skip, origin.skip_playlist_hits());
    assert!(o.skip > 0 && o.plain >= 8, "{o:?}");
    // The table carries the figures.
    let table = report.table();
    assert!(table.contains("ll-hls    release"), "{table}");
    assert!(table.contains("lacking the part 0"), "{table}");
    assert!(table.contains("per part per rendition"), "{table}");
}
