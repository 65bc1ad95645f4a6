//! Where configuration values come from: command-line flags and `LIVECACHE_*` environment
//! variables (through clap) and the TOML file. Every knob is declared once, in `knobs!`, and
//! every source yields plain text per key, so one typed parser in `config/mod.rs` validates
//! all of them the same way and names the key in every error. This file does no validation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;

use super::ConfigError;

/// Declares each knob once: its key (TOML key, `--flag` in kebab case), its environment
/// variable and its help text.
macro_rules! knobs {
    ($($key:ident, $env:literal, $help:literal;)*) => {
        /// Raw command line: every knob is optional text here; validation happens later.
        #[derive(Debug, Parser)]
        #[command(name = "livecache", version, about = "Thread-per-core HTTP/1.1 cache for live video")]
        pub struct Cli {
            /// TOML configuration file (keys as the long flags, with `_` for `-`).
            #[arg(long, env = "LIVECACHE_CONFIG")]
            pub config: Option<PathBuf>,
            /// Validate the configuration, print the effective values and exit.
            #[arg(long)]
            pub check_config: bool,
            $(
                #[arg(long, env = $env, help = $help, value_name = "VALUE")]
                pub $key: Option<String>,
            )*
        }

        /// Every configuration key, in the order `--check-config` prints them.
        pub const KEYS: &[&str] = &[$(stringify!($key)),*];

        impl Cli {
            /// The text given for `key` by a flag or, failing that, its environment variable.
            pub fn value(&self, key: &str) -> Option<&str> {
                match key {
                    $(stringify!($key) => self.$key.as_deref(),)*
                    _ => None,
                }
            }
        }
    };
}

knobs! {
    listen, "LIVECACHE_LISTEN", "Address to serve clients on, e.g. 0.0.0.0:8080 (port 0 picks one)";
    origin, "LIVECACHE_ORIGIN", "Origin (or parent shield) base URL, e.g. http://10.0.0.5:9000";
    shards, "LIVECACHE_SHARDS", "Number of shards (one executor per core); default: CPUs in the affinity mask";
    cache_size, "LIVECACHE_CACHE_SIZE", "Memory budget for cached and in-flight objects, e.g. 1GiB";
    max_object_size, "LIVECACHE_MAX_OBJECT_SIZE", "Largest object stored; larger ones stream through uncached";
    max_connections, "LIVECACHE_MAX_CONNECTIONS", "Client connections allowed at once across all shards";
    client_header_timeout, "LIVECACHE_CLIENT_HEADER_TIMEOUT", "Time a client has to send a whole request head";
    client_idle_timeout, "LIVECACHE_CLIENT_IDLE_TIMEOUT", "Idle keep-alive time before a client connection is closed";
    upstream_connect_timeout, "LIVECACHE_UPSTREAM_CONNECT_TIMEOUT", "Time to establish an origin connection";
    upstream_first_byte_timeout, "LIVECACHE_UPSTREAM_FIRST_BYTE_TIMEOUT", "Time from sending a request to the origin's response head";
    upstream_between_bytes_timeout, "LIVECACHE_UPSTREAM_BETWEEN_BYTES_TIMEOUT", "Longest silence while reading an origin body";
    upstream_max_idle, "LIVECACHE_UPSTREAM_MAX_IDLE", "Idle keep-alive origin connections kept per shard";
    max_request_head, "LIVECACHE_MAX_REQUEST_HEAD", "Largest request head accepted (431 beyond)";
    max_headers, "LIVECACHE_MAX_HEADERS", "Most request header fields accepted (431 beyond)";
    max_uri, "LIVECACHE_MAX_URI", "Longest request target accepted (414 beyond)";
    max_request_body, "LIVECACHE_MAX_REQUEST_BODY", "Largest request body accepted (413 beyond); bodies are streamed, never buffered whole";
    request_body_memory, "LIVECACHE_REQUEST_BODY_MEMORY", "Memory for request bodies being relayed to the origin, all shards together (503 beyond)";
    pass_through_memory, "LIVECACHE_PASS_THROUGH_MEMORY", "Memory for readers of objects that are not stored, all shards together (503 for new ones beyond)";
    client_min_rate, "LIVECACHE_CLIENT_MIN_RATE", "Slowest average rate, per second, at which a client may send a body or read a response once past its grace time; 0: off";
    stream_key, "LIVECACHE_STREAM_KEY", "How a path maps to its stream: `dirname` or `prefix:N` (first N segments)";
    strip_query_params, "LIVECACHE_STRIP_QUERY_PARAMS", "Query parameters left out of the cache key, comma-separated";
    mesh_queue, "LIVECACHE_MESH_QUEUE", "Requests queued between two shards before overload (503)";
    uncacheable_hold, "LIVECACHE_UNCACHEABLE_HOLD", "How long requests for a private/no-store URL skip coalescing";
    admin, "LIVECACHE_ADMIN", "Admin listener for /metrics, /healthz, /readyz, /status (e.g. 127.0.0.1:9901); empty: off";
    shutdown_grace, "LIVECACHE_SHUTDOWN_GRACE", "On SIGTERM/SIGINT, how long responses in progress may take to finish";
    log_level, "LIVECACHE_LOG_LEVEL", "Diagnostics on stderr from this level up: error, warn, info, debug or trace (a reload changes it)";
    log_format, "LIVECACHE_LOG_FORMAT", "Diagnostics format on stderr: `text` (one line per event, journald-friendly) or `json` (one object per line)";
    access_log, "LIVECACHE_ACCESS_LOG", "Access log file, one line per response, reopened on SIGUSR2; empty: off";
    access_log_format, "LIVECACHE_ACCESS_LOG_FORMAT", "Access log line format: `combined` (Apache/nginx combined plus cache fields) or `json`";
    request_cache_control, "LIVECACHE_REQUEST_CACHE_CONTROL", "Client Cache-Control/Pragma directives: `honor` (RFC 9111) or `ignore` (common CDN edge setting)";
    targeted_cache_control, "LIVECACHE_TARGETED_CACHE_CONTROL", "Response field that overrides CDN-Cache-Control and Cache-Control for this cache (RFC 9213); empty: off";
    max_stale_on_error, "LIVECACHE_MAX_STALE_ON_ERROR", "Serve a stale object this long past its freshness when the origin fails, for responses without stale-if-error; 0s: off";
    max_variants, "LIVECACHE_MAX_VARIANTS", "Variants kept per URL for responses with Vary";
    negative_ttl, "LIVECACHE_NEGATIVE_TTL", "Freshness for error responses without their own, e.g. `404=10s, 5xx=2s`; empty: off (RFC behaviour)";
    purge_allow, "LIVECACHE_PURGE_ALLOW", "Client addresses (CIDR) allowed to send PURGE on the client listener; empty (default): nobody, purge through the admin listener";
    set_cookie, "LIVECACHE_SET_COOKIE", "Responses with Set-Cookie: `private` (neither stored nor shared) or `strip` (Set-Cookie removed, then cached as usual)";
    forward_fields, "LIVECACHE_FORWARD_FIELDS", "Request fields sent upstream on shared fetches; `Name:safe` marks one the cache key may leave out";
    key_fields, "LIVECACHE_KEY_FIELDS", "Request fields whose values are part of the cache key (and are forwarded)";
}

/// Where an effective value came from, for `--check-config` and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    FlagOrEnv,
}

/// The TOML file, flattened to text per key. Unknown keys are rejected.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: "config".into(),
        value: path.display().to_string(),
        reason: format!("cannot read the file: {e}"),
    })?;
    parse_file(&text).map_err(|mut e| {
        e.reason = format!("{} (in {})", e.reason, path.display());
        e
    })
}

/// Parses TOML text into text per key; split out from `read_file` for tests.
pub fn parse_file(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        key: "config".into(),
        value: String::new(),
        reason: format!("not valid TOML: {}", e.message()),
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !KEYS.contains(&key.as_str()) {
            return Err(ConfigError {
                key: key.clone(),
                value: value.to_string(),
                reason: format!("unknown key; known keys: {}", KEYS.join(", ")),
            });
        }
        let text = match &value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s.clone()),
                        other => parts.push(other.to_string()),
                    }
                }
                parts.join(",")
            }
            other => {
                return Err(ConfigError {
                    key,
                    value: other.to_string(),
                    reason: "expected a string, number or list".into(),
                })
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_become_text_per_key() {
        let values = parse_file(
            "listen = \"127.0.0.1:1\"\nshards = 3\nstrip_query_params = [\"CMCD\", \"utm\"]\n",
        )
        .unwrap();
        assert_eq!(values["listen"], "127.0.0.1:1");
        assert_eq!(values["shards"], "3");
        assert_eq!(values["strip_query_params"], "CMCD,utm");
    }

    #[test]
    fn unknown_file_keys_are_rejected_by_name() {
        let err = parse_file("cache_sise = \"1GiB\"\n").unwrap_err();
        assert_eq!(err.key, "cache_sise");
        assert!(err.reason.contains("unknown key"));
    }

    #[test]
    fn cli_flags_are_kebab_case_of_keys() {
        let cli =
            Cli::try_parse_from(["livecache", "--cache-size", "2GiB", "--shards", "4"]).unwrap();
        assert_eq!(cli.value("cache_size"), Some("2GiB"));
        assert_eq!(cli.value("shards"), Some("4"));
        assert_eq!(cli.value("listen"), None);
    }
}
