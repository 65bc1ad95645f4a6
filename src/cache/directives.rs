//! Cache-Control directives in both directions (RFC 9111 section 5.2, RFC 5861) and the choice
//! of which response field speaks for this cache (RFC 9213: a configured targeted field, then
//! `CDN-Cache-Control`, then `Cache-Control` with `Expires`). Parsing only: what the directives
//! mean for storing and reuse is decided in `freshness`. Pure: no I/O.

use bytes::Bytes;

use crate::http::headers::{find_all, Header};

/// Field names a response may list where each becomes a small allocation the store's
/// accounting does not see: a qualified `no-cache`/`private` (more mean the unqualified
/// directive) and `Vary` (more count as `Vary: *`).
pub const MAX_FIELD_NAMES: usize = 32;

/// The response directives this cache acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseDirectives {
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub no_store: bool,
    /// Unqualified `no-cache`: may be stored, never reused without revalidation.
    pub no_cache: bool,
    /// Unqualified `private`: never stored by a shared cache.
    pub private: bool,
    pub public: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub immutable: bool,
    pub no_transform: bool,
    /// `must-understand` (RFC 9111 5.2.2.3): store only a status this cache implements, and
    /// then despite `no-store`.
    pub must_understand: bool,
    /// Fields named by a qualified `no-cache="..."` or `private="..."`, lower-cased: the rest
    /// of the response may be stored and shared, these fields may not.
    pub withheld_fields: Vec<Bytes>,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

/// Where a response's caching policy came from (RFC 9213 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicySource {
    /// The configured targeted field or `CDN-Cache-Control`: `Expires` is ignored.
    Targeted,
    /// `Cache-Control` (and `Expires`).
    CacheControl,
}

impl ResponseDirectives {
    /// The directives that govern this cache: the first of `targeted` (the configured field
    /// name, lower-case) and `CDN-Cache-Control` that is a valid non-empty RFC 8941
    /// dictionary, else `Cache-Control`.
    pub fn select(
        headers: &[Header],
        targeted: Option<&str>,
    ) -> (ResponseDirectives, PolicySource) {
        for name in targeted.into_iter().chain(["cdn-cache-control"]) {
            if is_valid_dictionary(headers, name) {
                return (
                    Self::from_items(directive_items(headers, name)),
                    PolicySource::Targeted,
                );
            }
        }
        (
            Self::from_items(directive_items(headers, "cache-control")),
            PolicySource::CacheControl,
        )
    }

    /// Parses the `Cache-Control` fields alone.
    pub fn parse(headers: &[Header]) -> ResponseDirectives {
        Self::from_items(directive_items(headers, "cache-control"))
    }

    fn from_items<'a>(items: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>) -> Self {
        let mut d = ResponseDirectives::default();
        for (name, value) in items {
            let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
            if is("max-age") {
                d.max_age = Some(once(d.max_age, seconds_or_zero(value)));
            } else if is("s-maxage") {
                d.s_maxage = Some(once(d.s_maxage, seconds_or_zero(value)));
            } else if is("no-store") {
                d.no_store = true;
            } else if is("no-cache") || is("private") {
                match value.map(field_names).filter(|f| !f.is_empty()) {
                    // Each name is a small allocation the store's accounting does not see:
                    // past a bound, the response is treated as unqualified (no-cache:
                    // revalidated on every use; private: not shared), never as cheaper.
                    Some(fields) if d.withheld_fields.len() + fields.len() > MAX_FIELD_NAMES => {
                        if is("no-cache") {
                            d.no_cache = true;
                        } else {
                            d.private = true;
                        }
                    }
                    Some(fields) => d.withheld_fields.extend(fields),
                    None if is("no-cache") => d.no_cache = true,
                    None => d.private = true,
                }
            } else if is("public") {
                d.public = true;
            } else if is("must-understand") {
                d.must_understand = true;
            } else if is("must-revalidate") {
                d.must_revalidate = true;
            } else if is("proxy-revalidate") {
                d.proxy_revalidate = true;
            } else if is("immutable") {
                d.immutable = true;
            } else if is("no-transform") {
                d.no_transform = true;
            } else if is("stale-while-revalidate") {
                d.stale_while_revalidate = value.and_then(parse_delta_seconds);
            } else if is("stale-if-error") {
                d.stale_if_error = value.and_then(parse_delta_seconds);
            }
        }
        d
    }
}

/// The request directives this cache acts on (RFC 9111 5.2.1), with HTTP/1.0 `Pragma`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestDirectives {
    pub no_cache: bool,
    pub no_store: bool,
    pub only_if_cached: bool,
    pub max_age: Option<u64>,
    /// `max-stale` without a value accepts any staleness: `u64::MAX`.
    pub max_stale: Option<u64>,
    pub min_fresh: Option<u64>,
}

impl RequestDirectives {
    /// Parses a request's `Cache-Control`; without one, `Pragma: no-cache` means `no-cache`
    /// (RFC 9111 5.4). A malformed value makes its directive the strictest reading.
    pub fn parse(headers: &[Header]) -> RequestDirectives {
        let mut d = RequestDirectives::default();
        let mut any = false;
        for (name, value) in directive_items(headers, "cache-control") {
            any = true;
            let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
            if is("no-cache") {
                d.no_cache = true;
            } else if is("no-store") {
                d.no_store = true;
            } else if is("only-if-cached") {
                d.only_if_cached = true;
            } else if is("max-age") {
                d.max_age = Some(seconds_or_zero(value));
            } else if is("min-fresh") {
                d.min_fresh = Some(value.and_then(parse_delta_seconds).unwrap_or(u64::MAX));
            } else if is("max-stale") {
                d.max_stale = Some(match value {
                    None => u64::MAX,
                    Some(v) => parse_delta_seconds(v).unwrap_or(0),
                });
            }
        }
        if !any {
            d.no_cache = directive_items(headers, "pragma")
                .any(|(name, _)| name.eq_ignore_ascii_case(b"no-cache"));
        }
        d
    }

    /// Whether any directive asks for something beyond plain reuse.
    pub fn is_empty(&self) -> bool {
        *self == RequestDirectives::default()
    }
}

/// Whether the fields called `name` together make a non-empty RFC 8941 dictionary, as a
/// targeted cache-control field must (RFC 9213 2.1): one that does not is ignored whole.
fn is_valid_dictionary(headers: &[Header], name: &str) -> bool {
    let values: Vec<&[u8]> = find_all(headers, name).map(|v| &v[..]).collect();
    if values.is_empty() {
        return false;
    }
    // Not UTF-8 is not a dictionary (RFC 8941 is ASCII): no lossy copy needed to say so.
    let joined = values.join(&b", "[..]);
    std::str::from_utf8(&joined)
        .ok()
        .and_then(crate::http::structured::parse)
        .is_some_and(|members| !members.is_empty())
}

/// `name[=value]` items of every field called `name`, split on commas outside quoted
/// strings; names trimmed, values unquoted.
fn directive_items<'a>(
    headers: &'a [Header],
    field: &'a str,
) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
    find_all(headers, field)
        .flat_map(|value| split_outside_quotes(value))
        .filter_map(|item| {
            let item = item.trim_ascii();
            if item.is_empty() {
                return None;
            }
            Some(match item.iter().position(|&b| b == b'=') {
                Some(eq) => (item[..eq].trim_ascii(), Some(unquote(&item[eq + 1..]))),
                None => (item, None),
            })
        })
}

/// The comma-separated items of `value`, commas inside quoted strings not counting; lazily,
/// so parsing a request's directives allocates nothing.
fn split_outside_quotes(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let text = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, &b) in text.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b',' if !quoted => {
                    rest = Some(&text[i + 1..]);
                    return Some(&text[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    })
}

fn unquote(v: &[u8]) -> &[u8] {
    let v = v.trim_ascii();
    v.strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(v)
}

/// The field names of a qualified `no-cache="A, B"`, lower-cased.
fn field_names(list: &[u8]) -> Vec<Bytes> {
    list.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|n| !n.is_empty())
        .map(|n| Bytes::from(n.to_ascii_lowercase()))
        .collect()
}

/// A directive given twice with different values is invalid: read it as 0, stale (RFC 9111
/// 4.2.1 allows treating such a response as stale).
fn once(seen: Option<u64>, value: u64) -> u64 {
    match seen {
        Some(first) if first != value => 0,
        _ => value,
    }
}

/// A delta-seconds that is missing or malformed reads as 0 (stale), the safe reading of
/// RFC 9111 1.2.2.
fn seconds_or_zero(value: Option<&[u8]>) -> u64 {
    value.and_then(parse_delta_seconds).unwrap_or(0)
}

/// delta-seconds: digits only; values past 2^31 are capped there, as RFC 9111 1.2.2 says.
pub fn parse_delta_seconds(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let capped = v.iter().try_fold(0u64, |acc, &d| {
        let next = acc * 10 + u64::from(d - b'0');
        (next < 1 << 31).then_some(next)
    });
    Some(capped.unwrap_or(1 << 31))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_qualified_field_names_mean_the_unqualified_directive() {
        let names: String = (0..MAX_FIELD_NAMES + 1)
            .map(|i| format!("x-f{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let no_cache = format!("max-age=60, no-cache=\"{names}\"");
        let d = ResponseDirectives::parse(&[Header::new("Cache-Control", no_cache)]);
        assert!(d.no_cache && d.withheld_fields.is_empty());
        let private = format!("max-age=60, private=\"{names}\"");
        let d = ResponseDirectives::parse(&[Header::new("Cache-Control", private)]);
        assert!(d.private && d.withheld_fields.is_empty());
    }

    fn h(name: &'static str, value: &str) -> Header {
        Header::new(name, Bytes::copy_from_slice(value.as_bytes()))
    }

    #[test]
    fn response_directives_parse_case_insensitively() {
        let d = ResponseDirectives::parse(&[
            h(
                "Cache-Control",
                "Max-Age=10, s-maxage=\"30\", MUST-REVALIDATE",
            ),
            h(
                "Cache-Control",
                "immutable, no-transform, public, proxy-revalidate",
            ),
            h(
                "Cache-Control",
                "stale-while-revalidate=5, stale-if-error=60",
            ),
        ]);
        assert_eq!(d.max_age, Some(10));
        assert_eq!(d.s_maxage, Some(30));
        assert!(d.must_revalidate && d.proxy_revalidate && d.immutable);
        assert!(d.no_transform && d.public);
        assert_eq!(d.stale_while_revalidate, Some(5));
        assert_eq!(d.stale_if_error, Some(60));
        assert!(!d.no_cache && !d.private && !d.no_store);
    }

    #[test]
    fn qualified_no_cache_and_private_withhold_fields_only() {
        let d = ResponseDirectives::parse(&[h(
            "Cache-Control",
            "max-age=60, no-cache=\"Set-Cookie, X-Token\", private=\"X-User\"",
        )]);
        assert!(!d.no_cache && !d.private);
        assert_eq!(
            d.withheld_fields,
            vec![
                Bytes::from_static(b"set-cookie"),
                Bytes::from_static(b"x-token"),
                Bytes::from_static(b"x-user")
            ]
        );
        let d = ResponseDirectives::parse(&[h("Cache-Control", "no-cache, private")]);
        assert!(d.no_cache && d.private);
    }

    #[test]
    fn targeted_fields_win_in_order() {
        let hs = [
            h("Cache-Control", "no-store"),
            h("CDN-Cache-Control", "max-age=30"),
            h("Livecache-Cache-Control", "max-age=5"),
        ];
        let (d, source) = ResponseDirectives::select(&hs, Some("livecache-cache-control"));
        assert_eq!((d.max_age, source), (Some(5), PolicySource::Targeted));
        let (d, _) = ResponseDirectives::select(&hs, None);
        assert_eq!(d.max_age, Some(30));
        assert!(
            !d.no_store,
            "Cache-Control is ignored once a targeted field applies"
        );
        let (d, source) = ResponseDirectives::select(&hs[..1], Some("livecache-cache-control"));
        assert!(d.no_store && source == PolicySource::CacheControl);
        // An empty targeted field is no value: fall through.
        let hs = [h("CDN-Cache-Control", " "), h("Cache-Control", "max-age=9")];
        assert_eq!(ResponseDirectives::select(&hs, None).0.max_age, Some(9));
    }

    #[test]
    fn conflicting_duplicates_are_stale() {
        let d = ResponseDirectives::parse(&[h("Cache-Control", "max-age=0, max-age=31536000")]);
        assert_eq!(d.max_age, Some(0));
        let d = ResponseDirectives::parse(&[
            h("Cache-Control", "max-age=60"),
            h("Cache-Control", "max-age=60"),
        ]);
        assert_eq!(d.max_age, Some(60));
    }

    #[test]
    fn malformed_ages_are_stale() {
        let d = ResponseDirectives::parse(&[h("Cache-Control", "max-age=abc, s-maxage")]);
        assert_eq!((d.max_age, d.s_maxage), (Some(0), Some(0)));
        assert_eq!(parse_delta_seconds(b"99999999999999999999"), Some(1 << 31));
        assert_eq!(parse_delta_seconds(b"-1"), None);
    }

    #[test]
    fn request_directives_and_pragma() {
        let d = RequestDirectives::parse(&[h(
            "Cache-Control",
            "max-age=5, min-fresh=2, max-stale, only-if-cached, no-store",
        )]);
        assert_eq!(d.max_age, Some(5));
        assert_eq!(d.min_fresh, Some(2));
        assert_eq!(d.max_stale, Some(u64::MAX));
        assert!(d.only_if_cached && d.no_store && !d.no_cache);
        let d = RequestDirectives::parse(&[h("Cache-Control", "max-stale=30")]);
        assert_eq!(d.max_stale, Some(30));
        assert!(RequestDirectives::parse(&[h("Pragma", "no-cache")]).no_cache);
        // Cache-Control present: Pragma is ignored.
        let d =
            RequestDirectives::parse(&[h("Pragma", "no-cache"), h("Cache-Control", "max-age=9")]);
        assert!(!d.no_cache);
        assert!(RequestDirectives::parse(&[]).is_empty());
    }
}
