//! What the origin has seen. This module owns the request counters (per
//! exact target, per path, total, and the live simulator's media playlist
//! requests, blocking or plain) and the request log that tests read to prove
//! the cache coalesced, revalidated or forwarded what it should, plus their
//! JSON rendering for `GET /__stats`.
//!
//! A request is recorded as soon as its head and body have been read, before
//! any response byte is written, so a test that has received a response can
//! rely on the counters already including that request.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::behavior::split_target;
use crate::live::FaultCounts;

/// The log keeps the newest this-many requests, so a long-running origin
/// binary under load does not grow without bound; tests never get near it.
pub const LOG_CAPACITY: usize = 100_000;

/// One request as the origin received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method as sent (`GET`, `HEAD`, ...).
    pub method: String,
    /// Request target as sent: path plus query, still percent-encoded.
    pub target: String,
    /// Header fields in the order received (names as sent, values lossily
    /// decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The request body after de-chunking.
    pub body: Vec<u8>,
    /// Per-origin connection sequence number (also sent back as
    /// `X-Origin-Connection`), so tests can see upstream connection reuse.
    pub connection: u64,
}

impl RecordedRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target's path, query stripped.
    pub fn path(&self) -> &str {
        split_target(&self.target).0
    }
}

#[derive(Default)]
struct Inner {
    total: u64,
    targets: HashMap<String, u64>,
    paths: HashMap<String, u64>,
    /// Media playlist requests of the live simulator with `_HLS_msn`.
    blocking_playlists: u64,
    /// Media playlist requests of the live simulator without it.
    plain_playlists: u64,
    /// Media playlist requests of the live simulator with `_HLS_skip`
    /// (counted besides blocking or plain).
    skip_playlists: u64,
    log: VecDeque<RecordedRequest>,
}

/// Thread-safe counters and log, shared by every connection thread.
#[derive(Default)]
pub(crate) struct Stats {
    inner: Mutex<Inner>,
}

impl Stats {
    /// A panicking connection thread must not take the counters down with it.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request; returns how many requests this exact target has now
    /// received, this one included.
    pub(crate) fn record(&self, request: RecordedRequest) -> u64 {
        let mut inner = self.lock();
        inner.total += 1;
        *inner.paths.entry(request.path().to_string()).or_default() += 1;
        let count = inner.targets.entry(request.target.clone()).or_default();
        *count += 1;
        let count = *count;
        if inner.log.len() == LOG_CAPACITY {
            inner.log.pop_front();
        }
        inner.log.push_back(request);
        count
    }

    /// Counts a media playlist request (`blocking`: with `_HLS_msn`;
    /// `skip`: with `_HLS_skip`).
    pub(crate) fn count_playlist(&self, blocking: bool, skip: bool) {
        let mut inner = self.lock();
        match blocking {
            true => inner.blocking_playlists += 1,
            false => inner.plain_playlists += 1,
        }
        inner.skip_playlists += u64::from(skip);
    }

    /// Media playlist requests so far: `(blocking, plain, skip)`.
    pub(crate) fn playlist_hits(&self) -> (u64, u64, u64) {
        let inner = self.lock();
        (
            inner.blocking_playlists,
            inner.plain_playlists,
            inner.skip_playlists,
        )
    }

    pub(crate) fn hits(&self, target: &str) -> u64 {
        self.lock().targets.get(target).copied().unwrap_or(0)
    }

    pub(crate) fn path_hits(&self, path: &str) -> u64 {
        self.lock().paths.get(path).copied().unwrap_or(0)
    }

    pub(crate) fn total(&self) -> u64 {
        self.lock().total
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().log.iter().cloned().collect()
    }

    pub(crate) fn reset(&self) {
        *self.lock() = Inner::default();
    }

    /// `{"total":N,"targets":{"<target>":count,...},"faults":{...},
    /// "playlists":{"blocking":N,"plain":N,"skip":N}}`, targets sorted so
    /// the output is stable and diffable, `faults` the live simulator's
    /// injected-fault counts, `playlists` its media playlist counters.
    pub(crate) fn to_json(&self, faults: FaultCounts) -> String {
        let inner = self.lock();
        let sorted: BTreeMap<&str, u64> = inner
            .targets
            .iter()
            .map(|(t, &n)| (t.as_str(), n))
            .collect();
        let mut out = format!("{{\"total\":{},\"targets\":{{", inner.total);
        for (i, (target, count)) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_string(&mut out, target);
            let _ = write!(out, ":{count}");
        }
        let FaultCounts {
            errors,
            resets,
            stalls,
        } = faults;
        let _ = write!(
            out,
            "}},\"faults\":{{\"errors\":{errors},\"resets\":{resets},\"stalls\":{stalls}}},\
             \"playlists\":{{\"blocking\":{},\"plain\":{},\"skip\":{}}}}}",
            inner.blocking_playlists, inner.plain_playlists, inner.skip_playlists
        );
        out
    }
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping).
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str) -> RecordedRequest {
        RecordedRequest {
            method: method.into(),
            target: target.into(),
            headers: vec![("Host".into(), "x".into())],
            body: Vec::new(),
            connection: 1,
        }
    }

    #[test]
    fn counts_targets_paths_and_total() {
        let stats = Stats::default();
        assert_eq!(stats.record(req("GET", "/a?v=1")), 1);
        assert_eq!(stats.record(req("HEAD", "/a?v=1")), 2);
        assert_eq!(stats.record(req("GET", "/a?v=2")), 1);
        assert_eq!(stats.record(req("GET", "/b")), 1);
        assert_eq!(
            (stats.hits("/a?v=1"), stats.hits("/a"), stats.hits("/nope")),
            (2, 0, 0)
        );
        assert_eq!((stats.path_hits("/a"), stats.path_hits("/b")), (3, 1));
        assert_eq!(stats.total(), 4);
        let log = stats.requests();
        assert_eq!(
            log.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
            ["GET", "HEAD", "GET", "GET"]
        );
        assert_eq!(log[0].header("host"), Some("x"));
        for (blocking, skip) in [(true, true), (false, false), (false, true)] {
            stats.count_playlist(blocking, skip);
        }
        assert_eq!(stats.playlist_hits(), (1, 2, 2));
        stats.reset();
        assert_eq!(
            (stats.total(), stats.hits("/a?v=1"), stats.requests().len()),
            (0, 0, 0)
        );
        assert_eq!(stats.playlist_hits(), (0, 0, 0));
    }

    #[test]
    fn json_is_sorted_and_escaped() {
        let stats = Stats::default();
        assert_eq!(
            stats.to_json(FaultCounts::default()),
            r#"{"total":0,"targets":{},"faults":{"errors":0,"resets":0,"stalls":0},"playlists":{"blocking":0,"plain":0,"skip":0}}"#
        );
        stats.record(req("GET", "/b"));
        stats.record(req("GET", "/a\"q\\\u{1}"));
        stats.record(req("GET", "/b"));
        stats.count_playlist(true, false);
        stats.count_playlist(false, true);
        let faults = FaultCounts {
            errors: 1,
            resets: 2,
            stalls: 3,
        };
        assert_eq!(
            stats.to_json(faults),
            r#"{"total":3,"targets":{"/a\"q\\\u0001":1,"/b":2},"faults":{"errors":1,"resets":2,"stalls":3},"playlists":{"blocking":1,"plain":1,"skip":1}}"#
        );
    }
}
