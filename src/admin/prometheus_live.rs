//! The live-video families of a scrape (LIVE.md F1, F9): held blocking reloads and how they
//! ended, upstream long-polls, playlist versions taken, refused and unusable, and the
//! renditions tracked and stale. Summed over shards like every other counter.

use super::{counter, Family, Samples, Value};
use crate::live::Rejection;
use crate::metrics::{HoldResult, LiveStats, Stats};

pub(super) fn families(stats: &Stats) -> Vec<Family> {
    let load = |f: fn(&LiveStats) -> &std::sync::atomic::AtomicU64| stats.sum(|s| f(&s.live));
    let gauge = |name, help, value| Family {
        name,
        help,
        samples: Samples::Gauge(vec![(Vec::new(), Value::Int(value))]),
    };
    vec![
        Family {
            name: "livecache_hls_hold_results",
            help: "LL-HLS blocking playlist reloads by how they were answered",
            samples: Samples::Counter(
                HoldResult::ALL
                    .iter()
                    .map(|&r| {
                        let n = stats.shards.iter().map(|s| s.live.results(r)).sum();
                        (vec![("result", r.label().to_string())], n)
                    })
                    .collect(),
            ),
        },
        gauge(
            "livecache_hls_holds_active",
            "Blocking playlist reloads held right now",
            load(|l| &l.holds_active),
        ),
        counter(
            "livecache_hls_upstream_polls",
            "Upstream requests for rendition state (one long-poll per rendition at a time)",
            load(|l| &l.upstream_polls),
        ),
        counter(
            "livecache_hls_playlist_versions",
            "Upstream playlist versions that became a rendition's state",
            load(|l| &l.versions),
        ),
        Family {
            name: "livecache_hls_playlist_rejected",
            help: "Upstream playlist versions refused (the last good one kept), by reason",
            samples: Samples::Counter(
                Rejection::ALL
                    .iter()
                    .map(|&r| {
                        let n = stats.shards.iter().map(|s| s.live.rejected(r)).sum();
                        (vec![("reason", r.label().to_string())], n)
                    })
                    .collect(),
            ),
        },
        counter(
            "livecache_hls_playlist_unusable",
            "Upstream answers that could not become state (error, not a media playlist, too large, malformed); passed through",
            load(|l| &l.unusable),
        ),
        gauge(
            "livecache_hls_renditions",
            "Renditions whose playlist state is kept",
            load(|l| &l.renditions),
        ),
        gauge(
            "livecache_hls_stale_renditions",
            "Tracked renditions whose playlist stopped advancing (no segment for 1.5 target durations, or no part for 3 part targets)",
            load(|l| &l.stale_renditions),
        ),
    ]
}
