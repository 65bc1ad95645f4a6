//! The end of a run: the merged [`Stats`] with the run's shape ([`Report`]) and the figures
//! it is reported as ([`Summary`]), the one shape behind both the `--json` document and the
//! stdout table. Latencies become [`Percentiles`] in milliseconds here; field names are
//! stable and documented in the crate docs.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{ms, table, LlSummary, Stats};

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// 50th percentile.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// 99.99th percentile.
    pub p99_99: f64,
    /// Largest sample.
    pub max: f64,
}

/// The quantiles reported, with their table headings.
pub const QUANTILES: [(f64, &str); 5] = [
    (0.5, "p50"),
    (0.9, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (0.9999, "p99.99"),
];

impl Percentiles {
    /// Percentiles of a µs histogram, in ms (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |p| ms(h.value_at_quantile(p));
        Percentiles {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: ms(h.max()),
        }
    }

    pub(super) fn values(&self) -> [f64; 6] {
        [
            self.p50,
            self.p90,
            self.p99,
            self.p99_9,
            self.p99_99,
            self.max,
        ]
    }
}

/// JSON figures for one request kind.
#[derive(Clone, Debug, Serialize)]
pub struct KindSummary {
    /// Complete responses (any status).
    pub requests: u64,
    /// Complete responses with status 2xx/304.
    pub ok: u64,
    /// Requests that failed without a complete response.
    pub errors: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Time to first byte, ms.
    pub ttfb_ms: Percentiles,
    /// Time to last byte, ms.
    pub total_ms: Percentiles,
}

/// JSON figures for live mode.
#[derive(Clone, Debug, Serialize)]
pub struct LiveSummary {
    /// Viewers started.
    pub viewers: u64,
    /// Segments completely received.
    pub segments: u64,
    /// Parts completely received.
    pub parts: u64,
    /// Media objects late for (or failed before) their playback deadline.
    pub stalls: u64,
    /// Sum of how late the stalled objects were, ms.
    pub stall_ms: f64,
    /// Segments that left the playlist before the viewer fetched them.
    pub skipped: u64,
    /// Live-edge lag at media requests, ms.
    pub lag_ms: Percentiles,
}

/// The whole run's figures in their JSON shape (see the crate docs for the fields).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// `urls`, `rate` or `live`.
    pub mode: String,
    /// Executor threads.
    pub threads: usize,
    /// Connections (urls/rate) or viewers (live).
    pub connections: usize,
    /// Wall time from the start until the last thread finished, s.
    pub elapsed_s: f64,
    /// Complete responses, all kinds.
    pub requests: u64,
    /// `requests / elapsed_s`.
    pub requests_per_s: f64,
    /// Complete responses with a status other than 2xx/304.
    pub bad_status: u64,
    /// Requests that failed without a complete response.
    pub errors: u64,
    /// `errors` by kind (`connect`, `io`, `closed`, `short_body`, `bad_response`,
    /// `bad_chunk`, `head_too_large`, `trailing_data`, `timeout`).
    pub error_kinds: BTreeMap<String, u64>,
    /// Complete responses by status code.
    pub status: BTreeMap<String, u64>,
    /// Rate mode: scheduled requests never sent (no free connection in time); 0 otherwise.
    pub unsent: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// `bytes / elapsed_s`.
    pub bytes_per_s: f64,
    /// Per request kind (`url`, `playlist`, `segment`, `part`).
    pub kinds: BTreeMap<String, KindSummary>,
    /// Live-mode figures (`null` in the other modes).
    pub live: Option<LiveSummary>,
    /// LL-HLS mode figures (`null` in the other modes).
    pub llhls: Option<LlSummary>,
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Report {
    /// `urls`, `rate`, `live` or `llhls`.
    pub mode: &'static str,
    /// Executor threads.
    pub threads: usize,
    /// Connections (urls/rate) or viewers (live).
    pub connections: usize,
    /// Wall time from the start until the last thread finished.
    pub elapsed: Duration,
    /// The merged measurements.
    pub stats: Stats,
}

impl Report {
    /// The JSON-shaped figures.
    pub fn summary(&self) -> Summary {
        let s = &self.stats;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let bytes: u64 = s.kinds.values().map(|k| k.bytes).sum();
        Summary {
            mode: self.mode.to_string(),
            threads: self.threads,
            connections: self.connections,
            elapsed_s: self.elapsed.as_secs_f64(),
            requests: s.requests(),
            requests_per_s: s.requests() as f64 / secs,
            bad_status: s.bad_status(),
            errors: s.error_count(),
            error_kinds: s.errors.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            status: s.status.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            unsent: s.unsent,
            bytes,
            bytes_per_s: bytes as f64 / secs,
            kinds: s
                .kinds
                .iter()
                .map(|(kind, k)| {
                    let summary = KindSummary {
                        requests: k.requests,
                        ok: k.ok,
                        errors: k.errors,
                        bytes: k.bytes,
                        ttfb_ms: Percentiles::of(&k.ttfb),
                        total_ms: Percentiles::of(&k.total),
                    };
                    (kind.name().to_string(), summary)
                })
                .collect(),
            live: s.live.as_ref().map(|l| LiveSummary {
                viewers: l.viewers,
                segments: l.segments,
                parts: l.parts,
                stalls: l.stalls,
                stall_ms: l.stall_us as f64 / 1000.0,
                skipped: l.skipped,
                lag_ms: Percentiles::of(&l.lag),
            }),
            llhls: s.llhls.as_ref().map(|l| LlSummary::of(l, &s.status)),
        }
    }

    /// The JSON document written by `--json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.summary()).expect("summary serializes")
    }

    /// The table printed on stdout at the end of a run.
    pub fn table(&self) -> String {
        table(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::HttpError;
    use crate::stats::tests::ok;
    use crate::stats::Kind;

    #[test]
    fn merge_and_table() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for i in 1..=100 {
            a.record(Kind::Url, &ok(200, i, i * 2));
        }
        b.record(Kind::Url, &ok(404, 1, 1));
        b.record(Kind::Url, &Err(HttpError::ShortBody));
        b.live_mut().stall(Duration::from_millis(5));
        a.merge(&b);
        let report = Report {
            mode: "urls",
            threads: 2,
            connections: 4,
            elapsed: Duration::from_secs(2),
            stats: a,
        };
        let s = report.summary();
        assert_eq!((s.requests, s.bad_status, s.errors), (101, 1, 1));
        assert_eq!(s.status["200"], 100);
        assert_eq!(s.status["404"], 1);
        assert_eq!(s.error_kinds["short_body"], 1);
        assert_eq!(s.requests_per_s, 50.5);
        let url = &s.kinds["url"];
        assert_eq!(url.ttfb_ms.count, 101);
        assert!((url.ttfb_ms.p50 - 50.0).abs() < 0.1, "{}", url.ttfb_ms.p50);
        assert!((url.total_ms.max - 200.0).abs() < 0.2);
        assert_eq!(s.live.as_ref().unwrap().stalls, 1);
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("kind      metric"));
        assert!(lines[1].starts_with("url       ttfb         101"));
        assert!(lines[2].starts_with("url       total        101"));
        assert!(table.contains("status 200=100 404=1 (not 2xx/304: 1)"));
        assert!(table.contains("errors 1 (short_body=1)"));
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["kinds"]["url"]["ttfb_ms"]["count"], 101);
        assert_eq!(json["live"]["stalls"], 1);
    }
}
