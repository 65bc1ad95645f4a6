//! Measurements: per-thread [`Stats`] (HDR histograms in microseconds, counters), merged
//! across threads by [`Stats::merge`] once each executor returns its own; the one-second
//! [`Interval`] behind the progress line; and the final [`Report`] (in `report`) with its
//! JSON form ([`Summary`], field names documented in the crate docs) and its stdout table
//! ([`Report::table`], drawn in `table`). The LL-HLS viewers' figures are in `llhls`.
//!
//! Latency histograms hold every complete response, whatever its status; transport and
//! framing errors have no latency and are only counted.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::client::{HttpError, Response};

mod llhls;
mod report;
mod table;
pub use llhls::{LlStats, LlSummary, OriginLoad, OriginSummary, RenditionLoad};
pub use report::{KindSummary, LiveSummary, Percentiles, Report, Summary, QUANTILES};
pub use table::{table, table_header, table_row};

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
    /// LL-HLS mode figures.
    pub llhls: Option<LlStats>,
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

    /// LL-HLS mode figures, created on first use.
    pub fn llhls_mut(&mut self) -> &mut LlStats {
        self.llhls.get_or_insert_with(LlStats::default)
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
        if let Some(o) = &other.llhls {
            self.llhls_mut().merge(o);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete response with `status`, 10 body bytes, and these times.
    pub(super) fn ok(status: u16, ttfb_ms: u64, total_ms: u64) -> Result<Response, HttpError> {
        Ok(Response {
            status,
            ttfb: Duration::from_millis(ttfb_ms),
            total: Duration::from_millis(total_ms),
            bytes: 10,
            body: None,
        })
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
