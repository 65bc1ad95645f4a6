//! The typed values of the configuration that are not numbers, sizes or durations, and the
//! parsers from text to them: log level and formats, the stream rule, and the origin (resolved
//! once, here, so connections never touch a resolver).

use std::net::{SocketAddr, ToSocketAddrs};

use super::{error, ConfigError, StreamKeyRule};

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

pub(super) fn parse_log_level(text: &str) -> Result<LogLevel, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(LogLevel::Error),
        "warn" | "warning" => Ok(LogLevel::Warn),
        "info" => Ok(LogLevel::Info),
        "debug" => Ok(LogLevel::Debug),
        "trace" => Ok(LogLevel::Trace),
        _ => Err("expected error, warn, info, debug or trace".into()),
    }
}

pub(super) fn parse_stream_key(text: &str) -> Result<StreamKeyRule, String> {
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
pub(super) fn parse_origin(text: &str) -> Result<Origin, ConfigError> {
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
    // Configuration is loaded at start-up and on the signal thread at a reload, never on an
    // executor: the one place a name is resolved.
    #[allow(clippy::disallowed_methods)]
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
