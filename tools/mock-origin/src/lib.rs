//! `mock-origin`: a real HTTP/1.1 origin server for livecache's black-box
//! tests and for poking at the cache by hand. This file owns the crate
//! documentation and the public [`MockOrigin`] handle; the work is split into
//! `server` (sockets, connections, keep-alive, refusing connections),
//! `request` (reading requests), [`behavior`] (query parsing, with `query`
//! for the plumbing and `switch` for `after=`/`then_*`), `entity` (what a
//! response carries, validators), `conditional` (304, 206 and 416
//! decisions), `response` (bytes on the wire), `out` (write batching and
//! pacing), `body` (deterministic bytes), `stats` (counters and log), `date`
//! (HTTP dates) and `live` (the live packager simulator, below).
//!
//! Every scenario is chosen by the request itself, through query parameters,
//! so the cache under test keys on them, nothing needs configuring between
//! tests, and any scenario can be replayed with curl:
//!
//! | parameter | effect |
//! |---|---|
//! | `size=N` | body length (default 1024); bytes are [`expected_body`]`(path, N)` |
//! | `status=N` | status code (default 200) |
//! | `cc=V` | `Cache-Control: V` (percent-decoded; default `public, max-age=60`); `cc=none` omits it |
//! | `age=N` | `Age: N` |
//! | `expires=N` | `Expires:` now + N seconds (N may be negative) |
//! | `nodate=1` | no `Date` header (otherwise always sent) |
//! | `etag=V` | `ETag: "V"` (`W/V` gives `W/"V"`); default is a strong tag of path+size |
//! | `lm=SECS` | `Last-Modified` at Unix time SECS (default 2015-01-01T00:00:00Z) |
//! | `noetag=1` / `nolm=1` | no `ETag` / no `Last-Modified` |
//! | `ranges=1` | `Accept-Ranges: bytes`; a single `Range: bytes=a-b`, `a-` or `-n` on GET gets `206` with `Content-Range: bytes a-b/len` and exactly those bytes; unsatisfiable gets `416` (`Content-Range: bytes */len`, `no-store`) |
//! | `echo=Field-Name` | `X-Echo-Field-Name:` the request's values of that field joined by `, `, or `-` when absent (repeatable) |
//! | `hints=1` | `103 Early Hints` with `Link: </style.css>; rel=preload` first (HTTP/1.1 requests only, before `delay_ms`) |
//! | `stray_ms=M` | M ms after the response, an unrequested second response ([`STRAY_RESPONSE`]: `max-age=3600`, body `STRAY-POISON`) on the same connection, as a desynchronised origin sends |
//! | `after=N` | from request N+1 to this target on, the `then_*` knobs below apply (none does without `after=`) |
//! | `then_status=S` | status S, `Cache-Control: no-store` (unless `then_cc=`), a short `text/plain` body, no validators |
//! | `then_delay_ms=M` | wait M ms before the head (instead of `delay_ms`) |
//! | `then_cc=V` | this `Cache-Control` instead of `cc=` (`none` omits it), on 304s too |
//! | `then_etag=V` | the `ETag` becomes `"V"` (`W/V` weak), so the old tag no longer gets 304 |
//! | `delay_ms=N` | wait N ms before sending anything |
//! | `chunk=N`, `pause_ms=M` | write the body in N-byte pieces, flushed, M ms apart |
//! | `pause_after=B`, `pause_ms=M` | write head + B bytes, pause M ms, then the rest |
//! | `te=chunked` / `te=close` | chunked framing (one chunk per piece) / close-delimited |
//! | `fail_after=B` | head + B body bytes, then a TCP reset (whole `200` bodies only, not a `206`) |
//! | `bad=garbage\|long\|short\|cl-te\|dup-cl\|bad-chunk\|hang` | broken responses |
//! | `hdr=Name:Value` | extra response header (percent-decoded, repeatable) |
//!
//! GET/HEAD of a 200 answer a matching `If-None-Match` (weak comparison, or
//! `*`) by `304`; without `If-None-Match`, an `If-Modified-Since` at or after
//! the `Last-Modified` also gets `304` (RFC 9110 §13.2.2 order; with
//! `ranges=1`, Range and `If-Range` come after). A 304 carries the headers
//! the 200 would (`Date`, `Cache-Control`, `Age`, `Expires`, `ETag`,
//! `Last-Modified`, `X-Echo-*`, `hdr=`) but no `Content-Type` or framing.
//! HEAD sends the GET headers without a body. Other methods get their body
//! read and `method=M len=L` back with `Cache-Control: no-store` (unless
//! `cc=`/`status=` say otherwise). Every response carries
//! `X-Origin-Request-Count` (requests for this target so far, this one
//! included) and `X-Origin-Connection` (a per-connection sequence number).
//! `X-Origin-Request-Count` is also the N that `after=N` counts against
//! (so [`MockOrigin::reset`] restarts the switch). `GET /__stats` returns
//! `{"total":N,"targets":{...},"faults":{"errors":N,"resets":N,"stalls":N},"playlists":{"blocking":N,"plain":N,"skip":N}}`
//! (`playlists`: the live media playlist counters below) and is not
//! counted.
//!
//! # Live streams
//!
//! The origin also simulates a live packager, configured once by a
//! [`LiveConfig`] ([`MockOrigin::start_with`]; [`MockOrigin::start`] uses the
//! default: 4 streams, renditions 800/2500/5000 kbit/s, 2 s segments, 0.5 s
//! parts, a 6-segment window). Its clock starts with the origin (or at
//! [`LiveConfig::start`]): segment `first_sequence + k` exists from
//! `start + (k+1) * segment_duration`, each part from its own end (until a
//! publishing control below shifts the timeline).
//!
//! | path | content |
//! |---|---|
//! | `/live/s{i}/master.m3u8` | multivariant playlist, one `EXT-X-STREAM-INF` per rendition |
//! | `/live/s{i}/manifest.mpd` | dynamic DASH MPD, `$Number$` `SegmentTemplate` per rendition |
//! | `/live/s{i}/r{j}/index.m3u8` | LL-HLS media playlist: newest `window` segments, parts, preload hint |
//! | `…/index.m3u8?_HLS_msn=M[&_HLS_part=P]` | blocking reload: held until segment M (part P) exists, at most 3 target durations (then 503); 400 if `_HLS_part` comes alone or M/P is too far ahead |
//! | `…/index.m3u8?[…&]_HLS_skip=YES` | with [`LiveConfig::can_skip_until`] set (and `CAN-SKIP-UNTIL` advertised): a Playlist Delta Update, segments ending more than the Skip Boundary before the last one's end replaced by `EXT-X-SKIP` (`EXT-X-MAP` kept, the first listed segment dated); ignored otherwise and once ended |
//! | `/live/s{i}/r{j}/init.mp4` | [`INIT_SIZE`] bytes |
//! | `/live/s{i}/r{j}/seg-{n}.m4s` | bitrate x segment duration / 8 bytes of [`expected_body`]`(path, len)`; 404 until complete and once older than 3 windows |
//! | `/live/s{i}/r{j}/seg-{n}.{p}.m4s` | a part: its proportional byte range of the segment's body; the preload-hinted part is held until complete, later ones are 404 |
//! | `/live/s{i}/manifest.mpd` and `…/seg-{n}.m4s`, with [`LiveConfig::chunked_dash`] | LL-DASH: `availabilityTimeOffset` of a segment less one part, `availabilityTimeComplete="false"`; the segment in progress is answered at once, chunked, one HTTP chunk per part as it completes |
//! | `/live/s{i}/r{j}/index.m3u8`, with [`LiveConfig::low_latency`] off | a classic HLS media playlist (segments only, no server control, parts or hints); delivery directives ignored |
//! | `/live/s{i}/r{j}/seg-{n}.m4s`, with [`LiveConfig::byterange_parts`] | parts listed as `BYTERANGE`s of their segment and the hint as `BYTERANGE-START`; the segment in progress is answered at once, chunked, and grows as each part completes (cut if the stream ends first) |
//!
//! Stream `i` runs over `0..streams`, rendition `j` over the bitrates in
//! order. Only configured stream names (`s0`, `s1`, ...) belong to the
//! simulator: every other path, `/live/...` included, is served by the query
//! rules above exactly as before. Playlists and the MPD are
//! `public, max-age=1`, blocking responses `max-age` of three target
//! durations, init/segments/parts `public, max-age=3600`, 404s
//! `public, max-age=1`, 400/503 `no-store`; every 200 has an `ETag` and a
//! `Last-Modified`. The delivery parameters (`delay_ms`, `chunk`,
//! `pause_ms`, `pause_after`, `te`, `fail_after`, `bad`, `hdr`, `age`,
//! `expires`, `nodate`, `ranges`, `echo`, `hints`, `after` with the
//! `then_*` knobs, and `cc` as an override) apply to live paths too, after
//! [`LiveConfig::first_byte_delay`] and paced by [`LiveConfig::throughput`];
//! `size`, `status`, `etag`, `lm`, `noetag` and `nolm` do not. Live requests
//! are counted like any other.
//!
//! # Publishing controls
//!
//! A test can upset the packager while the origin runs. The controls change
//! only how real time maps to the live timeline, for every stream at once:
//!
//! | call | effect |
//! |---|---|
//! | [`MockOrigin::pause_publishing`] | the timeline stops: no new segment or part appears in any media playlist or the MPD, and blocking playlist requests and hinted-part requests keep waiting (503 at the hold limit, counted from their arrival) |
//! | [`MockOrigin::resume_publishing`] | the timeline runs on from where it stopped (the paused time is skipped: the next part appears at most one part duration later) |
//! | [`MockOrigin::rewind_publishing`]`(n)` | the timeline jumps back `n` segment durations (not before the start) and runs on: a lower `EXT-X-MEDIA-SEQUENCE` and last media sequence number than before, as a broken packager serves |
//! | `POST /__publishing?pause` / `?resume` | the same as the two calls above, for an origin run as a process (not counted) |
//! | [`MockOrigin::end_stream`] | for good: every media playlist ends with `EXT-X-ENDLIST` and has no preload hint; blocking requests, waiting ones included, get it at once (directives ignored); a hinted part that will not come is a 404; later controls do nothing |
//!
//! [`MockOrigin::published_at`] tells when a segment or part became
//! available under the controls so far,
//! [`MockOrigin::blocking_playlist_hits`] /
//! [`MockOrigin::plain_playlist_hits`] count media playlist requests with and
//! without `_HLS_msn`, and [`MockOrigin::skip_playlist_hits`] those with
//! `_HLS_skip` (either kind). Dates (`EXT-X-PROGRAM-DATE-TIME`, `Last-Modified`)
//! follow the media timeline; the MPD's `availabilityStartTime` and
//! `publishTime` move with the shift once publishing runs again.
//!
//! # Refusing connections
//!
//! [`MockOrigin::refuse_connections`] makes the origin look down without
//! dropping it: it closes the listening socket, so connection attempts are
//! refused by the OS (`ECONNREFUSED`), and shuts down every open connection,
//! so a client's next request on a kept-alive one fails (EOF or reset).
//! [`MockOrigin::accept_connections`] binds the same address again and
//! serves as before; counters, the log and the live clock carry on.
//!
//! # Faults
//!
//! [`LiveConfig::faults`] makes the live simulator flaky, as a real packager
//! is (the default [`Faults`] injects nothing). Each live response (any
//! path above; never `/__stats` or the query-driven paths) takes the next
//! draw of a pseudo-random sequence fixed by [`Faults::seed`], and the rates
//! split the draws, so they must sum to at most 1:
//!
//! | fault | rate | what the response does |
//! |---|---|---|
//! | error | [`Faults::error_rate`] of live responses | `503` with `Cache-Control: no-store`, at once (no blocking hold, no `cc=` override) |
//! | reset | [`Faults::reset_rate`] of segment/part responses | head and half the body, then a TCP reset (as `fail_after=`) |
//! | stall | [`Faults::stall_rate`] of segment/part responses | pauses [`Faults::stall`] halfway through the body |
//!
//! A reset or stall only applies to a 200 GET whose body goes out (not HEAD,
//! a 404 or 304, or a `bad=` response). An applied fault is marked by an
//! `X-Origin-Fault: error|reset|stall` header and counted: see
//! [`MockOrigin::faults`] and the `faults` object of `/__stats`. With the
//! same seed and the same requests in the same order, the same responses
//! fail.
//!
//! ```no_run
//! let origin = mock_origin::MockOrigin::start("127.0.0.1:0").unwrap();
//! // ... point the cache at origin.url(), request /seg/1.ts?size=4096 twice ...
//! assert_eq!(origin.hits("/seg/1.ts?size=4096"), 1);
//! ```

pub mod behavior;
mod body;
mod conditional;
mod date;
mod entity;
mod live;
mod out;
mod query;
mod request;
mod response;
mod server;
mod stats;
mod switch;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use body::expected_body;
pub use live::{FaultCounts, Faults, LiveConfig, INIT_SIZE};
pub use response::STRAY_RESPONSE;
pub use server::STATS_PATH;
pub use stats::{RecordedRequest, LOG_CAPACITY};

use live::{Control, Live};
use server::Shared;

/// A running origin. Serves on background threads until dropped; dropping
/// closes the listener and shuts down open connections.
pub struct MockOrigin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The accept thread; `None` while refusing connections.
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl MockOrigin {
    /// Bind (e.g. "127.0.0.1:0") and serve on background threads, with the
    /// default [`LiveConfig`] (its clock starting now).
    pub fn start(addr: &str) -> io::Result<MockOrigin> {
        MockOrigin::start_with(addr, LiveConfig::default())
    }

    /// Like [`MockOrigin::start`], with the live streams configured by `live`
    /// (an invalid configuration is an `InvalidInput` error).
    pub fn start_with(addr: &str, live: LiveConfig) -> io::Result<MockOrigin> {
        let live = Live::new(live)?;
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(live));
        let accept = server::spawn_accept(listener, Arc::clone(&shared))?;
        Ok(MockOrigin {
            addr,
            shared,
            accept: Mutex::new(Some(accept)),
        })
    }

    /// Stops accepting: closes the listening socket, so new connection
    /// attempts are refused, and shuts down every open connection, so a
    /// request on a kept-alive one fails. Responses in progress are cut.
    /// Returns once the listener is closed; a no-op while already refusing.
    /// An error (the accept thread could not be woken) leaves the origin
    /// accepting.
    pub fn refuse_connections(&self) -> io::Result<()> {
        let mut accept = self.accept_thread();
        let Some(thread) = accept.take() else {
            return Ok(());
        };
        self.shared.set_refusing(true);
        if let Err(e) = wake(self.addr) {
            self.shared.set_refusing(false);
            *accept = Some(thread);
            return Err(e);
        }
        let _ = thread.join();
        self.shared.close_connections();
        Ok(())
    }

    /// Accepts connections again after [`MockOrigin::refuse_connections`],
    /// on the same address (bound anew; an error if another socket took the
    /// port meanwhile). A no-op while accepting.
    pub fn accept_connections(&self) -> io::Result<()> {
        let mut accept = self.accept_thread();
        if accept.is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr)?;
        self.shared.set_refusing(false);
        *accept = Some(server::spawn_accept(listener, Arc::clone(&self.shared))?);
        Ok(())
    }

    /// Whether the origin accepts connections (not refusing them).
    pub fn accepting(&self) -> bool {
        self.accept_thread().is_some()
    }

    fn accept_thread(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.accept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live configuration in effect, with [`LiveConfig::start`] filled
    /// in, so tests can compute when a segment exists.
    pub fn live(&self) -> &LiveConfig {
        &self.shared.live.config
    }

    /// The bound address (with the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received for this exact request target (path plus query as
    /// sent), any method.
    pub fn hits(&self, target: &str) -> u64 {
        self.shared.stats.hits(target)
    }

    /// Requests received whose path (query stripped) equals `path`.
    pub fn path_hits(&self, path: &str) -> u64 {
        self.shared.stats.path_hits(path)
    }

    /// All requests except the stats endpoint.
    pub fn total(&self) -> u64 {
        self.shared.stats.total()
    }

    /// Log of every request (the newest [`LOG_CAPACITY`]), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.stats.requests()
    }

    /// Stops the live timeline (see the crate docs' publishing controls); a
    /// no-op while paused or after [`MockOrigin::end_stream`].
    pub fn pause_publishing(&self) {
        self.shared.live.publishing.apply(Control::Pause);
    }

    /// Runs the live timeline on from where [`MockOrigin::pause_publishing`]
    /// stopped it, skipping the paused time; a no-op while running or after
    /// [`MockOrigin::end_stream`].
    pub fn resume_publishing(&self) {
        self.shared.live.publishing.apply(Control::Resume);
    }

    /// Moves the live timeline back by `segments` segment durations (to the
    /// start at most), paused or not, so media sequence numbers regress; a
    /// no-op after [`MockOrigin::end_stream`].
    pub fn rewind_publishing(&self, segments: u64) {
        let segment = self.shared.live.config.segment_duration;
        let by = u32::try_from(segments)
            .ok()
            .and_then(|n| segment.checked_mul(n))
            .unwrap_or(Duration::MAX);
        self.shared.live.publishing.apply(Control::Rewind(by));
    }

    /// Ends every live stream for good: the timeline stops, media playlists
    /// end with `EXT-X-ENDLIST` (no preload hint), and blocking requests,
    /// waiting ones included, are answered at once.
    pub fn end_stream(&self) {
        self.shared.live.publishing.apply(Control::End);
    }

    /// When segment `msn` (with `part: None`) or part `part` of it became
    /// available, given the pauses and rewinds so far (the latest time if a
    /// rewind withdrew and republished it); `None` if it is not available
    /// now, or for a part number past the segment's parts. Instants before
    /// the oldest of the last 1024 controls are no longer known (`None`).
    pub fn published_at(&self, msn: u64, part: Option<u64>) -> Option<Instant> {
        self.shared.live.published_at(msn, part)
    }

    /// Requests for a live media playlist (`/live/s{i}/r{j}/index.m3u8`)
    /// whose query has `_HLS_msn` (blocking reloads), any method.
    pub fn blocking_playlist_hits(&self) -> u64 {
        self.shared.stats.playlist_hits().0
    }

    /// Requests for a live media playlist without `_HLS_msn` in the query.
    pub fn plain_playlist_hits(&self) -> u64 {
        self.shared.stats.playlist_hits().1
    }

    /// Requests for a live media playlist with `_HLS_skip` in the query (any
    /// value, blocking or not; also counted by the two above), whether or
    /// not delta updates are on.
    pub fn skip_playlist_hits(&self) -> u64 {
        self.shared.stats.playlist_hits().2
    }

    /// While `down`, every live segment and part request gets a `503` with
    /// `Cache-Control: no-store` (counted as an injected error); playlists
    /// are served as usual, as from a packager whose media storage failed.
    pub fn fail_media(&self, down: bool) {
        self.shared.live.faults.set_media_down(down);
    }

    /// Faults injected into live responses so far ([`LiveConfig::faults`]).
    pub fn faults(&self) -> FaultCounts {
        self.shared.live.faults.counts()
    }

    /// Clear counters (playlist hits included), fault counts and log
    /// (connection numbering, the fault sequence and the live timeline
    /// continue).
    pub fn reset(&self) {
        self.shared.stats.reset();
        self.shared.live.faults.reset_counts();
    }
}

impl fmt::Debug for MockOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockOrigin")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockOrigin {
    /// `accept` has no timeout, so after flagging the stop a throwaway
    /// connection wakes the accept thread; it is joined only if that worked,
    /// so a drop can never hang.
    fn drop(&mut self) {
        self.shared.stop();
        let accept = self.accept_thread().take();
        if let Some(accept) = accept {
            if wake(self.addr).is_ok() {
                let _ = accept.join();
            }
        }
    }
}

/// A throwaway connection to `addr` (loopback for a wildcard address), so a
/// blocked `accept` returns and sees its flags.
fn wake(addr: SocketAddr) -> io::Result<()> {
    let mut wake = addr;
    if wake.ip().is_unspecified() {
        wake.set_ip(match wake {
            SocketAddr::V4(_) => [127, 0, 0, 1].into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    TcpStream::connect_timeout(&wake, Duration::from_secs(1)).map(drop)
}
