//! Low-latency HLS viewers that behave like hls.js in low-latency mode (`loadgen llhls`):
//! `--viewers` in total, spread round-robin over the media playlists of `--streams` x
//! `--renditions`, each with two keep-alive connections (one for playlists, one for parts,
//! as a browser would open).
//!
//! * **Start.** Before the viewers, every playlist is probed once (and `--origin-stats` read);
//!   viewer `g` of `G` starts `g / G` of a segment duration after the common start, loads
//!   the playlist plainly (retried every 500 ms until the run ends) and then loops.
//! * **Loop.** Ask for the part after the newest listed one with a blocking reload
//!   (`?_HLS_msn=M&_HLS_part=N`, or `?_HLS_msn=M` for a playlist without parts) and, at the
//!   same time on the other connection, for the part the `EXT-X-PRELOAD-HINT TYPE=PART`
//!   names (unless this viewer already has it); when both are in, repeat with the new
//!   playlist. A fraction `--swapped-fraction` of the viewers spell the reload
//!   `_HLS_part=N&_HLS_msn=M`, and `--skip-fraction` append `&_HLS_skip=YES` (getting delta
//!   updates where the server offers them), to model mixed player populations.
//! * **Guards.** A blocking response that brings no newer part, or a failed one, is
//!   followed by a wait of one part target (at least 20 ms) from when it was asked; after
//!   a failure the viewer reloads plainly to resynchronise. `EXT-X-ENDLIST` ends a viewer;
//!   at `--duration` every viewer stops, abandoning (not recording) a reload still held.
//!   So a viewer sends at most about two requests per published part.
//! * **Measurements** (`timing` computes them from the playlist's
//!   `EXT-X-PROGRAM-DATE-TIME`; the origin must run on this machine's clock): hold release,
//!   edge latency, blocking responses that lack the requested part (checked with
//!   [`MediaPlaylist::satisfies`]), delta updates, hinted parts received, and per status.
//!   With `--origin-stats URL` (the mock origin's `/__stats`), the origin's blocking, plain
//!   and `_HLS_skip` requests for each playlist during the run, and the parts each playlist
//!   published between the probes before and after (from its newest part; through a cache
//!   the probe may be a part or two behind, about 1% of a minute's parts), give the origin
//!   blocking requests per published part per rendition.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_lite::future::zip;
use livecache::live::{HintType, MediaPlaylist};

use crate::client::{blocking_get, Conn, HttpError, Url};
use crate::modes::{run_threads, sleep_until, Common, Recorder};
use crate::stats::{Kind, Report};

mod origin;
mod timing;
pub use origin::{difference, playlist_counts};
pub use timing::{
    answering_part, newest_part, next_target, part_ordinal, PublishClock, Spelling, Target,
};

/// `loadgen llhls` settings.
#[derive(Clone, Debug)]
pub struct LlhlsConfig {
    /// Threads, pinning, timeout, progress.
    pub common: Common,
    /// `http://host:port` of the origin or cache.
    pub base: String,
    /// Number of streams.
    pub streams: usize,
    /// Stream name pattern; `{}` becomes the stream index.
    pub stream_names: String,
    /// Rendition names; viewers are spread over every stream's renditions.
    pub renditions: Vec<String>,
    /// Playlist path pattern with `{stream}` and `{rendition}`.
    pub playlist_path: String,
    /// Viewers in total.
    pub viewers: usize,
    /// How long viewers watch.
    pub duration: Duration,
    /// Fraction of viewers that swap the order of `_HLS_msn` and `_HLS_part`.
    pub swapped_fraction: f64,
    /// Fraction of viewers that append `_HLS_skip=YES`.
    pub skip_fraction: f64,
    /// The origin's `/__stats` URL, read before and after the run.
    pub origin_stats: Option<String>,
}

impl LlhlsConfig {
    /// The media playlist URLs: every rendition of stream 0, then of stream 1, ...
    pub fn playlist_urls(&self) -> Vec<String> {
        let mut urls = Vec::with_capacity(self.streams * self.renditions.len());
        for i in 0..self.streams {
            let stream = self.stream_names.replace("{}", &i.to_string());
            for r in &self.renditions {
                let path = self
                    .playlist_path
                    .replace("{stream}", &stream)
                    .replace("{rendition}", r);
                urls.push(format!("{}{}", self.base.trim_end_matches('/'), path));
            }
        }
        urls
    }
}

fn probe(url: &Url, timeout: Duration) -> Result<MediaPlaylist, String> {
    let r = blocking_get(url, timeout).map_err(|e| format!("probing {url}: {e}"))?;
    if !r.ok() {
        return Err(format!("probing {url}: status {}", r.status));
    }
    MediaPlaylist::from_bytes(&r.body.unwrap_or_default())
        .map_err(|e| format!("probing {url}: {e}"))
}

/// Reads the origin's `/__stats` and counts the playlist requests of `paths`.
fn origin_counts(
    url: &Option<Url>,
    paths: &[String],
    timeout: Duration,
) -> Result<Option<crate::stats::OriginLoad>, String> {
    let Some(url) = url else { return Ok(None) };
    let r = blocking_get(url, timeout).map_err(|e| format!("reading {url}: {e}"))?;
    let body = String::from_utf8_lossy(&r.body.unwrap_or_default()).into_owned();
    playlist_counts(&body, paths).map(Some)
}

/// Runs the viewers.
pub fn run(cfg: &LlhlsConfig) -> Result<Report, String> {
    if cfg.viewers == 0 || cfg.streams == 0 || cfg.renditions.is_empty() {
        return Err("--viewers, --streams and --renditions must not be empty".into());
    }
    for f in [cfg.swapped_fraction, cfg.skip_fraction] {
        if !(0.0..=1.0).contains(&f) {
            return Err(format!("fractions are from 0 to 1, got {f}"));
        }
    }
    let urls: Vec<Url> = cfg
        .playlist_urls()
        .iter()
        .map(|u| Url::parse(u))
        .collect::<Result<_, _>>()?;
    let paths: Vec<String> = urls.iter().map(|u| u.target.clone()).collect();
    let stats_url = cfg.origin_stats.as_deref().map(Url::parse).transpose()?;
    let timeout = cfg.common.timeout;
    let before = origin_counts(&stats_url, &paths, timeout)?;
    let first: Vec<MediaPlaylist> = urls
        .iter()
        .map(|u| probe(u, timeout))
        .collect::<Result<_, _>>()?;
    let spread = first[0]
        .segments
        .last()
        .map_or(first[0].target_duration, |s| s.duration);

    let probes = urls.clone();
    let urls = Arc::new(urls);
    let viewers = cfg.viewers;
    let (duration, swapped, skip) = (cfg.duration, cfg.swapped_fraction, cfg.skip_fraction);
    let (mut stats, elapsed) = run_threads(&cfg.common, move |w| {
        let urls = Arc::clone(&urls);
        async move {
            let end = w.start + duration;
            let tasks: Vec<_> = (w.index..viewers)
                .step_by(w.threads)
                .map(|g| {
                    let mut viewer = Viewer {
                        playlist: urls[g % urls.len()].clone(),
                        playlists: Conn::new(w.timeout),
                        parts: Conn::new(w.timeout),
                        rec: w.rec.clone(),
                        end,
                        timeout: w.timeout,
                        spelling: Spelling::for_viewer(g, swapped, skip),
                        clock: PublishClock::default(),
                    };
                    let begin = w.start + spread.mul_f64(g as f64 / viewers as f64);
                    glommio::spawn_local(async move {
                        sleep_until(begin).await;
                        if Instant::now() >= end {
                            return;
                        }
                        let s = viewer.spelling;
                        viewer.rec.llhls(|l| {
                            l.viewers += 1;
                            l.swapped_viewers += u64::from(s.swapped);
                            l.skip_viewers += u64::from(s.skip);
                        });
                        viewer.run().await;
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
        }
    })?;
    let l = stats.llhls_mut();
    for ((url, path), start) in probes.iter().zip(&paths).zip(&first) {
        let end = probe(url, timeout)?;
        let parts = part_ordinal(&end)
            .zip(part_ordinal(start))
            .map_or(0, |(b, a)| b.saturating_sub(a));
        l.published.insert(path.clone(), parts);
    }
    let after = origin_counts(&stats_url, &paths, timeout)?;
    l.origin = before.zip(after).map(|(b, a)| difference(&b, &a));
    Ok(Report {
        mode: "llhls",
        threads: cfg.common.threads,
        connections: viewers,
        elapsed,
        stats,
    })
}

/// How long past the end of the run a request still pending may take.
const GRACE: Duration = Duration::from_millis(100);

struct Viewer {
    playlist: Url,
    playlists: Conn,
    parts: Conn,
    rec: Recorder,
    end: Instant,
    timeout: Duration,
    spelling: Spelling,
    clock: PublishClock,
}

/// Fetches a hinted part (if any) on `conn`; whether it came whole with a 2xx. A request
/// still waiting when the run ends (at `end`) is abandoned unrecorded.
async fn fetch_part(conn: &mut Conn, url: Option<Url>, rec: Recorder, end: Instant) -> bool {
    let Some(url) = url else { return false };
    let limit = conn
        .timeout()
        .min(end.saturating_duration_since(Instant::now()) + GRACE);
    let result = conn.get_timeout(&url, false, Instant::now(), limit).await;
    if matches!(result, Err(HttpError::Timeout)) && Instant::now() >= end {
        return false;
    }
    rec.record(Kind::Part, &result);
    let ok = result.is_ok_and(|r| r.ok());
    if ok {
        rec.llhls(|l| l.parts += 1);
    }
    ok
}

impl Viewer {
    fn over(&self) -> bool {
        Instant::now() >= self.end
    }

    /// How long a request may take: the timeout, but not much past the end of the run.
    fn limit(&self) -> Duration {
        let left = self.end.saturating_duration_since(Instant::now());
        self.timeout.min(left + GRACE)
    }

    fn parse(&self, body: Option<Vec<u8>>) -> Option<MediaPlaylist> {
        let pl = MediaPlaylist::from_bytes(&body.unwrap_or_default());
        if pl.is_err() {
            self.rec.error("bad_playlist");
        }
        pl.ok()
    }

    /// A plain playlist load, retried every 500 ms until the run ends.
    async fn plain(&mut self) -> Option<MediaPlaylist> {
        while !self.over() {
            let limit = self.limit();
            let result = self
                .playlists
                .get_timeout(&self.playlist, true, Instant::now(), limit)
                .await;
            if matches!(result, Err(HttpError::Timeout)) && self.over() {
                return None;
            }
            self.rec.record(Kind::Playlist, &result);
            if let Some(pl) = result
                .ok()
                .filter(|r| r.ok())
                .and_then(|r| self.parse(r.body))
            {
                self.clock.learn(&pl);
                return Some(pl);
            }
            glommio::timer::sleep(Duration::from_millis(500)).await;
        }
        None
    }

    async fn run(&mut self) {
        let Some(mut pl) = self.plain().await else {
            return;
        };
        let mut fetched: Option<String> = None;
        while !self.over() && !pl.ended {
            let target = next_target(&pl);
            let hint = pl
                .hint(HintType::Part)
                .map(|h| h.uri.clone())
                .filter(|u| fetched.as_ref() != Some(u));
            let hint_url = hint.as_ref().and_then(|u| match self.playlist.join(u) {
                Ok(url) => Some(url),
                Err(_) => {
                    self.rec.error("bad_uri");
                    None
                }
            });
            let url = self.playlist.with_query(&self.spelling.query(target));
            let (asked, asked_wall, limit) = (Instant::now(), SystemTime::now(), self.limit());
            let reload = self.playlists.get_timeout(&url, true, asked, limit);
            let part = fetch_part(&mut self.parts, hint_url, self.rec.clone(), self.end);
            let (result, got_part) = zip(reload, part).await;
            if got_part {
                fetched = hint;
            }
            if matches!(result, Err(HttpError::Timeout)) && self.over() {
                return;
            }
            self.rec.record(Kind::Playlist, &result);
            let poll = pl
                .part_target
                .unwrap_or(pl.target_duration / 2)
                .max(Duration::from_millis(20));
            let response = result.ok().filter(|r| r.ok());
            let total = response.as_ref().map(|r| r.total);
            match response.and_then(|r| self.parse(r.body)).zip(total) {
                Some((new, total)) => {
                    let progressed = newest_part(&new) > newest_part(&pl);
                    self.measure(&new, target, asked_wall, asked_wall + total);
                    pl = new;
                    if progressed {
                        continue;
                    }
                    sleep_until(asked + poll).await;
                }
                None => {
                    sleep_until(asked + poll).await;
                    match self.plain().await {
                        Some(new) => pl = new,
                        None => return,
                    }
                }
            }
        }
    }

    /// Records what a 200 blocking response to `target`, asked at `asked` and received at
    /// `received` (wall clock), tells.
    fn measure(
        &mut self,
        pl: &MediaPlaylist,
        target: Target,
        asked: SystemTime,
        received: SystemTime,
    ) {
        self.clock.learn(pl);
        let delta = pl.skip.is_some();
        if pl.ended {
            self.rec.llhls(|l| l.deltas += u64::from(delta));
            return;
        }
        let lacking = !pl.satisfies(target.msn, target.part);
        let requested = answering_part(pl, target).and_then(|p| self.clock.published(pl, p));
        let newest = newest_part(pl).and_then(|p| self.clock.published(pl, p));
        let since = |t: SystemTime| received.duration_since(t).unwrap_or(Duration::ZERO);
        self.rec.llhls(|l| {
            l.deltas += u64::from(delta);
            l.lacking += u64::from(lacking);
            match requested {
                Some(p) if asked < p => l.hold_release(since(p)),
                Some(_) => l.at_once += 1,
                None if lacking => {}
                None => l.undated += 1,
            }
            if let Some(p) = newest {
                l.edge(since(p));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_urls() {
        let cfg = LlhlsConfig {
            common: Common::default(),
            base: "http://127.0.0.1:8080/".into(),
            streams: 2,
            stream_names: "s{}".into(),
            renditions: vec!["r0".into(), "r1".into()],
            playlist_path: "/live/{stream}/{rendition}/index.m3u8".into(),
            viewers: 1,
            duration: Duration::from_secs(1),
            swapped_fraction: 0.0,
            skip_fraction: 0.0,
            origin_stats: None,
        };
        let urls = cfg.playlist_urls();
        assert_eq!(urls.len(), 4);
        assert_eq!(urls[1], "http://127.0.0.1:8080/live/s0/r1/index.m3u8");
        assert_eq!(urls[2], "http://127.0.0.1:8080/live/s1/r0/index.m3u8");
    }
}
