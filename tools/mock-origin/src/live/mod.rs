//! The live origin simulator: what a real live packager serves for `K`
//! streams with an ABR ladder, under `/live/s{i}/...` (the layout is in the
//! crate documentation). This file owns the public [`LiveConfig`], its
//! validation, and [`Live`], the configuration anchored to a clock, which the
//! connection layer asks for a response; `route` parses paths, `serve` turns
//! a route into a response (holding blocking requests), `clock` is the
//! timeline arithmetic, `publishing` maps real time to elapsed time under
//! the runtime controls (pause, resume, rewind, end), and `hls`, `llhls` and
//! `dash` generate the text.
//!
//! Generation is a pure function of the elapsed time (and of whether the
//! stream has ended), so every playlist is unit-tested at fixed clock
//! values; only `serve` reads the real clock, always through [`Live::now`],
//! so a paused or rewound timeline is seen the same way everywhere.

mod clock;
mod dash;
mod faults;
mod growing;
mod hls;
mod llhls;
mod publishing;
mod route;
mod serve;

use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clock::{Clock, Timeline};
pub(crate) use faults::{Fault, Injector};
pub use faults::{FaultCounts, Faults};
pub(crate) use publishing::{Control, Now, Publishing};
use route::{route, Resource};

/// Size of every `init.mp4`, in bytes (about what a real fMP4 init is).
pub const INIT_SIZE: usize = 1024;

/// The simulated live streams. Set once, at [`crate::MockOrigin::start_with`].
#[derive(Clone, Debug, PartialEq)]
pub struct LiveConfig {
    /// Number of streams, served as `/live/s0` .. `/live/s{K-1}` (default 4).
    pub streams: usize,
    /// Rendition bitrates in kbit/s, served as `r0`, `r1`, ... in this order
    /// (default `[800, 2500, 5000]`).
    pub renditions: Vec<u32>,
    /// Segment length (default 2 s).
    pub segment_duration: Duration,
    /// LL-HLS part length (default 500 ms); at most `segment_duration`.
    pub part_duration: Duration,
    /// Segments listed in a media playlist (default 6); segments stay
    /// fetchable for three times as long (the DVR buffer).
    pub window: usize,
    /// Media sequence number of the first segment (default 0).
    pub first_sequence: u64,
    /// When the first segment started; `None` (the default) means when the
    /// origin starts. Segment `first_sequence + k` becomes available at
    /// `start + (k+1) * segment_duration`.
    pub start: Option<Instant>,
    /// Extra wait before the first byte of every live response (default 0),
    /// on top of any `delay_ms=`.
    pub first_byte_delay: Duration,
    /// Per-connection body rate limit for live responses, bytes/s (default
    /// none).
    pub throughput: Option<u64>,
    /// Faults injected into live responses (default none).
    pub faults: Faults,
    /// LL-HLS Playlist Delta Updates (RFC 8216bis §4.4.3.8, §6.2.5.1): the
    /// Skip Boundary advertised as `CAN-SKIP-UNTIL` in
    /// `EXT-X-SERVER-CONTROL` (default `None`: no delta updates, and
    /// `_HLS_skip` is ignored as the spec requires). At least six target
    /// durations. A request with `_HLS_skip=YES` (or `v2`) then gets the
    /// playlist with the segments ending more than this before the end of
    /// the last segment replaced by `EXT-X-SKIP`. Skipping only happens
    /// when the playlist is longer than the boundary: `window` x
    /// `segment_duration` must exceed it (else every delta update says
    /// `SKIPPED-SEGMENTS=0`).
    pub can_skip_until: Option<Duration>,
    /// Parts as byte ranges of their segment (default false): listed as
    /// `EXT-X-PART:...,URI="seg-M.m4s",BYTERANGE="len@offset"`, the hint as
    /// `BYTERANGE-START=offset` of the segment in progress, and that segment
    /// served while it grows (chunked, each part's bytes sent as the part
    /// completes), as RFC 8216bis 4.4.5.3 and RFC 8673 describe.
    pub byterange_parts: bool,
    /// LL-DASH (default false): each MPD `SegmentTemplate` carries
    /// `availabilityTimeOffset` = segment − part duration with
    /// `availabilityTimeComplete="false"`, and the segment in progress is
    /// served while it grows (chunked, one HTTP chunk per part, as a
    /// low-latency CMAF packager sends one chunk per CMAF chunk).
    pub chunked_dash: bool,
    /// LL-HLS (default true): `EXT-X-SERVER-CONTROL` with `CAN-BLOCK-RELOAD`, parts,
    /// preload hints and rendition reports, blocking reloads held. False: a classic HLS
    /// packager, whose media playlists list whole segments only and which ignores delivery
    /// directives (answering the current playlist at once).
    pub low_latency: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            streams: 4,
            renditions: vec![800, 2500, 5000],
            segment_duration: Duration::from_secs(2),
            part_duration: Duration::from_millis(500),
            window: 6,
            first_sequence: 0,
            start: None,
            first_byte_delay: Duration::ZERO,
            throughput: None,
            faults: Faults::default(),
            can_skip_until: None,
            byterange_parts: false,
            chunked_dash: false,
            low_latency: true,
        }
    }
}

impl LiveConfig {
    /// Path name of stream `index`: `s{index}`.
    pub fn stream_name(index: usize) -> String {
        format!("s{index}")
    }

    /// Path name of rendition `index`: `r{index}`.
    pub fn rendition_name(index: usize) -> String {
        format!("r{index}")
    }

    /// Bytes in one segment at `kbps`: bitrate x segment duration / 8.
    pub fn segment_size(&self, kbps: u32) -> usize {
        let bits = u128::from(kbps) * 1000 * self.segment_duration.as_nanos() / 1_000_000_000;
        usize::try_from(bits / 8).unwrap_or(usize::MAX)
    }

    /// When segment `msn` becomes available (`None` before [`Self::start`]
    /// is set, or for a number before `first_sequence`), as configured: the
    /// runtime controls are not taken into account (see
    /// [`crate::MockOrigin::published_at`] for that).
    pub fn segment_available_at(&self, msn: u64) -> Option<Instant> {
        let k = u32::try_from(msn.checked_sub(self.first_sequence)?.checked_add(1)?).ok()?;
        self.start?
            .checked_add(self.segment_duration.checked_mul(k)?)
    }

    /// The smallest Skip Boundary the spec allows: six target durations
    /// (the target duration is the segment duration rounded up to whole
    /// seconds).
    pub fn min_skip_boundary(&self) -> Duration {
        let secs = self.segment_duration.as_nanos().div_ceil(1_000_000_000);
        let secs = u64::try_from(secs).unwrap_or(u64::MAX).max(1);
        Duration::from_secs(secs.saturating_mul(6))
    }

    /// Checks the configuration as [`crate::MockOrigin::start_with`] does
    /// (an `InvalidInput` error naming the problem).
    pub fn validate(&self) -> io::Result<()> {
        let problem = if self.streams == 0 {
            "streams must be at least 1"
        } else if self.renditions.is_empty() || self.renditions.contains(&0) {
            "renditions must be non-empty bitrates"
        } else if self.segment_duration < Duration::from_millis(1) {
            "segment_duration must be at least 1 ms"
        } else if self.part_duration.is_zero() || self.part_duration > self.segment_duration {
            "part_duration must be positive and at most segment_duration"
        } else if self.segment_duration.as_nanos() / self.part_duration.as_nanos() > 1000 {
            "at most 1000 parts per segment"
        } else if self.window == 0 {
            "window must be at least 1"
        } else if self.throughput == Some(0) {
            "throughput must be positive"
        } else if let Err(problem) = self.faults.validate() {
            problem
        } else if self
            .can_skip_until
            .is_some_and(|d| d < self.min_skip_boundary())
        {
            "can_skip_until must be at least six target durations"
        } else {
            return Ok(());
        };
        Err(io::Error::new(io::ErrorKind::InvalidInput, problem))
    }
}

/// A display resolution for a bitrate, for `RESOLUTION=` and DASH
/// `width`/`height`: a conventional ladder.
pub(crate) fn resolution(kbps: u32) -> (u32, u32) {
    match kbps {
        0..=1199 => (640, 360),
        1200..=3499 => (1280, 720),
        3500..=7999 => (1920, 1080),
        _ => (3840, 2160),
    }
}

/// `2.000` for two seconds: milliseconds, rounded, as playlists write them.
pub(crate) fn secs3(d: Duration) -> String {
    let ms = (d.as_micros() + 500) / 1000;
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A [`LiveConfig`] with its clock fixed: what the server consults.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) config: LiveConfig,
    pub(crate) clock: Clock,
    /// Real time to elapsed time, under the runtime controls.
    pub(crate) publishing: Publishing,
    /// The fault sequence and counters for `config.faults`.
    pub(crate) faults: Injector,
}

impl Live {
    /// Validates `config` and anchors it: a missing `start` becomes now, and
    /// wall-clock time is read once so dates never jump.
    pub(crate) fn new(mut config: LiveConfig) -> io::Result<Live> {
        config.validate()?;
        let now = Instant::now();
        let start = *config.start.get_or_insert(now);
        let wall_now = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        let behind = i64::try_from(now.saturating_duration_since(start).as_millis()).unwrap_or(0);
        let ahead = i64::try_from(start.saturating_duration_since(now).as_millis()).unwrap_or(0);
        Ok(Live::at(config, start, wall_now - behind + ahead))
    }

    /// A live origin whose start is `start`, which was `wall_start_ms` Unix
    /// milliseconds (fixed in tests, so generated text is stable).
    pub(crate) fn at(mut config: LiveConfig, start: Instant, wall_start_ms: i64) -> Live {
        config.start = Some(start);
        let timeline = Timeline {
            segment: config.segment_duration,
            part: config.part_duration,
            first_sequence: config.first_sequence,
        };
        Live {
            faults: Injector::default(),
            config,
            clock: Clock {
                timeline,
                wall_start_ms,
            },
            publishing: Publishing::new(start),
        }
    }

    pub(crate) fn timeline(&self) -> &Timeline {
        &self.clock.timeline
    }

    /// The timeline now: the one place real time enters the simulator.
    pub(crate) fn now(&self) -> Now {
        self.publishing.now()
    }

    /// When the content ending at `msn` (part `part`, or the whole segment)
    /// last became available; `None` if it has not yet.
    pub(crate) fn published_at(&self, msn: u64, part: Option<u64>) -> Option<Instant> {
        let t = self.timeline();
        let k = t.relative(msn)?;
        let end = match part {
            None => t.segment_end(k),
            Some(p) if p < t.parts_per_segment() => t.part_end(k, p),
            Some(_) => return None,
        };
        self.publishing.published_at(end, None)
    }

    /// For a request of `path`: `Some((blocking, skip))` when it names a
    /// media playlist of the simulator, `blocking` if the query has
    /// `_HLS_msn`, `skip` if it has `_HLS_skip` (any value).
    pub(crate) fn media_playlist(&self, path: &str, query: &str) -> Option<(bool, bool)> {
        let (_, resource) = route(path, self.config.streams, self.config.renditions.len())?;
        let has = |name: &str| crate::behavior::query_pairs(query).any(|(key, _)| key == name);
        matches!(resource, Resource::Media { .. }).then(|| (has("_HLS_msn"), has("_HLS_skip")))
    }

    /// Segments still served behind the live edge (the DVR buffer).
    pub(crate) fn dvr_segments(&self) -> u64 {
        3 * self.config.window as u64
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The default configuration with 2 s segments, started at a fixed wall
    /// time (2023-11-14T22:13:20Z), for the generators' tests.
    pub(crate) fn fixed(config: LiveConfig) -> Live {
        Live::at(config, Instant::now(), 1_700_000_000_000)
    }

    #[test]
    fn defaults_and_sizes() {
        let c = LiveConfig::default();
        assert_eq!((c.streams, c.window, c.renditions.len()), (4, 6, 3));
        assert_eq!(c.segment_size(800), 200_000);
        assert_eq!(c.segment_size(5000), 1_250_000);
        assert_eq!(c.segment_available_at(0), None);
        assert_eq!(
            (LiveConfig::stream_name(2), LiveConfig::rendition_name(1)),
            ("s2".to_string(), "r1".to_string())
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn availability_and_anchoring() {
        let start = Instant::now();
        let live = Live::new(LiveConfig {
            start: Some(start),
            first_sequence: 10,
            ..LiveConfig::default()
        })
        .unwrap();
        let c = &live.config;
        assert_eq!(c.segment_available_at(9), None);
        assert_eq!(
            c.segment_available_at(10),
            Some(start + Duration::from_secs(2))
        );
        assert_eq!(
            c.segment_available_at(12),
            Some(start + Duration::from_secs(6))
        );
        assert!(live.clock.wall_start_ms > 1_600_000_000_000);
        assert_eq!(live.dvr_segments(), 18);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let bad = [
            LiveConfig {
                streams: 0,
                ..LiveConfig::default()
            },
            LiveConfig {
                renditions: vec![],
                ..LiveConfig::default()
            },
            LiveConfig {
                window: 0,
                ..LiveConfig::default()
            },
            LiveConfig {
                part_duration: Duration::from_secs(3),
                ..LiveConfig::default()
            },
            LiveConfig {
                part_duration: Duration::ZERO,
                ..LiveConfig::default()
            },
            LiveConfig {
                part_duration: Duration::from_micros(1),
                ..LiveConfig::default()
            },
            LiveConfig {
                throughput: Some(0),
                ..LiveConfig::default()
            },
            LiveConfig {
                can_skip_until: Some(Duration::from_millis(11_999)),
                ..LiveConfig::default()
            },
            LiveConfig {
                segment_duration: Duration::from_millis(2_100),
                can_skip_until: Some(Duration::from_secs(17)),
                ..LiveConfig::default()
            },
            LiveConfig {
                faults: Faults {
                    error_rate: 0.6,
                    stall_rate: 0.6,
                    ..Faults::default()
                },
                ..LiveConfig::default()
            },
        ];
        for config in bad {
            assert!(Live::new(config).is_err());
        }
        // Six target durations (2.1 s rounds up to 3): 18 s.
        let config = LiveConfig {
            segment_duration: Duration::from_millis(2_100),
            can_skip_until: Some(Duration::from_secs(18)),
            ..LiveConfig::default()
        };
        assert_eq!(config.min_skip_boundary(), Duration::from_secs(18));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn helpers() {
        assert_eq!(secs3(Duration::from_millis(2000)), "2.000");
        assert_eq!(secs3(Duration::from_micros(333_333)), "0.333");
        assert_eq!(secs3(Duration::from_micros(1_999_600)), "2.000");
        assert_eq!(resolution(800), (640, 360));
        assert_eq!(resolution(2500), (1280, 720));
        assert_eq!(resolution(5000), (1920, 1080));
    }
}
