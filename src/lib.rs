//! livecache: a thread-per-core HTTP/1.1 cache for live video (HLS, LL-HLS, DASH, CMAF).
//!
//! One glommio executor runs per shard, each pinned to a core. The data path of a request:
//!
//! 1. **accept** (`server`): every shard accepts on the same `SO_REUSEPORT` port; a connection
//!    stays on the shard that accepted it.
//! 2. **parse** (`http::request`): the head is parsed with `httparse`, header values are
//!    zero-copy `Bytes`, and limits and framing rules are checked before anything else.
//! 3. **key** (`cache::key`): the request becomes a `CacheKey` (host, path, query without
//!    tracking parameters) and a `StreamKey` (by default the path up to its last `/`), whose
//!    fixed-seed hash names the owner shard.
//! 4. **route** (`shard::mesh`): the owner is called directly when local, or over the glommio
//!    channel mesh with a per-request reply channel.
//! 5. **lookup** (`shard`): a fresh hit replies with refcounted `Bytes`; otherwise
//! 6. **coalesced fetch** (`shard::fetch`, `cache::inflight`): the first request leads one
//!    upstream fetch, every concurrent request follows it, and each receives the head and
//!    every body chunk the moment it arrives.
//! 7. **respond** (`server::respond`): the head gets `Age`, `Cache-Status` and `Via`; the body
//!    is written straight from the shared chunks.
//! 8. **observe** (`metrics`): per-shard counters, merged on read; one access log line per
//!    response when `access_log` is set (`log::access`, buffered per shard).
//!
//! `run(config, shutdown)` is the whole daemon; `main.rs` only parses flags into a `Config`.

#![deny(clippy::await_holding_refcell_ref)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod access;
pub mod admin;
pub mod cache;
pub mod clock;
pub mod config;
pub mod http;
pub mod io;
pub mod live;
pub mod log;
pub mod metrics;
pub mod notify;
pub mod origin;
pub mod reload;
pub mod runtime;
mod server;
pub mod shard;
pub mod shutdown;
pub mod startup;

pub use clock::Clock;
pub use config::Config;
pub use reload::ConfigSource;
pub use runtime::{run, start, Running, StartError};
pub use shutdown::Shutdown;
