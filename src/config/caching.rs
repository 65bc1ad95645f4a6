//! The keys that shape HTTP caching semantics (RFC 9111, 5861, 9213): whether request
//! directives are honoured, the targeted `Cache-Control` field, the operator's stale-on-error
//! cap, the variant bound, negative-caching TTLs and who may `PURGE`. Parsed from text here,
//! like every other key, so errors name the key and the value. Pure: no I/O.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::units;

/// What the cache does with a client's `Cache-Control` (and HTTP/1.0 `Pragma`) directives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestDirectives {
    /// RFC 9111 section 5.2.1: `no-cache`, `max-age`, `min-fresh`, `max-stale`,
    /// `only-if-cached` and `no-store` are acted on.
    Honor,
    /// Every request is treated as if it carried no directive (the usual CDN edge setting:
    /// a viewer's reload cannot send a request to the origin).
    Ignore,
}

pub use crate::cache::rules::{ResponseRules, SetCookie, StatusMatch};

/// The caching-semantics keys, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caching {
    pub request_cache_control: RequestDirectives,
    /// The targeted field, negative TTLs and `Set-Cookie`: what the cache applies to responses.
    pub response: ResponseRules,
    /// How long past its freshness a stored response may still be served when the origin
    /// fails (5xx, timeout, refused) and the response carries no `stale-if-error`.
    pub max_stale_on_error: Duration,
    /// Variants kept per URL for responses with `Vary`.
    pub max_variants: usize,
    /// Client addresses allowed to send `PURGE`.
    pub purge_allow: Vec<IpNet>,
}

impl Caching {
    /// Whether a client at `ip` may send `PURGE`. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// an IPv4 client on a dual-stack socket) is its IPv4 address and matches IPv4 blocks.
    pub fn may_purge(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.purge_allow.iter().any(|block| block.contains(&ip))
    }

    /// Each key as TOML text, for `--check-config`.
    pub fn toml_values(&self) -> Vec<(&'static str, String)> {
        let list = |items: Vec<String>| format!("{:?}", items.join(", "));
        vec![
            (
                "request_cache_control",
                format!(
                    "{:?}",
                    match self.request_cache_control {
                        RequestDirectives::Honor => "honor",
                        RequestDirectives::Ignore => "ignore",
                    }
                ),
            ),
            (
                "targeted_cache_control",
                format!(
                    "{:?}",
                    self.response
                        .targeted_cache_control
                        .as_deref()
                        .unwrap_or("")
                ),
            ),
            (
                "max_stale_on_error",
                format!("{:?}", units::format_duration(self.max_stale_on_error)),
            ),
            ("max_variants", self.max_variants.to_string()),
            (
                "negative_ttl",
                list(
                    self.response
                        .negative_ttl
                        .iter()
                        .map(|(m, ttl)| {
                            let status = match m {
                                StatusMatch::Exact(s) => s.to_string(),
                                StatusMatch::Class(c) => format!("{c}xx"),
                            };
                            format!("{status}={}", units::format_duration(*ttl))
                        })
                        .collect(),
                ),
            ),
            (
                "set_cookie",
                format!(
                    "{:?}",
                    match self.response.set_cookie {
                        SetCookie::Private => "private",
                        SetCookie::Strip => "strip",
                    }
                ),
            ),
            (
                "purge_allow",
                list(self.purge_allow.iter().map(IpNet::to_string).collect()),
            ),
        ]
    }
}

pub fn parse_request_directives(text: &str) -> Result<RequestDirectives, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "honor" | "honour" => Ok(RequestDirectives::Honor),
        "ignore" => Ok(RequestDirectives::Ignore),
        _ => Err("expected `honor` or `ignore`".into()),
    }
}

pub fn parse_set_cookie(text: &str) -> Result<SetCookie, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "private" => Ok(SetCookie::Private),
        "strip" => Ok(SetCookie::Strip),
        _ => Err("expected `private` or `strip`".into()),
    }
}

/// A field name (token characters), lower-cased; empty or `off` turns it off.
pub fn parse_field_name(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() || text == "off" {
        return Ok(None);
    }
    let token = crate::http::headers::is_tchar;
    if !text.bytes().all(token) {
        return Err("expected a header field name, e.g. Livecache-Cache-Control".into());
    }
    Ok(Some(text.to_ascii_lowercase()))
}

/// `404=10s, 410=1m, 5xx=2s`: comma-separated `status=duration` rules.
pub fn parse_negative_ttl(text: &str) -> Result<Vec<(StatusMatch, Duration)>, String> {
    let mut rules = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (status, ttl) = item
            .split_once('=')
            .ok_or_else(|| format!("`{item}`: expected STATUS=DURATION, e.g. 404=10s"))?;
        let status = status.trim().to_ascii_lowercase();
        let matcher = if let Some(class) = status.strip_suffix("xx") {
            match class.parse::<u16>() {
                Ok(c @ 2..=5) => StatusMatch::Class(c),
                _ => return Err(format!("`{status}`: expected a class 2xx to 5xx")),
            }
        } else {
            match status.parse::<u16>() {
                Ok(s @ 200..=599) => StatusMatch::Exact(s),
                _ => return Err(format!("`{status}`: expected a status 200 to 599")),
            }
        };
        let ttl = units::parse_duration(ttl).map_err(|e| format!("`{item}`: {e}"))?;
        rules.push((matcher, ttl));
    }
    Ok(rules)
}

/// `127.0.0.1/32, ::1, 10.0.0.0/8`: CIDR blocks, or addresses (a /32 or /128); empty allows
/// nobody.
pub fn parse_addr_blocks(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "`{item}`: expected an IP address or a CIDR block \
                         (prefix length 0 to 32 for IPv4, 0 to 128 for IPv6)"
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_ttl_rules_parse() {
        let rules = parse_negative_ttl("404=10s, 5xx=2s, 503=1m").unwrap();
        assert_eq!(rules[0], (StatusMatch::Exact(404), Duration::from_secs(10)));
        assert_eq!(rules[1], (StatusMatch::Class(5), Duration::from_secs(2)));
        assert!(parse_negative_ttl("").unwrap().is_empty());
        assert!(parse_negative_ttl("404").is_err());
        assert!(parse_negative_ttl("99=1s").is_err());
        assert!(parse_negative_ttl("7xx=1s").is_err());
        assert!(parse_negative_ttl("404=soon").is_err());
    }

    #[test]
    fn address_blocks_contain_what_they_should() {
        let caching = |text: &str| {
            let pairs = [("origin", "http://127.0.0.1:9"), ("purge_allow", text)];
            crate::config::Config::from_pairs(&pairs).unwrap().caching
        };
        let blocks = caching("127.0.0.1/32, ::1, 10.0.0.0/8");
        let any = |ip: &str| blocks.may_purge(ip.parse().unwrap());
        assert!(any("127.0.0.1"));
        assert!(any("::1"));
        assert!(any("10.200.3.4"));
        assert!(any("::ffff:10.1.1.1"), "v4-mapped v6 is the v4 address");
        assert!(!any("127.0.0.2"));
        assert!(!any("11.0.0.1"));
        assert!(caching("0.0.0.0/0").may_purge("192.0.2.1".parse().unwrap()));
        assert!(!caching("0.0.0.0/0").may_purge("2001:db8::1".parse().unwrap()));
        assert!(parse_addr_blocks("10.0.0.0/33").is_err());
        assert!(parse_addr_blocks("::/129").is_err());
        let err = parse_addr_blocks("::1, nowhere").unwrap_err();
        assert!(
            err.starts_with("`nowhere`:"),
            "the error names the item: {err}"
        );
        assert!(parse_addr_blocks("").unwrap().is_empty());
    }

    #[test]
    fn field_names_are_tokens() {
        assert_eq!(
            parse_field_name("Livecache-Cache-Control").unwrap(),
            Some("livecache-cache-control".into())
        );
        assert_eq!(parse_field_name("").unwrap(), None);
        assert!(parse_field_name("bad name").is_err());
        assert!(parse_request_directives("ignore").is_ok());
        assert!(parse_request_directives("sometimes").is_err());
    }
}
