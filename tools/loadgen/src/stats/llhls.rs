//! The figures of `loadgen llhls` (hls.js-like low-latency viewers): per-thread
//! [`LlStats`] merged like the rest of [`super::Stats`], the origin's load read from its
//! `/__stats` after the run ([`OriginLoad`]), their JSON shape ([`LlSummary`]) and the
//! lines they add to the end-of-run table.
//!
//! Latencies are against the part's publish time computed from the playlist
//! (`EXT-X-PROGRAM-DATE-TIME` plus durations): **hold release** is the time from the
//! requested part's publication to the arrival of the blocking response that lists it,
//! taken only for requests sent before that publication (a request for a part that already
//! existed is counted as answered at once instead); **edge latency** is the arrival of any
//! blocking response minus the publication of the newest part it lists.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{histogram, record, table_row, Percentiles};

/// LL-HLS viewer figures of one thread, or merged.
#[derive(Clone, Debug)]
pub struct LlStats {
    /// Viewers started.
    pub viewers: u64,
    /// Viewers spelling the blocking request `_HLS_part=N&_HLS_msn=M`.
    pub swapped_viewers: u64,
    /// Viewers appending `&_HLS_skip=YES` to it.
    pub skip_viewers: u64,
    /// Requested part published → blocking response received, µs (held requests only).
    pub hold_release: Histogram<u64>,
    /// Blocking response received → minus the newest listed part's publication, µs.
    pub edge: Histogram<u64>,
    /// Blocking responses (200) whose requested part was published after the request.
    pub held: u64,
    /// Blocking responses (200) whose requested part already existed when asked.
    pub at_once: u64,
    /// Blocking responses (200, no `EXT-X-ENDLIST`) that do not list the requested part.
    pub lacking: u64,
    /// Blocking responses (200) with publish times that could not be computed (no date).
    pub undated: u64,
    /// Blocking responses that were Playlist Delta Updates (`EXT-X-SKIP`).
    pub deltas: u64,
    /// Preload-hinted parts received whole with a 2xx.
    pub parts: u64,
    /// Parts published per playlist URL between the probes before and after the run
    /// (filled by the mode once the threads are done).
    pub published: BTreeMap<String, u64>,
    /// The origin's playlist requests during the run (with `--origin-stats`).
    pub origin: Option<OriginLoad>,
}

impl Default for LlStats {
    fn default() -> Self {
        LlStats {
            viewers: 0,
            swapped_viewers: 0,
            skip_viewers: 0,
            hold_release: histogram(),
            edge: histogram(),
            held: 0,
            at_once: 0,
            lacking: 0,
            undated: 0,
            deltas: 0,
            parts: 0,
            published: BTreeMap::new(),
            origin: None,
        }
    }
}

impl LlStats {
    /// Records the hold release of one held blocking response.
    pub fn hold_release(&mut self, d: Duration) {
        self.held += 1;
        record(&mut self.hold_release, d);
    }

    /// Records the edge latency of one blocking response.
    pub fn edge(&mut self, d: Duration) {
        record(&mut self.edge, d);
    }

    /// Adds `o` into `self` (counters and histograms; `published` and `origin` are the
    /// mode's, set once after the merge).
    pub fn merge(&mut self, o: &LlStats) {
        self.viewers += o.viewers;
        self.swapped_viewers += o.swapped_viewers;
        self.skip_viewers += o.skip_viewers;
        self.hold_release
            .add(&o.hold_release)
            .expect("same histogram bounds");
        self.edge.add(&o.edge).expect("same histogram bounds");
        self.held += o.held;
        self.at_once += o.at_once;
        self.lacking += o.lacking;
        self.undated += o.undated;
        self.deltas += o.deltas;
        self.parts += o.parts;
    }
}

/// Media playlist requests the origin received for one playlist URL during the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RenditionLoad {
    /// The playlist path, as the origin saw it.
    pub path: String,
    /// Requests with `_HLS_msn`.
    pub blocking: u64,
    /// Requests without it.
    pub plain: u64,
    /// Requests with `_HLS_skip` (also counted in one of the above).
    pub skip: u64,
}

/// The origin's playlist requests during the run, per rendition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginLoad {
    /// One entry per playlist URL of the run, in the run's order.
    pub renditions: Vec<RenditionLoad>,
}

/// JSON figures of `loadgen llhls` (`llhls` in the JSON document).
#[derive(Clone, Debug, Serialize)]
pub struct LlSummary {
    /// Viewers started.
    pub viewers: u64,
    /// Viewers with the swapped parameter order.
    pub swapped_viewers: u64,
    /// Viewers appending `_HLS_skip=YES`.
    pub skip_viewers: u64,
    /// Hold release, ms (see the module docs).
    pub hold_release_ms: Percentiles,
    /// Edge latency, ms.
    pub edge_latency_ms: Percentiles,
    /// Held blocking responses.
    pub held: u64,
    /// Blocking responses for parts that already existed.
    pub answered_at_once: u64,
    /// Blocking responses lacking the requested part (must be 0).
    pub lacking_part: u64,
    /// Blocking responses without computable publish times.
    pub undated: u64,
    /// Blocking responses that were delta updates.
    pub delta_updates: u64,
    /// Hinted parts received.
    pub parts: u64,
    /// Responses with a 4xx status, all kinds.
    pub status_4xx: u64,
    /// Responses with a 5xx status, all kinds.
    pub status_5xx: u64,
    /// Parts published during the run, all playlists together.
    pub parts_published: u64,
    /// The origin's load (`null` without `--origin-stats`).
    pub origin: Option<OriginSummary>,
}

/// JSON figures of the origin's load.
#[derive(Clone, Debug, Serialize)]
pub struct OriginSummary {
    /// Blocking playlist requests at the origin, all playlists.
    pub blocking: u64,
    /// Plain playlist requests at the origin.
    pub plain: u64,
    /// `_HLS_skip` playlist requests at the origin.
    pub skip: u64,
    /// `blocking / parts_published`: blocking requests per published part per rendition.
    pub blocking_per_part: f64,
    /// The largest per-playlist ratio.
    pub max_blocking_per_part: f64,
    /// Per playlist.
    pub renditions: Vec<RenditionLoad>,
}

impl LlSummary {
    /// The summary of `l`, with the run's status counts.
    pub fn of(l: &LlStats, status: &BTreeMap<u16, u64>) -> LlSummary {
        let count = |range: std::ops::Range<u16>| {
            status
                .iter()
                .filter(|(s, _)| range.contains(s))
                .map(|(_, n)| n)
                .sum()
        };
        let parts_published = l.published.values().sum();
        let origin = l.origin.as_ref().map(|o| {
            let sum = |f: fn(&RenditionLoad) -> u64| o.renditions.iter().map(f).sum::<u64>();
            let blocking = sum(|r| r.blocking);
            let max = o
                .renditions
                .iter()
                .map(|r| {
                    r.blocking as f64 / l.published.get(&r.path).copied().unwrap_or(0).max(1) as f64
                })
                .fold(0.0, f64::max);
            OriginSummary {
                blocking,
                plain: sum(|r| r.plain),
                skip: sum(|r| r.skip),
                blocking_per_part: blocking as f64 / (parts_published as f64).max(1.0),
                max_blocking_per_part: max,
                renditions: o.renditions.clone(),
            }
        });
        LlSummary {
            viewers: l.viewers,
            swapped_viewers: l.swapped_viewers,
            skip_viewers: l.skip_viewers,
            hold_release_ms: Percentiles::of(&l.hold_release),
            edge_latency_ms: Percentiles::of(&l.edge),
            held: l.held,
            answered_at_once: l.at_once,
            lacking_part: l.lacking,
            undated: l.undated,
            delta_updates: l.deltas,
            parts: l.parts,
            status_4xx: count(400..500),
            status_5xx: count(500..600),
            parts_published,
            origin,
        }
    }

    /// The latency rows for the table.
    pub fn rows(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "{}",
            table_row("ll-hls", "release", &self.hold_release_ms)
        );
        let _ = writeln!(
            out,
            "{}",
            table_row("ll-hls", "edge", &self.edge_latency_ms)
        );
    }

    /// The summary lines for the table.
    pub fn lines(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "ll-hls: viewers {} (swapped order {}, _HLS_skip {}), blocking responses: held {}, \
             answered at once {}, lacking the part {}, delta updates {}, undated {}; \
             hinted parts {}; 4xx {} 5xx {}",
            self.viewers,
            self.swapped_viewers,
            self.skip_viewers,
            self.held,
            self.answered_at_once,
            self.lacking_part,
            self.delta_updates,
            self.undated,
            self.parts,
            self.status_4xx,
            self.status_5xx
        );
        if let Some(o) = &self.origin {
            let _ = writeln!(
                out,
                "origin: blocking playlist requests {} for {} parts published over {} playlists \
                 = {:.3} per part per rendition (max {:.3}); plain {}, _HLS_skip {}",
                o.blocking,
                self.parts_published,
                o.renditions.len(),
                o.blocking_per_part,
                o.max_blocking_per_part,
                o.plain,
                o.skip
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_summary() {
        let mut a = LlStats::default();
        let mut b = LlStats::default();
        a.viewers = 2;
        b.viewers = 1;
        b.skip_viewers = 1;
        for ms in [10, 20, 30] {
            a.hold_release(Duration::from_millis(ms));
        }
        b.hold_release(Duration::from_millis(40));
        b.edge(Duration::from_millis(5));
        b.lacking = 1;
        a.merge(&b);
        a.published.insert("/a.m3u8".into(), 100);
        a.published.insert("/b.m3u8".into(), 50);
        a.origin = Some(OriginLoad {
            renditions: vec![
                RenditionLoad {
                    path: "/a.m3u8".into(),
                    blocking: 100,
                    plain: 1,
                    skip: 0,
                },
                RenditionLoad {
                    path: "/b.m3u8".into(),
                    blocking: 80,
                    plain: 2,
                    skip: 3,
                },
            ],
        });
        let status = BTreeMap::from([(200, 10), (404, 2), (400, 1), (503, 4)]);
        let s = LlSummary::of(&a, &status);
        assert_eq!(
            (s.viewers, s.skip_viewers, s.held, s.lacking_part),
            (3, 1, 4, 1)
        );
        assert_eq!((s.status_4xx, s.status_5xx, s.parts_published), (3, 4, 150));
        assert!((s.hold_release_ms.max - 40.0).abs() < 0.1);
        let o = s.origin.as_ref().unwrap();
        assert_eq!((o.blocking, o.plain, o.skip), (180, 3, 3));
        assert!((o.blocking_per_part - 1.2).abs() < 1e-9);
        assert!((o.max_blocking_per_part - 1.6).abs() < 1e-9);
        let mut out = String::new();
        s.rows(&mut out);
        s.lines(&mut out);
        assert!(out.starts_with("ll-hls    release        4"), "{out}");
        assert!(out.contains("lacking the part 1"));
        assert!(out.contains("= 1.200 per part per rendition (max 1.600)"));
    }
}
