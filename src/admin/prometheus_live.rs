//! The live-video families of a scrape (LIVE.md F1, F4, F7, F8, F9, F11): held blocking
//! reloads and how they ended, upstream long-polls, playlist versions taken, refused and
//! unusable, prefetches by outcome, evictions that follow the live window, hot streams'
//! replicas, the renditions tracked and stale (summed over shards like every other counter),
//! and the per-stream families, the [`STREAM_LABELS`] busiest streams by name and the rest
//! as `other`.

use super::{by_kind, counter, gauge, Buckets, Family, Labels, Samples, Value};
use crate::live::Rejection;
use crate::metrics::streams::{
    Coarse, ObjectKind, StreamCounters, COARSE_BOUNDS, FIRST_BYTE_BOUNDS, HOLD_BOUNDS,
};
use crate::metrics::{HoldResult, Latency, LiveStats, Stats, Timing};

/// Streams that get their own label in a scrape (LIVE.md F11); the rest are `other`.
pub const STREAM_LABELS: usize = 1000;

pub(super) fn families(stats: &Stats, latency: &Latency) -> Vec<Family> {
    let load = |f: fn(&LiveStats) -> &std::sync::atomic::AtomicU64| stats.sum(|s| f(&s.live));
    let int_gauge = |name, help, value| gauge(name, help, Value::Int(value));
    vec![
        by_kind(
            stats,
            (
                "livecache_hls_hold_results",
                "LL-HLS blocking playlist reloads by how they were answered",
                "result",
            ),
            &HoldResult::ALL,
            HoldResult::label,
            |s, r| s.live.results(r),
        ),
        Family {
            name: "livecache_hls_hold_seconds",
            help: "How long blocking playlist reloads were held before their answer",
            samples: Samples::Histogram(vec![(Vec::new(), Buckets::of(&latency.hold))]),
        },
        release_histogram(
            "livecache_hls_hold_release_seconds",
            "From a playlist version's arrival from upstream to a held request's answer going out on the client's shard",
            &latency.hold_release,
        ),
        release_histogram(
            "livecache_hls_release_wait_seconds",
            "Per playlist version that released held requests: from its arrival from upstream to its release starting on the rendition's owner shard",
            &latency.release_wait,
        ),
        release_histogram(
            "livecache_hls_release_burst_seconds",
            "Per playlist version that released held requests: from its release starting to the last held request woken, answers written in place included",
            &latency.release_burst,
        ),
        int_gauge(
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
            "Playlist versions that became a rendition's state",
            load(|l| &l.versions),
        ),
        counter(
            "livecache_hls_playlist_restarts",
            "Upstream playlists taken after three target durations of refused versions (a packager that restarted its sequence)",
            load(|l| &l.restarts),
        ),
        counter(
            "livecache_hls_renditions_seeded",
            "Renditions tracked from the cache's copy of their playlist (viewers without blocking reloads)",
            load(|l| &l.seeded),
        ),
        int_gauge(
            "livecache_replicated_streams",
            "Streams replicated on every shard now (their request rate passed hot_stream_requests)",
            load(|l| &l.replicated_streams),
        ),
        counter(
            "livecache_replicas_sent",
            "Objects and playlist versions of hot streams their owner sent to every other shard",
            load(|l| &l.replicas_sent),
        ),
        counter(
            "livecache_replica_hits",
            "Requests answered from a replica of another shard's hot stream, without crossing cores",
            load(|l| &l.replica_hits),
        ),
        counter(
            "livecache_cmcd_urgent_responses",
            "Responses written ahead of others on their core because the player said it was starting up or starved (CMCD su, bs)",
            load(|l| &l.cmcd_urgent),
        ),
        counter(
            "livecache_origin_failovers",
            "Streams moved to the next origin because their playlist stopped advancing (no new segment for 1.5 target durations)",
            load(|l| &l.origin_failovers),
        ),
        int_gauge(
            "livecache_dash_schedules",
            "Live DASH representations whose segment availability is known from their MPD",
            load(|l| &l.dash_schedules),
        ),
        counter(
            "livecache_dash_early_holds",
            "Requests for a live DASH segment that came before its availability and were held until then (dash_hold_early)",
            load(|l| &l.dash_early_holds),
        ),
        counter(
            "livecache_hls_answers_written_at_release",
            "Held playlist answers written by the release that satisfied them, before their connection's task ran (a plain GET held on the rendition's own shard)",
            load(|l| &l.written_at_release),
        ),
        counter(
            "livecache_hls_release_counts_forgiven",
            "Times a shard's release gate found a held answer counted as released and never taken, and stopped waiting for it (after 10 ms); above 0 means a counting mistake",
            load(|l| &l.release_counts_forgiven),
        ),
        counter(
            "livecache_hls_remote_holds_joined",
            "Blocking reloads on a shard that does not own their rendition that joined an identical one's request to the owner instead of sending their own",
            load(|l| &l.remote_holds_joined),
        ),
        counter(
            "livecache_store_idle_stream_evictions",
            "Of the evictions to stay within the budget, objects of streams nobody watched any more (they go first)",
            stats.sum(|s| &s.store_idle_evictions),
        ),
        counter(
            "livecache_store_dead_evictions",
            "Objects dropped because no playlist listed them any more and their availability had passed (before any pressure)",
            stats.sum(|s| &s.store_dead_evictions),
        ),
        counter(
            "livecache_prefetch_started",
            "Fetches a new playlist version started for the media it newly listed, before any viewer asked",
            load(|l| &l.prefetch_started),
        ),
        by_kind(
            stats,
            (
                "livecache_prefetch",
                "Prefetches by outcome: used (a viewer asked for it), wasted (nobody asked within three target durations), failed (no complete 2xx response)",
                "result",
            ),
            &["used", "wasted", "failed"],
            |result| result,
            |s, result| {
                let live = &s.live;
                let counter = match result {
                    "used" => &live.prefetch_used,
                    "wasted" => &live.prefetch_wasted,
                    _ => &live.prefetch_failed,
                };
                counter.load(std::sync::atomic::Ordering::Relaxed)
            },
        ),
        counter(
            "livecache_prefetch_skipped",
            "Newly listed media not prefetched: the stream's in-flight limit, memory, a recent failure, or a stream another shard owns",
            load(|l| &l.prefetch_skipped),
        ),
        Family {
            name: "livecache_prefetch_lead_seconds",
            help: "From a prefetch's completion to the first viewer's request for it (0 when the viewer joined it in flight)",
            samples: Samples::Histogram(vec![(Vec::new(), Buckets::of(&latency.prefetch_lead))]),
        },
        by_kind(
            stats,
            (
                "livecache_hls_playlist_rejected",
                "Upstream playlist versions refused (the last good one kept), by reason",
                "reason",
            ),
            &Rejection::ALL,
            Rejection::label,
            |s, r| s.live.rejected(r),
        ),
        counter(
            "livecache_hls_playlist_unusable",
            "Upstream answers that could not become state (error, not a media playlist, too large, malformed); passed through",
            load(|l| &l.unusable),
        ),
        int_gauge(
            "livecache_hls_renditions",
            "Renditions whose playlist state is kept",
            load(|l| &l.renditions),
        ),
        int_gauge(
            "livecache_hls_state_bytes",
            "Estimated memory of the renditions' playlist versions (a version, its parse and its delta)",
            load(|l| &l.state_bytes),
        ),
        int_gauge(
            "livecache_hls_stale_renditions",
            "Tracked renditions whose playlist stopped advancing (no segment for 1.5 target durations, or no part for 3 part targets)",
            load(|l| &l.stale_renditions),
        ),
    ]
    .into_iter()
    .chain(stream_families(latency))
    .collect()
}

/// A histogram of held requests' release, in buckets a millisecond apart up to 6 ms.
fn release_histogram(name: &'static str, help: &'static str, timing: &Timing) -> Family {
    Family {
        name,
        help,
        samples: Samples::Histogram(vec![(
            Vec::new(),
            Buckets::bounded(timing, &super::RELEASE_BUCKETS_SECONDS),
        )]),
    }
}

/// `livecache_stream_*`: one sample set per exported stream.
fn stream_families(latency: &Latency) -> Vec<Family> {
    let streams = latency.streams.top(STREAM_LABELS);
    let label = |name: &str| vec![("stream", name.to_string())];
    // One sample per stream and slot of `counts` (an array indexed by an enum), labelled
    // `slot` with the names in `names`; empty slots are left out.
    let by_slot =
        |slot: &'static str, names: &[&'static str], counts: &dyn Fn(&StreamCounters) -> &[u64]| {
            let mut samples: Vec<(Labels, u64)> = Vec::new();
            for (name, counters) in &streams {
                for (&n, &slot_name) in counts(counters).iter().zip(names) {
                    if n > 0 {
                        let mut labels = label(name);
                        labels.push((slot, slot_name.to_string()));
                        samples.push((labels, n));
                    }
                }
            }
            Samples::Counter(samples)
        };
    let kinds = ObjectKind::ALL.map(ObjectKind::label);
    let each = |f: fn(&StreamCounters) -> u64| {
        let samples = streams.iter().map(|(n, c)| (label(n), f(c))).collect();
        Samples::Counter(samples)
    };
    let histogram = |bounds: &[f64; COARSE_BOUNDS], f: fn(&StreamCounters) -> &Coarse| {
        let samples = streams.iter().map(|(name, c)| {
            let coarse = f(c);
            let buckets = bounds.iter().copied().chain([f64::INFINITY]);
            let histogram = Buckets {
                buckets: buckets.zip(coarse.counts.iter().copied()).collect(),
                sum_seconds: coarse.sum_us as f64 / 1e6,
                count: coarse.count(),
            };
            (label(name), histogram)
        });
        Samples::Histogram(samples.collect())
    };
    vec![
        Family {
            name: "livecache_stream_requests",
            help: "Requests per stream (the busiest by name, the rest as other) and object type",
            samples: by_slot("type", &kinds, &|c| &c.requests),
        },
        Family {
            name: "livecache_stream_bytes",
            help: "Response bytes sent per stream and object type",
            samples: by_slot("type", &kinds, &|c| &c.bytes),
        },
        Family {
            name: "livecache_stream_hits",
            help: "Requests per stream answered from the cache",
            samples: each(|c| c.hits),
        },
        Family {
            name: "livecache_stream_origin_requests",
            help: "Requests sent to the origin per stream (fetches, revalidations, refreshes, long-polls); client requests over these is the coalescing ratio",
            samples: each(|c| c.origin_requests),
        },
        Family {
            name: "livecache_stream_misses",
            help: "Requests per stream that went to the origin themselves rather than join a fetch",
            samples: each(|c| c.misses),
        },
        Family {
            name: "livecache_stream_errors",
            help: "Responses per stream with a 4xx (class=client) or 5xx (class=server) status",
            samples: Samples::Counter(
                streams
                    .iter()
                    .flat_map(|(n, c)| {
                        let mut client = label(n);
                        client.push(("class", "client".to_string()));
                        let mut server = label(n);
                        server.push(("class", "server".to_string()));
                        [(client, c.client_errors), (server, c.server_errors)]
                    })
                    .collect(),
            ),
        },
        Family {
            name: "livecache_stream_stale_renditions",
            help: "Renditions per stream whose playlist stopped advancing (no segment for 1.5 target durations, or no part for 3 part targets)",
            samples: Samples::Gauge(
                streams
                    .iter()
                    .map(|(n, c)| (label(n), Value::Int(c.stale_renditions)))
                    .collect(),
            ),
        },
        Family {
            name: "livecache_stream_prefetches",
            help: "Prefetches per stream by outcome: used, wasted (nobody asked within three target durations), failed",
            samples: by_slot("result", &["used", "wasted", "failed"], &|c| &c.prefetches),
        },
        Family {
            name: "livecache_stream_hold_results",
            help: "Blocking playlist reloads per stream by how they were answered",
            samples: by_slot("result", &HoldResult::ALL.map(HoldResult::label), &|c| &c.holds),
        },
        Family {
            name: "livecache_stream_first_byte_seconds",
            help: "Request head parsed to first response byte written, per stream",
            samples: histogram(&FIRST_BYTE_BOUNDS, |c| &c.first_byte),
        },
        Family {
            name: "livecache_stream_hold_seconds",
            help: "How long blocking playlist reloads were held before their answer, per stream",
            samples: histogram(&HOLD_BOUNDS, |c| &c.hold_seconds),
        },
        Family {
            name: "livecache_stream_holds_active",
            help: "Blocking playlist reloads held right now, per stream",
            samples: Samples::Gauge(
                streams
                    .iter()
                    .map(|(n, c)| (label(n), Value::Int(c.holds_active)))
                    .collect(),
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::metrics::{Latency, Stats};

    #[test]
    fn hold_release_buckets_are_a_millisecond_apart_up_to_six() {
        let mut latency = Latency::default();
        for ms in [0.9, 3.5, 4.5, 4.9, 5.5, 7.0] {
            latency
                .hold_release
                .record(Duration::from_secs_f64(ms / 1000.0));
        }
        let text = super::super::render(&Stats::new(1), &latency, 1);
        let bucket = |le: &str| format!("livecache_hls_hold_release_seconds_bucket{{le=\"{le}\"}}");
        let cumulative = [
            ("0.001", 1),
            ("0.003", 1),
            ("0.004", 2),
            ("0.005", 4),
            ("0.006", 5),
            ("0.0075", 6),
            ("+Inf", 6),
        ];
        for (le, count) in cumulative {
            assert!(
                text.contains(&format!("{} {count}\n", bucket(le))),
                "{le}\n{text}"
            );
        }
    }

    #[test]
    fn a_release_is_split_into_its_wait_and_its_burst() {
        let mut latency = Latency::default();
        latency.release_wait.record(Duration::from_micros(300));
        latency.release_burst.record(Duration::from_micros(2_500));
        latency.release_burst.record(Duration::from_micros(5_500));
        let text = super::super::render(&Stats::new(1), &latency, 1);
        for line in [
            "livecache_hls_release_wait_seconds_bucket{le=\"0.0005\"} 1\n",
            "livecache_hls_release_wait_seconds_count 1\n",
            "livecache_hls_release_burst_seconds_bucket{le=\"0.003\"} 1\n",
            "livecache_hls_release_burst_seconds_bucket{le=\"0.006\"} 2\n",
            "livecache_hls_release_burst_seconds_count 2\n",
        ] {
            assert!(text.contains(line), "{line}{text}");
        }
    }
}
