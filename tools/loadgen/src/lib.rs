//! `loadgen`: a thread-per-core HTTP/1.1 load generator with HDR histograms, built on
//! glommio like livecache itself. `--threads N` executors, each pinned to a CPU from
//! `--cpus` (unpinned by default, so benchmarks can pin load and server apart), drive
//! keep-alive connections whose responses are read strictly ([`client`]): a short body,
//! a truncated chunked body or a connection closed mid-response is an error, never a
//! success. Responses other than 2xx/304 are counted per status.
//!
//! # README
//!
//! ## Modes
//!
//! ```text
//! loadgen urls --connections C (--duration 10s | --requests N) (URL... | --url-pattern P)
//! loadgen rate --rate R --connections C --duration 10s (URL... | --url-pattern P)
//! loadgen live --base http://127.0.0.1:8080 --streams K --viewers V --rendition r1
//!              --duration 30s [--ll-hls] [--stream-names 's{}']
//!              [--playlist-path '/live/{stream}/{rendition}/index.m3u8']
//! loadgen llhls --base http://127.0.0.1:8080 --viewers V --renditions r0,r1 [--streams K]
//!              --duration 30s [--swapped-fraction F] [--skip-fraction F]
//!              [--origin-stats http://127.0.0.1:9000/__stats] [--stream-names, --playlist-path]
//! common: --threads N (1)  --cpus 0,1 (unpinned)  --timeout 10s  --json FILE  --svg FILE
//!         --quiet (no progress lines)
//! ```
//!
//! * `urls` ([`modes::urls`]): closed loop; each connection sends, reads the whole
//!   response, sends the next, round-robin over the URLs from its own offset.
//!   `--url-pattern 'http://h/p/seg-{0..99}.m4s'` expands `{a..b}` ranges.
//! * `rate` ([`modes::rate`]): open loop at a fixed total rate; latency counts from each
//!   request's scheduled time (coordinated omission corrected, as wrk2 does), including any
//!   wait for a free connection (requests still waiting 1 s after the schedule ends are
//!   dropped and reported as `unsent`).
//! * `live` ([`modes::live`]): HLS viewers per stream that join near the live edge, fetch
//!   segments (or parts, with `--ll-hls` and blocking playlist reloads) as the playlist
//!   reveals them, and count stalls against a playback deadline.
//! * `llhls` ([`modes::llhls`]): viewers that behave like hls.js in low-latency mode (a
//!   blocking reload for the part after the newest plus the preload-hinted part, at once,
//!   then again), some spelling the reload differently; reports hold release and edge
//!   latency against the parts' publish times (from `EXT-X-PROGRAM-DATE-TIME`), responses
//!   lacking the requested part, and with `--origin-stats` the origin's blocking requests
//!   per published part per rendition.
//!
//! Durations take `us`, `ms`, `s`, `m`, `h` (`500ms`, `1.5s`, `2m`); a bare number is
//! seconds. Latency includes the connect when a request has to open a connection.
//!
//! ## Output
//!
//! Every second, on stderr: `t=3s req/s=1234 err=0 p99=1.23ms` (complete responses in
//! that second, errors plus non-2xx/304 responses, p99 of total time). At the end, on
//! stdout: a table of p50, p90, p99, p99.9, p99.99 and max (ms) of time-to-first-byte and
//! total time per request kind (`url`, `playlist`, `segment`, `part`, `live lag`, and
//! `ll-hls release`/`edge`), then requests, requests/s, bytes, statuses, errors and the
//! live or LL-HLS figures. Latency
//! histograms hold every complete response, whatever its status.
//!
//! ## JSON (`--json FILE`)
//!
//! Field names are stable. Times are milliseconds (`_ms`) or seconds (`_s`).
//!
//! | field | meaning |
//! |---|---|
//! | `mode` | `"urls"`, `"rate"`, `"live"` or `"llhls"` |
//! | `threads`, `connections` | executors; connections (viewers in live mode) |
//! | `elapsed_s` | start to the end of the last thread |
//! | `requests`, `requests_per_s` | complete responses (any status), and per second |
//! | `bad_status` | complete responses whose status is not 2xx/304 |
//! | `errors` | failures without a complete response (plus `bad_playlist`/`bad_uri`) |
//! | `error_kinds` | `errors` by kind: `connect`, `io`, `closed`, `short_body`, `bad_response`, `bad_chunk`, `head_too_large`, `trailing_data`, `timeout`, `bad_playlist`, `bad_uri` |
//! | `status` | `{"200": n, "404": n, …}` |
//! | `unsent` | rate mode: due requests dropped because no connection freed up within 1 s after the schedule ended (0 in other modes) |
//! | `bytes`, `bytes_per_s` | body bytes received |
//! | `kinds.<kind>` | per kind (`url`, `playlist`, `segment`, `part`): `requests`, `ok`, `errors`, `bytes`, `ttfb_ms`, `total_ms` |
//! | `live` | `null` outside live mode; else `viewers`, `segments`, `parts`, `stalls`, `stall_ms`, `skipped`, `lag_ms` |
//! | `llhls` | `null` outside llhls mode; else `viewers`, `swapped_viewers`, `skip_viewers`, `hold_release_ms`, `edge_latency_ms`, `held`, `answered_at_once`, `lacking_part`, `undated`, `delta_updates`, `parts`, `status_4xx`, `status_5xx`, `parts_published`, `origin` |
//! | `llhls.origin` | `null` without `--origin-stats`; else `blocking`, `plain`, `skip` (origin playlist requests of the run's playlists), `blocking_per_part` (blocking / `parts_published`), `max_blocking_per_part` (worst playlist), `renditions` (`path`, `blocking`, `plain`, `skip` each) |
//!
//! Each percentile object (`ttfb_ms`, `total_ms`, `lag_ms`, `hold_release_ms`,
//! `edge_latency_ms`) has `count`, `mean`, `p50`,
//! `p90`, `p99`, `p99_9`, `p99_99`, `max`.
//!
//! ## SVG (`--svg FILE`)
//!
//! Latency against percentile on a log scale (50, 90, 99, 99.9, 99.99, 99.999), one line
//! per kind and metric ([`plot`]).
//!
//! ## Library use
//!
//! Each mode is a function from a config to a [`Report`]: [`modes::urls::run`],
//! [`modes::rate::run`], [`modes::live::run`], [`modes::llhls::run`]; `tests/run.rs` drives
//! them against a small std-thread server, `tests/llhls.rs` the LL-HLS mode against the
//! mock origin.

pub mod client;
pub mod modes;
pub mod plot;
pub mod stats;

pub use modes::parse_duration;
pub use modes::Common;
pub use stats::Report;
