//! Live viewers (`loadgen live`): `--viewers` per stream behave like HLS players against
//! `{base}/live/{stream}/{rendition}/index.m3u8` (the path is a flag), each on its own
//! keep-alive connection, fetching one thing at a time.
//!
//! * **Start.** A blocking probe of the first stream's playlist learns the segment
//!   duration; viewer `g` of `G` (numbered across streams and threads) starts at
//!   `start + g * segment_duration / G`, spreading the herd over one segment.
//! * **Join point.** Plain HLS: the segment at least three target durations before the end
//!   of the playlist's complete segments (the RFC 8216 hold-back players use,
//!   [`live_start`]; parts of the segment in progress do not count), fetched
//!   back to back so playback starts with that much buffered. While a stream that has just
//!   started lists less than that (its media sequence has not moved since the viewer's
//!   first playlist), the viewer reloads and waits rather than joining at the edge with one
//!   segment of buffer ([`plain_start`]); a short playlist that rolls or has ended is
//!   joined at its first segment.
//!   `--ll-hls`: the first part of the newest complete segment that lists parts (about one
//!   segment plus the parts in progress behind the edge, like PART-HOLD-BACK), falling back
//!   to the plain join point when the playlist lists no parts.
//! * **Plain HLS loop.** Fetch every listed segment after the join point in order; when
//!   none is left, reload the playlist one reload interval after the previous reload began:
//!   the last segment's duration capped at the target duration when the playlist changed,
//!   half that when it did not (RFC 8216 §6.3.4, with hls.js's use of the segment
//!   duration so sub-second segments are not polled once per whole-second target).
//! * **LL-HLS loop.** Fetch every listed part in order (a complete segment that lists no
//!   parts is fetched whole); when the next part is not listed, issue a blocking reload
//!   `?_HLS_msn=M&_HLS_part=P` for it. A server that answers at once without the part gets
//!   polled every part target instead of in a hot loop. The preload hint is parsed but not
//!   requested ahead.
//! * **Measurements.** Each segment/part records first-byte and total time and bytes under
//!   its kind; each media request records the live-edge lag: the media the viewer's
//!   playlist lists after the requested object ([`edge_lag`]). Playback follows
//!   [`Playback`]: a **stall** is a media object (segment, or part with `--ll-hls`)
//!   completely received after the viewer's buffer ran dry (when the previous object's
//!   playback ended), or one that failed.
//! * **End.** Viewers stop requesting at `--duration`; a blocking reload still pending
//!   then is abandoned without being recorded. `EXT-X-ENDLIST` ends a viewer early.
//!
//! The player's decisions (join points, lag, reload intervals, the playback buffer) are pure
//! functions in `player` over livecache's playlist model ([`MediaPlaylist`], the parser the
//! daemon uses too); this file owns the settings, the threads and each viewer's loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use livecache::live::MediaPlaylist;

use crate::client::{blocking_get, Conn, HttpError, Url};
use crate::modes::{run_threads, sleep_until, Common, Recorder};
use crate::stats::{Kind, Report};

mod player;
pub use player::{edge_lag, live_start, ll_start, plain_start, reload_interval, Playback};

/// `loadgen live` settings.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Threads, pinning, timeout, progress.
    pub common: Common,
    /// `http://host:port` of the origin or cache.
    pub base: String,
    /// Number of streams.
    pub streams: usize,
    /// Viewers per stream.
    pub viewers: usize,
    /// Rendition name in the path.
    pub rendition: String,
    /// Stream name pattern; `{}` becomes the stream index (`s{}` → `s0`, `s1`, …).
    pub stream_names: String,
    /// Playlist path pattern with `{stream}` and `{rendition}`.
    pub playlist_path: String,
    /// How long viewers watch.
    pub duration: Duration,
    /// Low-latency HLS: blocking reloads and parts.
    pub ll_hls: bool,
}

impl LiveConfig {
    /// The default playlist path pattern.
    pub const DEFAULT_PATH: &'static str = "/live/{stream}/{rendition}/index.m3u8";

    /// The media playlist URL of stream `index`.
    pub fn playlist_url(&self, index: usize) -> String {
        let stream = self.stream_names.replace("{}", &index.to_string());
        let path = self
            .playlist_path
            .replace("{stream}", &stream)
            .replace("{rendition}", &self.rendition);
        format!("{}{}", self.base.trim_end_matches('/'), path)
    }
}

/// Runs the viewers.
pub fn run(cfg: &LiveConfig) -> Result<Report, String> {
    if cfg.streams == 0 || cfg.viewers == 0 {
        return Err("--streams and --viewers must be at least 1".into());
    }
    let urls: Vec<Url> = (0..cfg.streams)
        .map(|i| Url::parse(&cfg.playlist_url(i)))
        .collect::<Result<_, _>>()?;
    let probe = blocking_get(&urls[0], cfg.common.timeout)
        .map_err(|e| format!("probing {}: {e}", urls[0]))?;
    if !probe.ok() {
        return Err(format!("probing {}: status {}", urls[0], probe.status));
    }
    let pl = MediaPlaylist::from_bytes(&probe.body.unwrap_or_default())
        .map_err(|e| format!("probing {}: {e}", urls[0]))?;
    let spread = pl
        .segments
        .last()
        .map_or(pl.target_duration, |s| s.duration);

    let urls = Arc::new(urls);
    let per_stream = cfg.viewers;
    let viewers = cfg.streams * per_stream;
    let (duration, ll) = (cfg.duration, cfg.ll_hls);
    let (stats, elapsed) = run_threads(&cfg.common, move |w| {
        let urls = Arc::clone(&urls);
        async move {
            let end = w.start + duration;
            let tasks: Vec<_> = (w.index..viewers)
                .step_by(w.threads)
                .map(|g| {
                    let mut viewer = Viewer {
                        playlist: urls[g / per_stream].clone(),
                        conn: Conn::new(w.timeout),
                        rec: w.rec.clone(),
                        end,
                        timeout: w.timeout,
                        playback: Playback::default(),
                    };
                    let begin = w.start + spread.mul_f64(g as f64 / viewers as f64);
                    glommio::spawn_local(async move {
                        sleep_until(begin).await;
                        if Instant::now() >= end {
                            return;
                        }
                        viewer.rec.live(|l| l.viewers += 1);
                        if ll {
                            viewer.run_ll().await;
                        } else {
                            viewer.run_plain().await;
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
        mode: "live",
        threads: cfg.common.threads,
        connections: viewers,
        elapsed,
        stats,
    })
}

struct Viewer {
    playlist: Url,
    conn: Conn,
    rec: Recorder,
    end: Instant,
    timeout: Duration,
    playback: Playback,
}

impl Viewer {
    fn over(&self) -> bool {
        Instant::now() >= self.end
    }

    /// Fetches and parses a playlist; `None` on any failure (already recorded) or when the
    /// run ended while a blocking reload was pending.
    async fn fetch_playlist(&mut self, url: &Url, blocking: bool) -> Option<MediaPlaylist> {
        let timeout = if blocking {
            // A blocking reload may legitimately wait; do not let it outlive the run much.
            let left = self.end.saturating_duration_since(Instant::now());
            self.timeout.min(left + Duration::from_millis(100))
        } else {
            self.timeout
        };
        let result = self
            .conn
            .get_timeout(url, true, Instant::now(), timeout)
            .await;
        if blocking && matches!(result, Err(HttpError::Timeout)) && self.over() {
            return None;
        }
        self.rec.record(Kind::Playlist, &result);
        let response = result.ok().filter(|r| r.ok())?;
        match MediaPlaylist::from_bytes(&response.body.unwrap_or_default()) {
            Ok(p) => Some(p),
            Err(_) => {
                self.rec.error("bad_playlist");
                None
            }
        }
    }

    /// The first playlist, retried every 500 ms until the run ends.
    async fn first_playlist(&mut self) -> Option<MediaPlaylist> {
        loop {
            let url = self.playlist.clone();
            if let Some(p) = self.fetch_playlist(&url, false).await {
                return Some(p);
            }
            glommio::timer::sleep(Duration::from_millis(500)).await;
            if self.over() {
                return None;
            }
        }
    }

    /// Fetches one segment or part and plays it.
    async fn fetch_media(&mut self, uri: &str, kind: Kind, duration: Duration, lag: Duration) {
        self.rec.live(|l| l.lag(lag));
        let ok = match self.playlist.join(uri) {
            Ok(url) => {
                let result = self.conn.get(&url, false, Instant::now()).await;
                self.rec.record(kind, &result);
                result.is_ok_and(|r| r.ok())
            }
            Err(_) => {
                self.rec.error("bad_uri");
                false
            }
        };
        if ok {
            self.rec.live(|l| match kind {
                Kind::Part => l.parts += 1,
                _ => l.segments += 1,
            });
        }
        if let Some(late) = self.playback.arrived(Instant::now(), duration, ok) {
            self.rec.live(|l| l.stall(late));
        }
    }

    fn skip_to(&mut self, msn: &mut u64, pl: &MediaPlaylist) -> bool {
        if *msn < pl.first_msn() {
            let skipped = pl.first_msn() - *msn;
            self.rec.live(|l| l.skipped += skipped);
            *msn = pl.first_msn();
            return true;
        }
        false
    }

    async fn run_plain(&mut self) {
        let mut reloaded = Instant::now();
        let Some(mut pl) = self.first_playlist().await else {
            return;
        };
        let first_sequence = pl.media_sequence;
        let mut next = None;
        let mut changed = true;
        while !self.over() {
            if next.is_none() {
                next = plain_start(&pl, first_sequence);
            }
            if let Some(msn) = next.as_mut() {
                self.skip_to(msn, &pl);
                if let Some(seg) = pl.segment(*msn) {
                    let (uri, duration) = (seg.uri.clone(), seg.duration);
                    let lag = edge_lag(&pl, *msn, None);
                    *msn += 1;
                    self.fetch_media(&uri, Kind::Segment, duration, lag).await;
                    continue;
                }
            }
            if pl.ended {
                return;
            }
            let at = reloaded + reload_interval(&pl, changed);
            if at >= self.end {
                return;
            }
            sleep_until(at).await;
            reloaded = Instant::now();
            let url = self.playlist.clone();
            match self.fetch_playlist(&url, false).await {
                Some(new) => {
                    changed = (new.media_sequence, new.segments.len())
                        != (pl.media_sequence, pl.segments.len());
                    pl = new;
                }
                None => changed = false,
            }
        }
    }

    async fn run_ll(&mut self) {
        let Some(mut pl) = self.first_playlist().await else {
            return;
        };
        let (mut msn, mut part) = ll_start(&pl);
        while !self.over() {
            if self.skip_to(&mut msn, &pl) {
                part = 0;
            }
            let parts = pl.parts(msn);
            if let Some(p) = parts.get(part) {
                let (uri, duration) = (p.uri.clone(), p.duration);
                let lag = edge_lag(&pl, msn, Some(part));
                self.fetch_media(&uri, Kind::Part, duration, lag).await;
                part += 1;
                continue;
            }
            if let Some(seg) = pl.segment(msn) {
                if part == 0 && seg.parts.is_empty() {
                    let (uri, duration) = (seg.uri.clone(), seg.duration);
                    let lag = edge_lag(&pl, msn, None);
                    self.fetch_media(&uri, Kind::Segment, duration, lag).await;
                }
                msn += 1;
                part = 0;
                continue;
            }
            if pl.ended {
                return;
            }
            let url = self
                .playlist
                .with_query(&format!("_HLS_msn={msn}&_HLS_part={part}"));
            let asked = Instant::now();
            let before = (pl.next_msn(), pl.trailing_parts.len());
            match self.fetch_playlist(&url, true).await {
                Some(new) => {
                    let progressed = (new.next_msn(), new.trailing_parts.len()) != before;
                    pl = new;
                    if progressed {
                        continue;
                    }
                }
                None if self.over() => return,
                None => {}
            }
            // No progress: the server did not block (or failed); poll instead of spinning.
            let poll = pl.part_target.unwrap_or(pl.target_duration / 2);
            let at = asked + poll.max(Duration::from_millis(20));
            if at >= self.end {
                return;
            }
            sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_urls() {
        let cfg = LiveConfig {
            common: Common::default(),
            base: "http://127.0.0.1:8080/".into(),
            streams: 2,
            viewers: 1,
            rendition: "r1".into(),
            stream_names: "s{}".into(),
            playlist_path: LiveConfig::DEFAULT_PATH.into(),
            duration: Duration::from_secs(1),
            ll_hls: false,
        };
        assert_eq!(
            cfg.playlist_url(1),
            "http://127.0.0.1:8080/live/s1/r1/index.m3u8"
        );
    }
}
