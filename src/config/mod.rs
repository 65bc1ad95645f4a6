//! The validated, immutable configuration every other module reads. Values come from built-in
//! defaults, then the TOML file, then `LIVECACHE_*` environment variables, then flags (each
//! later source wins). Every value is parsed here, once, and every error names the key and the
//! bad value. Nothing outside this module sees clap or TOML.

pub mod caching;
pub mod forwarding;
mod sources;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

pub use caching::{Caching, RequestDirectives, ResponseRules, SetCookie};
pub use forwarding::Forwarding;
pub use sources::{Cli, Source, KEYS};

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

/// The least severe diagnostics written to stderr (`log_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// How diagnostics on stderr are written (`log_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One line per event; no colours off a terminal, no timestamps under journald.
    Text,
    /// One JSON object per line.
    Json,
}

/// How access log lines are written (`access_log_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// The Apache/nginx "combined" line plus the cache's own fields.
    Combined,
    /// One JSON object per line.
    Json,
}

/// The upstream (origin or parent shield), resolved once at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// As configured, e.g. `http://origin.example:9000`.
    pub url: String,
    /// `host[:port]` as written in the URL; sent as `Host` when the client sent none.
    pub authority: String,
    /// Every address the name resolved to; connections try them in order.
    pub addrs: Vec<SocketAddr>,
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub origin: Origin,
    pub shards: usize,
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
    /// Bytes per second a client must average sending a body or reading a response, after
    /// its grace time (`client_header_timeout` for bodies, `client_idle_timeout` for
    /// responses); 0: no floor.
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
    /// Where each key's value came from, for `--check-config`.
    pub sources: BTreeMap<&'static str, Source>,
}

/// The least `pass_through_memory` per shard: the two windows one pass-through object may hold
/// (`shard::leader::PASS_THROUGH_WINDOW`; a test there keeps them in step).
pub const PASS_THROUGH_FLOOR: u64 = 2 << 20;
/// What one request body in transit reserves of `request_body_memory`.
pub const REQUEST_BODY_RESERVATION: u64 = 64 << 10;
/// The least `request_body_memory` per shard: one body in transit.
const REQUEST_BODY_FLOOR: u64 = REQUEST_BODY_RESERVATION;

/// Built-in defaults, as text so they go through the same parser as every other source.
fn default_value(key: &str) -> Option<String> {
    let value = match key {
        "listen" => "127.0.0.1:8080",
        "origin" => "http://127.0.0.1:9000",
        "shards" => return Some(crate::startup::allowed_cpus().len().max(1).to_string()),
        "cache_size" => "1GiB",
        "max_object_size" => "64MiB",
        "max_connections" => "10000",
        "client_header_timeout" => "10s",
        "client_idle_timeout" => "60s",
        "upstream_connect_timeout" => "2s",
        "upstream_first_byte_timeout" => "10s",
        "upstream_between_bytes_timeout" => "10s",
        "upstream_max_idle" => "64",
        "max_request_head" => "32KiB",
        "max_headers" => "100",
        "max_uri" => "8KiB",
        "max_request_body" => "16MiB",
        "request_body_memory" => "32MiB",
        "pass_through_memory" => "64MiB",
        "client_min_rate" => "4KiB",
        "stream_key" => "dirname",
        "strip_query_params" => "CMCD",
        "mesh_queue" => "1024",
        "uncacheable_hold" => "10s",
        "admin" => "",
        "shutdown_grace" => "30s",
        "log_level" => "info",
        "log_format" => "text",
        "access_log" => "",
        "access_log_format" => "combined",
        // RFC behaviour by default; `ignore` is one line away for edges facing browsers.
        "request_cache_control" => "honor",
        "targeted_cache_control" => "Livecache-Cache-Control",
        "max_stale_on_error" => "0s",
        "max_variants" => "8",
        "negative_ttl" => "",
        // PURGE on the client listener is off: behind a TLS terminator on the same host every
        // client would come from loopback. Purges go through the admin listener.
        "purge_allow" => "",
        "set_cookie" => "private",
        "forward_fields" => "Accept, Accept-Encoding, Accept-Language",
        "key_fields" => "",
        _ => return None,
    };
    Some(value.to_string())
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
            if !KEYS.contains(key) {
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
        for key in KEYS {
            let (value, source) = match given(key) {
                Some(found) => found,
                None => (default_value(key).unwrap_or_default(), Source::Default),
            };
            sources.insert(*key, source);
            raw.insert(*key, value);
        }
        let text = |key: &str| raw[key].as_str();
        let size = |key: &str| typed(key, text(key), units::parse_size);
        let duration = |key: &str| typed(key, text(key), units::parse_duration);
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

        let config = Config {
            listen: typed("listen", text("listen"), |s| {
                s.parse::<SocketAddr>()
                    .map_err(|_| "expected IP:PORT, e.g. 0.0.0.0:8080".to_string())
            })?,
            origin: parse_origin(text("origin"))?,
            shards: positive("shards")?,
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
            strip_query_params: text("strip_query_params")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
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
            sources,
        };
        let mut config = config;
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

    /// One shard's share of `request_body_memory`.
    pub fn shard_request_body_memory(&self) -> u64 {
        self.request_body_memory / self.shards as u64
    }

    /// The effective configuration as TOML, each key annotated with where its value came from.
    pub fn to_toml(&self) -> String {
        let values: Vec<(&str, String)> = vec![
            ("listen", quote(&self.listen.to_string())),
            ("origin", quote(&self.origin.url)),
            ("shards", self.shards.to_string()),
            ("cache_size", quote(&units::format_size(self.cache_size))),
            (
                "max_object_size",
                quote(&units::format_size(self.max_object_size)),
            ),
            ("max_connections", self.max_connections.to_string()),
            (
                "client_header_timeout",
                quote(&units::format_duration(self.client_header_timeout)),
            ),
            (
                "client_idle_timeout",
                quote(&units::format_duration(self.client_idle_timeout)),
            ),
            (
                "upstream_connect_timeout",
                quote(&units::format_duration(self.upstream_connect_timeout)),
            ),
            (
                "upstream_first_byte_timeout",
                quote(&units::format_duration(self.upstream_first_byte_timeout)),
            ),
            (
                "upstream_between_bytes_timeout",
                quote(&units::format_duration(self.upstream_between_bytes_timeout)),
            ),
            ("upstream_max_idle", self.upstream_max_idle.to_string()),
            (
                "max_request_head",
                quote(&units::format_size(self.max_request_head as u64)),
            ),
            ("max_headers", self.max_headers.to_string()),
            ("max_uri", quote(&units::format_size(self.max_uri as u64))),
            (
                "max_request_body",
                quote(&units::format_size(self.max_request_body)),
            ),
            (
                "request_body_memory",
                quote(&units::format_size(self.request_body_memory)),
            ),
            (
                "pass_through_memory",
                quote(&units::format_size(self.pass_through_memory)),
            ),
            (
                "client_min_rate",
                quote(&units::format_size(self.client_min_rate)),
            ),
            (
                "stream_key",
                quote(&match self.stream_key {
                    StreamKeyRule::Dirname => "dirname".to_string(),
                    StreamKeyRule::Prefix(n) => format!("prefix:{n}"),
                }),
            ),
            (
                "strip_query_params",
                format!(
                    "[{}]",
                    self.strip_query_params
                        .iter()
                        .map(|s| quote(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            ("mesh_queue", self.mesh_queue.to_string()),
            (
                "uncacheable_hold",
                quote(&units::format_duration(self.uncacheable_hold)),
            ),
            (
                "admin",
                quote(&self.admin.map(|a| a.to_string()).unwrap_or_default()),
            ),
            (
                "shutdown_grace",
                quote(&units::format_duration(self.shutdown_grace)),
            ),
            ("log_level", quote(self.log_level.as_str())),
            (
                "log_format",
                quote(match self.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }),
            ),
            (
                "access_log",
                quote(
                    &self
                        .access_log
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
            ),
            (
                "access_log_format",
                quote(match self.access_log_format {
                    AccessLogFormat::Combined => "combined",
                    AccessLogFormat::Json => "json",
                }),
            ),
        ];
        let mut values = values;
        values.extend(self.caching.toml_values());
        values.extend(self.forwarding.toml_values());
        let mut out = String::new();
        for (key, value) in values {
            let source = match self.sources.get(key) {
                Some(Source::File) => "file",
                Some(Source::FlagOrEnv) => "flag or environment",
                _ => "default",
            };
            out.push_str(&format!("{key} = {value}  # {source}\n"));
        }
        out
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
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

fn parse_log_level(text: &str) -> Result<LogLevel, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(LogLevel::Error),
        "warn" | "warning" => Ok(LogLevel::Warn),
        "info" => Ok(LogLevel::Info),
        "debug" => Ok(LogLevel::Debug),
        "trace" => Ok(LogLevel::Trace),
        _ => Err("expected error, warn, info, debug or trace".into()),
    }
}

fn parse_stream_key(text: &str) -> Result<StreamKeyRule, String> {
    let text = text.trim();
    if text == "dirname" {
        return Ok(StreamKeyRule::Dirname);
    }
    if let Some(n) = text.strip_prefix("prefix:") {
        return match n.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(StreamKeyRule::Prefix(n)),
            _ => Err("prefix:N needs N >= 1".into()),
        };
    }
    Err("expected `dirname` or `prefix:N`".into())
}

/// Parses `http://host[:port][/]` and resolves the host once; connections later use the
/// addresses only, never the resolver.
fn parse_origin(text: &str) -> Result<Origin, ConfigError> {
    let fail = |reason: &str| error("origin", text, reason);
    let rest = match text.strip_prefix("http://") {
        Some(rest) => rest,
        None if text.starts_with("https://") => {
            return Err(fail(
                "https origins are not supported yet; put a TLS terminator in front",
            ))
        }
        None => return Err(fail("expected http://HOST[:PORT]")),
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') || authority.contains('@') {
        return Err(fail("expected http://HOST[:PORT] without a path"));
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        || authority.ends_with(']') && !authority.contains("]:")
    {
        if authority.ends_with(']') {
            format!("{authority}:80")
        } else {
            authority.to_string()
        }
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|e| fail(&format!("cannot resolve the origin host: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(fail("the origin host resolved to no address"));
    }
    Ok(Origin {
        url: text.to_string(),
        authority: authority.to_string(),
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let config = Config::from_pairs(&[("shards", "2")]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.cache_size, 1 << 30);
        assert_eq!(config.shard_cache_size(), 1 << 29);
        assert_eq!(config.stream_key, StreamKeyRule::Dirname);
        assert_eq!(config.strip_query_params, vec!["CMCD".to_string()]);
    }

    #[test]
    fn errors_name_the_key_and_value() {
        let err = Config::from_pairs(&[("cache_size", "12XB")]).unwrap_err();
        assert_eq!(err.key, "cache_size");
        assert_eq!(err.value, "12XB");
        let text = err.to_string();
        assert!(
            text.contains("cache_size") && text.contains("12XB"),
            "{text}"
        );
        assert_eq!(
            Config::from_pairs(&[("shards", "0")]).unwrap_err().key,
            "shards"
        );
        assert_eq!(
            Config::from_pairs(&[("listen", "nowhere")])
                .unwrap_err()
                .key,
            "listen"
        );
        assert_eq!(
            Config::from_pairs(&[("nonsense", "1")]).unwrap_err().key,
            "nonsense"
        );
    }

    #[test]
    fn origin_urls_are_checked_and_resolved() {
        let config = Config::from_pairs(&[("origin", "http://127.0.0.1:9000/")]).unwrap();
        assert_eq!(config.origin.authority, "127.0.0.1:9000");
        assert_eq!(config.origin.addrs, vec!["127.0.0.1:9000".parse().unwrap()]);
        let default_port = Config::from_pairs(&[("origin", "http://127.0.0.1")]).unwrap();
        assert_eq!(default_port.origin.addrs[0].port(), 80);
        for bad in [
            "ftp://x",
            "127.0.0.1:9000",
            "http://",
            "http://h/path",
            "https://h",
        ] {
            assert_eq!(
                Config::from_pairs(&[("origin", bad)]).unwrap_err().key,
                "origin",
                "{bad}"
            );
        }
    }

    #[test]
    fn budget_relations_are_enforced() {
        let err = Config::from_pairs(&[
            ("cache_size", "8MiB"),
            ("max_object_size", "16MiB"),
            ("shards", "1"),
        ])
        .unwrap_err();
        assert_eq!(err.key, "max_object_size");
        let err = Config::from_pairs(&[("cache_size", "1MiB"), ("shards", "4")]).unwrap_err();
        assert_eq!(err.key, "cache_size");
        let small = Config::from_pairs(&[("cache_size", "256MiB"), ("shards", "8")]).unwrap();
        assert_eq!(
            small.max_object_size,
            8 << 20,
            "the default follows a small budget down"
        );
    }

    #[test]
    fn stream_key_rules_parse() {
        assert_eq!(parse_stream_key("prefix:2"), Ok(StreamKeyRule::Prefix(2)));
        assert!(parse_stream_key("prefix:0").is_err());
        assert!(parse_stream_key("hash").is_err());
    }

    #[test]
    fn log_keys_parse() {
        let config = Config::from_pairs(&[]).unwrap();
        assert_eq!(config.log_level, LogLevel::Info);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.access_log, None);
        assert_eq!(config.access_log_format, AccessLogFormat::Combined);
        let config = Config::from_pairs(&[
            ("log_level", "DEBUG"),
            ("log_format", "json"),
            ("access_log", "/var/log/livecache/access.log"),
            ("access_log_format", "json"),
        ])
        .unwrap();
        assert_eq!(config.log_level, LogLevel::Debug);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(
            config.access_log,
            Some(PathBuf::from("/var/log/livecache/access.log"))
        );
        assert_eq!(config.access_log_format, AccessLogFormat::Json);
        let toml = config.to_toml();
        assert!(toml.contains("log_level = \"debug\""), "{toml}");
        assert!(toml.contains("access_log = \"/var/log/livecache/access.log\""));
        for (key, bad) in [
            ("log_level", "verbose"),
            ("log_format", "xml"),
            ("access_log_format", "common"),
        ] {
            assert_eq!(Config::from_pairs(&[(key, bad)]).unwrap_err().key, key);
        }
    }

    #[test]
    fn later_sources_win() {
        let config = Config::from_pairs(&[("shards", "2"), ("shards", "3")]).unwrap();
        assert_eq!(config.shards, 3);
        assert_eq!(config.sources["shards"], Source::FlagOrEnv);
        assert_eq!(config.sources["listen"], Source::Default);
        assert!(config
            .to_toml()
            .contains("shards = 3  # flag or environment"));
    }
}
