//! The LL-HLS delivery directives of a playlist request (RFC 8216bis §6.2.5): `_HLS_msn`,
//! `_HLS_part` and `_HLS_skip`, read from a request target. What a request asks for is split
//! from which playlist it asks it of: the rendition's target is the path with every other
//! query parameter in its original order, so every spelling of one blocking reload (parameter
//! order, name case, `_HLS_skip`) names one rendition and one hold. The canonical upstream
//! spelling of a blocking reload is built here too, so every edge of a tier sends the same
//! URL and a shield can collapse them.
//!
//! Which responses are live manifests (refreshed ahead of expiry) is decided here too. Only
//! playlists (`.m3u8` paths) carry directives; anything else keeps its query as it is.
//! Values must be plain decimal numbers (`_HLS_skip`: `YES` or `v2`); a malformed value, a
//! repeated directive, or `_HLS_part` without `_HLS_msn` is the client's error (400), decided
//! without the origin.

/// Which delta update a request asks for (`_HLS_skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipRequest {
    /// `_HLS_skip=YES`: skip old segments.
    Yes,
    /// `_HLS_skip=v2`: skip old segments and old date ranges.
    V2,
}

/// A playlist request's directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The playlist they apply to: the target without them.
    pub rendition: String,
    /// `_HLS_msn`.
    pub msn: Option<u64>,
    /// `_HLS_part` (only with `_HLS_msn`).
    pub part: Option<u64>,
    /// `_HLS_skip`.
    pub skip: Option<SkipRequest>,
}

/// Why a request's directives are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectiveError {
    /// `_HLS_part` without `_HLS_msn` (MUST be 400).
    PartWithoutMsn,
    /// A value that is not what the directive takes.
    BadValue,
    /// The same directive twice (which one would hold is anyone's guess).
    Repeated,
}

/// Longest decimal a directive may carry: more digits cannot be a `u64`.
const MAX_DIGITS: usize = 20;

/// The directives of `target` (path and query). `Ok(None)`: not a playlist, or no directive.
pub fn parse_directives(target: &str) -> Result<Option<Directives>, DirectiveError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !is_playlist_path(path) || query.is_empty() {
        return Ok(None);
    }
    let (mut msn, mut part, mut skip) = (None, None, None);
    let mut rest: Vec<&str> = Vec::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name.eq_ignore_ascii_case("_HLS_msn") {
            set_once(&mut msn, decimal(value)?)?;
        } else if name.eq_ignore_ascii_case("_HLS_part") {
            set_once(&mut part, decimal(value)?)?;
        } else if name.eq_ignore_ascii_case("_HLS_skip") {
            set_once(&mut skip, skip_value(value)?)?;
        } else {
            rest.push(pair);
        }
    }
    if msn.is_none() && part.is_none() && skip.is_none() {
        return Ok(None);
    }
    if part.is_some() && msn.is_none() {
        return Err(DirectiveError::PartWithoutMsn);
    }
    let mut rendition = path.to_string();
    for (i, pair) in rest.iter().filter(|p| !p.is_empty()).enumerate() {
        rendition.push(if i == 0 { '?' } else { '&' });
        rendition.push_str(pair);
    }
    Ok(Some(Directives {
        rendition,
        msn,
        part,
        skip,
    }))
}

/// Whether `path` names an HLS playlist (`.m3u8`, any case).
pub fn is_playlist_path(path: &str) -> bool {
    is_playlist_path_bytes(path.as_bytes())
}

/// [`is_playlist_path`] of raw path bytes.
pub fn is_playlist_path_bytes(path: &[u8]) -> bool {
    ends_with_ignore_case(path, b".m3u8")
}

/// Whether `path` names a DASH MPD (`.mpd`, any case).
pub fn is_mpd_path(path: &[u8]) -> bool {
    ends_with_ignore_case(path, b".mpd")
}

fn ends_with_ignore_case(path: &[u8], suffix: &[u8]) -> bool {
    path.len() >= suffix.len() && path[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Whether a path surely names media (a segment, a part, an init section, a subtitle file):
/// then its `Content-Type` need not be looked at to know it is no manifest.
pub fn is_media_path(path: &[u8]) -> bool {
    const MEDIA: [&[u8]; 10] = [
        b".ts", b".m4s", b".mp4", b".m4a", b".m4v", b".aac", b".cmfv", b".cmfa", b".vtt",
        b".webvtt",
    ];
    MEDIA.iter().any(|ext| ends_with_ignore_case(path, ext))
}

/// Whether a response is a DASH MPD, by its path (`.mpd`) or its `Content-Type`
/// (`application/dash+xml`).
pub fn is_mpd(path: &[u8], content_type: Option<&[u8]>) -> bool {
    is_mpd_path(path)
        || content_type.is_some_and(|value| {
            let essence = value.split(|&b| b == b';').next().unwrap_or_default();
            essence
                .trim_ascii()
                .eq_ignore_ascii_case(b"application/dash+xml")
        })
}

/// Whether `path` names a live manifest (an HLS playlist or a DASH MPD) by its name; by its
/// `Content-Type`, a stored head says (`cache::encoded::FieldFacts::is_manifest_type`, from
/// `http::cmsd::kind_of`'s one list of manifest types).
pub fn is_manifest_path(path: &[u8]) -> bool {
    is_playlist_path_bytes(path) || is_mpd_path(path)
}

/// The target of a blocking reload of `rendition` for segment `msn` (and part `part`), in
/// the one spelling livecache sends upstream: the rendition's own query first, then
/// `_HLS_msn`, then `_HLS_part`.
pub fn blocking_target(rendition: &str, msn: u64, part: Option<u64>) -> String {
    let joiner = if rendition.contains('?') { '&' } else { '?' };
    match part {
        Some(part) => format!("{rendition}{joiner}_HLS_msn={msn}&_HLS_part={part}"),
        None => format!("{rendition}{joiner}_HLS_msn={msn}"),
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), DirectiveError> {
    if slot.is_some() {
        return Err(DirectiveError::Repeated);
    }
    *slot = Some(value);
    Ok(())
}

fn decimal(value: &str) -> Result<u64, DirectiveError> {
    let digits = !value.is_empty() && value.len() <= MAX_DIGITS;
    if !digits || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DirectiveError::BadValue);
    }
    value.parse().map_err(|_| DirectiveError::BadValue)
}

fn skip_value(value: &str) -> Result<SkipRequest, DirectiveError> {
    if value.eq_ignore_ascii_case("YES") {
        Ok(SkipRequest::Yes)
    } else if value.eq_ignore_ascii_case("v2") {
        Ok(SkipRequest::V2)
    } else {
        Err(DirectiveError::BadValue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(target: &str) -> Directives {
        parse_directives(target).unwrap().unwrap()
    }

    #[test]
    fn spellings_of_one_reload_name_one_rendition() {
        let a = parse("/live/r0/index.m3u8?token=a&_HLS_msn=10&_HLS_part=2");
        let b = parse("/live/r0/index.m3u8?_hls_part=2&token=a&_HLS_MSN=10");
        assert_eq!(a, b);
        assert_eq!(a.rendition, "/live/r0/index.m3u8?token=a");
        assert_eq!((a.msn, a.part, a.skip), (Some(10), Some(2), None));
        let c = parse("/r.m3u8?_HLS_msn=3&_HLS_skip=YES");
        assert_eq!(
            (c.rendition.as_str(), c.skip),
            ("/r.m3u8", Some(SkipRequest::Yes))
        );
        assert_eq!(parse("/r.m3u8?_HLS_skip=V2").skip, Some(SkipRequest::V2));
    }

    #[test]
    fn plain_requests_and_other_resources_have_none() {
        assert_eq!(parse_directives("/r.m3u8"), Ok(None));
        assert_eq!(parse_directives("/r.m3u8?x=1"), Ok(None));
        assert_eq!(parse_directives("/seg.m4s?_HLS_msn=1"), Ok(None));
        assert_eq!(parse_directives("/manifest.mpd?_HLS_part=x"), Ok(None));
        assert!(parse_directives("/R.M3U8?_HLS_msn=1").unwrap().is_some());
    }

    #[test]
    fn malformed_directives_are_the_clients_error() {
        let bad = |t| parse_directives(t).unwrap_err();
        assert_eq!(bad("/r.m3u8?_HLS_part=1"), DirectiveError::PartWithoutMsn);
        for t in [
            "/r.m3u8?_HLS_msn=",
            "/r.m3u8?_HLS_msn=-1",
            "/r.m3u8?_HLS_msn=+1",
            "/r.m3u8?_HLS_msn=1.0",
            "/r.m3u8?_HLS_msn=0x10",
            "/r.m3u8?_HLS_msn=99999999999999999999",
            "/r.m3u8?_HLS_msn=1&_HLS_part=a",
            "/r.m3u8?_HLS_skip=NO",
        ] {
            assert_eq!(bad(t), DirectiveError::BadValue, "{t}");
        }
        assert_eq!(
            bad("/r.m3u8?_HLS_msn=1&_HLS_msn=2"),
            DirectiveError::Repeated
        );
    }

    #[test]
    fn manifests_by_name_or_type() {
        assert!(is_manifest_path(b"/a/index.M3U8"));
        assert!(is_manifest_path(b"/a/manifest.mpd"));
        assert!(is_mpd(b"/a/Manifest.MPD", None));
        assert!(is_mpd(
            b"/a/live",
            Some(b"Application/DASH+xml; charset=utf-8")
        ));
        assert!(!is_mpd(
            b"/a/index.m3u8",
            Some(b"application/vnd.apple.mpegurl")
        ));
        assert!(!is_manifest_path(b"/a/live"));
        assert!(!is_manifest_path(b"/a/seg.ts"));
    }

    #[test]
    fn the_upstream_spelling_is_canonical() {
        assert_eq!(
            blocking_target("/r.m3u8", 7, Some(0)),
            "/r.m3u8?_HLS_msn=7&_HLS_part=0"
        );
        assert_eq!(
            blocking_target("/r.m3u8?a=b", 7, None),
            "/r.m3u8?a=b&_HLS_msn=7"
        );
    }
}
