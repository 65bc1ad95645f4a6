//! Which form of an entity a GET or HEAD gets: whole, `304 Not Modified`,
//! one byte range (`206`), or `416`. This module owns the preconditions and
//! range rules, in the order RFC 9110 §13.2.2 evaluates them:
//!
//! 1. `If-None-Match` (weak comparison; `*` matches any current entity)
//!    → 304 when it matches. When the field is present, `If-Modified-Since`
//!    is ignored, so a stale or absent `ETag` never yields a 304.
//! 2. Otherwise `If-Modified-Since` (a single valid HTTP-date in any of the
//!    three formats) → 304 when the entity has a `Last-Modified` at or
//!    before it.
//! 3. With `ranges=1`, on GET only: a single `Range: bytes=a-b`, `a-` or
//!    `-n` (unit case-insensitive) → 206 for the satisfiable part (`b` is
//!    clamped to the end), 416 when `a` is at or past the end, for `-0`, or
//!    for an empty body. `If-Range` (a strong `ETag` equal to the entity's,
//!    or a date equal to its `Last-Modified`) must match, or the Range is
//!    ignored. A malformed Range, `b < a`, several ranges, or several Range
//!    fields are ignored too: the whole entity is sent.
//!
//! Only an entity whose status is 200 takes part; anything else, and every
//! other method, is sent as it is. Pure functions of the request and the
//! entity, unit-tested here.

use crate::date;
use crate::entity::Entity;
use crate::request::Request;

/// What to send for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The entity as it is.
    Full,
    /// `304 Not Modified`.
    NotModified,
    /// `206 Partial Content`: `len` body bytes from `start`.
    Partial { start: usize, len: usize },
    /// `416 Range Not Satisfiable`.
    Unsatisfiable,
}

/// The outcome for `request` asking for `entity`; `ranges` is `ranges=1`.
pub(crate) fn evaluate(request: &Request, entity: &Entity, ranges: bool) -> Outcome {
    let get = request.method == "GET";
    if !(get || request.method == "HEAD") || entity.status != 200 {
        return Outcome::Full;
    }
    if not_modified(request, entity) {
        return Outcome::NotModified;
    }
    if !ranges || !get {
        return Outcome::Full;
    }
    let [range] = request.header_all("range")[..] else {
        return Outcome::Full;
    };
    if let Some(condition) = request.header("if-range") {
        if !if_range_matches(condition, entity) {
            return Outcome::Full;
        }
    }
    match parse_range(range) {
        Some(spec) => resolve(spec, entity.size),
        None => Outcome::Full,
    }
}

/// Whether a GET gets `entity`'s whole body as a 200 (not a 304, 206 or
/// 416): the responses a mid-body fault can hit.
pub(crate) fn sends_whole_body(request: &Request, entity: &Entity, ranges: bool) -> bool {
    request.method == "GET"
        && entity.status == 200
        && evaluate(request, entity, ranges) == Outcome::Full
}

/// Steps 1 and 2: `If-None-Match`, else `If-Modified-Since`.
fn not_modified(request: &Request, entity: &Entity) -> bool {
    let tags = request.header_all("if-none-match");
    if !tags.is_empty() {
        let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
        return tags.iter().flat_map(|list| list.split(',')).any(|t| {
            t.trim() == "*"
                || entity
                    .etag
                    .as_deref()
                    .is_some_and(|e| opaque(t) == opaque(e))
        });
    }
    let [since] = request.header_all("if-modified-since")[..] else {
        return false;
    };
    match (date::parse(since, date::now_secs()), entity.last_modified) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

/// `If-Range`: a strong entity tag compared strongly, or an HTTP-date equal
/// to `Last-Modified`.
fn if_range_matches(condition: &str, entity: &Entity) -> bool {
    let condition = condition.trim();
    if condition.starts_with('"') {
        entity.etag.as_deref() == Some(condition)
    } else if condition.starts_with("W/") {
        false
    } else {
        let since = date::parse(condition, date::now_secs());
        since.is_some() && since == entity.last_modified
    }
}

/// One byte-range-spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spec {
    /// `a-b` or `a-`.
    From(u64, Option<u64>),
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// A single-range `bytes=` value; `None` if malformed or multi-range.
fn parse_range(value: &str) -> Option<Spec> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let number = |text: &str| {
        let text = text.trim();
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| text.parse::<u64>().ok()).flatten()
    };
    if first.trim().is_empty() {
        return number(last).map(Spec::Suffix);
    }
    let first = number(first)?;
    if last.trim().is_empty() {
        return Some(Spec::From(first, None));
    }
    let last = number(last)?;
    (last >= first).then_some(Spec::From(first, Some(last)))
}

/// A spec against a body of `len` bytes.
fn resolve(spec: Spec, len: usize) -> Outcome {
    let len64 = len as u64;
    let (start, end) = match spec {
        Spec::From(first, _) if first >= len64 => return Outcome::Unsatisfiable,
        Spec::From(first, last) => (first, last.map_or(len64, |l| l.min(len64 - 1) + 1)),
        Spec::Suffix(0) => return Outcome::Unsatisfiable,
        Spec::Suffix(_) if len == 0 => return Outcome::Unsatisfiable,
        Spec::Suffix(n) => (len64 - n.min(len64), len64),
    };
    Outcome::Partial {
        start: start as usize,
        len: (end - start) as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::out::Source;

    fn entity(size: usize) -> Entity {
        Entity {
            status: 200,
            source: Source::Bytes(Vec::new()),
            size,
            cache_control: None,
            content_type: "text/plain",
            etag: Some("\"v1\"".into()),
            last_modified: Some(1_420_070_400),
        }
    }

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.to_string(),
            target: "/c".to_string(),
            minor: 1,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
            must_close: false,
        }
    }

    fn get(headers: &[(&str, &str)]) -> Outcome {
        evaluate(&request("GET", headers), &entity(1000), true)
    }

    const LM: &str = "Thu, 01 Jan 2015 00:00:00 GMT";
    const BEFORE: &str = "Wed, 31 Dec 2014 23:59:59 GMT";
    const AFTER: &str = "Thu, 01 Jan 2015 00:00:01 GMT";

    #[test]
    fn if_none_match() {
        for tags in ["\"v1\"", "W/\"v1\"", "\"x\", \"v1\"", "*"] {
            assert_eq!(get(&[("If-None-Match", tags)]), Outcome::NotModified);
        }
        assert_eq!(get(&[("If-None-Match", "\"v2\"")]), Outcome::Full);
        let two = [("If-None-Match", "\"x\""), ("if-none-match", "\"v1\"")];
        assert_eq!(get(&two), Outcome::NotModified, "every field counts");
        let mut bare = entity(10);
        bare.etag = None;
        let inm = request("GET", &[("If-None-Match", "\"v1\"")]);
        assert_eq!(evaluate(&inm, &bare, false), Outcome::Full);
    }

    #[test]
    fn if_modified_since() {
        for since in [
            LM,
            AFTER,
            "Thursday, 01-Jan-15 00:00:00 GMT",
            "Thu Jan  1 00:00:00 2015",
        ] {
            assert_eq!(
                get(&[("If-Modified-Since", since)]),
                Outcome::NotModified,
                "{since}"
            );
        }
        assert_eq!(get(&[("If-Modified-Since", BEFORE)]), Outcome::Full);
        assert_eq!(get(&[("If-Modified-Since", "garbage")]), Outcome::Full);
        let twice = [("If-Modified-Since", LM), ("If-Modified-Since", LM)];
        assert_eq!(get(&twice), Outcome::Full, "more than one member");
        // If-None-Match present: If-Modified-Since is not looked at.
        let both = [("If-None-Match", "\"old\""), ("If-Modified-Since", AFTER)];
        assert_eq!(get(&both), Outcome::Full);
        let mut no_lm = entity(10);
        no_lm.last_modified = None;
        let ims = request("HEAD", &[("If-Modified-Since", AFTER)]);
        assert_eq!(evaluate(&ims, &no_lm, false), Outcome::Full);
        assert_eq!(evaluate(&ims, &entity(10), false), Outcome::NotModified);
    }

    #[test]
    fn only_200_get_and_head_take_part() {
        let ims = [("If-Modified-Since", AFTER), ("Range", "bytes=0-1")];
        assert_eq!(
            evaluate(&request("POST", &ims), &entity(10), true),
            Outcome::Full
        );
        let mut not_found = entity(10);
        not_found.status = 404;
        assert_eq!(
            evaluate(&request("GET", &ims), &not_found, true),
            Outcome::Full
        );
        let range = [("Range", "bytes=0-1")];
        assert_eq!(
            evaluate(&request("HEAD", &range), &entity(10), true),
            Outcome::Full
        );
        assert_eq!(
            evaluate(&request("GET", &range), &entity(10), false),
            Outcome::Full,
            "ranges=1 not given"
        );
    }

    #[test]
    fn single_ranges() {
        let partial = |start, len| Outcome::Partial { start, len };
        for (range, want) in [
            ("bytes=0-99", partial(0, 100)),
            ("bytes=10-10", partial(10, 1)),
            ("bytes=990-", partial(990, 10)),
            ("bytes=900-5000", partial(900, 100)),
            ("bytes=-10", partial(990, 10)),
            ("bytes=-5000", partial(0, 1000)),
            (" Bytes = 1 - 2 ", partial(1, 2)),
            ("bytes=1000-", Outcome::Unsatisfiable),
            ("bytes=1000-2000", Outcome::Unsatisfiable),
            ("bytes=-0", Outcome::Unsatisfiable),
            ("bytes=5-4", Outcome::Full),
            ("bytes=0-1,5-6", Outcome::Full),
            ("bytes=x-1", Outcome::Full),
            ("bytes=+1-2", Outcome::Full),
            ("bytes=-", Outcome::Full),
            ("items=0-1", Outcome::Full),
            ("bytes=0-99999999999999999999999", Outcome::Full),
        ] {
            assert_eq!(get(&[("Range", range)]), want, "{range}");
        }
        let empty = evaluate(&request("GET", &[("Range", "bytes=-1")]), &entity(0), true);
        assert_eq!(empty, Outcome::Unsatisfiable);
        let twice = [("Range", "bytes=0-1"), ("Range", "bytes=2-3")];
        assert_eq!(get(&twice), Outcome::Full);
    }

    #[test]
    fn if_range_and_preconditions_first() {
        let ranged = |if_range| get(&[("Range", "bytes=0-0"), ("If-Range", if_range)]);
        let partial = Outcome::Partial { start: 0, len: 1 };
        assert_eq!(ranged("\"v1\""), partial);
        assert_eq!(ranged(LM), partial);
        assert_eq!(ranged("\"v2\""), Outcome::Full);
        assert_eq!(ranged("W/\"v1\""), Outcome::Full, "weak never matches");
        assert_eq!(ranged(AFTER), Outcome::Full);
        assert_eq!(ranged("nonsense"), Outcome::Full);
        let both = [("If-None-Match", "\"v1\""), ("Range", "bytes=0-0")];
        assert_eq!(get(&both), Outcome::NotModified);
    }
}
