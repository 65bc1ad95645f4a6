//! The origin's side of an LL-HLS run (`--origin-stats URL`): the mock origin's
//! `GET /__stats` document read before and after the viewers, turned into the media
//! playlist requests each of the run's playlists received in between (blocking with
//! `_HLS_msn`, plain without, and those with `_HLS_skip`), from the per-target counts, so
//! requests for other streams do not count. Pure parsing here; the fetch is the mode's.

use serde_json::Value;

use crate::stats::{OriginLoad, RenditionLoad};

/// Whether a raw query has the parameter `name` (any value).
fn has_param(query: &str, name: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some(name))
}

/// The playlist request counts of each path in `paths` in a `/__stats` document
/// (`{"targets": {"<path>?<query>": count, ...}, ...}`).
pub fn playlist_counts(json: &str, paths: &[String]) -> Result<OriginLoad, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("origin stats: {e}"))?;
    let targets = doc
        .get("targets")
        .and_then(Value::as_object)
        .ok_or("origin stats: no \"targets\" object")?;
    let mut renditions: Vec<RenditionLoad> = paths
        .iter()
        .map(|p| RenditionLoad {
            path: p.clone(),
            ..RenditionLoad::default()
        })
        .collect();
    for (target, count) in targets {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let Some(r) = renditions.iter_mut().find(|r| r.path == path) else {
            continue;
        };
        let n = count
            .as_u64()
            .ok_or("origin stats: a count is not a number")?;
        match has_param(query, "_HLS_msn") {
            true => r.blocking += n,
            false => r.plain += n,
        }
        if has_param(query, "_HLS_skip") {
            r.skip += n;
        }
    }
    Ok(OriginLoad { renditions })
}

/// What `after` counted beyond `before` (the same paths in the same order).
pub fn difference(before: &OriginLoad, after: &OriginLoad) -> OriginLoad {
    let renditions = after
        .renditions
        .iter()
        .zip(&before.renditions)
        .map(|(a, b)| RenditionLoad {
            path: a.path.clone(),
            blocking: a.blocking.saturating_sub(b.blocking),
            plain: a.plain.saturating_sub(b.plain),
            skip: a.skip.saturating_sub(b.skip),
        })
        .collect();
    OriginLoad { renditions }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = r#"{"total":9,"targets":{
        "/live/s0/r0/index.m3u8":2,
        "/live/s0/r0/index.m3u8?_HLS_msn=5&_HLS_part=1":3,
        "/live/s0/r0/index.m3u8?_HLS_part=2&_HLS_msn=5&_HLS_skip=YES":1,
        "/live/s0/r1/index.m3u8?_HLS_skip=YES":1,
        "/live/s0/r1/seg-5.1.m4s":7,
        "/live/s1/r0/index.m3u8?_HLS_msn=5":4,
        "/other?x_HLS_msn=1":1},
        "faults":{"errors":0,"resets":0,"stalls":0},
        "playlists":{"blocking":8,"plain":3,"skip":2}}"#;

    #[test]
    fn counts_per_playlist() {
        let paths = vec![
            "/live/s0/r0/index.m3u8".to_string(),
            "/live/s0/r1/index.m3u8".to_string(),
        ];
        let load = playlist_counts(STATS, &paths).unwrap();
        let r0 = &load.renditions[0];
        assert_eq!((r0.blocking, r0.plain, r0.skip), (4, 2, 1));
        let r1 = &load.renditions[1];
        assert_eq!(
            (r1.path.as_str(), r1.blocking, r1.plain, r1.skip),
            (paths[1].as_str(), 0, 1, 1)
        );
        let empty = playlist_counts(r#"{"targets":{}}"#, &paths).unwrap();
        let d = difference(&empty, &load);
        assert_eq!(d, load);
        assert_eq!(difference(&load, &load).renditions[0].blocking, 0);
        assert!(playlist_counts("{}", &paths).is_err());
        assert!(playlist_counts("not json", &paths).is_err());
        assert!(!has_param("x_HLS_msn=1", "_HLS_msn"));
        assert!(has_param("a=1&_HLS_msn", "_HLS_msn"));
    }
}
