//! The text table printed on stdout at the end of a run: one row of percentiles (ms) per
//! request kind and metric under a fixed-width heading, then the request, status, error and
//! live-mode lines. Reads only a [`Summary`], so the table and the JSON never disagree.

use std::fmt::Write as _;

use super::{Percentiles, Summary, QUANTILES};

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
    if let Some(l) = &s.llhls {
        l.rows(&mut out);
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
    if let Some(l) = &s.llhls {
        l.lines(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
