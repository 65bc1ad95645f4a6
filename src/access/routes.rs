//! The `access` key: which paths need a signed URL, by which scheme, with which keys. Written
//! `PREFIX=SCHEME,keys=FILE[,param=NAME]`, entries separated by `;` (the flag `--access` may
//! be repeated, and a TOML file may use `[[access]]` tables with `prefix`, `scheme`, `keys`
//! and `param`). `SCHEME` is `edgeauth` (token name `__token__` unless `param` says) or
//! `uri_signing` (`URISigningPackage`). A request's route is the longest prefix its path
//! starts with. The key file is read when the configuration is loaded (and on reload).

use std::sync::Arc;

use super::keys::{parse_keys, Key};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    EdgeAuth,
    UriSigning,
}

impl Scheme {
    pub fn label(self) -> &'static str {
        match self {
            Scheme::EdgeAuth => "edgeauth",
            Scheme::UriSigning => "uri_signing",
        }
    }

    fn default_param(self) -> &'static str {
        match self {
            Scheme::EdgeAuth => "__token__",
            Scheme::UriSigning => "URISigningPackage",
        }
    }
}

/// One protected path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: String,
    pub scheme: Scheme,
    /// The query parameter, cookie or header that carries the token.
    pub param: String,
    pub keys: Arc<[Key]>,
    /// The key file, as written.
    pub keys_file: String,
}

/// Parses the `access` key's text (see the module).
pub fn parse_routes(text: &str) -> Result<Vec<Route>, String> {
    let mut routes: Vec<Route> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (prefix, rest) = entry
            .split_once('=')
            .ok_or_else(|| format!("`{entry}`: expected PREFIX=SCHEME,keys=FILE[,param=NAME]"))?;
        if !prefix.starts_with('/') {
            return Err(format!(
                "`{prefix}`: a route's prefix is a path, starting with `/`"
            ));
        }
        if routes.iter().any(|r| r.prefix == prefix) {
            return Err(format!("the prefix `{prefix}` is given twice"));
        }
        let mut items = rest.split(',').map(str::trim);
        let scheme = match items.next() {
            Some("edgeauth") => Scheme::EdgeAuth,
            Some("uri_signing") => Scheme::UriSigning,
            other => {
                return Err(format!(
                    "`{}`: the scheme is `edgeauth` or `uri_signing`",
                    other.unwrap_or_default()
                ))
            }
        };
        let (mut keys_file, mut param) = (None, None);
        for item in items {
            match item.split_once('=') {
                Some(("keys", file)) => keys_file = Some(file.to_string()),
                Some(("param", name)) if valid_name(name) => param = Some(name.to_string()),
                _ => return Err(format!("`{item}`: expected keys=FILE or param=NAME")),
            }
        }
        let keys_file = keys_file.ok_or_else(|| format!("`{entry}`: keys=FILE is required"))?;
        let text = std::fs::read_to_string(&keys_file)
            .map_err(|e| format!("the key file {keys_file}: {e}"))?;
        let keys = parse_keys(&text).map_err(|e| format!("the key file {keys_file}: {e}"))?;
        routes.push(Route {
            prefix: prefix.to_string(),
            scheme,
            param: param.unwrap_or_else(|| scheme.default_param().to_string()),
            keys: keys.into(),
            keys_file,
        });
    }
    Ok(routes)
}

/// The routes as the `access` key writes them.
pub fn render_routes(routes: &[Route]) -> String {
    let entries: Vec<String> = routes
        .iter()
        .map(|r| {
            format!(
                "{}={},keys={},param={}",
                r.prefix,
                r.scheme.label(),
                r.keys_file,
                r.param
            )
        })
        .collect();
    entries.join(";")
}

/// The route of a request for `path`: the longest prefix it starts with.
pub fn route_of<'a>(routes: &'a [Route], path: &[u8]) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| path.starts_with(r.prefix.as_bytes()))
        .max_by_key(|r| r.prefix.len())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}
