//! The validated, immutable configuration every other module reads. Values come from built-in
//! defaults, then the TOML file, then `LIVECACHE_*` environment variables, then flags (each
//! later source wins). Every value is parsed here, once, and every error names the key and the
//! bad value. Nothing outside this module sees clap or TOML.

pub mod access_control;
pub mod caching;
pub mod failover;
pub mod forwarding;
pub mod knobs;
pub mod live;
pub mod node;
pub mod parents;
mod render;
mod sources;
pub mod units;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use caching::{Caching, RequestDirectives, ResponseRules, SetCookie};
pub use forwarding::Forwarding;
pub use knobs::{keys, knob, Applies, Knob, KNOBS};
pub use sources::{Cli, Source};
use values::{parse_log_level, parse_origin, parse_stream_key};
pub use values::{AccessLogFormat, LogFormat, LogLevel, Origin};

/// A configuration value that could not be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "config `{}`: {}", self.key, self.reason)
        } else {
            write!(
                f,
                "config `{}` = {:?}: {}",
                self.key, self.value, self.reason
            )
        }
    }
}

impl std::error::Error for ConfigError {}

pub use crate::cache::key::StreamKeyRule;

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// The primary origin (its authority is the `Host` of a request that sent none).
    pub origin: Origin,
    /// Origins tried after the primary, in order (`origin` given as a list).
    pub backup_origins: Vec<Origin>,
    /// How a stream with a stale playlist moves between them (LIVE.md F9).
    pub origin_failover: failover::FailoverMode,
    pub shards: usize,
    /// This node's name in `Cache-Status`, `Via` and `CDN-Loop`.
    pub node: node::Node,
    /// Parent shields, tried per stream in rendezvous order (empty: the origin only).
    pub parents: Vec<parents::Parent>,
    /// With parents: the origin is tried when every parent failed before answering.
    pub go_direct: bool,
    /// How often, and within how long, each parent's `/readyz` is probed.
    pub parent_probe_interval: Duration,
    pub parent_probe_timeout: Duration,
    pub cache_size: u64,
    pub max_object_size: u64,
    pub max_connections: usize,
    pub client_header_timeout: Duration,
    pub client_idle_timeout: Duration,
    pub upstream_connect_timeout: Duration,
    pub upstream_first_byte_timeout: Duration,
    pub upstream_between_bytes_timeout: Duration,
    pub upstream_max_idle: usize,
    pub max_request_head: usize,
    pub max_headers: usize,
    pub max_uri: usize,
    pub max_request_body: u64,
    /// Bytes reserved for request bodies in transit, all shards together.
    pub request_body_memory: u64,
    /// Bytes held for readers of unstored objects, all shards together.
    pub pass_through_memory: u64,
    /// Bytes per second a client must average sending a body or reading a response, after a
    /// grace of `client_header_timeout`; 0: no floor.
    pub client_min_rate: u64,
    pub stream_key: StreamKeyRule,
    pub strip_query_params: Vec<String>,
    pub mesh_queue: usize,
    pub uncacheable_hold: Duration,
    /// The admin listener (metrics, health, status); `None` when off.
    pub admin: Option<SocketAddr>,
    pub shutdown_grace: Duration,
    pub log_level: LogLevel,
    /// Fixed at start: the subscriber is installed once.
    pub log_format: LogFormat,
    /// The access log file; `None` when off.
    pub access_log: Option<PathBuf>,
    pub access_log_format: AccessLogFormat,
    /// HTTP caching semantics: request directives, targeted field, stale, variants, purge.
    pub caching: Caching,
    /// Request fields sent upstream on shared fetches, and those in the cache key.
    pub forwarding: Forwarding,
    /// The live-video layer's keys.
    pub live: live::Live,
    /// Signed-URL routes, the origin credential, the admin token.
    pub access: access_control::AccessControl,
    /// Where each key's value came from, for `--check-config`.
    pub sources: BTreeMap<&'static str, Source>,
    /// Tests only, never a knob: shard 0 alone accepts and the others own every stream, so
    /// with several shards every request crosses the mesh (`shard::route::owner`).
    #[doc(hidden)]
    pub cross_mesh_for_tests: bool,
}

/// The least `pass_through_memory` per shard: the two windows one pass-through object may hold
/// (`shard::leader::PASS_THROUGH_WINDOW`; a test there keeps them in step).
pub const PASS_THROUGH_FLOOR: u64 = 2 << 20;
/// What one request body in transit reserves of `request_body_memory`.
pub const REQUEST_BODY_RESERVATION: u64 = 64 << 10;
/// The least `request_body_memory` per shard: one body in transit.
const REQUEST_BODY_FLOOR: u64 = REQUEST_BODY_RESERVATION;

/// The first of the URLs `origin` lists (commas or whitespace between them).
fn first_origin(text: &str) -> &str {
    origin_urls(text).next().unwrap_or_default()
}

/// The origins `origin` lists after the first.
fn backup_origins(text: &str) -> Result<Vec<Origin>, ConfigError> {
    origin_urls(text).skip(1).map(parse_origin).collect()
}

fn origin_urls(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|u| !u.is_empty())
}

impl Config {
    /// Builds the configuration from the parsed command line (flags and environment), the file
    /// it names, and the defaults.
    pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
        let file = match &cli.config {
            Some(path) => sources::read_file(path)?,
            None => BTreeMap::new(),
        };
        Self::resolve(|key| {
            if let Some(v) = cli.value(key) {
                Some((v.to_string(), Source::FlagOrEnv))
            } else {
                file.get(key).map(|v| (v.clone(), Source::File))
            }
        })
    }

    /// Builds a configuration from explicit key/value pairs over the defaults, through the same
    /// validation as `load`. Used by tests, benchmarks and tools that embed livecache.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        for (key, value) in pairs {
            if knob(key).is_none() {
                return Err(ConfigError {
                    key: key.to_string(),
                    value: value.to_string(),
                    reason: "unknown key".into(),
                });
            }
        }
        Self::resolve(|key| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (v.to_string(), Source::FlagOrEnv))
        })
    }

    fn resolve(given: impl Fn(&str) -> Option<(String, Source)>) -> Result<Config, ConfigError> {
        let mut sources = BTreeMap::new();
        let mut raw = BTreeMap::new();
        for knob in KNOBS {
            let (value, source) = match given(knob.key) {
                Some(found) => found,
                None => (knob.default.to_string(), Source::Default),
            };
            sources.insert(knob.key, source);
            raw.insert(knob.key, value);
        }
        let text = |key: &str| raw[key].as_str();
        let size = |key: &str| typed(key, text(key), units::parse_size);
        let duration = |key: &str| typed(key, text(key), units::parse_duration);
        let switch = |key: &str| typed(key, text(key), live::parse_switch);
        let count = |key: &str| {
            typed(key, text(key), |s| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| "expected a whole number".to_string())
            })
        };
        let positive = |key: &str| {
            let n = count(key)?;
            if n == 0 {
                return Err(error(key, text(key), "must be at least 1"));
            }
            Ok(n)
        };

        let listen = typed("listen", text("listen"), |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| "expected IP:PORT, e.g. 0.0.0.0:8080".to_string())
        })?;
        let config = Config {
            listen,
            parents: typed("parent", text("parent"), |s| {
                parents::parse_parents(s, listen)
            })?,
            go_direct: switch("go_direct")?,
            parent_probe_interval: duration("parent_probe_interval")?,
            parent_probe_timeout: duration("parent_probe_timeout")?,
            origin: parse_origin(first_origin(text("origin")))?,
            backup_origins: backup_origins(text("origin"))?,
            origin_failover: typed(
                "origin_failover",
                text("origin_failover"),
                failover::parse_failover_mode,
            )?,
            shards: match text("shards").trim() {
                "auto" => crate::startup::allowed_cpus().len().max(1),
                _ => positive("shards")?,
            },
            node: typed("name", text("name"), node::parse_name)?,
            cache_size: size("cache_size")?,
            max_object_size: size("max_object_size")?,
            max_connections: positive("max_connections")?,
            client_header_timeout: duration("client_header_timeout")?,
            client_idle_timeout: duration("client_idle_timeout")?,
            upstream_connect_timeout: duration("upstream_connect_timeout")?,
            upstream_first_byte_timeout: duration("upstream_first_byte_timeout")?,
            upstream_between_bytes_timeout: duration("upstream_between_bytes_timeout")?,
            upstream_max_idle: count("upstream_max_idle")?,
            max_request_head: size("max_request_head")? as usize,
            max_headers: positive("max_headers")?,
            max_uri: size("max_uri")? as usize,
            max_request_body: size("max_request_body")?,
            request_body_memory: size("request_body_memory")?,
            pass_through_memory: size("pass_through_memory")?,
            client_min_rate: size("client_min_rate")?,
            stream_key: typed("stream_key", text("stream_key"), parse_stream_key)?,
            strip_query_params: live::parse_list(text("strip_query_params")),
            mesh_queue: positive("mesh_queue")?,
            uncacheable_hold: duration("uncacheable_hold")?,
            admin: match text("admin").trim() {
                "" | "off" => None,
                addr => Some(typed("admin", addr, |s| {
                    s.parse::<SocketAddr>().map_err(|_| {
                        "expected IP:PORT, e.g. 127.0.0.1:9901, or empty for off".to_string()
                    })
                })?),
            },
            shutdown_grace: duration("shutdown_grace")?,
            log_level: typed("log_level", text("log_level"), parse_log_level)?,
            log_format: typed("log_format", text("log_format"), |s| {
                match s.trim().to_ascii_lowercase().as_str() {
                    "text" => Ok(LogFormat::Text),
                    "json" => Ok(LogFormat::Json),
                    _ => Err("expected `text` or `json`".to_string()),
                }
            })?,
            access_log: match text("access_log").trim() {
                "" | "off" => None,
                path => Some(PathBuf::from(path)),
            },
            access_log_format: typed("access_log_format", text("access_log_format"), |s| match s
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "combined" => Ok(AccessLogFormat::Combined),
                "json" => Ok(AccessLogFormat::Json),
                _ => Err("expected `combined` or `json`".to_string()),
            })?,
            caching: Caching {
                request_cache_control: typed(
                    "request_cache_control",
                    text("request_cache_control"),
                    caching::parse_request_directives,
                )?,
                response: ResponseRules {
                    targeted_cache_control: typed(
                        "targeted_cache_control",
                        text("targeted_cache_control"),
                        caching::parse_field_name,
                    )?,
                    negative_ttl: typed(
                        "negative_ttl",
                        text("negative_ttl"),
                        caching::parse_negative_ttl,
                    )?,
                    set_cookie: typed("set_cookie", text("set_cookie"), caching::parse_set_cookie)?,
                },
                max_stale_on_error: duration("max_stale_on_error")?,
                max_variants: positive("max_variants")?,
                purge_allow: typed(
                    "purge_allow",
                    text("purge_allow"),
                    caching::parse_addr_blocks,
                )?,
            },
            forwarding: Forwarding::parse(text("forward_fields"), text("key_fields"))
                .map_err(|(key, reason)| error(key, text(key), &reason))?,
            live: live::Live {
                hold_blocking_reloads: switch("hold_blocking_reloads")?,
                max_holds: positive("max_holds")?,
                max_playlist_size: size("max_playlist_size")?,
                max_renditions: positive("max_renditions")?,
                state_memory: size("live_state_memory")?,
                max_hold: duration("max_hold")?,
                refresh_manifests_ahead: switch("refresh_manifests_ahead")?,
                track_playlists: switch("track_playlists")?,
                prefetch: switch("prefetch")?,
                prefetch_per_stream: positive("prefetch_per_stream")?,
                prefetch_wait: duration("prefetch_wait")?,
                dash_hold_early: duration("dash_hold_early")?,
                live_window_memory: switch("live_window_memory")?,
                hot_stream_requests: count("hot_stream_requests")? as u64,
                cmsd: switch("cmsd")?,
                pass_paths: live::parse_list(text("pass_paths")),
                queryless_paths: live::parse_list(text("queryless_paths")),
            },
            access: access_control::AccessControl::load(text)?,
            sources,
            cross_mesh_for_tests: false,
        };
        let mut config = config;
        // Tokens are never part of a cache key nor sent upstream.
        for param in &config.access.token_params {
            if config
                .forwarding
                .forwards(param.to_ascii_lowercase().as_bytes())
            {
                let why = "names an access token's field, which must never reach the origin";
                return Err(error("forward_fields", param, why));
            }
            if !config.strip_query_params.contains(param) {
                config.strip_query_params.push(param.clone());
            }
        }
        // The default object limit follows the budget down; an explicit one must fit.
        if config.sources["max_object_size"] == Source::Default {
            config.max_object_size = config.max_object_size.min(config.shard_cache_size() / 4);
        }
        config.check_relations()?;
        Ok(config)
    }

    /// Rules that involve more than one key, or a floor a value must not go under.
    fn check_relations(&self) -> Result<(), ConfigError> {
        let per_shard = self.cache_size / self.shards as u64;
        if per_shard < 1 << 20 {
            return Err(error(
                "cache_size",
                &units::format_size(self.cache_size),
                &format!(
                    "leaves less than 1MiB per shard with {} shards",
                    self.shards
                ),
            ));
        }
        if self.max_object_size > per_shard {
            return Err(error(
                "max_object_size",
                &units::format_size(self.max_object_size),
                &format!(
                    "is larger than one shard's share of cache_size ({})",
                    units::format_size(per_shard)
                ),
            ));
        }
        for (key, total, floor, what) in [
            (
                "pass_through_memory",
                self.pass_through_memory,
                PASS_THROUGH_FLOOR,
                "two pass-through windows",
            ),
            (
                "request_body_memory",
                self.request_body_memory,
                REQUEST_BODY_FLOOR,
                "one request body in transit",
            ),
        ] {
            if total / (self.shards as u64) < floor {
                return Err(error(
                    key,
                    &units::format_size(total),
                    &format!(
                        "leaves less than {} per shard with {} shards, not even {what}",
                        units::format_size(floor),
                        self.shards
                    ),
                ));
            }
        }
        if self.max_request_head < 1024 {
            return Err(error(
                "max_request_head",
                &self.max_request_head.to_string(),
                "must be at least 1KiB",
            ));
        }
        for (key, value) in [
            ("client_header_timeout", self.client_header_timeout),
            ("client_idle_timeout", self.client_idle_timeout),
            ("upstream_connect_timeout", self.upstream_connect_timeout),
            ("max_hold", self.live.max_hold),
            (
                "upstream_first_byte_timeout",
                self.upstream_first_byte_timeout,
            ),
            (
                "upstream_between_bytes_timeout",
                self.upstream_between_bytes_timeout,
            ),
        ] {
            if value.is_zero() {
                return Err(error(key, "0", "must be longer than zero"));
            }
        }
        Ok(())
    }

    /// The cache budget of one shard: the global budget split evenly.
    pub fn shard_cache_size(&self) -> u64 {
        self.cache_size / self.shards as u64
    }

    /// One shard's share of `pass_through_memory`.
    pub fn shard_pass_through_memory(&self) -> u64 {
        self.pass_through_memory / self.shards as u64
    }

    /// One shard's share of `max_renditions` (at least one).
    pub fn shard_max_renditions(&self) -> usize {
        (self.live.max_renditions / self.shards).max(1)
    }

    /// One shard's share of `live_state_memory`.
    pub fn shard_live_state_memory(&self) -> u64 {
        self.live.state_memory / self.shards as u64
    }

    /// One shard's share of `max_holds` (at least one).
    pub fn shard_max_holds(&self) -> u64 {
        (self.live.max_holds / self.shards).max(1) as u64
    }

    /// One shard's share of `request_body_memory`.
    pub fn shard_request_body_memory(&self) -> u64 {
        self.request_body_memory / self.shards as u64
    }
}

fn error(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn typed<T>(
    key: &str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    parse(value).map_err(|reason| error(key, value, &reason))
}

#[cfg(test)]
mod tests;
