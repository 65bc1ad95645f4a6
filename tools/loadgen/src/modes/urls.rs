//! Closed loop (`loadgen urls`): each keep-alive connection sends a request, reads the
//! whole response, then sends the next, round-robin over the URLs. Connection `g` (of `C`,
//! numbered across threads) starts at URL `g * len / C`, so connections spread over the
//! list instead of marching in step. The run stops at a duration or after a total number
//! of requests (split evenly over threads). Also here: `{a..b}` URL-pattern expansion.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Conn, HttpError, Url};
use crate::modes::{run_threads, share, Common};
use crate::stats::{Kind, Report};

/// When a closed-loop run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Stop sending once this long has passed since the start.
    Duration(Duration),
    /// Stop after this many requests in total.
    Requests(u64),
}

/// `loadgen urls` settings.
#[derive(Clone, Debug)]
pub struct UrlsConfig {
    /// Threads, pinning, timeout, progress.
    pub common: Common,
    /// The URLs, fetched round-robin.
    pub urls: Vec<String>,
    /// Keep-alive connections in total (at least `threads`).
    pub connections: usize,
    /// When to stop.
    pub stop: Stop,
}

/// Parses and resolves URLs, failing on the first bad one or an empty list.
pub(crate) fn parse_urls(urls: &[String]) -> Result<Vec<Url>, String> {
    if urls.is_empty() {
        return Err("no URLs given".into());
    }
    urls.iter().map(|u| Url::parse(u)).collect()
}

/// Runs the closed loop.
pub fn run(cfg: &UrlsConfig) -> Result<Report, String> {
    let urls = Arc::new(parse_urls(&cfg.urls)?);
    let total = cfg.connections;
    if total < cfg.common.threads.max(1) {
        return Err("--connections must be at least --threads".into());
    }
    if cfg.stop == Stop::Requests(0) {
        return Err("--requests must be at least 1".into());
    }
    let stop = cfg.stop;
    let (stats, elapsed) = run_threads(&cfg.common, move |w| {
        let urls = Arc::clone(&urls);
        async move {
            let deadline = match stop {
                Stop::Duration(d) => Some(w.start + d),
                Stop::Requests(_) => None,
            };
            let budget = Rc::new(Cell::new(match stop {
                Stop::Requests(n) => Some(share(n, w.threads, w.index)),
                Stop::Duration(_) => None,
            }));
            let tasks: Vec<_> = (w.index..total)
                .step_by(w.threads)
                .map(|g| {
                    let urls = Arc::clone(&urls);
                    let budget = Rc::clone(&budget);
                    let rec = w.rec.clone();
                    let mut conn = Conn::new(w.timeout);
                    glommio::spawn_local(async move {
                        let mut next = g * urls.len() / total;
                        loop {
                            if deadline.is_some_and(|d| Instant::now() >= d) {
                                break;
                            }
                            match budget.get() {
                                Some(0) => break,
                                Some(n) => budget.set(Some(n - 1)),
                                None => {}
                            }
                            let url = &urls[next % urls.len()];
                            next += 1;
                            let result = conn.get(url, false, Instant::now()).await;
                            rec.record(Kind::Url, &result);
                            if let Err(HttpError::Connect(_)) = result {
                                // Do not spin when the server is down.
                                glommio::timer::sleep(Duration::from_millis(10)).await;
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
        }
    })?;
    Ok(Report {
        mode: "urls",
        threads: cfg.common.threads,
        connections: total,
        elapsed,
        stats,
    })
}

/// Expands every `{a..b}` range in `pattern` (inclusive, ascending or descending; a
/// zero-padded bound like `{000..099}` pads every value to its width), taking the cartesian
/// product when there are several. Text without ranges expands to itself.
pub fn expand_pattern(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('{') else {
        if pattern.contains('}') {
            return Err(format!("{pattern:?}: unmatched '}}'"));
        }
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find('}')
        .map(|i| open + i)
        .ok_or_else(|| format!("{pattern:?}: unmatched '{{'"))?;
    let (prefix, inner, suffix) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    if prefix.contains('}') {
        return Err(format!("{pattern:?}: unmatched '}}'"));
    }
    let (a, b) = inner
        .split_once("..")
        .ok_or_else(|| format!("{pattern:?}: expected {{a..b}}, got {{{inner}}}"))?;
    let parse = |s: &str| {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("{pattern:?}: {s:?} is not a number"));
        }
        s.parse::<u64>().map_err(|e| format!("{pattern:?}: {e}"))
    };
    let (from, to) = (parse(a)?, parse(b)?);
    let width = if (a.len() > 1 && a.starts_with('0')) || (b.len() > 1 && b.starts_with('0')) {
        a.len().max(b.len())
    } else {
        0
    };
    let count = from.abs_diff(to) + 1;
    let rest = expand_pattern(suffix)?;
    if count.saturating_mul(rest.len() as u64) > 10_000_000 {
        return Err(format!("{pattern:?}: expands to too many URLs"));
    }
    let values: Vec<u64> = if from <= to {
        (from..=to).collect()
    } else {
        (to..=from).rev().collect()
    };
    let mut out = Vec::with_capacity(values.len() * rest.len());
    for v in values {
        for r in &rest {
            out.push(format!("{prefix}{v:0width$}{r}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_expansion() {
        let v = expand_pattern("http://h/p/seg-{0..99}.m4s").unwrap();
        assert_eq!(v.len(), 100);
        assert_eq!(v[0], "http://h/p/seg-0.m4s");
        assert_eq!(v[99], "http://h/p/seg-99.m4s");
        assert_eq!(
            expand_pattern("/s{1..2}/{08..10}").unwrap(),
            vec!["/s1/08", "/s1/09", "/s1/10", "/s2/08", "/s2/09", "/s2/10"]
        );
        assert_eq!(
            expand_pattern("/x{3..1}").unwrap(),
            vec!["/x3", "/x2", "/x1"]
        );
        assert_eq!(expand_pattern("/plain").unwrap(), vec!["/plain"]);
        assert_eq!(expand_pattern("/x{5..5}").unwrap(), vec!["/x5"]);
        for bad in [
            "/x{1..",
            "/x{a..3}",
            "/x{1-3}",
            "/x}",
            "/x{..3}",
            "/x{1..2}}",
        ] {
            assert!(expand_pattern(bad).is_err(), "{bad}");
        }
    }
}
