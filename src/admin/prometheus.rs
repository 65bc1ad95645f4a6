//! The Prometheus text exposition (format 0.0.4) of the merged figures, encoded by the
//! `prometheus-client` crate. Its registry is built to own live metric objects that the code
//! updates, which does not fit here: the figures already live in the shards (atomics, and HDR
//! histograms merged on scrape). So each scrape gathers one plain snapshot and hands it to
//! the crate through a `Collector` of constant families; the crate does the encoding (names,
//! `_total`, label escaping, float formatting, cumulative `_bucket`s, `_sum`, `_count`).
//! Pure: no sockets, no glommio.

use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::metrics::{
    CacheResult, Guard, Latency, OriginErrorKind, ShardStats, Stats, Timing, BAD_STATUSES, METHODS,
    STATUS_CLASSES,
};

/// The `Content-Type` of what `render` returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the latency histograms' buckets, in seconds (`+Inf` comes on top).
pub const BUCKETS_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Labels = Vec<(&'static str, String)>;

/// A histogram ready to encode: per-bucket (not cumulative) counts with their upper bounds,
/// the last one `+Inf`.
#[derive(Debug)]
struct Buckets {
    buckets: Vec<(f64, u64)>,
    sum_seconds: f64,
    count: u64,
}

/// Upper bounds of the hold-release histogram's buckets, in seconds: a millisecond apart up to
/// 6 ms, past the 5 ms a release should take (LIVE.md F1), so its 99th percentile can be read
/// to within one.
pub const RELEASE_BUCKETS_SECONDS: [f64; 15] = [
    0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

impl Buckets {
    fn of(timing: &Timing) -> Buckets {
        Buckets::bounded(timing, &BUCKETS_SECONDS)
    }

    fn bounded(timing: &Timing, bounds: &[f64]) -> Buckets {
        let bounds_us: Vec<u64> = bounds
            .iter()
            .map(|s| (s * 1_000_000.0).round() as u64)
            .collect();
        let counts = timing.buckets(&bounds_us);
        let buckets = bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(counts)
            .collect();
        Buckets {
            buckets,
            sum_seconds: timing.sum_us as f64 / 1e6,
            count: timing.count(),
        }
    }
}

#[path = "prometheus_access.rs"]
mod access;
#[path = "prometheus_live.rs"]
mod live;
#[path = "prometheus_mesh.rs"]
mod mesh;
#[path = "prometheus_upstreams.rs"]
mod upstreams;

/// A gauge's value: whole numbers are written as such.
#[derive(Clone, Copy, Debug)]
enum Value {
    Int(u64),
    Float(f64),
}

#[derive(Debug)]
enum Samples {
    Counter(Vec<(Labels, u64)>),
    Gauge(Vec<(Labels, Value)>),
    Histogram(Vec<(Labels, Buckets)>),
}

/// One metric family. `name` is without the `_total` a counter gets from the encoder.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Samples,
}

/// A whole scrape, as constant families.
#[derive(Debug)]
struct Exposition(Vec<Family>);

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let metric_type = match family.samples {
                Samples::Counter(_) => MetricType::Counter,
                Samples::Gauge(_) => MetricType::Gauge,
                Samples::Histogram(_) => MetricType::Histogram,
            };
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, metric_type)?;
            match &family.samples {
                Samples::Counter(samples) => {
                    for (labels, value) in samples {
                        metric
                            .encode_family(labels)?
                            .encode_counter::<NoLabelSet, _, u64>(value, None)?;
                    }
                }
                Samples::Gauge(samples) => {
                    for (labels, value) in samples {
                        let mut sample = metric.encode_family(labels)?;
                        match *value {
                            Value::Int(v) => sample.encode_gauge(&v)?,
                            Value::Float(v) => sample.encode_gauge(&v)?,
                        }
                    }
                }
                Samples::Histogram(samples) => {
                    for (labels, h) in samples {
                        metric
                            .encode_family(labels)?
                            .encode_histogram::<NoLabelSet>(
                                h.sum_seconds,
                                h.count,
                                &h.buckets,
                                None,
                            )?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn counter(name: &'static str, help: &'static str, value: u64) -> Family {
    Family {
        name,
        help,
        samples: Samples::Counter(vec![(Vec::new(), value)]),
    }
}

/// A counter family with one sample per value of an enum (`ALL`), labelled `label` with the
/// value's name, each summed over the shards.
fn by_kind<T: Copy>(
    stats: &Stats,
    (name, help, label): (&'static str, &'static str, &'static str),
    all: &[T],
    name_of: impl Fn(T) -> &'static str,
    count: impl Fn(&ShardStats, T) -> u64,
) -> Family {
    let samples = all.iter().map(|&kind| {
        let n = stats.shards.iter().map(|s| count(s, kind)).sum();
        (vec![(label, name_of(kind).to_string())], n)
    });
    Family {
        name,
        help,
        samples: Samples::Counter(samples.collect()),
    }
}

fn gauge(name: &'static str, help: &'static str, value: Value) -> Family {
    Family {
        name,
        help,
        samples: Samples::Gauge(vec![(Vec::new(), value)]),
    }
}

/// A gauge with one sample per shard, labelled `shard`.
fn per_shard(
    stats: &Stats,
    name: &'static str,
    help: &'static str,
    f: impl Fn(&ShardStats) -> u64,
) -> Family {
    Family {
        name,
        help,
        samples: Samples::Gauge(
            stats
                .shards
                .iter()
                .enumerate()
                .map(|(id, s)| (vec![("shard", id.to_string())], Value::Int(f(s))))
                .collect(),
        ),
    }
}

fn by_cache(timings: &[Timing; CacheResult::ALL.len()]) -> Samples {
    Samples::Histogram(
        CacheResult::ALL
            .iter()
            .map(|&c| {
                (
                    vec![("cache", c.label().to_string())],
                    Buckets::of(&timings[c as usize]),
                )
            })
            .collect(),
    )
}

/// Every figure: counters summed over shards, store gauges per shard, and the latency
/// histograms from `latency` (already merged over `latency_shards` shards).
fn families(stats: &Stats, latency: &Latency, latency_shards: usize) -> Vec<Family> {
    let load = |f: fn(&ShardStats) -> &std::sync::atomic::AtomicU64| stats.sum(f);
    let mut requests = Vec::new();
    for (m, method) in METHODS.iter().enumerate() {
        for (c, class) in STATUS_CLASSES.iter().enumerate() {
            for cache in CacheResult::ALL {
                let n: u64 = stats.shards.iter().map(|s| s.responses(m, c, cache)).sum();
                if n > 0 {
                    let labels = vec![
                        ("method", method.to_string()),
                        ("status", class.to_string()),
                        ("cache", cache.label().to_string()),
                    ];
                    requests.push((labels, n));
                }
            }
        }
    }
    let bad_requests = BAD_STATUSES
        .iter()
        .map(|s| s.to_string())
        .chain(["other".to_string()])
        .enumerate()
        .map(|(slot, status)| {
            let n = stats
                .shards
                .iter()
                .map(|s| s.bad_requests_in_slot(slot))
                .sum();
            (vec![("status", status)], n)
        })
        .collect();
    vec![
        Family {
            name: "livecache_build_info",
            help: "livecache's version, as a label; the value is always 1",
            samples: Samples::Gauge(vec![(
                vec![("version", env!("CARGO_PKG_VERSION").to_string())],
                Value::Int(1),
            )]),
        },
        gauge(
            "livecache_uptime_seconds",
            "Seconds since the process started",
            Value::Float(stats.uptime().as_secs_f64()),
        ),
        gauge(
            "livecache_config_version",
            "Configuration version in force: 1 at start, one more per applied reload",
            Value::Int(stats.config_version.load(Ordering::Relaxed)),
        ),
        counter(
            "livecache_config_reload_failures",
            "Configuration reloads rejected (the running configuration stayed)",
            stats.reload_failures.load(Ordering::Relaxed),
        ),
        gauge(
            "livecache_shards",
            "Shards (executors, one per core)",
            Value::Int(stats.shards.len() as u64),
        ),
        gauge(
            "livecache_latency_shards_merged",
            "Shards whose latency histograms this scrape merged (fewer than livecache_shards: one did not answer in time)",
            Value::Int(latency_shards as u64),
        ),
        Family {
            name: "livecache_requests",
            help: "Client requests answered, by method, status class and cache result (hit, miss, collapsed, pass, error: a failure livecache answered, local: its own answer such as a purge)",
            samples: Samples::Counter(requests),
        },
        Family {
            name: "livecache_bad_requests",
            help: "Client input refused as bad, by the status answered",
            samples: Samples::Counter(bad_requests),
        },
        counter(
            "livecache_client_bytes_received",
            "Bytes read from clients (request heads and bodies)",
            load(|s| &s.bytes_received),
        ),
        counter(
            "livecache_client_bytes_sent",
            "Bytes written to clients (response heads and bodies)",
            load(|s| &s.bytes_sent),
        ),
        counter(
            "livecache_origin_requests",
            "Requests sent upstream (origin or parent shield)",
            load(|s| &s.origin_requests),
        ),
        by_kind(
            stats,
            (
                "livecache_origin_errors",
                "Upstream exchanges that failed, by kind",
                "kind",
            ),
            &OriginErrorKind::ALL,
            OriginErrorKind::label,
            ShardStats::origin_errors_of_kind,
        ),
        counter(
            "livecache_collapsed",
            "Requests that followed another request's upstream fetch instead of starting one",
            load(|s| &s.collapsed),
        ),
        gauge(
            "livecache_inflight_fetches",
            "Upstream fetches in progress",
            Value::Int(load(|s| &s.inflight_fetches)),
        ),
        per_shard(
            stats,
            "livecache_store_objects",
            "Objects stored",
            |s| s.store_objects.load(Ordering::Relaxed),
        ),
        per_shard(
            stats,
            "livecache_store_bytes",
            "Bytes of stored objects (heads and bodies)",
            |s| s.store_bytes.load(Ordering::Relaxed),
        ),
        per_shard(
            stats,
            "livecache_store_inflight_bytes",
            "Bytes held by fetches in progress that will be stored",
            |s| s.store_inflight_bytes.load(Ordering::Relaxed),
        ),
        per_shard(
            stats,
            "livecache_store_budget_bytes",
            "This shard's quota of cache_size for stored plus in-flight bytes (the quotas share the budget: an idle shard's goes to busy ones)",
            |s| s.store_budget.load(Ordering::Relaxed),
        ),
        counter(
            "livecache_store_evictions",
            "Stored objects evicted to stay within the budget",
            load(|s| &s.store_evictions),
        ),
        gauge(
            "livecache_connections_open",
            "Client connections open",
            Value::Int(load(|s| &s.connections_open)),
        ),
        counter(
            "livecache_connections_refused",
            "Client connections refused at max_connections",
            load(|s| &s.connections_refused),
        ),
        Family {
            name: "livecache_failures",
            help: "Failures livecache answered itself, by whose fault (client, upstream, local) and kind",
            samples: Samples::Counter(
                crate::http::Failure::ALL
                    .iter()
                    .map(|&f| {
                        let n = stats.shards.iter().map(|s| s.failures_of(f)).sum();
                        let labels = vec![
                            ("side", f.side().label().to_string()),
                            ("kind", f.label().to_string()),
                        ];
                        (labels, n)
                    })
                    .collect(),
            ),
        },
        by_kind(
            stats,
            (
                "livecache_guards",
                "Protections that fired against a bad client or origin, by kind",
                "kind",
            ),
            &Guard::ALL,
            Guard::label,
            |s, g| s.guards.fired(g),
        ),
        per_shard(
            stats,
            "livecache_pass_through_bytes",
            "Bytes held for readers of objects that are not stored",
            |s| s.guards.pass_through_bytes.load(Ordering::Relaxed),
        ),
        per_shard(
            stats,
            "livecache_request_body_bytes",
            "Bytes reserved for request bodies being relayed to the origin",
            |s| s.guards.request_body_bytes.load(Ordering::Relaxed),
        ),
        Family {
            name: "livecache_response_first_byte_seconds",
            help: "Request head parsed to first response byte written, by cache result",
            samples: by_cache(&latency.first_byte),
        },
        Family {
            name: "livecache_response_seconds",
            help: "Request head parsed to last response byte written, by cache result",
            samples: by_cache(&latency.total),
        },
        Family {
            name: "livecache_origin_response_seconds",
            help: "Upstream request sent to response head received",
            samples: Samples::Histogram(vec![(Vec::new(), Buckets::of(&latency.origin))]),
        },
    ]
    .into_iter()
    .chain(mesh::families(stats))
    .chain(live::families(stats, latency))
    .chain(upstreams::families(stats, &latency.active_origins))
    .chain(access::families(stats))
    .collect()
}

/// The exposition text of one scrape.
pub fn render(stats: &Stats, latency: &Latency, latency_shards: usize) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition(families(
        stats,
        latency,
        latency_shards,
    ))));
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn histograms_have_cumulative_buckets_sum_and_count() {
        let stats = Stats::new(2);
        let mut latency = Latency::default();
        latency.origin.record(Duration::from_micros(700));
        latency.origin.record(Duration::from_millis(30));
        latency.origin.record(Duration::from_secs(20));
        let text = render(&stats, &latency, 2);
        assert!(text.contains("# TYPE livecache_origin_response_seconds histogram\n"));
        assert!(text.contains("livecache_origin_response_seconds_bucket{le=\"0.0005\"} 0\n"));
        assert!(text.contains("livecache_origin_response_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(text.contains("livecache_origin_response_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("livecache_origin_response_seconds_bucket{le=\"10\"} 2\n"));
        assert!(text.contains("livecache_origin_response_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("livecache_origin_response_seconds_sum 20.0307\n"));
        assert!(text.contains("livecache_origin_response_seconds_count 3\n"));
        assert!(text.contains("livecache_store_bytes{shard=\"1\"} 0\n"));
    }

    #[test]
    fn counters_end_in_total_and_carry_their_labels() {
        let stats = Stats::new(1);
        stats.shards[0].failed(crate::http::Failure::HeadTooLarge);
        let text = render(&stats, &Latency::default(), 1);
        assert!(text.contains("# TYPE livecache_bad_requests_total counter\n"));
        assert!(text.contains("livecache_bad_requests_total{status=\"431\"} 1\n"));
        assert!(text.contains("livecache_origin_errors_total{kind=\"timeout\"} 0\n"));
        assert!(text.contains("livecache_config_version 1\n"));
        assert!(!text.contains("# EOF"));
    }
}
