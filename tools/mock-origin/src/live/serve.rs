//! Turning a live request into a response entity. This module owns what
//! each live resource answers (status, body, headers), the holds (blocking
//! playlist reload and the preload-hinted part) and the caching policy:
//!
//! | resource | Cache-Control |
//! |---|---|
//! | master, media playlist, MPD | `public, max-age=1` |
//! | media playlist with `_HLS_msn` (blocking) | `public, max-age={3 x target duration}` |
//! | either, with `_HLS_skip` (a delta update when enabled) | the same |
//! | `init.mp4`, segments, parts | `public, max-age=3600` |
//! | 404 | `public, max-age=1` |
//! | 400, 503 | `no-store` |
//!
//! A blocking response is unique to its URL and stays correct for as long as
//! the parts it lists stay in playlists (three target durations), so it is
//! cacheable that long; a plain playlist changes every part and is kept for
//! the shortest whole-second lifetime. A 404 is what a packager returns for
//! a segment not written yet (or gone from its DVR buffer); it is negatively
//! cacheable for one second, so a cache in front must not pin it. Every 200
//! carries a strong `ETag` and a `Last-Modified` (the wall time the content
//! appeared); errors carry neither. A `cc=` query parameter still overrides.
//!
//! Holding sleeps until the availability instant the timeline promises now,
//! wakes early when a publishing control changes the timeline, and notices
//! the origin stopping; on waking it re-reads the timeline, so a pause or
//! rewind keeps it waiting. A blocking request, or a request for the
//! preload-hinted part, is held at most the spec's three target durations
//! from its arrival, then answered 503; the 400 rule (at most two segments
//! ahead) keeps legal waits inside that limit while the stream runs. Once
//! the stream has ended, blocking requests (waiting ones included) get the
//! ended playlist at once, delivery directives ignored (RFC 8216bis
//! 6.2.5.2), and a hinted part that will never exist is a 404.
//!
//! An injected error (see `faults`) is a `503` with `no-store`, like the
//! other 503, answered at once and never overridden by `cc=`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::hls;
use super::llhls::{self, Decision};
use super::route::{route, Resource};
use super::{dash, Fault, Live, LiveConfig, Now, INIT_SIZE};
use crate::behavior::{Behavior, CacheControl};
use crate::body;
use crate::entity::Entity;
use crate::response::Source;

const PLAYLIST: &str = "application/vnd.apple.mpegurl";
const SEGMENT: &str = "video/iso.segment";
const LONG: &str = "public, max-age=3600";
const SHORT: &str = "public, max-age=1";

impl Live {
    /// The response for `path` when it belongs to the simulator (`None`
    /// otherwise); may block first. `b` supplies only a `cc=` override here.
    /// Draws the response's fault: an error is applied (and counted) here,
    /// before any hold; a reset or stall comes back with the entity for the
    /// connection layer, which applies and counts it if a body goes out.
    pub(crate) fn entity(
        &self,
        path: &str,
        query: &str,
        b: &Behavior,
        stop: &AtomicBool,
    ) -> Option<(Entity, Option<Fault>)> {
        let (stream, resource) = route(path, self.config.streams, self.config.renditions.len())?;
        let media = matches!(resource, Resource::Segment { .. } | Resource::Part { .. });
        let fault = self.faults.draw(&self.config.faults, media);
        if fault == Some(Fault::Error) {
            self.faults.count(Fault::Error);
            return Some((error(503, "injected fault: packager unavailable"), fault));
        }
        let mut entity = self.resource(stream, resource, query, stop);
        match &b.cache_control {
            CacheControl::Value(v) => entity.cache_control = Some(v.clone()),
            CacheControl::Omit => entity.cache_control = None,
            CacheControl::Default => {}
        }
        Some((entity, fault))
    }

    fn resource(
        &self,
        stream: usize,
        resource: Resource,
        query: &str,
        stop: &AtomicBool,
    ) -> Entity {
        let c = &self.clock;
        let now = self.now();
        let elapsed = now.elapsed;
        match resource {
            Resource::Master => text(
                hls::master(self),
                PLAYLIST,
                SHORT,
                c.wall_secs(Duration::ZERO),
            ),
            Resource::Mpd => text(
                dash::mpd(self, elapsed, now.shift),
                "application/dash+xml",
                SHORT,
                c.wall_secs(dash::mpd_changed_at(self, elapsed) + now.shift),
            ),
            Resource::Media { rendition } => self.media(rendition, query, stop),
            Resource::Init { rendition } => {
                let path = self.file_path(stream, rendition, "init.mp4");
                media_body(
                    &path,
                    &path,
                    0,
                    INIT_SIZE,
                    "video/mp4",
                    c.wall_secs(Duration::ZERO),
                )
            }
            Resource::Segment { rendition, msn } => self.segment(stream, rendition, msn, elapsed),
            Resource::Part {
                rendition,
                msn,
                part,
            } => self.part(stream, rendition, msn, part, elapsed, stop),
            Resource::Unknown => error(404, "no such live resource"),
        }
    }

    fn file_path(&self, stream: usize, rendition: usize, file: &str) -> String {
        format!(
            "/live/{}/{}/{file}",
            LiveConfig::stream_name(stream),
            LiveConfig::rendition_name(rendition)
        )
    }

    fn media(&self, rendition: usize, query: &str, stop: &AtomicBool) -> Entity {
        let directive = match llhls::parse_directives(query) {
            // A classic packager knows no delivery directives.
            _ if !self.config.low_latency => None,
            Ok(directive) => directive,
            Err(why) => return error(400, why),
        };
        let t = self.timeline();
        let limit = Instant::now() + t.hold_limit();
        let mut now = self.now();
        let cache_control = match directive {
            None => SHORT.to_string(),
            Some(d) => {
                // An ended playlist answers every directive at once.
                match llhls::decide(t, now.elapsed, d) {
                    _ if now.ended => {}
                    Decision::TooFar => return error(400, "delivery directive too far ahead"),
                    Decision::Ready => {}
                    Decision::Hold(ready_at) => match self.publishing.hold(ready_at, limit, stop) {
                        Some(then) => now = then,
                        None => return error(503, "not available within three target durations"),
                    },
                }
                format!("public, max-age={}", 3 * t.target_duration_secs())
            }
        };
        let Now { elapsed, ended, .. } = now;
        let modified = self.clock.wall_secs(hls::media_changed_at(self, elapsed));
        text(
            hls::media(self, rendition, elapsed, ended, llhls::parse_skip(query)),
            PLAYLIST,
            &cache_control,
            modified,
        )
    }

    /// Relative index of `msn` if that segment is complete and still inside
    /// the DVR buffer `elapsed` after the start.
    fn served_segment(&self, msn: u64, elapsed: Duration) -> Option<u64> {
        let k = self.timeline().relative(msn)?;
        let complete = self.timeline().edge(elapsed).complete;
        (k < complete && k + self.dvr_segments() >= complete).then_some(k)
    }

    fn segment(&self, stream: usize, rendition: usize, msn: u64, elapsed: Duration) -> Entity {
        let growing = self.timeline().relative(msn);
        if let Some(entity) =
            growing.and_then(|k| self.growing_segment(stream, rendition, k, elapsed))
        {
            return entity;
        }
        let Some(k) = self.served_segment(msn, elapsed) else {
            return error(404, "segment not available");
        };
        let path = self.file_path(stream, rendition, &format!("seg-{msn}.m4s"));
        let size = self.config.segment_size(self.config.renditions[rendition]);
        let modified = self.clock.wall_secs(self.timeline().segment_end(k));
        media_body(&path, &path, 0, size, SEGMENT, modified)
    }

    /// A part of a complete segment in the DVR buffer, or of the segment in
    /// progress; the part after the newest (the preload hint) is held until
    /// it is complete, as LL-HLS servers must (503 past the hold limit, 404
    /// once the stream ends without it); anything later is 404.
    fn part(
        &self,
        stream: usize,
        rendition: usize,
        msn: u64,
        part: u64,
        elapsed: Duration,
        stop: &AtomicBool,
    ) -> Entity {
        let t = self.timeline();
        let edge = t.edge(elapsed);
        let Some(k) = t.relative(msn).filter(|_| part < t.parts_per_segment()) else {
            return error(404, "part not available");
        };
        let in_progress = k == edge.complete;
        let ready = t.part_end(k, part);
        // (Bounded for a clock whose start lies in the future.)
        let held = ready.saturating_sub(elapsed) <= t.hold_limit();
        if in_progress && part == edge.parts && held {
            let limit = Instant::now() + t.hold_limit();
            match self.publishing.hold(ready, limit, stop) {
                Some(now) if now.elapsed >= ready => {}
                Some(_) => return error(404, "part not available: the stream has ended"),
                None => return error(503, "part not available within three target durations"),
            }
        } else if !(in_progress && part < edge.parts || self.served_segment(msn, elapsed).is_some())
        {
            return error(404, "part not available");
        }
        let segment = self.file_path(stream, rendition, &format!("seg-{msn}.m4s"));
        let path = self.file_path(stream, rendition, &format!("seg-{msn}.{part}.m4s"));
        let total = self.config.segment_size(self.config.renditions[rendition]);
        let (offset, len) = t.part_bytes(total, part);
        let modified = self.clock.wall_secs(t.part_end(k, part));
        media_body(&segment, &path, offset, len, SEGMENT, modified)
    }
}

/// A generated text body with a content-hash `ETag`.
fn text(body: String, content_type: &'static str, cache_control: &str, modified: i64) -> Entity {
    let etag = format!("\"{:016x}-{:x}\"", body::path_seed(&body), body.len());
    Entity {
        status: 200,
        size: body.len(),
        source: Source::Bytes(body.into_bytes()),
        cache_control: Some(cache_control.to_string()),
        content_type,
        etag: Some(etag),
        last_modified: Some(modified),
    }
}

/// `len` pattern bytes of `seed_path`'s stream from `offset` (a part is a
/// slice of its segment), with the same strong `ETag` scheme as elsewhere.
fn media_body(
    seed_path: &str,
    path: &str,
    offset: usize,
    len: usize,
    content_type: &'static str,
    modified: i64,
) -> Entity {
    let etag = format!("\"{:016x}-{len:x}\"", body::fingerprint(path, len));
    Entity {
        status: 200,
        source: Source::Pattern {
            seed: body::path_seed(seed_path),
            offset,
        },
        size: len,
        cache_control: Some(LONG.to_string()),
        content_type,
        etag: Some(etag),
        last_modified: Some(modified),
    }
}

fn error(status: u16, message: &str) -> Entity {
    let body = format!("{message}\n").into_bytes();
    Entity {
        status,
        size: body.len(),
        source: Source::Bytes(body),
        cache_control: Some(if status == 404 { SHORT } else { "no-store" }.to_string()),
        content_type: "text/plain",
        etag: None,
        last_modified: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::tests::fixed;
    use crate::live::Control;
    use std::thread;

    fn body(entity: &Entity) -> String {
        match &entity.source {
            Source::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Source::Pattern { .. } | Source::Growing { .. } => String::from("<pattern>"),
        }
    }

    fn live() -> Live {
        fixed(LiveConfig {
            segment_duration: Duration::from_millis(200),
            part_duration: Duration::from_millis(50),
            window: 2,
            ..LiveConfig::default()
        })
    }

    #[test]
    fn not_ours_and_unknown() {
        let (live, stop) = (live(), AtomicBool::new(false));
        let get = |path: &str| {
            live.entity(path, "", &Behavior::default(), &stop)
                .map(|(entity, fault)| {
                    assert_eq!(fault, None);
                    entity
                })
        };
        assert!(get("/live/ch1/720p/seg-1.m4s").is_none());
        assert_eq!(get("/live/s0/nope").map(|e| e.status), Some(404));
        let master = get("/live/s1/master.m3u8").unwrap();
        assert_eq!((master.status, master.content_type), (200, PLAYLIST));
        assert!(body(&master).contains("r2/index.m3u8"));
        let mpd = get("/live/s1/manifest.mpd").unwrap();
        assert_eq!(mpd.content_type, "application/dash+xml");
        let init = get("/live/s0/r0/init.mp4").unwrap();
        assert_eq!(
            (init.size, init.cache_control.as_deref()),
            (INIT_SIZE, Some(LONG))
        );
        let overridden = live.entity(
            "/live/s0/r0/init.mp4",
            "",
            &Behavior::from_query("cc=no-cache"),
            &stop,
        );
        assert_eq!(
            overridden.unwrap().0.cache_control.as_deref(),
            Some("no-cache")
        );
    }

    #[test]
    fn injected_errors_skip_holds_and_overrides() {
        let mut config = live().config;
        config.faults.error_rate = 1.0;
        let (live, stop) = (fixed(config), AtomicBool::new(false));
        let cc = Behavior::from_query("cc=public");
        // Far ahead: a real answer would be a 400 or a long hold.
        for (path, query) in [
            ("/live/s0/r0/index.m3u8", "_HLS_msn=2&_HLS_part=0"),
            ("/live/s0/r0/seg-0.m4s", ""),
            ("/live/s1/master.m3u8", ""),
        ] {
            let (entity, fault) = live.entity(path, query, &cc, &stop).unwrap();
            assert_eq!(fault, Some(Fault::Error));
            assert_eq!(
                (entity.status, entity.cache_control.as_deref()),
                (503, Some("no-store"))
            );
        }
        assert_eq!(live.faults.counts().errors, 3);
        assert!(live.entity("/live/x/seg-1.m4s", "", &cc, &stop).is_none());
        assert_eq!(live.faults.counts().errors, 3, "not a live path");

        let mut config = self::live().config;
        config.faults.reset_rate = 1.0;
        let live = fixed(config);
        let draw = |path| live.entity(path, "", &cc, &stop).unwrap().1;
        assert_eq!(draw("/live/s0/r0/seg-0.m4s"), Some(Fault::Reset));
        assert_eq!(draw("/live/s0/r0/seg-0.0.m4s"), Some(Fault::Reset));
        assert_eq!(draw("/live/s0/r0/init.mp4"), None);
        assert_eq!(draw("/live/s0/manifest.mpd"), None);
        assert_eq!(
            live.faults.counts(),
            Default::default(),
            "counted when sent"
        );
    }

    #[test]
    fn directive_errors_and_future_segments() {
        let (live, stop) = (live(), AtomicBool::new(false));
        let media = |query| live.media(0, query, &stop);
        assert_eq!(media("_HLS_part=1").status, 400);
        assert_eq!(media("_HLS_msn=9999").status, 400);
        let plain = media("");
        assert_eq!(plain.cache_control.as_deref(), Some(SHORT));
        assert!(plain.etag.is_some() && plain.last_modified.is_some());
        let future = live.segment(0, 0, 9999, Duration::ZERO);
        assert_eq!(
            (future.status, future.cache_control.as_deref()),
            (404, Some(SHORT))
        );
        assert!(future.etag.is_none() && future.last_modified.is_none());
        let far_part = live.part(0, 0, 0, 3, Duration::ZERO, &stop);
        assert_eq!(far_part.status, 404);
        assert_eq!(live.part(0, 0, 0, 4, Duration::ZERO, &stop).status, 404);
    }

    #[test]
    fn segments_parts_and_dvr() {
        let (live, stop) = (live(), AtomicBool::new(false));
        let at = Duration::from_millis(2_030); // 10 complete, DVR keeps 6
        let seg = live.segment(0, 1, 9, at);
        assert_eq!((seg.status, seg.size), (200, 62_500));
        assert_eq!(seg.content_type, SEGMENT);
        assert_eq!(live.segment(0, 1, 4, at).status, 200);
        assert_eq!(live.segment(0, 1, 3, at).status, 404);
        assert_eq!(live.segment(0, 1, 10, at).status, 404);
        let part = live.part(0, 1, 9, 3, at, &stop);
        assert_eq!((part.status, part.size), (200, 15_625));
        let Source::Pattern { offset, .. } = part.source else {
            panic!("pattern body")
        };
        assert_eq!(offset, 3 * 15_625);
        assert_eq!(live.part(0, 1, 10, 1, at, &stop).status, 404);
        assert_eq!(live.part(0, 1, 3, 0, at, &stop).status, 404);
    }

    /// Whether `text` lists part `p` of segment `msn` (not just hints it).
    fn lists_part(text: &str, msn: u64, p: u64) -> bool {
        let uri = format!("URI=\"seg-{msn}.{p}.m4s\"");
        text.lines()
            .any(|l| l.starts_with("#EXT-X-PART:") && l.contains(&uri))
    }

    #[test]
    fn holds_wait_out_a_pause() {
        let (live, stop) = (live(), AtomicBool::new(false));
        live.publishing.apply(Control::Pause);
        let edge = live.timeline().edge(live.now().elapsed);
        let (msn, p) = (edge.complete, edge.parts);
        let ready = live.timeline().part_end(msn, p);
        // Paused, a hold runs into its limit, however long past `ready`.
        let started = Instant::now();
        let limit = started + Duration::from_millis(120);
        assert_eq!(live.publishing.hold(ready, limit, &stop), None);
        assert!(started.elapsed() >= Duration::from_millis(120));
        let query = format!("_HLS_msn={msn}&_HLS_part={p}");
        thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(100));
                live.publishing.apply(Control::Resume);
            });
            let started = Instant::now();
            let playlist = live.media(0, &query, &stop);
            assert!(started.elapsed() >= Duration::from_millis(100));
            assert_eq!(playlist.status, 200);
            assert!(lists_part(&body(&playlist), msn, p));
        });
        // The hinted part is held across a pause too.
        live.publishing.apply(Control::Pause);
        let now = live.now();
        let edge = live.timeline().edge(now.elapsed);
        thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(60));
                live.publishing.apply(Control::Resume);
            });
            let started = Instant::now();
            let part = live.part(0, 0, edge.complete, edge.parts, now.elapsed, &stop);
            assert_eq!(part.status, 200);
            assert!(started.elapsed() >= Duration::from_millis(60));
        });
    }

    #[test]
    fn ending_answers_waiting_requests() {
        let (live, stop) = (live(), AtomicBool::new(false));
        live.publishing.apply(Control::Pause);
        let now = live.now();
        let edge = live.timeline().edge(now.elapsed);
        let (msn, p) = (edge.complete, edge.parts);
        let query = format!("_HLS_msn={msn}&_HLS_part={p}");
        thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(50));
                live.publishing.apply(Control::End);
            });
            let started = Instant::now();
            let playlist = live.media(0, &query, &stop);
            assert!(started.elapsed() < Duration::from_secs(1));
            let text = body(&playlist);
            assert!(text.ends_with("#EXT-X-ENDLIST\n") && !lists_part(&text, msn, p));
        });
        // Directives are ignored once ended, even ones far ahead.
        let far = live.media(0, &format!("_HLS_msn={}", msn + 50), &stop);
        assert_eq!(far.status, 200);
        assert!(body(&far).ends_with("#EXT-X-ENDLIST\n"));
        assert_eq!(live.media(0, "_HLS_part=1", &stop).status, 400);
        let hinted = live.part(0, 0, msn, p, now.elapsed, &stop);
        assert_eq!(hinted.status, 404);
    }
}
