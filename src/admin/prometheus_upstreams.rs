//! The upstream families of a scrape (issue "Origin-shield tiers", item 7), one sample per
//! parent shield (by its id) and per origin (`origin:HOST:PORT`) ever configured: requests
//! sent, errors before and during a response, failovers to the next candidate, and whether
//! it is up; and the streams a stale playlist moved off the primary origin, with the origin
//! each uses now (LIVE.md F9).

use super::{Buckets, Family, Labels, Samples, Value};
use crate::metrics::upstreams::{ActiveOrigins, UpstreamCounters, RESPONSE_BOUNDS};
use crate::metrics::Stats;

pub(super) fn families(stats: &Stats, active: &ActiveOrigins) -> Vec<Family> {
    let parents = stats.upstreams.all();
    let label = |id: &str| -> Labels { vec![("upstream", id.to_string())] };
    let each = |f: fn(&UpstreamCounters) -> u64| {
        Samples::Counter(parents.iter().map(|(id, c)| (label(id), f(c))).collect())
    };
    let errors = parents
        .iter()
        .flat_map(|(id, c)| {
            [
                ("before_response", &c.errors_before_response),
                ("during_response", &c.errors_during_response),
            ]
            .map(|(when, counter)| {
                let mut labels = label(id);
                labels.push(("when", when.to_string()));
                (labels, UpstreamCounters::get(counter))
            })
        })
        .collect();
    let response_times = parents
        .iter()
        .map(|(id, c)| {
            let counts = c.response_buckets.iter().map(UpstreamCounters::get);
            let bounds = RESPONSE_BOUNDS.iter().copied().chain([f64::INFINITY]);
            let buckets: Vec<(f64, u64)> = bounds.zip(counts).collect();
            let count = buckets.iter().map(|(_, n)| n).sum();
            let histogram = Buckets {
                buckets,
                sum_seconds: UpstreamCounters::get(&c.response_sum_us) as f64 / 1e6,
                count,
            };
            (label(id), histogram)
        })
        .collect();
    vec![
        Family {
            name: "livecache_upstream_response_seconds",
            help: "From a request sent to each upstream to its response head",
            samples: Samples::Histogram(response_times),
        },
        Family {
            name: "livecache_upstream_requests",
            help: "Requests sent to each parent shield and origin",
            samples: each(|c| UpstreamCounters::get(&c.requests)),
        },
        Family {
            name: "livecache_upstream_errors",
            help: "Failed exchanges with each upstream: before any response byte (connect error or timeout, or an origin's 5xx; the request may move on) or during the response",
            samples: Samples::Counter(errors),
        },
        Family {
            name: "livecache_upstream_failovers",
            help: "Requests moved from each upstream to the next candidate after it failed before answering",
            samples: each(|c| UpstreamCounters::get(&c.failovers)),
        },
        Family {
            name: "livecache_upstream_up",
            help: "1 while the upstream is in use: a parent whose /readyz probes pass and that no shard ejected (three failures before a response in a row, 10 s), an origin that did not fail in the last 60 s; else 0",
            samples: Samples::Gauge(
                parents
                    .iter()
                    .map(|(id, c)| {
                        let up = u64::from(c.is_up());
                        (label(id), Value::Int(up))
                    })
                    .collect(),
            ),
        },
        Family {
            name: "livecache_stream_active_origin",
            help: "1 for each stream whose playlist moved it off the primary origin (stopped advancing or went back), labelled with the origin it uses now; the first 100 by name",
            samples: Samples::Gauge(
                active
                    .streams
                    .iter()
                    .map(|(stream, origin)| {
                        let labels = vec![("stream", stream.clone()), ("origin", origin.clone())];
                        (labels, Value::Int(1))
                    })
                    .collect(),
            ),
        },
        Family {
            name: "livecache_streams_off_primary_origin",
            help: "Streams that use another origin than the primary now, because their playlist stopped advancing or went back there",
            samples: Samples::Gauge(vec![(Vec::new(), Value::Int(active.total))]),
        },
    ]
}
