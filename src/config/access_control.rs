//! The access-control keys (issue "Access control"): `access` (signed-URL routes, see
//! `crate::access`), `origin_credential` (what livecache shows its origins,
//! `http::credential`) and `admin_token_file` (the bearer token the admin listener asks of
//! purges and status; `/metrics`, `/healthz` and `/readyz` stay open) and `trusted_proxies`
//! (whose forwarding fields name the client, `http::client_address`). Key and token files are
//! read when the configuration is loaded, and again on reload.

use std::sync::Arc;

use ipnet::IpNet;

use crate::access::{parse_routes, render_routes, Route};
use crate::http::credential::{parse_credential, Credential};

use super::{error, typed, ConfigError};

#[derive(Clone, Debug, Default)]
pub struct AccessControl {
    pub routes: Vec<Route>,
    /// The names that carry tokens (each route's `param`, once): removed from cache keys,
    /// upstream requests and the access log.
    pub token_params: Vec<String>,
    pub origin_credential: Option<Credential>,
    /// The admin listener's bearer token, and the file it was read from.
    pub admin_token: Option<AdminToken>,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed
    /// (`http::client_address`).
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub file: String,
    pub token: Arc<str>,
}

impl std::fmt::Debug for AdminToken {
    /// Never the token itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminToken({})", self.file)
    }
}

impl AccessControl {
    /// Reads the four keys through `text` (a key's text, as `Config::load` resolves it).
    pub fn load<'a>(text: impl Fn(&str) -> &'a str) -> Result<AccessControl, ConfigError> {
        let admin_token = match text("admin_token_file").trim() {
            "" | "off" => None,
            file => {
                let token = std::fs::read_to_string(file)
                    .map_err(|e| error("admin_token_file", file, &e.to_string()))?;
                let token = token.trim();
                if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(error(
                        "admin_token_file",
                        file,
                        "the token must be at least 16 printable characters without spaces",
                    ));
                }
                Some(AdminToken {
                    file: file.to_string(),
                    token: token.into(),
                })
            }
        };
        let routes = typed("access", text("access"), parse_routes)?;
        let mut token_params: Vec<String> = routes.iter().map(|r| r.param.clone()).collect();
        token_params.sort();
        token_params.dedup();
        Ok(AccessControl {
            routes,
            token_params,
            origin_credential: typed(
                "origin_credential",
                text("origin_credential"),
                parse_credential,
            )?,
            admin_token,
            trusted_proxies: typed(
                "trusted_proxies",
                text("trusted_proxies"),
                super::caching::parse_addr_blocks,
            )?,
        })
    }

    /// Whether `authorization` (a request's field value) carries the admin token; true when
    /// none is configured.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(admin) = &self.admin_token else {
            return true;
        };
        let Some(given) = authorization.and_then(|v| bearer(v)) else {
            return false;
        };
        constant_time_eq(given, admin.token.as_bytes())
    }

    /// The keys' values as TOML text, as `--check-config` prints them (never a secret).
    pub fn toml_values(&self) -> Vec<(&'static str, String)> {
        let credential = self.origin_credential.as_ref().map(Credential::redacted);
        let token_file = self.admin_token.as_ref().map(|t| t.file.as_str());
        let blocks: Vec<String> = self.trusted_proxies.iter().map(IpNet::to_string).collect();
        vec![
            ("access", format!("{:?}", render_routes(&self.routes))),
            (
                "origin_credential",
                format!("{:?}", credential.unwrap_or_default()),
            ),
            (
                "admin_token_file",
                format!("{:?}", token_file.unwrap_or_default()),
            ),
            ("trusted_proxies", format!("{:?}", blocks.join(", "))),
        ]
    }
}

/// The token of a `Bearer` credential (RFC 6750 2.1; the scheme is case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, token) = value.split_at(value.iter().position(|&b| b == b' ')?);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

/// Compares without stopping at the first difference, so timing does not tell how much of a
/// guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_token_is_asked_as_a_bearer() {
        let none = AccessControl::default();
        assert!(none.admits(None));
        let with = AccessControl {
            admin_token: Some(AdminToken {
                file: "f".into(),
                token: "0123456789abcdef".into(),
            }),
            ..AccessControl::default()
        };
        assert!(with.admits(Some(b"Bearer 0123456789abcdef")));
        assert!(with.admits(Some(b"bearer  0123456789abcdef ")));
        assert!(!with.admits(Some(b"Bearer 0123456789abcdeF")));
        assert!(!with.admits(Some(b"Basic 0123456789abcdef")));
        assert!(!with.admits(Some(b"Bearer")));
        assert!(!with.admits(None));
        assert!(!format!("{with:?}").contains("0123456789abcdef"));
    }
}
