//! `mock-origin`: a real HTTP/1.1 origin server for livecache's black-box
//! tests and for poking at the cache by hand. This file owns the crate
//! documentation and the public [`MockOrigin`] handle; the work is split into
//! `server` (sockets, connections, keep-alive), `request` (reading requests),
//! [`behavior`] (query parsing), `response` (bytes on the wire), `out`
//! (write batching and pacing), `body`
//! (deterministic bytes), `stats` (counters and log), `date` (HTTP dates)
//! and `live` (the live packager simulator, below).
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
//! | `delay_ms=N` | wait N ms before sending anything |
//! | `chunk=N`, `pause_ms=M` | write the body in N-byte pieces, flushed, M ms apart |
//! | `pause_after=B`, `pause_ms=M` | write head + B bytes, pause M ms, then the rest |
//! | `te=chunked` / `te=close` | chunked framing (one chunk per piece) / close-delimited |
//! | `fail_after=B` | head + B body bytes, then a TCP reset |
//! | `bad=garbage\|long\|short\|cl-te\|dup-cl\|bad-chunk\|hang` | broken responses |
//! | `hdr=Name:Value` | extra response header (percent-decoded, repeatable) |
//!
//! GET/HEAD also answer `If-None-Match` with the response's ETag by `304`.
//! HEAD sends the GET headers without a body. Other methods get their body
//! read and `method=M len=L` back with `Cache-Control: no-store` (unless
//! `cc=`/`status=` say otherwise). Every response carries
//! `X-Origin-Request-Count` (requests for this target so far, this one
//! included) and `X-Origin-Connection` (a per-connection sequence number).
//! `GET /__stats` returns
//! `{"total":N,"targets":{...},"faults":{"errors":N,"resets":N,"stalls":N}}`
//! and is not counted.
//!
//! # Live streams
//!
//! The origin also simulates a live packager, configured once by a
//! [`LiveConfig`] ([`MockOrigin::start_with`]; [`MockOrigin::start`] uses the
//! default: 4 streams, renditions 800/2500/5000 kbit/s, 2 s segments, 0.5 s
//! parts, a 6-segment window). Its clock starts with the origin (or at
//! [`LiveConfig::start`]): segment `first_sequence + k` exists from
//! `start + (k+1) * segment_duration`, each part from its own end.
//!
//! | path | content |
//! |---|---|
//! | `/live/s{i}/master.m3u8` | multivariant playlist, one `EXT-X-STREAM-INF` per rendition |
//! | `/live/s{i}/manifest.mpd` | dynamic DASH MPD, `$Number$` `SegmentTemplate` per rendition |
//! | `/live/s{i}/r{j}/index.m3u8` | LL-HLS media playlist: newest `window` segments, parts, preload hint |
//! | `…/index.m3u8?_HLS_msn=M[&_HLS_part=P]` | blocking reload: held until segment M (part P) exists, at most 3 target durations (then 503); 400 if `_HLS_part` comes alone or M/P is too far ahead |
//! | `/live/s{i}/r{j}/init.mp4` | [`INIT_SIZE`] bytes |
//! | `/live/s{i}/r{j}/seg-{n}.m4s` | bitrate x segment duration / 8 bytes of [`expected_body`]`(path, len)`; 404 until complete and once older than 3 windows |
//! | `/live/s{i}/r{j}/seg-{n}.{p}.m4s` | a part: its proportional byte range of the segment's body; the preload-hinted part is held until complete, later ones are 404 |
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
//! `expires`, `nodate`, and `cc` as an override) apply to live paths too,
//! after [`LiveConfig::first_byte_delay`] and paced by
//! [`LiveConfig::throughput`]; `size`, `status` and `etag` do not. Live
//! requests are counted like any other.
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
mod date;
mod live;
mod out;
mod request;
mod response;
mod server;
mod stats;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use body::expected_body;
pub use live::{FaultCounts, Faults, LiveConfig, INIT_SIZE};
pub use server::STATS_PATH;
pub use stats::{RecordedRequest, LOG_CAPACITY};

use live::Live;
use server::Shared;

/// A running origin. Serves on background threads until dropped; dropping
/// closes the listener and shuts down open connections.
pub struct MockOrigin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
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
            accept: Some(accept),
        })
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

    /// Faults injected into live responses so far ([`LiveConfig::faults`]).
    pub fn faults(&self) -> FaultCounts {
        self.shared.live.faults.counts()
    }

    /// Clear counters, fault counts and log (connection numbering and the
    /// fault sequence continue).
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
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => [127, 0, 0, 1].into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(accept) = self.accept.take() {
                let _ = accept.join();
            }
        }
    }
}
