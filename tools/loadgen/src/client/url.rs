//! `http://` URLs as loadgen uses them: parsed and resolved to a socket address once, joined
//! with the references a playlist holds, extended with a query, and turned into the GET
//! request that is sent for them. Only plain HTTP; no userinfo, no fragments.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// An `http://` URL, resolved once to a socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// The authority as sent in the Host header (`host` or `host:port`).
    pub host: String,
    /// Where to connect.
    pub addr: SocketAddr,
    /// The request target: path and query, always starting with `/`.
    pub target: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query]` and resolves the host: at start-up, on the
    /// main thread (or for a playlist reference to another host: see `join`).
    pub fn parse(s: &str) -> Result<Url, String> {
        let (authority, target) = split(s)?;
        Ok(Url {
            host: authority.to_string(),
            addr: resolve(s, authority)?,
            target,
        })
    }

    /// Resolves a reference found in a playlist against this URL: absolute `http://` URLs,
    /// absolute paths, and paths relative to this URL's directory (query dropped). A reference
    /// to this URL's own host reuses its address: nothing is resolved on an executor.
    pub fn join(&self, reference: &str) -> Result<Url, String> {
        if reference.starts_with("http://") {
            let (authority, target) = split(reference)?;
            if authority == self.host {
                return Ok(Url {
                    host: self.host.clone(),
                    addr: self.addr,
                    target,
                });
            }
            return Url::parse(reference);
        }
        if reference.contains("://") {
            return Err(format!("{reference}: only http:// URLs are supported"));
        }
        let target = if reference.starts_with('/') {
            reference.to_string()
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        Ok(Url {
            host: self.host.clone(),
            addr: self.addr,
            target,
        })
    }

    /// This URL with `query` appended (after `?`, or `&` when it already has a query).
    pub fn with_query(&self, query: &str) -> Url {
        let sep = if self.target.contains('?') { '&' } else { '?' };
        Url {
            target: format!("{}{sep}{query}", self.target),
            ..self.clone()
        }
    }

    /// The GET request for this URL.
    pub fn request_bytes(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: loadgen\r\n\r\n",
            self.target, self.host
        )
        .into_bytes()
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host, self.target)
    }
}

/// The authority and the request target of `http://host[:port][/path][?query]`.
fn split(s: &str) -> Result<(&str, String), String> {
    let rest = s
        .strip_prefix("http://")
        .ok_or_else(|| format!("{s}: only http:// URLs are supported"))?;
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("{s}: bad host"));
    }
    Ok((authority, target))
}

/// The first address `authority` (of URL `s`) resolves to, port 80 by default.
fn resolve(s: &str, authority: &str) -> Result<SocketAddr, String> {
    let with_port = if authority.starts_with('[') {
        if authority.contains("]:") {
            authority.to_string()
        } else {
            format!("{authority}:80")
        }
    } else if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    // loadgen is a test client: it resolves its target URLs at start-up, and on an executor
    // only a playlist reference to another host (which a live test never has).
    #[allow(clippy::disallowed_methods)]
    let addrs = with_port.to_socket_addrs();
    addrs
        .map_err(|e| format!("{s}: cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{s}: {authority} resolves to nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parse_and_join() {
        let u = Url::parse("http://127.0.0.1:8080/live/s0/r1/index.m3u8?a=1").unwrap();
        assert_eq!(u.host, "127.0.0.1:8080");
        assert_eq!(u.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(u.target, "/live/s0/r1/index.m3u8?a=1");
        assert_eq!(u.join("seg-1.m4s").unwrap().target, "/live/s0/r1/seg-1.m4s");
        assert_eq!(u.join("/x/y.ts").unwrap().target, "/x/y.ts");
        let abs = u.join("http://127.0.0.2/z").unwrap();
        assert_eq!(
            (abs.host.as_str(), abs.target.as_str()),
            ("127.0.0.2", "/z")
        );
        assert_eq!(
            u.with_query("_HLS_msn=3").target,
            "/live/s0/r1/index.m3u8?a=1&_HLS_msn=3"
        );
        assert_eq!(Url::parse("http://127.0.0.1").unwrap().target, "/");
        assert_eq!(Url::parse("http://127.0.0.1?q").unwrap().target, "/?q");
        assert!(Url::parse("https://127.0.0.1/").is_err());
        assert_eq!(
            u.to_string(),
            "http://127.0.0.1:8080/live/s0/r1/index.m3u8?a=1"
        );
    }
}
