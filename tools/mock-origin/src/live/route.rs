//! Which live resource a path names. This module owns the URL layout of the
//! simulator, parsed strictly: `/live/s{i}/master.m3u8`,
//! `/live/s{i}/manifest.mpd`, and under `/live/s{i}/r{j}/` the files
//! `index.m3u8`, `init.mp4`, `seg-{n}.m4s` and `seg-{n}.{p}.m4s`.
//!
//! Only paths whose stream component is a configured stream (`s0` ..
//! `s{K-1}`, canonical decimal) belong to the simulator; every other path,
//! including other `/live/...` paths that livecache's tests use with query
//! parameters, is left to the query-driven origin, whose behaviour must not
//! change. Under a configured stream, anything unrecognised is a
//! [`Resource::Unknown`] (a 404 from the simulator).

/// A resource of one stream; rendition indices are already range-checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    Master,
    Mpd,
    Media {
        rendition: usize,
    },
    Init {
        rendition: usize,
    },
    Segment {
        rendition: usize,
        msn: u64,
    },
    Part {
        rendition: usize,
        msn: u64,
        part: u64,
    },
    Unknown,
}

/// `(stream index, resource)` when `path` belongs to the simulator.
pub(crate) fn route(path: &str, streams: usize, renditions: usize) -> Option<(usize, Resource)> {
    let mut names = path.strip_prefix("/live/")?.split('/');
    let stream = index(names.next()?, 's', streams)?;
    let rest: Vec<&str> = names.collect();
    let resource = match rest.as_slice() {
        ["master.m3u8"] => Resource::Master,
        ["manifest.mpd"] => Resource::Mpd,
        [name, file] => match index(name, 'r', renditions) {
            Some(rendition) => file_resource(rendition, file),
            None => Resource::Unknown,
        },
        _ => Resource::Unknown,
    };
    Some((stream, resource))
}

fn file_resource(rendition: usize, file: &str) -> Resource {
    match file {
        "index.m3u8" => return Resource::Media { rendition },
        "init.mp4" => return Resource::Init { rendition },
        _ => {}
    }
    let Some(numbers) = file
        .strip_prefix("seg-")
        .and_then(|f| f.strip_suffix(".m4s"))
    else {
        return Resource::Unknown;
    };
    let parsed = match numbers.split_once('.') {
        None => number(numbers).map(|msn| Resource::Segment { rendition, msn }),
        Some((msn, part)) => number(msn)
            .zip(number(part))
            .map(|(msn, part)| Resource::Part {
                rendition,
                msn,
                part,
            }),
    };
    parsed.unwrap_or(Resource::Unknown)
}

/// `{prefix}{i}` with `i < count`, in canonical form.
fn index(name: &str, prefix: char, count: usize) -> Option<usize> {
    let i = number(name.strip_prefix(prefix)?)?;
    usize::try_from(i).ok().filter(|&i| i < count)
}

/// A canonical decimal: digits only, no sign, no leading zero (except "0").
fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str) -> Option<(usize, Resource)> {
        route(path, 4, 3)
    }

    #[test]
    fn layout() {
        assert_eq!(r("/live/s0/master.m3u8"), Some((0, Resource::Master)));
        assert_eq!(r("/live/s3/manifest.mpd"), Some((3, Resource::Mpd)));
        assert_eq!(
            r("/live/s1/r2/index.m3u8"),
            Some((1, Resource::Media { rendition: 2 }))
        );
        assert_eq!(
            r("/live/s1/r0/init.mp4"),
            Some((1, Resource::Init { rendition: 0 }))
        );
        assert_eq!(
            r("/live/s0/r1/seg-5.m4s"),
            Some((
                0,
                Resource::Segment {
                    rendition: 1,
                    msn: 5
                }
            ))
        );
        assert_eq!(
            r("/live/s0/r1/seg-12.3.m4s"),
            Some((
                0,
                Resource::Part {
                    rendition: 1,
                    msn: 12,
                    part: 3
                }
            ))
        );
    }

    #[test]
    fn other_live_paths_are_not_ours() {
        for path in [
            "/live/ch1/720p/seg-1.m4s",
            "/live/seg-1.ts",
            "/live/s4/master.m3u8",
            "/live/s01/master.m3u8",
            "/live/s/master.m3u8",
            "/live/",
            "/livex/s0/master.m3u8",
            "/s0/master.m3u8",
        ] {
            assert_eq!(r(path), None, "{path}");
        }
    }

    #[test]
    fn unknown_resources_of_a_stream() {
        for path in [
            "/live/s0",
            "/live/s0/",
            "/live/s0/index.m3u8",
            "/live/s0/r3/index.m3u8",
            "/live/s0/r1/seg-01.m4s",
            "/live/s0/r1/seg--1.m4s",
            "/live/s0/r1/seg-1.m4",
            "/live/s0/r1/seg-1.2.3.m4s",
            "/live/s0/r1/seg-.m4s",
            "/live/s0/r1/x/init.mp4",
            "/live/s0/r1/seg-99999999999999999999.m4s",
        ] {
            assert_eq!(
                r(path).map(|(_, res)| res),
                Some(Resource::Unknown),
                "{path}"
            );
        }
    }
}
