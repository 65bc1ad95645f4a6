//! Measurements: per-thread [`Stats`] (HDR histograms in microseconds, counters), merged
//! across threads by [`Stats::merge`] once each executor returns its own; the one-second
//! [`Interval`] behind the progress line; and the final [`Report`] with its stdout table
//! ([`Report::table`]) and its JSON form ([`Summary`], field names documented in the crate
//! docs).
//!
//! Latency histograms hold every complete response, whatever its status; transport and
//! framing errors have no latency and are only counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::{HttpError, Response};

/// Largest latency a histogram holds exactly (one hour, in microseconds); larger values
/// are clamped to it.
const MAX_US: u64 = 3_600_000_000;

/// A new latency histogram: 1 µs to one hour, 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_US);
    h.saturating_record(us);
}

/// What a request fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A URL given on the command line (urls and rate modes).
    Url,
    /// A media playlist (live mode).
    Playlist,
    /// A media segment (live mode).
    Segment,
    /// A partial segment (live mode with `--ll-hls`).
    Part,
}

impl Kind {
    /// The name used in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Url => "url",
            Kind::Playlist => "playlist",
            Kind::Segment => "segment",
            Kind::Part => "part",
        }
    }
}

/// Figures for one request kind.
#[derive(Clone, Debug)]
pub struct KindStats {
    /// Complete responses (any status).
    pub requests: u64,
    /// Complete responses with status 2xx or 304.
    pub ok: u64,
    /// Requests that failed without a complete response.
    pub errors: u64,
    /// Body bytes of complete responses.
    pub bytes: u64,
    /// Time to first byte, µs.
    pub ttfb: Histogram<u64>,
    /// Time to last body byte, µs.
    pub total: Histogram<u64>,
}

impl Default for KindStats {
    fn default() -> Self {
        KindStats {
            requests: 0,
            ok: 0,
            errors: 0,
            bytes: 0,
            ttfb: histogram(),
            total: histogram(),
        }
    }
}

/// Player figures from live mode.
#[derive(Clone, Debug)]
pub struct LiveStats {
    /// Viewers started.
    pub viewers: u64,
    /// Segments completely received.
    pub segments: u64,
    /// Parts completely received.
    pub parts: u64,
    /// Media objects (segments, or parts with `--ll-hls`) not completely received by their
    /// playback deadline, or failed.
    pub stalls: u64,
    /// Sum over stalls of how late the object was (µs).
    pub stall_us: u64,
    /// Segments skipped because they left the playlist before the viewer got to them.
    pub skipped: u64,
    /// Live-edge lag at each media request, µs.
    pub lag: Histogram<u64>,
}

impl Default for LiveStats {
    fn default() -> Self {
        LiveStats {
            viewers: 0,
            segments: 0,
            parts: 0,
            stalls: 0,
            stall_us: 0,
            skipped: 0,
            lag: histogram(),
        }
    }
}

impl LiveStats {
    /// Records a stall `late` past its deadline.
    pub fn stall(&mut self, late: Duration) {
        self.stalls += 1;
        self.stall_us += u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
    }

    /// Records the live-edge lag of one media request.
    pub fn lag(&mut self, lag: Duration) {
        record(&mut self.lag, lag);
    }
}

/// Everything one thread (or, merged, the whole run) measured.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Per request kind.
    pub kinds: BTreeMap<Kind, KindStats>,
    /// Complete responses per status code.
    pub status: BTreeMap<u16, u64>,
    /// Failed requests per [`HttpError::kind`].
    pub errors: BTreeMap<&'static str, u64>,
    /// Rate mode: scheduled requests dropped unsent because no connection freed up
    /// within [`crate::modes::rate::GRACE`] after the end of the schedule.
    pub unsent: u64,
    /// Live-mode figures.
    pub live: Option<LiveStats>,
}

impl Stats {
    /// Records one request's outcome.
    pub fn record(&mut self, kind: Kind, result: &Result<Response, HttpError>) {
        let k = self.kinds.entry(kind).or_default();
        match result {
            Ok(r) => {
                k.requests += 1;
                k.ok += u64::from(r.ok());
                k.bytes += r.bytes;
                record(&mut k.ttfb, r.ttfb);
                record(&mut k.total, r.total);
                *self.status.entry(r.status).or_default() += 1;
            }
            Err(e) => {
                k.errors += 1;
                *self.errors.entry(e.kind()).or_default() += 1;
            }
        }
    }

    /// Live-mode figures, created on first use.
    pub fn live_mut(&mut self) -> &mut LiveStats {
        self.live.get_or_insert_with(LiveStats::default)
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        for (kind, o) in &other.kinds {
            let k = self.kinds.entry(*kind).or_default();
            k.requests += o.requests;
            k.ok += o.ok;
            k.errors += o.errors;
            k.bytes += o.bytes;
            k.ttfb.add(&o.ttfb).expect("same histogram bounds");
            k.total.add(&o.total).expect("same histogram bounds");
        }
        for (s, n) in &other.status {
            *self.status.entry(*s).or_default() += n;
        }
        for (e, n) in &other.errors {
            *self.errors.entry(e).or_default() += n;
        }
        self.unsent += other.unsent;
        if let Some(o) = &other.live {
            let l = self.live_mut();
            l.viewers += o.viewers;
            l.segments += o.segments;
            l.parts += o.parts;
            l.stalls += o.stalls;
            l.stall_us += o.stall_us;
            l.skipped += o.skipped;
            l.lag.add(&o.lag).expect("same histogram bounds");
        }
    }

    /// Complete responses, all kinds.
    pub fn requests(&self) -> u64 {
        self.kinds.values().map(|k| k.requests).sum()
    }

    /// Failed requests, all kinds.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Complete responses with a status other than 2xx/304.
    pub fn bad_status(&self) -> u64 {
        self.kinds.values().map(|k| k.requests - k.ok).sum()
    }
}

/// One second of progress from one thread (merged across threads by the reporter).
#[derive(Clone, Debug)]
pub struct Interval {
    /// Complete responses.
    pub requests: u64,
    /// Failed requests plus responses with a status other than 2xx/304.
    pub errors: u64,
    /// Total time of the complete responses, µs.
    pub total: Histogram<u64>,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            requests: 0,
            errors: 0,
            total: histogram(),
        }
    }
}

impl Interval {
    /// Records one request's outcome.
    pub fn record(&mut self, result: &Result<Response, HttpError>) {
        match result {
            Ok(r) => {
                self.requests += 1;
                self.errors += u64::from(!r.ok());
                record(&mut self.total, r.total);
            }
            Err(_) => self.errors += 1,
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Interval) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.total.add(&other.total).expect("same histogram bounds");
    }

    /// `t=3s req/s=1234 err=0 p99=1.23ms` for the second ending at `t` seconds.
    pub fn progress_line(&self, t: u64) -> String {
        let p99 = if self.total.is_empty() {
            "-".to_string()
        } else {
            format!("{:.2}ms", ms(self.total.value_at_quantile(0.99)))
        };
        format!(
            "t={t}s req/s={} err={} p99={p99}",
            self.requests, self.errors
        )
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

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

    fn values(&self) -> [f64; 6] {
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
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Report {
    /// `urls`, `rate` or `live`.
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

/// The heading of the latency table.
pub fn table_header() -> String {
    let mut line = format!("{:<10}{:<7}{:>9}", "kind", "metric", "count");
    for (_, name) in QUANTILES {
        let _ = write!(line, "{name:>10}");
    }
    line.push_str(&format!("{:>10}", "max"));
    line
}

/// One row of the latency table: percentiles in ms with three decimals.
pub fn table_row(kind: &str, metric: &str, p: &Percentiles) -> String {
    let mut line = format!("{kind:<10}{metric:<7}{:>9}", p.count);
    for v in p.values() {
        let _ = write!(line, "{v:>10.3}");
    }
    line
}

/// The end-of-run table for a summary.
pub fn table(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  (ms)", table_header());
    for (name, k) in &s.kinds {
        let _ = writeln!(out, "{}", table_row(name, "ttfb", &k.ttfb_ms));
        let _ = writeln!(out, "{}", table_row(name, "total", &k.total_ms));
    }
    if let Some(l) = &s.live {
        let _ = writeln!(out, "{}", table_row("live", "lag", &l.lag_ms));
    }
    let _ = writeln!(
        out,
        "requests {} in {:.2}s = {:.1}/s, bytes {} = {:.2} MB/s, threads {}, connections {}",
        s.requests,
        s.elapsed_s,
        s.requests_per_s,
        s.bytes,
        s.bytes_per_s / 1e6,
        s.threads,
        s.connections
    );
    let statuses: Vec<String> = s.status.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let _ = writeln!(
        out,
        "status {} (not 2xx/304: {})",
        if statuses.is_empty() {
            "-".into()
        } else {
            statuses.join(" ")
        },
        s.bad_status
    );
    if s.unsent > 0 {
        let _ = writeln!(out, "unsent {} (no free connection in time)", s.unsent);
    }
    let kinds: Vec<String> = s
        .error_kinds
        .iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    let _ = writeln!(
        out,
        "errors {}{}",
        s.errors,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(" "))
        }
    );
    for (name, k) in &s.kinds {
        let _ = writeln!(
            out,
            "  {name}: requests {} ok {} errors {} bytes {}",
            k.requests, k.ok, k.errors, k.bytes
        );
    }
    if let Some(l) = &s.live {
        let _ = writeln!(
            out,
            "live: viewers {} segments {} parts {} stalls {} (stalled {:.1} ms) skipped {}",
            l.viewers, l.segments, l.parts, l.stalls, l.stall_ms, l.skipped
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(status: u16, ttfb_ms: u64, total_ms: u64) -> Result<Response, HttpError> {
        Ok(Response {
            status,
            ttfb: Duration::from_millis(ttfb_ms),
            total: Duration::from_millis(total_ms),
            bytes: 10,
            body: None,
        })
    }

    #[test]
    fn row_formatting() {
        let p = Percentiles {
            count: 3,
            mean: 2.0,
            p50: 1.0,
            p90: 2.5,
            p99: 3.0,
            p99_9: 3.0,
            p99_99: 3.0,
            max: 12.3456,
        };
        assert_eq!(
            table_row("url", "ttfb", &p),
            "url       ttfb           3     1.000     2.500     3.000     3.000     3.000    12.346"
        );
        assert_eq!(
            table_header(),
            "kind      metric     count       p50       p90       p99     p99.9    p99.99       max"
        );
        assert_eq!(table_header().len(), table_row("url", "ttfb", &p).len());
    }

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

    #[test]
    fn progress_line() {
        let mut iv = Interval::default();
        assert_eq!(iv.progress_line(1), "t=1s req/s=0 err=0 p99=-");
        iv.record(&ok(200, 1, 2));
        iv.record(&ok(503, 1, 2));
        iv.record(&Err(HttpError::Timeout));
        assert_eq!(iv.progress_line(3), "t=3s req/s=2 err=2 p99=2.00ms");
    }
}
